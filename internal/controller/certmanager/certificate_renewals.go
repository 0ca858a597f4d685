package certmanager

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
)

// A Ready Certificate whose renewal is further away than the horizon is
// not kept waiting in the workqueue, which costs some 270 bytes per item
// (27 MB at 100,000 Certificates, each waiting weeks): the renewal
// scheduler reads the cached Certificates' status.renewalTime (their
// status.notAfter when renewal is disabled) every period and puts back
// those that came within the horizon, with the wait left.
const (
	DefaultRenewalHorizon = 10 * time.Minute
	DefaultRenewalPeriod  = time.Minute
)

// renewalDue says whether a cached Certificate's renewal comes within
// horizon of now, and after how long to reconcile it: a second after its
// renewal time (its expiry when renewal is disabled), as requeueAt does.
// Certificates without these times are not issued, and wait on their own
// requeues.
func renewalDue(sum certcache.Summary, now time.Time, horizon time.Duration) (time.Duration, bool) {
	at := sum.RenewalTime
	if at == 0 {
		at = sum.NotAfter
	}
	if at == 0 {
		return 0, false
	}
	left := time.Unix(at, 0).Sub(now)
	if left > horizon {
		return 0, false
	}
	return max(left, 0) + time.Second, true
}

// Informers is what the renewal scheduler and CertificateCollector need of
// the manager's cache: the Certificates' informer, whose own objects they
// read (certcache.Of) without copies.
type Informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// certificateStore is the store of the cache's Certificate informer.
func certificateStore(ctx context.Context, c Informers, opts ...cache.InformerGetOption) (toolscache.Store, error) {
	inf, err := c.GetInformer(ctx, &cmv1.Certificate{}, opts...)
	if err != nil {
		return nil, err
	}
	s, ok := inf.(interface{ GetStore() toolscache.Store })
	if !ok {
		return nil, fmt.Errorf("the Certificate informer (%T) has no store", inf)
	}
	return s.GetStore(), nil
}

// renewals is the renewal scheduler: a source of the certificates
// controller that, every period, puts the Certificates whose renewal came
// within the horizon into its workqueue.
func (r *CertificateReconciler) renewals(c Informers) source.Source {
	return source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		store, err := certificateStore(ctx, c, cache.BlockUntilSynced(false))
		if err != nil {
			return err
		}
		go func() {
			tick := time.NewTicker(r.renewalPeriod())
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				now := r.now()
				for _, o := range store.List() {
					sum, ok := certcache.Of(o)
					m, isObj := o.(metav1.Object)
					if !ok || !isObj {
						continue
					}
					if after, due := renewalDue(sum, now, r.renewalHorizon()); due {
						q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}}, after)
					}
				}
			}
		}()
		return nil
	})
}

func (r *CertificateReconciler) renewalHorizon() time.Duration {
	if r.RenewalHorizon > 0 {
		return r.RenewalHorizon
	}
	return DefaultRenewalHorizon
}

func (r *CertificateReconciler) renewalPeriod() time.Duration {
	if r.RenewalPeriod > 0 {
		return r.RenewalPeriod
	}
	return DefaultRenewalPeriod
}
