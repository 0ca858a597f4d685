package certificates

import (
	"context"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/certplane/certplane/internal/csrpolicy"
)

// CSRCleanerReconciler deletes finished and abandoned requests after
// upstream's retention periods. Instead of polling every hour it requeues
// each request for the moment it is due.
type CSRCleanerReconciler struct {
	Reader    client.Reader
	Deleter   client.Writer
	Retention csrpolicy.Retention
	Now       func() time.Time
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=delete

// Reconcile deletes one request when it is due, or comes back then.
func (r *CSRCleanerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certv1.CertificateSigningRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	at, ok := csrpolicy.DeleteAt(csr, r.Retention)
	if !ok {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if wait := at.Sub(now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	err := r.Deleter.Delete(ctx, csr, client.Preconditions{UID: &csr.UID, ResourceVersion: &csr.ResourceVersion})
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// SetupWithManager watches CertificateSigningRequests.
func (r *CSRCleanerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&certv1.CertificateSigningRequest{}).
		Named("csrcleaner").
		Complete(r)
}
