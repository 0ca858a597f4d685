package certmanager

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
)

// Vault readiness checks: a ready Vault is looked at again every
// vaultRecheck; a failing one after vaultRetryMin, doubling up to
// vaultRecheck, so that a broken Vault is not hammered and a fixed one is
// seen within a minute.
const (
	vaultRecheck  = time.Minute
	vaultRetryMin = 10 * time.Second
)

// vaultCheckTimeout bounds one readiness check.
const vaultCheckTimeout = 15 * time.Second

// vaultFailures counts the consecutive failed checks of each vault issuer.
type vaultFailures struct {
	mu sync.Mutex
	n  map[types.UID]int
}

// next records a check's outcome and returns when to check again.
func (f *vaultFailures) next(uid types.UID, ok bool) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[types.UID]int{}
	}
	if ok {
		delete(f.n, uid)
		return vaultRecheck
	}
	f.n[uid]++
	return VaultRetryAfter(f.n[uid])
}

// VaultRetryAfter is how long to wait after the n-th consecutive failed
// check of a Vault (n ≥ 1): 10 s, 20 s, 40 s, then every minute.
func VaultRetryAfter(n int) time.Duration {
	d := vaultRetryMin
	for i := 1; i < n && d < vaultRecheck; i++ {
		d *= 2
	}
	return min(d, vaultRecheck)
}

// reconcileVault checks a vault issuer as cert-manager does (the client and
// its login, then sys/health) and, unlike cert-manager, again every minute
// and with the login itself (token lookup-self), so that a sealed Vault or
// a revoked token shows in Ready within a minute and recovers by itself.
func (r *IssuerReconciler) reconcileVault(ctx context.Context, obj client.Object, spec *cmv1.VaultIssuer, status *cmv1.IssuerStatus, namespace string, now time.Time) (ctrl.Result, error) {
	cond := cmv1.IssuerCondition{Type: "Ready", Status: cmv1.ConditionFalse, Reason: issuerpolicy.ReasonVaultError, ObservedGeneration: obj.GetGeneration()}
	ok := false
	if err := issuerpolicy.CheckVault(spec); err != nil {
		cond.Message = err.Error()
		if setIssuerCondition(status, cond, now) {
			if err := r.Status.Update(ctx, obj); err != nil {
				return ctrl.Result{}, client.IgnoreNotFound(err)
			}
			r.Events.Eventf(obj, nil, corev1.EventTypeWarning, cond.Reason, "Verify", "%s", cond.Message)
		}
		// Nothing changes until the spec does.
		return ctrl.Result{}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, vaultCheckTimeout)
	defer cancel()
	c, err := r.Vaults.Client(cctx, obj, spec, namespace, r.Cluster)
	switch {
	case err != nil:
		cond.Message = "Failed to initialize Vault client: " + err.Error()
	default:
		if err := c.Health(cctx); err != nil {
			cond.Message = "Failed to verify Vault is initialized and unsealed: " + err.Error()
		} else if err := c.CheckLogin(cctx); err != nil {
			cond.Message = "Failed to verify the Vault login: " + err.Error()
		} else {
			ok = true
			cond.Status, cond.Reason, cond.Message = cmv1.ConditionTrue, issuerpolicy.ReasonVaultVerified, "Vault verified"
		}
	}
	if setIssuerCondition(status, cond, now) {
		if err := r.Status.Update(ctx, obj); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		eventType := corev1.EventTypeNormal
		if !ok {
			eventType = corev1.EventTypeWarning
		}
		r.Events.Eventf(obj, nil, eventType, cond.Reason, "Verify", "%s", cond.Message)
	}
	return ctrl.Result{RequeueAfter: r.vaultFailures.next(obj.GetUID(), ok)}, nil
}
