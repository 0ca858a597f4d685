// Package localcp runs a local control plane: etcd, kube-apiserver and,
// when asked, kube-controller-manager as child processes on a cluster PKI
// made by clusterpki, with mTLS to etcd, x509 client authentication and
// RBAC, and keeps them running: a component that exits is started again
// after a backoff until it exits too often (RestartPolicy). It is the one
// launcher of the project: `certplane up` and every integration test start
// control planes through it.
package localcp

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/pkg/pki"
)

// DefaultPort is the apiserver's port when none is given or remembered.
const DefaultPort = 6443

// Options configure a control plane. Only DataDir is required.
type Options struct {
	// DataDir holds everything: the PKI (DataDir/pki), the kubeconfigs,
	// etcd's data (DataDir/etcd) and the logs (DataDir/logs).
	DataDir string
	// Port is the apiserver's port on 127.0.0.1. If zero, the port the data
	// directory was set up with, or DefaultPort for a new one.
	Port int
	// BinDir, if set, is the only place etcd and kube-apiserver are looked
	// for. Otherwise: $CERTPLANE_ASSETS, $KUBEBUILDER_ASSETS, the project's
	// bin/, then PATH.
	BinDir string
	// Key is the algorithm of keys a new PKI gets. If zero, RSA 2048.
	Key pki.KeySpec
	// NodeName names the node in the PKI. If empty, the host name.
	NodeName string
	// Log receives one line per step. If nil, nothing is logged.
	Log io.Writer
	// Timeout bounds each component's start. If zero, two minutes.
	Timeout time.Duration
	// OpenKey opens the key URIs of CAs whose keys are in PKCS#11 tokens
	// (DataDir/pki/<base>.key-uri, written by certplane pki init
	// --ca-key-uri). If nil, such a data directory cannot start.
	OpenKey func(uri string) (crypto.Signer, error)
	// Restart says when a component that exits on its own is started again
	// (the same flags, ports and data) and when the control plane ends
	// instead; its zero value is RestartPolicy's default.
	Restart RestartPolicy
	// Now is the clock of the restart decisions. If nil, time.Now.
	Now func() time.Time
	// ControllerManager starts kube-controller-manager too, as kubeadm's
	// static Pod runs it, with every default controller but the three
	// certificates.k8s.io ones certplane replaces (csrsigning,
	// csrapproving, csrcleaner).
	ControllerManager bool
}

// kcmControllers is kube-controller-manager's --controllers: kubeadm's
// list, less the controllers certplane runs itself.
const kcmControllers = "*,bootstrapsigner,tokencleaner," +
	"-certificatesigningrequest-signing-controller,-certificatesigningrequest-approving-controller,-certificatesigningrequest-cleaner-controller"

// ControlPlane is a running etcd, kube-apiserver and, if asked,
// kube-controller-manager.
type ControlPlane struct {
	// DataDir is the data directory.
	DataDir string
	// URL is the apiserver's URL.
	URL string
	// EtcdURL is etcd's client URL.
	EtcdURL string
	// ControllerManagerURL is kube-controller-manager's secure port, or ""
	// when it does not run.
	ControllerManagerURL string

	timeout time.Duration

	// mu guards the processes, which a restart replaces.
	mu                                 sync.Mutex
	etcd, apiserver, controllerManager *process

	policy   RestartPolicy
	now      func() time.Time
	logf     func(format string, args ...any)
	stopping chan struct{} // closed by Stop
	stopOnce sync.Once
	wg       sync.WaitGroup // the supervisors
	ended    chan struct{}  // closed once the control plane has ended
	endOnce  sync.Once
	endErr   error
}

// Exited is closed when the control plane has ended: a component exited
// and Options.Restart gave up on it, or Stop was called. ExitError then
// says which component and why.
func (cp *ControlPlane) Exited() <-chan struct{} { return cp.ended }

// ExitError describes the component whose exits ended the control plane;
// nil while it runs and after Stop.
func (cp *ControlPlane) ExitError() error {
	select {
	case <-cp.ended:
		return cp.endErr
	default:
		return nil
	}
}

// state is what a data directory remembers between starts.
type state struct {
	Port           int `json:"port"`
	EtcdClientPort int `json:"etcdClientPort"`
	EtcdPeerPort   int `json:"etcdPeerPort"`
	// ControllerManagerPort is kube-controller-manager's secure port; zero
	// in data directories made before it ran.
	ControllerManagerPort int `json:"controllerManagerPort,omitempty"`
}

// Kubeconfig is the path of a kubeconfig in the data directory, such as
// "admin.conf" or "super-admin.conf".
func (cp *ControlPlane) Kubeconfig(name string) string { return filepath.Join(cp.DataDir, name) }

