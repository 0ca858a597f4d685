package certmanager

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/crpolicy"
)

// CertificateRequestApprover is cert-manager's built-in approver: it
// approves every CertificateRequest that has neither an Approved nor a
// Denied condition, whatever its issuer. The apiserver's approval policy
// (config/policy) still decides whether it may: the controller's role
// grants approve on the cert-manager.io signers only, so requests for
// external issuers stay unapproved until the cluster's admin grants it
// theirs, as with cert-manager.
type CertificateRequestApprover struct {
	// Reader reads CertificateRequests (the cache).
	Reader client.Reader
	Status client.SubResourceWriter
	Events eventRecorder
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Retry is how long a request the policy refused waits before the
	// next try: RBAC changes bring no watch event. If zero, 5 minutes.
	Retry time.Duration
}

// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests/status,verbs=update
// +kubebuilder:rbac:groups=cert-manager.io,resources=signers,resourceNames=issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*,verbs=approve
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile approves one request if nobody has approved or denied it yet.
func (r *CertificateRequestApprover) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cr := &cmv1.CertificateRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, cr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !crpolicy.NeedsApproval(cr) || cr.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	crpolicy.SetCondition(&cr.Status, crpolicy.ApprovedCondition(), now)
	err := r.Status.Update(ctx, cr)
	switch {
	case err == nil:
		r.Events.Eventf(cr, nil, corev1.EventTypeNormal, crpolicy.ReasonApproved, "Approve", "%s", crpolicy.MessageApproved)
		return ctrl.Result{}, nil
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, nil
	case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
		// The approval policy refused: this identity may not approve for
		// the request's issuer.
		signer := crpolicy.SignerName(cr.Namespace, cr.Spec.IssuerRef)
		logf.FromContext(ctx).Info("not allowed to approve CertificateRequest", "signer", signer, "error", err.Error())
		r.Events.Eventf(cr, nil, corev1.EventTypeWarning, "ApprovalRefused", "Approve",
			"certplane may not approve requests for %s: grant it verb approve on signers.cert-manager.io %s, or approve it yourself", signer, signer)
		retry := r.Retry
		if retry <= 0 {
			retry = 5 * time.Minute
		}
		return ctrl.Result{RequeueAfter: retry}, nil
	default:
		return ctrl.Result{}, err // a conflict: the cache is behind
	}
}

// SetupWithManager watches the CertificateRequests that need approval.
func (r *CertificateRequestApprover) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&cmv1.CertificateRequest{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			cr, ok := o.(*cmv1.CertificateRequest)
			return ok && crpolicy.NeedsApproval(cr)
		}))).
		Named("certificaterequests-approver").
		Complete(r)
}
