package e2e

import (
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// statusBudget is the time `certplane status` may take on a cluster of
// 10,000 certificates (issue #16).
const statusBudget = 5 * time.Second

// BenchmarkStatus times `certplane status -A -o json` on a cluster (etcd
// and kube-apiserver with the cert-manager CRDs, no controllers) holding N
// certificates, N from $CERTPLANE_STATUS_BENCH_N (default 1000, for CI;
// 10000 is the issue's scale). "secrets" holds N kubernetes.io/tls
// Secrets as certplane writes a Certificate's Secret (ECDSA P-256 from one
// CA, tls.crt, tls.key, ca.crt and cert-manager's annotations), created
// directly in parallel; "certificates" holds, besides those Secrets, the N
// Certificates they belong to. Each status run must list every one, exit 0
// and take under statusBudget. It reports the certplane process's CPU and
// peak resident memory per run.
func BenchmarkStatus(b *testing.B) {
	n := 1000
	if s := os.Getenv("CERTPLANE_STATUS_BENCH_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("CERTPLANE_STATUS_BENCH_N=%q: want a positive number", s)
		}
	}
	for _, withCertificates := range []bool{false, true} {
		name := fmt.Sprintf("secrets=%d", n)
		if withCertificates {
			name = fmt.Sprintf("certificates=%d", n)
		}
		b.Run(name, func(b *testing.B) {
			admin := statusCluster(b, n, withCertificates)
			load, _ := os.ReadFile("/proc/loadavg")
			b.Logf("load average before timing: %s", strings.TrimSpace(string(load)))
			var cpu time.Duration
			var maxRSS int64
			runs := 0
			for b.Loop() {
				start := time.Now()
				cmd := exec.Command(certplane, "status", "-A", "-o", "json", "--kubeconfig", admin)
				out, err := cmd.Output()
				elapsed := time.Since(start)
				if err != nil {
					b.Fatalf("certplane status: %v: %s", err, out)
				}
				if elapsed > statusBudget {
					b.Errorf("certplane status took %s on %d certificates, over the budget of %s", elapsed, n, statusBudget)
				}
				var rep struct {
					Attention int `json:"attention"`
					Items     []struct {
						Kind string `json:"kind"`
					} `json:"items"`
				}
				if err := json.Unmarshal(out, &rep); err != nil {
					b.Fatal(err)
				}
				kinds := map[string]int{}
				for _, it := range rep.Items {
					kinds[it.Kind]++
				}
				want := "Secret"
				if withCertificates {
					want = "Certificate"
				}
				if kinds[want] != n || rep.Attention != 0 {
					b.Fatalf("status listed %v with %d needing attention; want %d %s rows and none", kinds, rep.Attention, n, want)
				}
				u := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				cpu += time.Duration(u.Utime.Nano() + u.Stime.Nano())
				maxRSS = max(maxRSS, u.Maxrss)
				runs++
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(runs), "cpu-ms/op")
			b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MB")
		})
	}
}

// statusCluster starts a control plane with the cert-manager CRDs and
// fills it with n certificates' Secrets (and their Certificates).
func statusCluster(b *testing.B, n int, withCertificates bool) string {
	b.Helper()
	cp := startControlPlane(b)
	admin := cp.Kubeconfig("admin.conf")
	mustKubectl(b, admin, "apply", "--server-side", "-f", filepath.Join("..", "..", "config", "crd", "bases"))
	mustKubectl(b, admin, "wait", "--for=condition=Established", "--timeout=60s", "crd/certificates.cert-manager.io")
	mustKubectl(b, admin, "create", "namespace", "estate")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)

	start := time.Now()
	ca := pkitest.CA(b, "estate-ca")
	caPEM := pki.EncodeCertificatesPEM(ca.Certificate)
	ctx := context.Background()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		errors []error
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := createEstateCertificate(ctx, cs, dyn, ca, caPEM, i, withCertificates); err != nil {
					mu.Lock()
					errors = append(errors, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(errors) > 0 {
		b.Fatalf("creating the certificates: %v", errors[0])
	}
	b.Logf("created %d certificates in %s", n, time.Since(start).Round(time.Millisecond))
	return admin
}

func createEstateCertificate(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ca *pki.CA, caPEM []byte, i int, withCertificate bool) error {
	name := fmt.Sprintf("svc-%05d", i)
	dns := name + ".estate.svc"
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		return err
	}
	cert, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{
		Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns}, Duration: 90 * 24 * time.Hour,
		Usages: []pki.Usage{"digital signature", "key encipherment", "server auth"},
	}, key.Public())
	if err != nil {
		return err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
	if err != nil {
		return err
	}
	if withCertificate {
		crt := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
			"metadata": map[string]any{"name": name, "namespace": "estate", "labels": map[string]any{"app": "estate"}},
			"spec": map[string]any{
				"secretName": name + "-tls", "commonName": dns, "dnsNames": []any{dns},
				"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256), "encoding": "PKCS8"},
				"issuerRef":  map[string]any{"name": "estate-ca", "kind": "ClusterIssuer"},
			},
		}}
		if _, err := dyn.Resource(certificatesGVR).Namespace("estate").Create(ctx, crt, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-tls", Namespace: "estate",
			Labels: map[string]string{"controller.cert-manager.io/fao": "true"},
			Annotations: map[string]string{
				"cert-manager.io/certificate-name": name, "cert-manager.io/issuer-name": "estate-ca",
				"cert-manager.io/issuer-kind": "ClusterIssuer", "cert-manager.io/issuer-group": "cert-manager.io",
				"cert-manager.io/common-name": dns, "cert-manager.io/alt-names": dns,
				"cert-manager.io/ip-sans": "", "cert-manager.io/uri-sans": "", "cert-manager.io/email-sans": "",
				"certplane.io/revision": "1",
			}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": pki.EncodeCertificatesPEM(cert), "tls.key": keyPEM, "ca.crt": caPEM},
	}
	_, err = cs.CoreV1().Secrets("estate").Create(ctx, s, metav1.CreateOptions{})
	return err
}
