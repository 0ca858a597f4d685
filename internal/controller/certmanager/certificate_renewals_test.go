package certmanager

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
)

func TestRenewalDue(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, tt := range []struct {
		name  string
		sum   certcache.Summary
		after time.Duration
		due   bool
	}{
		{"not issued", certcache.Summary{}, 0, false},
		{"renewal in weeks", certcache.Summary{NotAfter: at(90 * 24 * time.Hour), RenewalTime: at(60 * 24 * time.Hour)}, 0, false},
		{"renewal just past the horizon", certcache.Summary{RenewalTime: at(10*time.Minute + time.Second)}, 0, false},
		{"renewal at the horizon", certcache.Summary{RenewalTime: at(10 * time.Minute)}, 10*time.Minute + time.Second, true},
		{"renewal in a minute", certcache.Summary{NotAfter: at(time.Hour), RenewalTime: at(time.Minute)}, time.Minute + time.Second, true},
		{"renewal past", certcache.Summary{RenewalTime: at(-time.Hour)}, time.Second, true},
		{"renewal disabled: at expiry", certcache.Summary{NotAfter: at(5 * time.Minute)}, 5*time.Minute + time.Second, true},
		{"renewal disabled, expiry far", certcache.Summary{NotAfter: at(time.Hour)}, 0, false},
	} {
		after, due := renewalDue(tt.sum, now, 10*time.Minute)
		if after != tt.after || due != tt.due {
			t.Errorf("%s: %v, %v; want %v, %v", tt.name, after, due, tt.after, tt.due)
		}
	}
}

// addedQueue records what is added to it with a wait.
type addedQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	mu    sync.Mutex
	added map[reconcile.Request]time.Duration
}

func (q *addedQueue) AddAfter(r reconcile.Request, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.added[r] = d
}

func (q *addedQueue) snapshot() map[reconcile.Request]time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[reconcile.Request]time.Duration{}
	for k, v := range q.added {
		out[k] = v
	}
	return out
}

// TestRenewalScheduler: the scheduler puts back, every period, the cached
// Certificates (compact or typed) whose renewal came within the horizon,
// and no other.
func TestRenewalScheduler(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	at := func(d time.Duration) *metav1.Time { v := metav1.NewTime(now.Add(d)); return &v }
	crt := func(name string, renewal *metav1.Time) *cmv1.Certificate {
		return &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}, Spec: cmv1.CertificateSpec{SecretName: name},
			Status: cmv1.CertificateStatus{NotAfter: at(90 * 24 * time.Hour), RenewalTime: renewal}}
	}
	soon, err := certcache.Compact(crt("soon", at(2*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	later, err := certcache.Compact(crt("later", at(30*24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	typed := crt("typed", at(-time.Minute))
	fresh := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "fresh"}}
	r := &CertificateReconciler{Now: func() time.Time { return now }, RenewalPeriod: 10 * time.Millisecond}
	q := &addedQueue{added: map[reconcile.Request]time.Duration{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.renewals(storeOf(soon, later, typed, fresh)).Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	req := func(name string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "a", Name: name}}
	}
	want := map[reconcile.Request]time.Duration{req("soon"): 2*time.Minute + time.Second, req("typed"): time.Second}
	var got map[reconcile.Request]time.Duration
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		got = q.snapshot()
		return len(got) >= len(want), nil
	})
	if err != nil || len(got) != len(want) || got[req("soon")] != want[req("soon")] || got[req("typed")] != want[req("typed")] {
		t.Errorf("put back %v, want %v", got, want)
	}
}