// PKIDir is the directory of the certificates and keys.
func (cp *ControlPlane) PKIDir() string { return filepath.Join(cp.DataDir, "pki") }

// Start brings the control plane up: the PKI (reusing what exists), etcd,
// kube-apiserver, and the kubeadm:cluster-admins ClusterRoleBinding. On any
// failure it stops what it started and leaves no process behind.
func Start(ctx context.Context, o Options) (cp *ControlPlane, err error) {
	if o.DataDir == "" {
		return nil, errors.New("no data directory given")
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	etcdBin, err := findBinary("etcd", o.BinDir)
	if err != nil {
		return nil, err
	}
	apiserverBin, err := findBinary("kube-apiserver", o.BinDir)
	if err != nil {
		return nil, err
	}
	var kcmBin string
	if o.ControllerManager {
		if kcmBin, err = findBinary("kube-controller-manager", o.BinDir); err != nil {
			return nil, err
		}
	}
	st, err := loadState(o.DataDir, o.Port)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		what string
		port int
	}{{"kube-apiserver", st.Port}, {"etcd", st.EtcdClientPort}, {"etcd peer", st.EtcdPeerPort}, {"kube-controller-manager", st.ControllerManagerPort}} {
		if p.port == 0 || (p.what == "kube-controller-manager" && !o.ControllerManager) {
			continue
		}
		if err := checkPortFree(p.port); err != nil {
			return nil, fmt.Errorf("%s port %d is in use: %w", p.what, p.port, err)
		}
	}

	cp = &ControlPlane{
		DataDir:  o.DataDir,
		URL:      "https://127.0.0.1:" + strconv.Itoa(st.Port),
		EtcdURL:  "https://127.0.0.1:" + strconv.Itoa(st.EtcdClientPort),
		policy:   o.Restart,
		now:      o.Now,
		logf:     logf,
		stopping: make(chan struct{}),
		ended:    make(chan struct{}),
	}
	if cp.now == nil {
		cp.now = time.Now
	}
	res, err := clusterpki.Init(clusterpki.Options{
		Dir:              o.DataDir,
		NodeName:         o.NodeName,
		AdvertiseAddress: net.IPv4(127, 0, 0, 1),
		Server:           cp.URL,
		Key:              o.Key,
		OpenKey:          o.OpenKey,
	})
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if len(res.Created) > 0 {
		logf("pki: created %d files in %s", len(res.Created), o.DataDir)
	} else {
		logf("pki: reusing %s (%d certificates and keys checked)", o.DataDir, len(res.Checked))
	}
	if err := checkServer(cp.Kubeconfig("admin.conf"), cp.URL); err != nil {
		return nil, err
	}
	if err := saveState(o.DataDir, st); err != nil {
		return nil, err
	}
	logs := filepath.Join(o.DataDir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return nil, err
	}

	defer func() {
		if err != nil {
			_ = cp.Stop()
		}
	}()
	cp.etcd, err = startProcess("etcd", etcdBin, etcdArgs(o.DataDir, st), filepath.Join(logs, "etcd.log"))
	if err != nil {
		return nil, err
	}
	logf("etcd: started on %s (log: %s)", cp.EtcdURL, cp.etcd.logPath)
	etcdClient, err := tlsClient(cp.PKIDir(), "etcd/ca.crt", "etcd/healthcheck-client")
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, cp.etcd, etcdClient, cp.EtcdURL+"/health", `"health":"true"`, o.Timeout); err != nil {
		return nil, err
	}
	logf("etcd: healthy")

	cp.apiserver, err = startProcess("kube-apiserver", apiserverBin, apiserverArgs(o.DataDir, st), filepath.Join(logs, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	logf("kube-apiserver: started on %s (log: %s)", cp.URL, cp.apiserver.logPath)
	apiClient, err := tlsClient(cp.PKIDir(), "ca.crt", "apiserver-kubelet-client")
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, cp.apiserver, apiClient, cp.URL+"/readyz", "ok", o.Timeout); err != nil {
		return nil, err
	}
	logf("kube-apiserver: ready")

	if err := bindClusterAdmins(ctx, cp.Kubeconfig("super-admin.conf")); err != nil {
		return nil, err
	}
	logf("rbac: ClusterRoleBinding kubeadm:cluster-admins binds admin.conf's group to cluster-admin")

	if o.ControllerManager {
		if err := cp.startControllerManager(kcmBin, st); err != nil {
			return nil, err
		}
		logf("kube-controller-manager: started on %s (log: %s)", cp.ControllerManagerURL, cp.controllerManager.logPath)
		cp.timeout = o.Timeout
	}
	for _, slot := range []**process{&cp.etcd, &cp.apiserver, &cp.controllerManager} {
		if *slot != nil {
			cp.wg.Add(1)
			go cp.supervise(slot)
		}
	}
	return cp, nil
}

