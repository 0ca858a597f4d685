package certmanager

import (
	"context"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/internal/requestpolicy"
	"github.com/certplane/certplane/pkg/pki"
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
	// Policy, if set, decides every request a CertificateRequestPolicy
	// selects, as approver-policy does.
	Policy issuancePolicy
	// PolicyOnly leaves alone what no policy selects: the built-in
	// approver is off, and this controller runs for the policies only.
	PolicyOnly bool
	// RequirePolicy denies what no policy selects (--require-policy).
	RequirePolicy bool
	// PolicyChanged, if set, tells that the policies changed: requests
	// left to other approvers are looked at again.
	PolicyChanged <-chan event.GenericEvent
	// Self is the username certplane's controllers have. A request that
	// user made for a Certificate is decided for the Certificate's
	// requester, recorded by the apiserver in its annotations.
	Self string
}

// ReasonPolicy is the reason of the Approved and Denied conditions a
// CertificateRequestPolicy decides, approver-policy's.
const ReasonPolicy = "policy.cert-manager.io"

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
	cond, eventType := crpolicy.ApprovedCondition(), corev1.EventTypeNormal
	if r.Policy != nil {
		d, err := r.decide(ctx, cr)
		if err != nil {
			return ctrl.Result{}, err
		}
		switch {
		case d.Approved:
			cond = cmv1.CertificateRequestCondition{Type: crpolicy.ConditionApproved, Status: cmv1.ConditionTrue, Reason: ReasonPolicy, Message: d.Message}
		case d.Selected:
			cond = cmv1.CertificateRequestCondition{Type: crpolicy.ConditionDenied, Status: cmv1.ConditionTrue, Reason: ReasonPolicy, Message: d.Message}
			eventType = corev1.EventTypeWarning
		case r.RequirePolicy:
			cond = cmv1.CertificateRequestCondition{Type: crpolicy.ConditionDenied, Status: cmv1.ConditionTrue, Reason: ReasonPolicy, Message: requestpolicy.NoPolicyMessage}
			eventType = corev1.EventTypeWarning
		case r.PolicyOnly:
			return ctrl.Result{}, nil // for other approvers
		}
	}
	crpolicy.SetCondition(&cr.Status, cond, now)
	err := r.Status.Update(ctx, cr)
	switch {
	case err == nil:
		r.Events.Eventf(cr, nil, eventType, cond.Reason, "Approve", "%s", cond.Message)
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

// decide asks the policies about cr, requested by the user the apiserver
// recorded in its spec.
func (r *CertificateRequestApprover) decide(ctx context.Context, cr *cmv1.CertificateRequest) (requestpolicy.Decision, error) {
	csr, err := pki.ParseCSRPEM(cr.Spec.Request)
	if err != nil {
		// Nothing to decide on: the issuer controller fails it with
		// InvalidRequest, as it does without policies.
		return requestpolicy.Decision{}, nil
	}
	req := requestpolicy.FromCertificateRequest(cr, csr)
	if who, ok, err := r.certificateRequester(ctx, cr); err != nil || ok {
		if err != nil {
			return requestpolicy.Decision{}, err
		}
		return r.Policy.Decide(ctx, req, who)
	}
	who := authnv1.UserInfo{Username: cr.Spec.Username, UID: cr.Spec.UID, Groups: cr.Spec.Groups}
	if len(cr.Spec.Extra) > 0 {
		who.Extra = map[string]authnv1.ExtraValue{}
		for k, v := range cr.Spec.Extra {
			who.Extra[k] = authnv1.ExtraValue(v)
		}
	}
	return r.Policy.Decide(ctx, req, who)
}

// certificateRequester is the requester recorded in the Certificate that
// owns cr, when certplane itself created cr for it: the user who asked for
// the Certificate, not certplane. A request anybody else created is
// theirs, whatever it claims to belong to.
func (r *CertificateRequestApprover) certificateRequester(ctx context.Context, cr *cmv1.CertificateRequest) (authnv1.UserInfo, bool, error) {
	owner := metav1.GetControllerOf(cr)
	if r.Self == "" || cr.Spec.Username != r.Self || owner == nil || owner.Kind != "Certificate" || owner.APIVersion != cmv1.GroupVersion.String() {
		return authnv1.UserInfo{}, false, nil
	}
	crt := &cmv1.Certificate{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: owner.Name}, crt); err != nil {
		return authnv1.UserInfo{}, false, client.IgnoreNotFound(err)
	}
	if crt.UID != owner.UID {
		return authnv1.UserInfo{}, false, nil
	}
	who := certpolicy.Requester(crt)
	return who, who.Username != "", nil
}

// SetupWithManager watches the CertificateRequests that need approval.
func (r *CertificateRequestApprover) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cmv1.CertificateRequest{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			cr, ok := o.(*cmv1.CertificateRequest)
			return ok && crpolicy.NeedsApproval(cr)
		})))
	if r.PolicyChanged != nil {
		b = b.WatchesRawSource(source.Channel(r.PolicyChanged, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			var list cmv1.CertificateRequestList
			if err := mgr.GetClient().List(ctx, &list); err != nil {
				return nil
			}
			var reqs []reconcile.Request
			for i := range list.Items {
				if crpolicy.NeedsApproval(&list.Items[i]) {
					reqs = append(reqs, reconcile.Request{NamespacedName: key(&list.Items[i])})
				}
			}
			return reqs
		})))
	}
	return b.Named("certificaterequests-approver").Complete(r)
}
