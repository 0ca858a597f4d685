package app

import (
	"context"
	"errors"
	"testing"

	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
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
