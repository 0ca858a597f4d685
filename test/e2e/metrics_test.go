package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// scrape reads url's Prometheus text: each sample's name{labels} to its
// value, and the HELP and TYPE lines.
func scrape(t *testing.T, url string) (samples map[string]float64, meta string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	samples = map[string]float64{}
	var help strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "#") {
			help.WriteString(line + "\n")
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, help.String()
}

// TestMetrics: `certplane up --metrics-bind-address` serves cert-manager's
// controller metrics under cert-manager's names and labels (so its Grafana
// dashboards work), next to certplane_issuance_duration_seconds for a
// Certificate and a CertificateSigningRequest it issued.
func TestMetrics(t *testing.T) {
	if help := must(t, "", "", "up", "--help"); !strings.Contains(help, "--metrics-bind-address") || !strings.Contains(help, "--web-address") {
		t.Errorf("up --help lacks --metrics-bind-address or --web-address:\n%s", help)
	}
	data := t.TempDir()
	metricsPort := freePort(t)
	startUp(t, data, freePort(t), "--metrics-bind-address", "127.0.0.1:"+strconv.Itoa(metricsPort), "--web-address", "")
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cert.yaml"), `apiVersion: v1
kind: Namespace
metadata: {name: metrics}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: metrics}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: scraped, namespace: metrics}
spec:
  secretName: scraped-tls
  dnsNames: [scraped.metrics.svc]
  issuerRef: {name: selfsigned}
`)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "cert.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "metrics", "certificate/scraped")

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	csr, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, newRequest(t, "metrics-client", "metrics-client"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := approve(ctx, cs, csr); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Certificate) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the CSR was not signed within 90s")
		case <-time.After(200 * time.Millisecond):
		}
	}

	// The signer records the issuance just after its status write, which
	// the loop above may see first: scrape until it is there.
	var samples map[string]float64
	var meta string
	csrCount := `certplane_issuance_duration_seconds_count{issuer_kind="kubernetes.io/kube-apiserver-client",kind="CertificateSigningRequest"}`
	waitFor(t, 30*time.Second, "the CSR's issuance in the metrics", func() bool {
		samples, meta = scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
		return samples[csrCount] >= 1
	})
	for name, typ := range map[string]string{
		"certmanager_controller_sync_call_count": "counter",
		"certmanager_clock_time_seconds_gauge":   "gauge",
		"certmanager_clock_time_seconds":         "counter",
		"certplane_issuance_duration_seconds":    "histogram",
		// Those already there.
		"certmanager_certificate_expiration_timestamp_seconds": "gauge",
		"certmanager_certificate_ready_status":                 "gauge",
	} {
		if !strings.Contains(meta, "# HELP "+name+" ") || !strings.Contains(meta, "# TYPE "+name+" "+typ+"\n") {
			t.Errorf("%s is not exported as a %s", name, typ)
		}
	}
	// cert-manager's help texts, word for word.
	for _, help := range []string{
		"# HELP certmanager_controller_sync_call_count The number of sync() calls made by a controller.\n",
		"# HELP certmanager_clock_time_seconds_gauge The clock time given in seconds (from 1970/01/01 UTC). Gauge form of the deprecated clock_time_seconds counter. No labels.\n",
		"# HELP certmanager_certificate_ready_status The ready status of the certificate.\n",
	} {
		if !strings.Contains(meta, help) {
			t.Errorf("metrics lack %q", help)
		}
	}
	for _, controller := range []string{"certificates", "issuers", "csrsigning", "csrapproving"} {
		if v := samples[`certmanager_controller_sync_call_count{controller="`+controller+`"}`]; v < 1 {
			t.Errorf(`certmanager_controller_sync_call_count{controller=%q} = %v, want > 0`, controller, v)
		}
	}
	if clock := samples["certmanager_clock_time_seconds_gauge"]; time.Since(time.Unix(int64(clock), 0)).Abs() > time.Minute {
		t.Errorf("certmanager_clock_time_seconds_gauge = %v, not now", clock)
	}
	for _, labels := range []string{
		`{issuer_kind="Issuer",kind="Certificate"}`,
		`{issuer_kind="kubernetes.io/kube-apiserver-client",kind="CertificateSigningRequest"}`,
	} {
		n := samples["certplane_issuance_duration_seconds_count"+labels]
		sum := samples["certplane_issuance_duration_seconds_sum"+labels]
		if n < 1 || sum < 0 || sum > 90*n {
			t.Errorf("certplane_issuance_duration_seconds%s: count %v, sum %v", labels, n, sum)
		}
	}
	if v, ok := samples[`certmanager_certificate_ready_status{condition="True",issuer_group="cert-manager.io",issuer_kind="Issuer",issuer_name="selfsigned",name="scraped",namespace="metrics"}`]; !ok || v != 1 {
		t.Errorf("certmanager_certificate_ready_status of scraped: %v (present %v)", v, ok)
	}
}
