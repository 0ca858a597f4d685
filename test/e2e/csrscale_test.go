package e2e

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki"
)

// controllerProcess is `certplane controller` as a cluster runs it.
type controllerProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startController runs the controller with its probes on probePort and its
// metrics on metricsPort, and extra flags.
func startController(t *testing.T, kubeconfig, caCert, caKey string, probePort, metricsPort int, extra ...string) *controllerProcess {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), "controller-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(certplane, "controller", "--kubeconfig", kubeconfig, "--enable-kubernetes-signers",
		"--cluster-signing-cert-file", caCert, "--cluster-signing-key-file", caKey, "--leader-elect=false",
		"--metrics-bind-address", "127.0.0.1:"+strconv.Itoa(metricsPort), "--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(probePort))
	cmd.Args = append(cmd.Args, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &controllerProcess{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	waitHTTPOK(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort))
	return p
}

func (p *controllerProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func newRequest(t testing.TB, name, cn string) *certv1.CertificateSigningRequest {
	t.Helper()
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: cn}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certv1.CertificateSigningRequestSpec{
			Request: req, SignerName: certv1.KubeAPIServerClientSignerName,
			Usages: []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth},
		},
	}
}

func approve(ctx context.Context, cs kubernetes.Interface, csr *certv1.CertificateSigningRequest) error {
	csr.Status.Conditions = append(csr.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test", Message: "approved by the test",
	})
	_, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
	return err
}

// parallel runs f for 0..n-1 on 8 goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// TestControllerAtScaleAndRestart: `certplane controller`, under the
// ClusterRole config/ ships, signs 200 requests approved at once; killed
// with SIGKILL in the middle and started again, it loses none and signs
// none twice. With an expired CA it marks requests Failed instead.
func TestControllerAtScaleAndRestart(t *testing.T) {
	cp := startControlPlane(t)
	admin := cp.Kubeconfig("admin.conf")
	caCert, caKey := filepath.Join(cp.PKIDir(), "ca.crt"), filepath.Join(cp.PKIDir(), "ca.key")

	// The controller's identity and the RBAC of config/rbac.
	ctrlKubeconfig := filepath.Join(t.TempDir(), "controller.kubeconfig")
	must(t, "", "", "pki", "kubeconfig", "--dir", cp.DataDir, "--user", "certplane-test-controller", "--out", ctrlKubeconfig, "--key-algorithm", "ecdsa-p256")
	mustKubectl(t, admin, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	mustKubectl(t, admin, "create", "clusterrolebinding", "certplane-test-controller", "--clusterrole=certplane-controller", "--user=certplane-test-controller")

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	csrs := cs.CertificatesV1().CertificateSigningRequests()

	t.Run("an expired CA marks requests Failed", func(t *testing.T) {
		dir := t.TempDir()
		certPEM, keyPEM := expiredCA(t)
		writeFile(t, filepath.Join(dir, "ca.crt"), certPEM)
		writeFile(t, filepath.Join(dir, "ca.key"), keyPEM)
		p := startController(t, ctrlKubeconfig, filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), freePort(t), freePort(t))
		csr, err := csrs.Create(ctx, newRequest(t, "stale", "stale"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := approve(ctx, cs, csr); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "the stale request to fail", func() bool { return strings.Contains(csrCondition(t, admin, "stale"), "Failed") })
		got := mustKubectl(t, admin, "get", "csr", "stale", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}`)
		if !strings.HasPrefix(got, "SigningFailed: refusing to sign: pki: CA certificate is not valid now") {
			t.Errorf("Failed condition %q", got)
		}
		p.kill()
	})

	const n = 200
	port, metricsPort := freePort(t), freePort(t)
	// The first controller is held to 25 requests a second, so that it is
	// killed with part of the work done: unthrottled, it signs all 200
	// before the test can see a quarter of them.
	first := startController(t, ctrlKubeconfig, caCert, caKey, port, metricsPort, "--kube-api-qps", "25", "--kube-api-burst", "5")
	reqs := make([]*certv1.CertificateSigningRequest, n)
	for i := range reqs {
		reqs[i] = newRequest(t, fmt.Sprintf("scale-%03d", i), fmt.Sprintf("user-%03d", i))
	}
	if err := parallel(n, func(i int) error {
		created, err := csrs.Create(ctx, reqs[i], metav1.CreateOptions{})
		reqs[i] = created
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := parallel(n, func(i int) error { return approve(ctx, cs, reqs[i]) }); err != nil {
		t.Fatal(err)
	}

	issued := func() map[string]string {
		list, err := csrs.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range list.Items {
			if strings.HasPrefix(c.Name, "scale-") && len(c.Status.Certificate) > 0 {
				out[c.Name] = string(c.Status.Certificate)
			}
		}
		return out
	}
	var before map[string]string
	waitFor(t, 60*time.Second, "some requests to be issued", func() bool { before = issued(); return len(before) >= n/4 })
	first.kill()
	before = issued() // what was issued when the controller died
	t.Logf("%d of %d issued when the controller was killed", len(before), n)
	if len(before) == n {
		t.Fatal("every request was issued before the controller was killed: the restart was not tested")
	}

	second := startController(t, ctrlKubeconfig, caCert, caKey, port, metricsPort)
	var after map[string]string
	waitFor(t, 120*time.Second, "every request to be issued", func() bool { after = issued(); return len(after) == n })

	for name, cert := range before {
		if after[name] != cert {
			t.Errorf("%s: certificate replaced after the restart", name)
		}
	}
	caPEM, _ := os.ReadFile(caCert)
	roots, err := pki.ParseCertificatesPEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	serials := map[string]bool{}
	for name, certPEM := range after {
		certs, err := pki.ParseCertificatesPEM([]byte(certPEM))
		if err != nil || len(certs) != 1 {
			t.Fatalf("%s: %d certificates, %v", name, len(certs), err)
		}
		if err := pki.VerifyChain(certs, roots, time.Now(), x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if want := "user-" + strings.TrimPrefix(name, "scale-"); certs[0].Subject.CommonName != want {
			t.Errorf("%s: certificate for %q, want %q", name, certs[0].Subject.CommonName, want)
		}
		serials[certs[0].SerialNumber.String()] = true
	}
	if len(serials) != n {
		t.Errorf("%d distinct serials for %d requests", len(serials), n)
	}

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `certplane_csr_signed_total{signer="kubernetes.io/kube-apiserver-client"}`) {
		t.Error("/metrics lacks certplane_csr_signed_total")
	}
	resp2, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil || resp2.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %v %v", resp2, err)
	} else {
		_ = resp2.Body.Close()
	}
	second.kill()
}

// waitHTTPOK waits until url answers 200.
func waitHTTPOK(t *testing.T, url string) {
	t.Helper()
	waitFor(t, 60*time.Second, url+" to answer 200", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
