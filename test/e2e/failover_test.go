package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki"
)

// Leader election timing of the replicas in TestFailover: short, so that a
// takeover takes seconds.
const (
	failoverLease = 4 * time.Second
	failoverRenew = 3 * time.Second
	failoverRetry = time.Second
)

// TestFailover runs `up` with no controllers of its own and two `certplane
// controller` replicas as certplane:controller, electing a leader through a
// Lease with short timing. The leader is SIGKILLed while 500 Certificates
// are being issued, and again (the replica that took over, with a third
// started as the new standby) while 300 approved CSRs are being signed.
// Each time the standby takes over within the bound client-go's leader
// election gives; every Certificate ends Ready at revision 1 and no Secret
// ever holds a key that does not match its certificate or a second
// certificate; no CSR's certificate, once set, ever changes. Both audits
// see every version twice: through a watch started before the objects, and
// from etcd's history.
func TestFailover(t *testing.T) {
	data := t.TempDir()
	t.Cleanup(func() { assertNoProcessesFor(t, data) }) // runs last: after the replicas and up are stopped
	startUp(t, data, freePort(t), "--controllers=", "--web-address=", "--acme-http01-solver-address=")
	admin := filepath.Join(data, "admin.conf")
	caCert, caKey := filepath.Join(data, "pki", "ca.crt"), filepath.Join(data, "pki", "ca.key")

	// The identity up's own controllers use, with leader election's Role.
	ctrlKubeconfig := filepath.Join(t.TempDir(), "controller.kubeconfig")
	must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", "certplane:controller", "--out", ctrlKubeconfig, "--key-algorithm", "ecdsa-p256")
	mustKubectl(t, admin, "create", "namespace", "certplane-system")
	mustKubectl(t, admin, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "leader_election_role.yaml"))
	mustKubectl(t, admin, "create", "rolebinding", "certplane-leader-election-user", "-n", "certplane-system",
		"--role=certplane-leader-election", "--user=certplane:controller")

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	replicas := map[int]*controllerProcess{}
	startReplica := func() {
		p := startController(t, ctrlKubeconfig, caCert, caKey, freePort(t), freePort(t),
			"--leader-elect=true", "--leader-election-namespace=certplane-system",
			"--leader-election-lease-duration="+failoverLease.String(),
			"--leader-election-renew-deadline="+failoverRenew.String(),
			"--leader-election-retry-period="+failoverRetry.String(),
			"--acme-http01-solver-address=")
		replicas[p.cmd.Process.Pid] = p
	}
	startReplica()
	startReplica()
	var leader int
	waitFor(t, 60*time.Second, "a replica to hold the Lease", func() bool {
		l, err := leaseOf(ctx, cs)
		leader = l.pid
		return err == nil && replicas[leader] != nil
	})

	// killLeader kills the leader and returns the replica that took over
	// and how long after the kill the Lease names it.
	killLeader := func() (int, time.Duration) {
		t.Helper()
		before, err := leaseOf(ctx, cs)
		if err != nil || replicas[before.pid] == nil {
			t.Fatalf("the Lease's holder %q is no replica: %v", before.holder, err)
		}
		replicas[before.pid].kill()
		killed := time.Now()
		delete(replicas, before.pid)
		var after lease
		waitFor(t, 60*time.Second, "another replica to take the Lease over", func() bool {
			after, err = leaseOf(ctx, cs)
			return err == nil && after.pid != before.pid && after.holder != ""
		})
		if replicas[after.pid] == nil {
			t.Fatalf("the Lease is held by %q, no running replica", after.holder)
		}
		took := after.acquired.Sub(killed)
		t.Logf("takeover: the Lease names the standby %s after the kill (last renewal %s before the kill)",
			took.Round(time.Millisecond), killed.Sub(before.renewed).Round(time.Millisecond))
		// The standby takes over at its first try after the lease has run
		// out, counted from when it saw the last renewal. It tries every
		// retry period stretched by up to client-go's jitter (×2.2), so it
		// may see the last renewal up to one such period late and try
		// again up to one such period after the lease ran out; a second of
		// tolerance covers a busy 2-core machine.
		bound := failoverLease + 2*time.Duration(2.2*float64(failoverRetry)) + time.Second
		if took > bound {
			t.Errorf("the standby took the Lease over %s after the kill, want at most %s", took, bound)
		}
		return after.pid, took
	}

	{ // The leader killed while it issues Certificates.
		const n = 500
		audit := watchSecrets(ctx, t, cs, data, "failover", n)
		setupCAIssuer(t, admin, "failover")
		created := make(chan error, 1)
		go func() { created <- createCertificates(ctx, dyn, "failover", n) }()
		select {
		case <-audit.fifth:
		case <-time.After(120 * time.Second):
			t.Fatalf("only %d Secrets written after 2 minutes", audit.count())
		}
		leader, _ = killLeader()
		t.Logf("%d of %d Secrets written at the kill", audit.count()-1, n)
		startReplica() // the new standby
		if err := <-created; err != nil {
			t.Fatal(err)
		}
		waitCertificatesReady(t, dyn, "failover", n+1)
		audit.check(t, n+1)
		if audit.relists.Load() > 0 {
			t.Errorf("the Secret watch was relisted %d times: the apiserver kept running", audit.relists.Load())
		}
	}

	{ // The leader killed while it signs CSRs.
		const n = 300
		audit := watchCSRs(ctx, t, cs)
		csrs := cs.CertificatesV1().CertificateSigningRequests()
		reqs := make([]*certv1.CertificateSigningRequest, n)
		for i := range reqs {
			reqs[i] = newRequest(t, fmt.Sprintf("failover-%03d", i), fmt.Sprintf("user-%03d", i))
		}
		if err := parallel(n, func(i int) error {
			var err error
			reqs[i], err = csrs.Create(ctx, reqs[i], metav1.CreateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// Approved at about 40 a second, on and on through the kill.
		approved := make(chan error, 1)
		go func() {
			tick := time.NewTicker(25 * time.Millisecond)
			defer tick.Stop()
			for _, r := range reqs {
				<-tick.C
				if err := approve(ctx, cs, r); err != nil {
					approved <- err
					return
				}
			}
			approved <- nil
		}()
		waitFor(t, 120*time.Second, "a quarter of the requests to be signed", func() bool { return audit.signed() >= n/4 })
		leader, _ = killLeader()
		t.Logf("%d of %d requests signed at the kill", audit.signed(), n)
		if err := <-approved; err != nil {
			t.Fatal(err)
		}
		waitFor(t, 120*time.Second, "every request to be signed", func() bool { return audit.signed() == n })

		roots, err := pki.ParseCertificatesPEM(readFile(t, caCert))
		if err != nil {
			t.Fatal(err)
		}
		audit.check(t, n, roots)
	}
	t.Logf("leader at the end: pid %d", leader)
}

// lease is what the leader election Lease says.
type lease struct {
	holder            string
	pid               int // of the holder's process, from its identity
	acquired, renewed time.Time
}

// leaseOf reads the Lease of `certplane controller`'s leader election.
func leaseOf(ctx context.Context, cs kubernetes.Interface) (lease, error) {
	l, err := cs.CoordinationV1().Leases("certplane-system").Get(ctx, "certplane-controller", metav1.GetOptions{})
	if err != nil {
		return lease{}, err
	}
	var out lease
	if h := l.Spec.HolderIdentity; h != nil {
		out.holder = *h
		// host_pid_uuid
		if f := strings.Split(out.holder, "_"); len(f) >= 3 {
			out.pid, _ = strconv.Atoi(f[len(f)-2])
		}
	}
	if l.Spec.AcquireTime != nil {
		out.acquired = l.Spec.AcquireTime.Time
	}
	if l.Spec.RenewTime != nil {
		out.renewed = l.Spec.RenewTime.Time
	}
	return out, nil
}

// setupCAIssuer makes the Issuer ca in ns, whose CA Certificate ns-ca a
// self-signed Issuer issues, and waits until both are Ready.
func setupCAIssuer(t *testing.T, admin, ns string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "issuer.yaml")
	writeFile(t, path, strings.ReplaceAll(`apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: NS}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: NS-ca, namespace: NS}
spec:
  isCA: true
  commonName: NS CA
  secretName: NS-ca
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: NS}
spec: {ca: {secretName: NS-ca}}
`, "NS", ns))
	// Applied again until the CRDs' kinds are known to kubectl and the
	// apiserver answers.
	waitFor(t, 120*time.Second, "the issuers to be created", func() bool { return kubectl(t, admin, "apply", "-f", path).code == 0 })
	waitFor(t, 120*time.Second, "the CA Issuer to be Ready", func() bool {
		return kubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=10s", "-n", ns, "certificate/"+ns+"-ca", "issuer/ca").code == 0
	})
}

// createCertificates creates the Certificates svc-000 ... in ns (ECDSA,
// from the Issuer ca) on 16 goroutines, each create tried again while the
// apiserver or etcd is away, until ctx ends.
func createCertificates(ctx context.Context, dyn dynamic.Interface, ns string, n int) error {
	return parallelN(n, 16, func(i int) error {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
			"metadata": map[string]any{"name": fmt.Sprintf("svc-%03d", i)},
			"spec": map[string]any{
				"secretName": fmt.Sprintf("svc-%03d-tls", i),
				"dnsNames":   []any{fmt.Sprintf("svc-%03d.%s.svc", i, ns)},
				"privateKey": map[string]any{"algorithm": "ECDSA"},
				"issuerRef":  map[string]any{"name": "ca"},
			},
		}}
		for {
			_, err := dyn.Resource(certificatesGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("creating %s: %w", obj.GetName(), err)
			}
			if err := pause(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	})
}

// waitCertificatesReady waits until want Certificates in ns are Ready, and
// fails the test for any Ready at another revision than 1: issued twice.
func waitCertificatesReady(t *testing.T, dyn dynamic.Interface, ns string, want int) {
	t.Helper()
	var ready int
	var again []string
	deadline := time.Now().Add(180 * time.Second)
	for {
		ready, again = 0, nil
		list, err := dyn.Resource(certificatesGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		if err == nil {
			for _, c := range list.Items {
				conds, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
				for _, cond := range conds {
					if m, _ := cond.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
						ready++
						if rev, _, _ := unstructured.NestedInt64(c.Object, "status", "revision"); rev != 1 {
							again = append(again, fmt.Sprintf("%s at revision %d", c.GetName(), rev))
						}
					}
				}
			}
			if ready == want {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d Certificates Ready after 3 minutes (last error: %v)", ready, want, err)
		}
		time.Sleep(time.Second)
	}
	if len(again) > 0 {
		t.Errorf("Certificates issued more than once: %v", again)
	}
}

// secretWatch is a secretAuditor fed with every version of the Secrets in
// a namespace: through a watch, resumed where it broke (relisted when a
// restarted kube-apiserver no longer has that history), and at the end
// from etcd's history.
type secretWatch struct {
	*secretAuditor
	ns      string
	data    string // up's data directory, for etcd's history
	from    int64  // etcd revision when the watch began
	relists atomic.Int32
}

// watchSecrets starts auditing the Secrets in ns (which it creates) of the
// cluster `up` runs in data; want is the number of Certificates to come,
// for secretAuditor.fifth.
func watchSecrets(ctx context.Context, t *testing.T, cs kubernetes.Interface, data, ns string, want int) *secretWatch {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := &secretWatch{secretAuditor: &secretAuditor{serials: map[string]map[string]bool{}, fifth: make(chan struct{}), want: want}, ns: ns, data: data}
	secrets := cs.CoreV1().Secrets(ns)
	rv := follow(ctx, t, &w.relists,
		func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := secrets.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			var objs []runtime.Object
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
			return objs, l.ResourceVersion, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return secrets.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		},
		func(o runtime.Object) {
			if s, ok := o.(*corev1.Secret); ok {
				w.observe(s)
			}
		})
	w.from, _ = strconv.ParseInt(rv, 10, 64)
	return w
}

func (w *secretWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.serials)
}

