package policy

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	"github.com/certplane/certplane/internal/requestpolicy"
)

// CertificateRequestPolicyReconciler compiles each CertificateRequestPolicy,
// keeps the Ready ones in Policies, and writes their Ready condition when
// it changes.
type CertificateRequestPolicyReconciler struct {
	// Reader reads CertificateRequestPolicies.
	Reader client.Reader
	// Status writes their status subresource.
	Status client.SubResourceWriter
	// Policies receives the Ready policies.
	Policies *Policies
	// Now is the clock of the condition's transition time. If nil,
	// time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=policy.cert-manager.io,resources=certificaterequestpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy.cert-manager.io,resources=certificaterequestpolicies/status,verbs=update

// Reconcile compiles one policy, unless the registry already holds this
// generation of it, and records the outcome.
func (r *CertificateRequestPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	crp := &policyv1alpha1.CertificateRequestPolicy{}
	if err := r.Reader.Get(ctx, req.NamespacedName, crp); err != nil {
		if apierrors.IsNotFound(err) {
			r.Policies.Delete(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if crp.DeletionTimestamp != nil {
		r.Policies.Delete(crp.Name)
		return ctrl.Result{}, nil
	}

	pol := r.Policies.Get(crp.Name)
	var err error
	if pol == nil || pol.UID() != crp.UID || pol.Generation() != crp.Generation {
		pol, err = requestpolicy.Compile(crp)
	}
	if err != nil {
		r.Policies.Delete(crp.Name)
		logf.FromContext(ctx).V(1).Info("certificaterequestpolicy is not ready", "problems", err.Error())
	} else {
		r.Policies.Set(pol)
	}

	cond := requestpolicy.ReadyCondition(err, crp.Generation)
	if c := meta.FindStatusCondition(crp.Status.Conditions, cond.Type); c != nil && c.Status == cond.Status &&
		c.Reason == cond.Reason && c.Message == cond.Message && c.ObservedGeneration == cond.ObservedGeneration {
		return ctrl.Result{}, nil
	}
	cond.LastTransitionTime = metav1.NewTime(r.now().UTC().Truncate(time.Second))
	meta.SetStatusCondition(&crp.Status.Conditions, cond)
	return ctrl.Result{}, r.Status.Update(ctx, crp)
}

func (r *CertificateRequestPolicyReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager watches CertificateRequestPolicies.
func (r *CertificateRequestPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&policyv1alpha1.CertificateRequestPolicy{}).
		Named("certificaterequestpolicies").
		Complete(r)
}
