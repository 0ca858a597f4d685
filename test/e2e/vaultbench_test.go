package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkVaultIssuer is the Vault issuer at scale beside the CA issuer,
// on one fresh `certplane up` and one Vault (startVault): 500 ECDSA P-256
// Certificates (duration 24h) through a CA Issuer, then 500 through a
// Vault Issuer (token auth, plain HTTP, pki_int/sign/web), each batch
// created at once by 32 clients and timed until a watcher has seen every
// one Ready. It reports certificates per second and certplane's CPU per
// certificate for each, Vault's CPU per certificate, and, from Vault's own
// audit log (a file device enabled before the Vault batch), the requests
// Vault handled per certificate: to the signing path (one expected) and in
// all. Vault does not audit the unauthenticated sys/health, so the issuer's
// health checks are not in "in all".
func BenchmarkVaultIssuer(b *testing.B) {
	for b.Loop() {
		runVaultIssuerScenario(b, 500)
	}
}

func runVaultIssuerScenario(b *testing.B, n int) {
	b.StopTimer()
	v := startVault(b)
	data := b.TempDir()
	up := startUp(b, data, freePort(b))
	admin := filepath.Join(data, "admin.conf")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []string{"ca-bench", "vault-bench"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().Secrets("vault-bench").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-token"}, StringData: map[string]string{"token": v.Token},
	}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	writeFile(b, filepath.Join(dir, "issuers.yaml"), fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: bench-ca, namespace: ca-bench}
spec:
  isCA: true
  commonName: bench CA
  secretName: bench-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: ca-bench}
spec: {ca: {secretName: bench-ca}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: vault, namespace: vault-bench}
spec:
  vault:
    server: %s
    path: pki_int/sign/web
    auth:
      tokenSecretRef: {name: vault-token, key: token}
`, v.HTTPAddr))
	mustKubectl(b, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
	mustKubectl(b, admin, "wait", "--for=condition=Ready", "--timeout=120s", "-n", "ca-bench", "certificate/bench-ca", "issuer/ca")
	mustKubectl(b, admin, "wait", "--for=condition=Ready", "--timeout=120s", "-n", "vault-bench", "issuer/vault")

	upPid := up.cmd.Process.Pid
	b.StartTimer()
	caCPU := processCPU(b, upPid)
	caTime := issueAllReady(b, dyn, "ca-bench", "ca", n)
	caCPU = processCPU(b, upPid) - caCPU
	b.StopTimer()

	audit := v.enableAudit(b)
	// Enabling the device logs Vault's own test request: not counted.
	total0, byPath0 := auditRequests(b, audit)
	b.StartTimer()
	vaultCPU, cpCPU := processCPU(b, v.pid), processCPU(b, upPid)
	vaultTime := issueAllReady(b, dyn, "vault-bench", "vault", n)
	vaultCPU, cpCPU = processCPU(b, v.pid)-vaultCPU, processCPU(b, upPid)-cpCPU
	b.StopTimer()

	total, byPath := auditRequests(b, audit)
	total -= total0
	var lines []string
	for p, c := range byPath {
		if c -= byPath0[p]; c > 0 {
			lines = append(lines, fmt.Sprintf("%s %d", p, c))
		}
	}
	slices.Sort(lines)
	b.Logf("CA batch %.2fs, Vault batch %.2fs; requests in Vault's audit log during the Vault batch:\n  %s",
		caTime.Seconds(), vaultTime.Seconds(), strings.Join(lines, "\n  "))
	signs := byPath["pki_int/sign/web"] - byPath0["pki_int/sign/web"]
	if signs < n {
		b.Errorf("Vault's audit log has %d sign requests for %d certificates", signs, n)
	}

	b.ReportMetric(float64(n)/caTime.Seconds(), "ca-certs/s")
	b.ReportMetric(float64(n)/vaultTime.Seconds(), "vault-certs/s")
	b.ReportMetric(float64(signs)/float64(n), "vault-signs/cert")
	b.ReportMetric(float64(total)/float64(n), "vault-requests/cert")
	b.ReportMetric(float64(caCPU.Microseconds())/1000/float64(n), "ca-cpu-ms/cert")
	b.ReportMetric(float64(cpCPU.Microseconds())/1000/float64(n), "vault-issuer-cpu-ms/cert")
	b.ReportMetric(float64(vaultCPU.Microseconds())/1000/float64(n), "vault-server-cpu-ms/cert")
	b.StartTimer() // b.Loop checks the timer runs
}

// issueAllReady creates n Certificates svc-NNNN in ns for the Issuer
// issuer with 32 clients at once and returns the time from the first create
// until a watcher has seen every one Ready. It fails the benchmark if that
// takes more than five minutes.
func issueAllReady(b *testing.B, dyn dynamic.Interface, ns, issuer string, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	certs := dyn.Resource(certificatesGVR).Namespace(ns)
	w, err := certs.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- parallelN(n, 32, func(i int) error {
			name := fmt.Sprintf("svc-%04d", i)
			_, err := certs.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
				"metadata": map[string]any{"name": name},
				"spec": map[string]any{
					"secretName": name + "-tls",
					"dnsNames":   []any{name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"},
					"duration":   "24h",
					"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256)},
					"issuerRef":  map[string]any{"name": issuer, "kind": "Issuer"},
				},
			}}, metav1.CreateOptions{})
			return err
		})
	}()
	ready := map[string]bool{}
	watchCertificatesReady(b, ctx, certs, &w, errc, 5*time.Minute,
		func() bool { return len(ready) >= n },
		func(u *unstructured.Unstructured) {
			if strings.HasPrefix(u.GetName(), "svc-") {
				ready[u.GetName()] = true
			}
		},
		func() string {
			return fmt.Sprintf("%d of %d Certificates of Issuer %s/%s Ready after 5 minutes", len(ready), n, ns, issuer)
		})
	return time.Since(start)
}