// check fails the test unless want Secrets were seen, each with one
// certificate, and every version's key matched its certificate, both in
// the watch and in etcd's history.
func (w *secretWatch) check(t *testing.T, want int) {
	t.Helper()
	check := func(from string, a *secretAuditor) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if len(a.mismatches) > 0 {
			t.Errorf("%s: Secrets held keys that did not match their certificates: %v", from, a.mismatches)
		}
		if len(a.serials) != want {
			t.Errorf("%s: %d Secrets seen, want %d", from, len(a.serials), want)
		}
		for name, serials := range a.serials {
			if len(serials) != 1 {
				t.Errorf("%s: Secret %s held %d different certificates, want 1", from, name, len(serials))
			}
		}
	}
	check("watch", w.secretAuditor)
	history := &secretAuditor{serials: map[string]map[string]bool{}, fifth: make(chan struct{}), want: want}
	versions := etcdHistory(t, w.data, "/registry/secrets/"+w.ns+"/", w.from)
	for _, o := range versions {
		if s, ok := o.(*corev1.Secret); ok {
			history.observe(s)
		}
	}
	t.Logf("etcd history: %d versions of the Secrets in %s", len(versions), w.ns)
	check("etcd history", history)
}

// csrAudit remembers, per CSR, the certificate its status first held, and
// every later version that held another (or none).
type csrAudit struct {
	mu      sync.Mutex
	certs   map[string][]byte
	changed []string
}