// startControllerManager starts kube-controller-manager on
// controller-manager.conf. WaitControllerManager waits for its health, so
// that the caller can do other work while it starts.
func (cp *ControlPlane) startControllerManager(bin string, st state) error {
	if err := os.MkdirAll(filepath.Join(cp.DataDir, "kube-controller-manager"), 0o700); err != nil {
		return err
	}
	var err error
	cp.controllerManager, err = startProcess("kube-controller-manager", bin, controllerManagerArgs(cp.DataDir, st),
		filepath.Join(cp.DataDir, "logs", "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	cp.ControllerManagerURL = "https://127.0.0.1:" + strconv.Itoa(st.ControllerManagerPort)
	return nil
}

// WaitControllerManager waits until kube-controller-manager's /healthz
// answers ok; at once when it does not run. Its serving certificate is the
// self-signed one it makes in DATA/kube-controller-manager, which the
// health check trusts.
func (cp *ControlPlane) WaitControllerManager(ctx context.Context) error {
	cp.mu.Lock()
	p := cp.controllerManager
	cp.mu.Unlock()
	if p == nil {
		return nil
	}
	client, err := selfSignedClient(ctx, p, filepath.Join(cp.DataDir, "kube-controller-manager", "kube-controller-manager.crt"), cp.timeout)
	if err != nil {
		return err
	}
	return waitHealthy(ctx, p, client, cp.ControllerManagerURL+"/healthz", "ok", cp.timeout)
}

// selfSignedClient is an HTTPS client that trusts the self-signed
// certificate a component writes to certFile once it has started.
func selfSignedClient(ctx context.Context, p *process, certFile string, timeout time.Duration) (*http.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if pemData, err := os.ReadFile(certFile); err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pemData) {
				return &http.Client{
					Timeout: 5 * time.Second,
					Transport: &http.Transport{
						TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
						DisableKeepAlives: true,
					},
				}, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited: %s (log: %s)", p.name, p.lastLogLine(), p.logPath)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s wrote no serving certificate to %s: %w (log: %s)", p.name, certFile, ctx.Err(), p.logPath)
		case <-tick.C:
		}
	}
}

