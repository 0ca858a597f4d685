package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki"
)

// secretAuditor watches every version of the Secrets in a namespace and
// remembers, per Secret, each certificate serial it held and any version
// whose key did not match its certificate.
type secretAuditor struct {
	// fifth is closed once a fifth of want Secrets were seen.
	fifth      chan struct{}
	want       int
	mu         sync.Mutex
	serials    map[string]map[string]bool
	mismatches []string
}

func (a *secretAuditor) observe(s *corev1.Secret) {
	crt, key := s.Data["tls.crt"], s.Data["tls.key"]
	if len(crt) == 0 && len(key) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	chain, err := pki.ParseCertificatesPEM(crt)
	if err != nil {
		a.mismatches = append(a.mismatches, s.Name+": "+err.Error())
		return
	}
	k, err := pki.ParsePrivateKeyPEM(key)
	if err != nil || !pki.KeyMatches(chain[0].PublicKey, k) {
		a.mismatches = append(a.mismatches, fmt.Sprintf("%s@%s: key does not match certificate", s.Name, s.ResourceVersion))
	}
	if a.serials[s.Name] == nil {
		a.serials[s.Name] = map[string]bool{}
		// Only a Secret seen for the first time can make the fifth: a
		// watch that starts again sees the same Secrets once more.
		if len(a.serials) == a.want/5 {
			close(a.fifth)
		}
	}
	a.serials[s.Name][chain[0].SerialNumber.Text(16)] = true
}

// TestCertificatesAtScaleAndRestart: `certplane controller`, under the
// shipped ClusterRole, is SIGKILLed in the middle of issuing 500
// Certificates and started again: all become Ready, no Secret ever holds a
// key that does not match its certificate, and no revision is issued twice.
func TestCertificatesAtScaleAndRestart(t *testing.T) {
	cp := startControlPlane(t)
	admin := cp.Kubeconfig("admin.conf")
	caCert, caKey := filepath.Join(cp.PKIDir(), "ca.crt"), filepath.Join(cp.PKIDir(), "ca.key")
	mustKubectl(t, admin, "apply", "--server-side", "-f", filepath.Join("..", "..", "config", "crd", "bases"))
	mustKubectl(t, admin, "wait", "--for=condition=Established", "--timeout=60s", "crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "crd/clusterissuers.cert-manager.io")
	ctrlKubeconfig := filepath.Join(t.TempDir(), "controller.kubeconfig")
	must(t, "", "", "pki", "kubeconfig", "--dir", cp.DataDir, "--user", "certplane-test-controller", "--out", ctrlKubeconfig, "--key-algorithm", "ecdsa-p256")
	mustKubectl(t, admin, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	mustKubectl(t, admin, "create", "clusterrolebinding", "certplane-test-controller", "--clusterrole=certplane-controller", "--user=certplane-test-controller")

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustKubectl(t, admin, "create", "namespace", "scale")

	const n = 500
	audit := &secretAuditor{serials: map[string]map[string]bool{}, fifth: make(chan struct{}), want: n}
	w, err := cs.CoreV1().Secrets("scale").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ev := range w.ResultChan() {
			if s, ok := ev.Object.(*corev1.Secret); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				audit.observe(s)
			}
		}
	}()

	first := startController(t, ctrlKubeconfig, caCert, caKey, freePort(t), freePort(t))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "issuer.yaml"), `apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: scale}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: scale-ca, namespace: scale}
spec:
  isCA: true
  commonName: scale CA
  secretName: scale-ca
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: scale}
spec: {ca: {secretName: scale-ca}}
`)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuer.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "scale", "certificate/scale-ca")

	var manifest strings.Builder
	for i := range n {
		fmt.Fprintf(&manifest, "---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: svc-%03d, namespace: scale}\nspec:\n  secretName: svc-%03d-tls\n  dnsNames: [svc-%03d.scale.svc]\n  privateKey: {algorithm: ECDSA}\n  issuerRef: {name: ca}\n", i, i, i)
	}
	writeFile(t, filepath.Join(dir, "certs.yaml"), manifest.String())
	applied := make(chan result, 1)
	go func() { applied <- kubectl(t, admin, "apply", "--server-side", "-f", filepath.Join(dir, "certs.yaml")) }()

	issued := func() int {
		audit.mu.Lock()
		defer audit.mu.Unlock()
		return len(audit.serials) - 1 // less the CA
	}
	select {
	case <-audit.fifth:
	case <-time.After(120 * time.Second):
		t.Fatalf("only %d Secrets issued after 2 minutes", issued())
	}
	first.kill()
	t.Logf("%d of %d Secrets written when the controller was killed", issued(), n)
	if issued() >= n {
		t.Log("the controller finished before it was killed; the restart only re-checks")
	}
	metricsPort := freePort(t)
	startController(t, ctrlKubeconfig, caCert, caKey, freePort(t), metricsPort)
	if r := <-applied; r.code != 0 {
		t.Fatalf("kubectl apply: %s", r.stderr)
	}

	ready := func() (int, string) {
		out := mustKubectl(t, admin, "get", "certificates", "-n", "scale", "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.revision}{"\n"}{end}`)
		count, bad := 0, ""
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[1] == "True" {
				count++
				if f[2] != "1" {
					bad = line
				}
			}
		}
		return count, bad
	}
	var bad string
	waitFor(t, 180*time.Second, "all Certificates to be Ready", func() bool {
		var c int
		c, bad = ready()
		return c == n+1
	})
	if bad != "" {
		t.Errorf("a Certificate was issued more than once: %s", bad)
	}
	// cert-manager's metrics, as its dashboards and alerts read them.
	_, metrics := curl(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	for _, want := range []string{
		`certmanager_certificate_ready_status{condition="True",issuer_group="cert-manager.io",issuer_kind="Issuer",issuer_name="ca",name="svc-042",namespace="scale"} 1`,
		`certmanager_certificate_ready_status{condition="False",issuer_group="cert-manager.io",issuer_kind="Issuer",issuer_name="ca",name="svc-042",namespace="scale"} 0`,
		`certmanager_certificate_expiration_timestamp_seconds{issuer_group="cert-manager.io",issuer_kind="Issuer",issuer_name="ca",name="svc-042",namespace="scale"} `,
		`certmanager_certificate_renewal_timestamp_seconds{issuer_group="cert-manager.io",issuer_kind="Issuer",issuer_name="ca",name="svc-499",namespace="scale"} `,
		`certplane_certificates_issued_total{issuer_kind="ca",reason="DoesNotExist"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The timestamps are the certificate's, not zero.
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "certmanager_certificate_expiration_timestamp_seconds{") && strings.Contains(line, `name="svc-042"`) && strings.HasSuffix(line, " 0") {
			t.Errorf("expiration of an issued certificate is zero: %s", line)
		}
	}
	cancel()
	<-watched
	audit.mu.Lock()
	defer audit.mu.Unlock()
	if len(audit.mismatches) > 0 {
		t.Errorf("Secrets held keys that did not match their certificates: %v", audit.mismatches)
	}
	if len(audit.serials) != n+1 {
		t.Errorf("%d Secrets seen, want %d", len(audit.serials), n+1)
	}
	for name, serials := range audit.serials {
		if len(serials) != 1 {
			t.Errorf("Secret %s held %d different certificates, want 1", name, len(serials))
		}
	}
}