func (a *csrAudit) observe(c *certv1.CertificateSigningRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if first, ok := a.certs[c.Name]; ok {
		if !bytes.Equal(first, c.Status.Certificate) {
			a.changed = append(a.changed, c.Name+"@"+c.ResourceVersion)
		}
		return
	}
	if len(c.Status.Certificate) > 0 {
		a.certs[c.Name] = c.Status.Certificate
	}
}

func (a *csrAudit) signed() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.certs)
}

// check fails the test unless n requests were signed once each, by a CA
// of roots, with distinct serials.
func (a *csrAudit) check(t *testing.T, n int, roots []*x509.Certificate) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.changed) > 0 {
		t.Errorf("certificates changed after they were set: %v", a.changed)
	}
	serials := map[string]bool{}
	for name, pemData := range a.certs {
		certs, err := pki.ParseCertificatesPEM(pemData)
		if err != nil || len(certs) != 1 {
			t.Errorf("%s: %d certificates, %v", name, len(certs), err)
			continue
		}
		if err := pki.VerifyChain(certs, roots, time.Now(), x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		serials[certs[0].SerialNumber.String()] = true
	}
	if len(a.certs) != n || len(serials) != n {
		t.Errorf("%d requests signed with %d distinct serials, want %d", len(a.certs), len(serials), n)
	}
}

