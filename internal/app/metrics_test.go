package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	acmectrl "github.com/certplane/certplane/internal/controller/acme"
	certcontroller "github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/controller/certmanager"
	"github.com/certplane/certplane/pkg/pki"
)

// addRecorder is a manager that only records what is added to it.
type addRecorder struct {
	ctrl.Manager
	added []manager.Runnable
}

func (a *addRecorder) Add(r manager.Runnable) error { a.added = append(a.added, r); return nil }

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestSyncCounts checks that a controller set up through the manager
// NewManager hands out counts every reconcile, and every error but a
// conflict, under its name, as cert-manager's controllers do.
func TestSyncCounts(t *testing.T) {
	results := []error{nil, errors.New("boom"), apierrors.NewConflict(schema.GroupResource{Resource: "certificates"}, "x", errors.New("stale")), reconcile.TerminalError(errors.New("bad spec"))}
	i := 0
	c, err := controller.NewUnmanaged("sync-count-test", controller.Options{
		Reconciler: reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			err := results[i]
			i++
			return reconcile.Result{}, err
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	inner := &addRecorder{}
	mgr := syncCountingManager{Manager: inner}
	if err := mgr.Add(c); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(c); err != nil { // added twice: still counted once
		t.Fatal(err)
	}
	if len(inner.added) != 2 || inner.added[0] != c {
		t.Fatalf("the controller was not passed on to the manager: %v", inner.added)
	}
	for range results {
		_, _ = c.Reconcile(context.Background(), reconcile.Request{})
	}
	if got := counterValue(t, syncCalls.WithLabelValues("sync-count-test")); got != 4 {
		t.Errorf("certmanager_controller_sync_call_count = %v, want 4", got)
	}
	if got := counterValue(t, syncErrors.WithLabelValues("sync-count-test")); got != 2 {
		t.Errorf("certmanager_controller_sync_error_count = %v, want 2 (the conflict is not an error)", got)
	}
}

// TestDashboardUsesExportedMetrics reads the Grafana dashboard config/
// ships and checks that every metric its queries name is one certplane
// exports.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	collectors := append(append(append(append(certcontroller.Metrics(), certmanager.Metrics()...), certcontroller.PodCertificateMetrics()...),
		certcontroller.IssuanceMetrics()...), controllerMetrics()...)
	collectors = append(collectors, &certmanager.CertificateCollector{})
	exported := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range collectors {
		descs := make(chan *prometheus.Desc, 100)
		c.Describe(descs)
		close(descs)
		for d := range descs {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				for _, suffix := range []string{"", "_bucket", "_count", "_sum"} {
					exported[m[1]+suffix] = true
				}
			}
		}
	}
	data, err := os.ReadFile("../../config/grafana/certplane-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	metric := regexp.MustCompile(`\b(?:certmanager|certplane)_[a-z0-9_]+`)
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		for _, target := range p.Targets {
			for _, name := range metric.FindAllString(target.Expr, -1) {
				used[name] = true
				if !exported[name] {
					t.Errorf("panel %q queries %s, which certplane does not export", p.Title, name)
				}
			}
		}
	}
	for _, name := range []string{"certmanager_controller_sync_call_count", "certmanager_controller_sync_error_count", "certmanager_clock_time_seconds_gauge",
		"certmanager_certificate_expiration_timestamp_seconds", "certmanager_certificate_ready_status", "certplane_issuance_duration_seconds_bucket"} {
		if !used[name] {
			t.Errorf("the dashboard does not use %s", name)
		}
	}
}

// TestACMERequestMetrics: a request of an ACME client built as the
// controllers build it (through Accounts) to a test server increments
// certmanager_http_acme_client_request_count with cert-manager's labels
// and adds to the duration summary.
func TestACMERequestMetrics(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"newNonce":"https://` + r.Host + `/nonce","newAccount":"https://` + r.Host + `/acct","newOrder":"https://` + r.Host + `/order"}`))
	}))
	defer srv.Close()
	accounts := &acmectrl.Accounts{Observe: observeACMERequest}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c, err := accounts.Client(&cmv1.ACMEIssuer{Server: srv.URL + "/directory", CABundle: pki.EncodeCertificatesPEM(srv.Certificate())}, key, "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	labels := []string{"https", host, "get_directory", "GET", "200"}
	before := counterValue(t, acmeRequests.WithLabelValues(labels...))
	if _, err := c.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, acmeRequests.WithLabelValues(labels...)); got != before+1 {
		t.Errorf("certmanager_http_acme_client_request_count%v = %v, want %v", labels, got, before+1)
	}
	var m dto.Metric
	if err := acmeDurations.WithLabelValues(labels...).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	if s := m.GetSummary(); s.GetSampleCount() < 1 || s.GetSampleSum() <= 0 || len(s.GetQuantile()) != 3 {
		t.Errorf("certmanager_http_acme_client_request_duration_seconds%v: %v", labels, s)
	}
	reg := prometheus.NewRegistry()
	if err := registerMetrics(reg, controllerMetrics()...); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]dto.MetricType{}
	for _, f := range families {
		found[f.GetName()] = f.GetType()
		for _, m := range f.GetMetric() {
			if !strings.HasPrefix(f.GetName(), "certmanager_http_acme_client_") {
				continue
			}
			var names []string
			for _, l := range m.GetLabel() {
				names = append(names, l.GetName())
			}
			if strings.Join(names, ",") != "action,host,method,scheme,status" {
				t.Errorf("%s has labels %v", f.GetName(), names)
			}
		}
	}
	if found["certmanager_http_acme_client_request_count"] != dto.MetricType_COUNTER || found["certmanager_http_acme_client_request_duration_seconds"] != dto.MetricType_SUMMARY {
		t.Errorf("ACME client metrics not registered as counter and summary: %v", found)
	}
}
