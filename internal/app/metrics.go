package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	acmeproto "github.com/certplane/certplane/internal/acme"
)

// cert-manager's controller metrics, with its names, labels and help
// texts, so that dashboards and alerts written for cert-manager keep
// working. A sync call is a reconcile; a sync error is a reconcile that
// ended in an error, not counting a write refused for a stale version (a
// conflict). The ACME client's counts include retries; their status is the
// HTTP status code, or error when no answer came. The label
// controller holds certplane's controller names (certificates, issuers,
// csrsigning, ...: app.ControllerNames).
var (
	syncCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certmanager_controller_sync_call_count",
		Help: "The number of sync() calls made by a controller.",
	}, []string{"controller"})
	syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certmanager_controller_sync_error_count",
		Help: "The number of errors encountered during controller sync().",
	}, []string{"controller"})
	// The ACME client's requests, labelled as cert-manager (since 1.19)
	// labels them: action is the ACME operation (acme.Actions), not the
	// URL's path, so that the order, authorization and certificate IDs in
	// the URLs do not make a series each.
	acmeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certmanager_http_acme_client_request_count",
		Help: "The number of requests made by the ACME client.",
	}, acmeLabels)
	acmeDurations = prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name:       "certmanager_http_acme_client_request_duration_seconds",
		Help:       "The HTTP request latencies in seconds for the ACME client.",
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
	}, acmeLabels)
	clockGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "certmanager_clock_time_seconds_gauge",
		Help: "The clock time given in seconds (from 1970/01/01 UTC). Gauge form of the deprecated clock_time_seconds counter. No labels.",
	}, func() float64 { return float64(time.Now().Unix()) })
	clockCounter = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "certmanager_clock_time_seconds",
		Help: "DEPRECATED: use clock_time_seconds_gauge instead. The clock time given in seconds (from 1970/01/01 UTC).",
	}, func() float64 { return float64(time.Now().Unix()) })
)

var acmeLabels = []string{"scheme", "host", "action", "method", "status"}

// observeACMERequest records one request of an ACME client.
func observeACMERequest(o acmeproto.Observation) {
	labels := []string{o.Scheme, o.Host, o.Action, o.Method, o.Status}
	acmeRequests.WithLabelValues(labels...).Inc()
	acmeDurations.WithLabelValues(labels...).Observe(o.Duration.Seconds())
}

// registerMetrics adds every collector certplane exports to reg; those
// already registered (a second manager in one process) are kept.
func registerMetrics(reg prometheus.Registerer, collectors ...prometheus.Collector) error {
	for _, c := range collectors {
		if err := reg.Register(c); err != nil && !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
			return err
		}
	}
	return nil
}

// controllerMetrics are the collectors of this file.
func controllerMetrics() []prometheus.Collector {
	return []prometheus.Collector{syncCalls, syncErrors, clockGauge, clockCounter, acmeRequests, acmeDurations}
}

// syncCounter counts the reconciles of the controller it wraps in
// certmanager_controller_sync_call_count and _error_count.
type syncCounter struct {
	controller string
	next       reconcile.Reconciler
}

func (s *syncCounter) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	syncCalls.WithLabelValues(s.controller).Inc()
	reconciles.Add(1)
	res, err := s.next.Reconcile(ctx, req)
	if err != nil && !apierrors.IsConflict(err) {
		syncErrors.WithLabelValues(s.controller).Inc()
	}
	return res, err
}

// syncCountingManager is the manager the controllers are set up with: each
// controller added to it has its reconciler wrapped in a syncCounter, once,
// here, so that no controller has to count its own syncs.
type syncCountingManager struct {
	ctrl.Manager
}

// Add wraps the reconciler of a controller, then adds it.
func (m syncCountingManager) Add(r manager.Runnable) error {
	if c, ok := r.(controller.Controller); ok {
		if err := countSyncs(c); err != nil {
			return err
		}
	}
	return m.Manager.Add(r)
}

var reconcilerType = reflect.TypeFor[reconcile.Reconciler]()

// countSyncs replaces the reconciler of c with a syncCounter around it.
// controller-runtime's builder offers no hook around the reconciler it is
// given, so the wrapping reaches into the controller it builds: its
// exported Name and Do fields. A controller-runtime that changes them
// fails here, loudly, at start (and in TestSyncCounts), rather than
// silently exporting no counts.
func countSyncs(c controller.Controller) error {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("counting reconciles: controller-runtime's controller is a %T, not a struct", c)
	}
	name, do := v.Elem().FieldByName("Name"), v.Elem().FieldByName("Do")
	if name.Kind() != reflect.String || !do.IsValid() || do.Type() != reconcilerType || !do.CanSet() {
		return fmt.Errorf("counting reconciles: controller-runtime's %T has no Name and Do fields", c)
	}
	next, ok := do.Interface().(reconcile.Reconciler)
	if !ok || next == nil {
		return fmt.Errorf("counting reconciles: controller %q has no reconciler", name.String())
	}
	if _, done := next.(*syncCounter); !done {
		do.Set(reflect.ValueOf(&syncCounter{controller: name.String(), next: next}))
	}
	return nil
}