// watchCSRs audits every version of every CSR from now on.
func watchCSRs(ctx context.Context, t *testing.T, cs kubernetes.Interface) *csrAudit {
	t.Helper()
	a := &csrAudit{certs: map[string][]byte{}}
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	var relists atomic.Int32
	follow(ctx, t, &relists,
		func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := csrs.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			var objs []runtime.Object
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
			return objs, l.ResourceVersion, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return csrs.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		},
		func(o runtime.Object) {
			if c, ok := o.(*certv1.CertificateSigningRequest); ok {
				a.observe(c)
			}
		})
	return a
}

// follow lists, passes each object to observe and returns the list's
// resourceVersion; then, until ctx ends, it passes every added or modified
// version to observe, resuming a broken watch from the last version seen,
// or from a new list (counted in relists) when the apiserver no longer has
// that history.
func follow(ctx context.Context, t *testing.T, relists *atomic.Int32,
	list func(context.Context) ([]runtime.Object, string, error),
	watchFrom func(context.Context, string) (watch.Interface, error),
	observe func(runtime.Object),
) string {
	t.Helper()
	objs, rv, err := list(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		observe(o)
	}
	start := rv
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		relist := func() {
			for ctx.Err() == nil {
				objs, listRV, err := list(ctx)
				if err == nil {
					for _, o := range objs {
						observe(o)
					}
					rv = listRV
					relists.Add(1)
					return
				}
				_ = pause(ctx, 200*time.Millisecond)
			}
		}
		for ctx.Err() == nil {
			w, err := watchFrom(ctx, rv)
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					relist()
				} else {
					_ = pause(ctx, 200*time.Millisecond)
				}
				continue
			}
			expired := false
			for ev := range w.ResultChan() {
				switch ev.Type {
				case watch.Added, watch.Modified:
					observe(ev.Object)
					fallthrough
				case watch.Bookmark, watch.Deleted:
					if m, err := meta.Accessor(ev.Object); err == nil {
						rv = m.GetResourceVersion()
					}
				case watch.Error:
					err := apierrors.FromObject(ev.Object)
					expired = apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
				}
			}
			w.Stop()
			if expired {
				relist()
			}
		}
	}()
	return start
}