// Stop stops kube-controller-manager, kube-apiserver, then etcd: SIGTERM,
// and SIGKILL after 30 seconds. Nothing is restarted once it is called. It
// may be called more than once.
func (cp *ControlPlane) Stop() error {
	cp.mu.Lock()
	cp.stopOnce.Do(func() { close(cp.stopping) })
	ps := []*process{cp.controllerManager, cp.apiserver, cp.etcd}
	cp.mu.Unlock()
	var errs []error
	for _, p := range ps {
		if p != nil {
			if err := p.stop(30 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	cp.wg.Wait()
	cp.end(nil)
	return errors.Join(errs...)
}

func etcdArgs(dir string, st state) []string {
	p := filepath.Join(dir, "pki", "etcd")
	client := "https://127.0.0.1:" + strconv.Itoa(st.EtcdClientPort)
	peer := "https://127.0.0.1:" + strconv.Itoa(st.EtcdPeerPort)
	return []string{
		"--name=certplane",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=certplane=" + peer,
		"--cert-file=" + filepath.Join(p, "server.crt"),
		"--key-file=" + filepath.Join(p, "server.key"),
		"--trusted-ca-file=" + filepath.Join(p, "ca.crt"),
		"--client-cert-auth=true",
		"--peer-cert-file=" + filepath.Join(p, "peer.crt"),
		"--peer-key-file=" + filepath.Join(p, "peer.key"),
		"--peer-trusted-ca-file=" + filepath.Join(p, "ca.crt"),
		"--peer-client-cert-auth=true",
		"--snapshot-count=10000",
		"--feature-gates=InitialCorruptCheck=true",
		"--watch-progress-notify-interval=5s",
	}
}

func apiserverArgs(dir string, st state) []string {
	p := filepath.Join(dir, "pki")
	f := func(name string) string { return filepath.Join(p, name) }
	return []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none", // a loopback advertise address cannot be published
		"--secure-port=" + strconv.Itoa(st.Port),
		"--etcd-servers=https://127.0.0.1:" + strconv.Itoa(st.EtcdClientPort),
		"--etcd-cafile=" + f("etcd/ca.crt"),
		"--etcd-certfile=" + f("apiserver-etcd-client.crt"),
		"--etcd-keyfile=" + f("apiserver-etcd-client.key"),
		"--tls-cert-file=" + f("apiserver.crt"),
		"--tls-private-key-file=" + f("apiserver.key"),
		"--client-ca-file=" + f("ca.crt"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--enable-bootstrap-token-auth=true",
		"--kubelet-client-certificate=" + f("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + f("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f("sa.pub"),
		"--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=" + clusterpki.DefaultServiceCIDR,
		"--requestheader-client-ca-file=" + f("front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + f("front-proxy-client.crt"),
		"--proxy-client-key-file=" + f("front-proxy-client.key"),
	}
}

// controllerManagerArgs are kubeadm's flags for kube-controller-manager
// (its static Pod manifest), on loopback, without leader election (one
// instance; a restart would otherwise wait out the old lease), and without
// the controllers certplane replaces.
func controllerManagerArgs(dir string, st state) []string {
	f := func(name string) string { return filepath.Join(dir, "pki", name) }
	conf := filepath.Join(dir, "controller-manager.conf")
	return []string{
		"--kubeconfig=" + conf,
		"--authentication-kubeconfig=" + conf,
		"--authorization-kubeconfig=" + conf,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(st.ControllerManagerPort),
		"--cert-dir=" + filepath.Join(dir, "kube-controller-manager"),
		"--client-ca-file=" + f("ca.crt"),
		"--requestheader-client-ca-file=" + f("front-proxy-ca.crt"),
		"--root-ca-file=" + f("ca.crt"),
		"--service-account-private-key-file=" + f("sa.key"),
		"--use-service-account-credentials=true",
		"--cluster-name=kubernetes",
		"--controllers=" + kcmControllers,
		"--leader-elect=false",
	}
}

// loadState reads the ports a data directory was set up with, choosing free
// etcd ports for a new one. A port asked for that differs from the
// remembered one is an error: the kubeconfigs name the old one.
func loadState(dir string, port int) (state, error) {
	var st state
	data, err := os.ReadFile(filepath.Join(dir, "localcp.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil {
			return st, fmt.Errorf("%s: %w", filepath.Join(dir, "localcp.json"), err)
		}
		for _, p := range []int{st.Port, st.EtcdClientPort, st.EtcdPeerPort} {
			if p < 1 || p > 65535 {
				return st, fmt.Errorf("%s: port %d is out of range", filepath.Join(dir, "localcp.json"), p)
			}
		}
		if st.Port == st.EtcdClientPort || st.Port == st.EtcdPeerPort || st.EtcdClientPort == st.EtcdPeerPort {
			return st, fmt.Errorf("%s: two components share a port", filepath.Join(dir, "localcp.json"))
		}
		if port != 0 && port != st.Port {
			return st, fmt.Errorf("%s was set up for port %d: start it with --port %d or use another data directory", dir, st.Port, st.Port)
		}
		if st.ControllerManagerPort == 0 {
			if st.ControllerManagerPort, err = FreePort(); err != nil {
				return st, err
			}
		}
		return st, nil
	case !errors.Is(err, os.ErrNotExist):
		return st, err
	}
	st.Port = port
	if st.Port == 0 {
		st.Port = DefaultPort
	}
	ports, err := freePorts(3)
	if err != nil {
		return st, err
	}
	st.EtcdClientPort, st.EtcdPeerPort, st.ControllerManagerPort = ports[0], ports[1], ports[2]
	return st, nil
}

func saveState(dir string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "localcp.json"), data, 0o600)
}

// checkServer refuses a data directory whose admin.conf names another
// apiserver URL than the one about to start.
func checkServer(kubeconfig, url string) error {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return err
	}
	for name, c := range cfg.Clusters {
		if c.Server != url {
			return fmt.Errorf("%s points cluster %q at %s, not %s", kubeconfig, name, c.Server, url)
		}
	}
	return nil
}

// tlsClient is an HTTPS client that trusts caFile and presents the pair
// base.crt/base.key, both under pkiDir.
func tlsClient(pkiDir, caFile, base string) (*http.Client, error) {
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, caFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, base+".crt"), filepath.Join(pkiDir, base+".key"))
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}, nil
}

// waitHealthy polls url until it answers 200 with a body containing want,
// the process exits, the context ends, or timeout passes.
func waitHealthy(ctx context.Context, p *process, client *http.Client, url, want string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
				return nil
			}
			last = fmt.Sprintf("%s answered %d", url, resp.StatusCode)
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %s (log: %s)", p.name, p.lastLogLine(), p.logPath)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s: %s (log: %s)", p.name, timeout, last, p.logPath)
			}
			return fmt.Errorf("%s: %w", p.name, ctx.Err())
		case <-tick.C:
		}
	}
}

// bindClusterAdmins creates the ClusterRoleBinding kubeadm makes so that
// admin.conf's group kubeadm:cluster-admins is cluster-admin.
func bindClusterAdmins(ctx context.Context, superAdmin string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", superAdmin)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:cluster-admins"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "kubeadm:cluster-admins"}},
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding kubeadm:cluster-admins: %w", err)
	}
	return nil
}
