package certmanager

import (
	"context"
	"crypto"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/acmepolicy"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// Reasons of an ACME request's Pending condition, as cert-manager's.
const (
	reasonOrderCreated = "OrderCreated"
	reasonOrderPending = "OrderPending"
)

// ACMERequestReconciler turns approved CertificateRequests for ACME issuers
// into Orders and Orders' certificates into issued requests, as
// cert-manager's certificaterequests-issuer-acme controller does.
type ACMERequestReconciler struct {
	// Reader reads CertificateRequests and Orders (the cache).
	Reader client.Reader
	// Writer creates and deletes Orders.
	Writer  client.Writer
	Status  client.SubResourceWriter
	Events  eventRecorder
	Issuers *Issuers
	Now     func() time.Time
	// Workers is how many requests are handled at once. If zero, 4.
	Workers int
}

// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=orders,verbs=get;list;watch;create;delete

// Reconcile places the Order of one request, or copies its outcome.
func (r *ACMERequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cr := &cmv1.CertificateRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, cr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if cr.DeletionTimestamp != nil || !crpolicy.BuiltIn(cr.Spec.IssuerRef) || !crpolicy.StateOf(cr).ReadyToSign() {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	iss, err := r.Issuers.Resolve(ctx, cr.Namespace, cr.Spec.IssuerRef, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if iss.Spec == nil || iss.Spec.ACME == nil {
		return ctrl.Result{}, nil // not an ACME issuer: certificaterequests-issuer's
	}
	w := &CertificateRequestReconciler{Status: r.Status, Events: r.Events}
	csr, err := pki.ParseCSRPEM(cr.Spec.Request)
	if err != nil {
		return ctrl.Result{}, nil // certificaterequests-issuer fails it
	}
	spec, err := acmepolicy.OrderSpec(cr, csr, iss.Spec.ACME)
	if err != nil {
		msg := "Failed to build order: " + err.Error()
		invalid := cmv1.CertificateRequestCondition{Type: crpolicy.ConditionInvalidRequest, Status: cmv1.ConditionTrue, Reason: acmepolicy.ReasonInvalidOrder, Message: msg}
		return ctrl.Result{}, w.finish(ctx, cr, crpolicy.Failed(msg), &invalid, now)
	}
	name := acmepolicy.OrderName(cr.Name, spec)
	order := &acmev1.Order{}
	err = r.Reader.Get(ctx, client.ObjectKey{Namespace: cr.Namespace, Name: name}, order)
	switch {
	case apierrors.IsNotFound(err):
		return r.createOrder(ctx, cr, name, spec, now)
	case err != nil:
		return ctrl.Result{}, err
	}
	st := order.Status.State
	switch {
	case st.Failed():
		msg := fmt.Sprintf("Failed to wait for order resource %q to become ready: order is in %q state: %s", name, st, order.Status.Reason)
		return ctrl.Result{}, w.finish(ctx, cr, crpolicy.Failed(msg), nil, now)
	case st == acmev1.Valid && len(order.Status.Certificate) > 0:
		return ctrl.Result{}, r.issued(ctx, w, cr, csr.PublicKey, order, now)
	}
	msg := fmt.Sprintf("Waiting on certificate issuance from order %s/%s: %q", cr.Namespace, name, st)
	return ctrl.Result{}, r.pending(ctx, cr, reasonOrderPending, msg, now)
}

// pending writes Ready=False with an Order reason when it changed. It sends
// no Event: the Order's own Events tell its progress.
func (r *ACMERequestReconciler) pending(ctx context.Context, cr *cmv1.CertificateRequest, reason, msg string, now time.Time) error {
	if c := crpolicy.FindCondition(cr.Status.Conditions, crpolicy.ConditionReady); c != nil && c.Reason == reason && c.Message == msg {
		return nil
	}
	next := cr.DeepCopy()
	crpolicy.SetCondition(&next.Status, cmv1.CertificateRequestCondition{Type: crpolicy.ConditionReady, Status: cmv1.ConditionFalse, Reason: reason, Message: msg}, now)
	return ignoreConflict(r.Status.Update(ctx, next))
}

func (r *ACMERequestReconciler) createOrder(ctx context.Context, cr *cmv1.CertificateRequest, name string, spec acmev1.OrderSpec, now time.Time) (ctrl.Result, error) {
	order := &acmev1.Order{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cr.Namespace, Name: name,
			Labels: cr.Labels, Annotations: cr.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cr, cmv1.GroupVersion.WithKind("CertificateRequest"))},
		},
		Spec: spec,
	}
	if err := r.Writer.Create(ctx, order); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(cr, order, corev1.EventTypeNormal, reasonOrderCreated, "Order", "Created Order resource %s/%s", cr.Namespace, name)
	return ctrl.Result{}, r.pending(ctx, cr, reasonOrderCreated, fmt.Sprintf("Created Order resource %s/%s", cr.Namespace, name), now)
}

// issued copies a valid Order's certificate into the request, unless it
// certifies another key: then the Order is stale and is replaced.
func (r *ACMERequestReconciler) issued(ctx context.Context, w *CertificateRequestReconciler, cr *cmv1.CertificateRequest, pub crypto.PublicKey, order *acmev1.Order, now time.Time) error {
	chain, err := pki.ParseCertificatesPEM(order.Status.Certificate)
	if err != nil || !samePublicKey(chain[0].PublicKey, pub) {
		r.Events.Eventf(cr, order, corev1.EventTypeWarning, "OrderInvalid", "Order", "Order %s holds a certificate for another key; deleting it", order.Name)
		return client.IgnoreNotFound(r.Writer.Delete(ctx, order))
	}
	next := cr.DeepCopy()
	next.Status.Certificate = order.Status.Certificate
	crpolicy.SetCondition(&next.Status, crpolicy.Issued(), now)
	if err := r.Status.Update(ctx, next); err != nil {
		return ignoreConflict(err)
	}
	r.Events.Eventf(cr, order, corev1.EventTypeNormal, crpolicy.ReasonIssued, "Sign",
		"%s: serial %s for %q from Order %s, valid until %s", crpolicy.MessageIssued, chain[0].SerialNumber.Text(16), chain[0].Subject.CommonName, order.Name, chain[0].NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// samePublicKey reports whether a and b are the same public key.
func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// SetupWithManager watches CertificateRequests and the Orders they own.
func (r *ACMERequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.Workers
	if workers <= 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cmv1.CertificateRequest{}, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Owns(&acmev1.Order{}).
		Named("certificaterequests-issuer-acme").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}