// pause waits d or until ctx ends, between tries.
func pause(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// etcdHistory is every version of the keys under prefix written after
// revision from, as kube-apiserver stored them (decoded), read back from
// etcd's history (kube-apiserver compacts it only every five minutes)
// through etcd's JSON gateway, with kube-apiserver's client certificate.
func etcdHistory(t *testing.T, data, prefix string, from int64) []runtime.Object {
	t.Helper()
	var st struct {
		EtcdClientPort int `json:"etcdClientPort"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(data, "localcp.json")), &st); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("https://127.0.0.1:%d/v3/", st.EtcdClientPort)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFile(t, filepath.Join(data, "pki", "etcd", "ca.crt")))
	pair, err := tls.LoadX509KeyPair(filepath.Join(data, "pki", "apiserver-etcd-client.crt"), filepath.Join(data, "pki", "apiserver-etcd-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	post := func(path string, body any) *http.Response {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(resp.Body)
			t.Fatalf("etcd %s: %s: %s", path, resp.Status, msg)
		}
		return resp
	}
	end := []byte(prefix)
	end[len(end)-1]++
	type kv struct {
		Key         []byte `json:"key"`
		Value       []byte `json:"value"`
		ModRevision int64  `json:"mod_revision,string"`
	}
	// The last write under prefix: the history is read up to it.
	resp := post("kv/range", map[string]any{"key": []byte(prefix), "range_end": end, "keys_only": true})
	var ranged struct{ Kvs []kv }
	err = json.NewDecoder(resp.Body).Decode(&ranged)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for _, k := range ranged.Kvs {
		last = max(last, k.ModRevision)
	}
	if last <= from {
		return nil
	}

	resp = post("watch", map[string]any{"create_request": map[string]any{"key": []byte(prefix), "range_end": end, "start_revision": strconv.FormatInt(from+1, 10)}})
	defer func() { _ = resp.Body.Close() }()
	codecs := serializer.NewCodecFactory(scheme.Scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	var out []runtime.Object
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var msg struct {
			Result struct {
				CompactRevision int64 `json:"compact_revision,string"`
				Canceled        bool
				Events          []struct {
					Type string
					Kv   kv
				}
			}
			Error json.RawMessage
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				t.Fatalf("etcd history of %s ended before revision %d: %v", prefix, last, err)
			}
			t.Fatal(err)
		}
		if len(msg.Error) > 0 || msg.Result.Canceled || msg.Result.CompactRevision > 0 {
			t.Fatalf("etcd watch from revision %d: %s, canceled %v, compacted at %d", from+1, msg.Error, msg.Result.Canceled, msg.Result.CompactRevision)
		}
		for _, ev := range msg.Result.Events {
			if ev.Type != "DELETE" {
				obj, _, err := info.Serializer.Decode(ev.Kv.Value, nil, nil)
				if err != nil {
					t.Fatalf("decoding %s at revision %d: %v", ev.Kv.Key, ev.Kv.ModRevision, err)
				}
				out = append(out, obj)
			}
			if ev.Kv.ModRevision >= last {
				return out
			}
		}
	}
}

// childPid is the pid of the child of parent whose command is name, or 0.
func childPid(parent int, name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		f := strings.Fields(s[closing+1:])
		if len(f) < 2 || s[open+1:closing] != name {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == parent && processAlive(pid) {
			return pid
		}
	}
	return 0
}

// processAlive reports whether pid runs (and is no zombie).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && syscall.Kill(pid, 0) == nil
}
