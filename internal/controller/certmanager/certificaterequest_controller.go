package certmanager

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// pendingRetry is how soon a request whose issuer cannot sign yet is looked
// at again, beside the issuer watches.
const pendingRetry = 30 * time.Second

// CertificateRequestReconciler signs approved cert-manager.io
// CertificateRequests for the built-in ca and selfSigned issuers, as
// cert-manager's certificaterequests-issuer-* controllers do. Requests of
// other groups are left to their external issuers.
type CertificateRequestReconciler struct {
	// Reader reads CertificateRequests (the cache).
	Reader client.Reader
	// APIReader reads the private key Secrets of selfSigned requests,
	// which certplane does not cache.
	APIReader client.Reader
	Status    client.SubResourceWriter
	Events    eventRecorder
	Issuers   *Issuers
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Rand is the entropy for serials. If nil, crypto/rand.
	Rand io.Reader
	// Workers is how many requests are handled at once. If zero, 4.
	Workers int
}

// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests/status,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile signs one request once it is approved, or records its denial.
func (r *CertificateRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cr := &cmv1.CertificateRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, cr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if cr.DeletionTimestamp != nil || !crpolicy.BuiltIn(cr.Spec.IssuerRef) {
		return ctrl.Result{}, nil
	}
	st := crpolicy.StateOf(cr)
	if st.Final() {
		return ctrl.Result{}, nil
	}
	now := r.now()
	if st.Denied {
		return ctrl.Result{}, r.finish(ctx, cr, crpolicy.Denied(), nil, now)
	}
	if !st.ReadyToSign() {
		return ctrl.Result{}, nil // not approved yet
	}
	csr, err := pki.ParseCSRPEM(cr.Spec.Request)
	if err != nil {
		msg := crpolicy.RequestError(cr.Spec.Request, err)
		invalid := crpolicy.InvalidRequest(msg)
		return ctrl.Result{}, r.finish(ctx, cr, crpolicy.Failed(msg), &invalid, now)
	}
	iss, err := r.Issuers.Resolve(ctx, cr.Namespace, cr.Spec.IssuerRef, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if iss.Spec != nil && iss.Spec.ACME != nil {
		return ctrl.Result{}, nil // certificaterequests-issuer-acme's
	}
	if !iss.Readiness.Ready {
		return r.pending(ctx, cr, crpolicy.PendingMessage(iss.Object == nil, iss.Readiness.Message), now)
	}
	tmpl := crpolicy.Template(csr, &cr.Spec)
	var (
		leaf  *x509.Certificate
		chain []*x509.Certificate
		ca    *x509.Certificate
	)
	switch {
	case iss.Spec.CA != nil:
		leaf, err = iss.Readiness.CA.Issue(r.rand(), now, tmpl, csr.PublicKey)
		chain, ca = append([]*x509.Certificate{leaf}, iss.Readiness.Chain...), iss.Readiness.Anchor
	case iss.Spec.SelfSigned != nil:
		key, result, done, kerr := r.selfSignedKey(ctx, cr, csr, now)
		if done {
			return result, kerr
		}
		leaf, err = pki.SelfSign(r.rand(), now, tmpl, key)
		chain, ca = []*x509.Certificate{leaf}, leaf
	case iss.Spec.Vault != nil:
		res, verr := r.Issuers.signVault(ctx, iss, cr.Spec.Request, csr, crpolicy.Duration(&cr.Spec))
		if verr != nil {
			r.Events.Eventf(cr, nil, corev1.EventTypeWarning, "SigningError", "Sign", "Vault failed to sign certificate: %v", verr)
			if !VaultRefused(verr) {
				// Unlike cert-manager (#4620), a sealed or unreachable
				// Vault leaves the request pending, tried again later.
				if _, err := r.pending(ctx, cr, "Vault failed to sign certificate: "+verr.Error(), now); err != nil {
					return ctrl.Result{}, err
				}
				return ctrl.Result{RequeueAfter: vaultRetryMin}, nil
			}
			return ctrl.Result{}, r.finish(ctx, cr, crpolicy.Failed("Vault failed to sign certificate: "+verr.Error()), nil, now)
		}
		leaf, chain, ca = res.Chain[0], res.Chain, res.CA
	default:
		return r.pending(ctx, cr, crpolicy.MessageIssuerNotReady, now)
	}
	if err != nil {
		return ctrl.Result{}, r.finish(ctx, cr, crpolicy.Failed("Error signing certificate: "+err.Error()), nil, now)
	}
	next := cr.DeepCopy()
	next.Status.Certificate = pki.EncodeCertificatesPEM(chain...)
	if ca != nil {
		next.Status.CA = pki.EncodeCertificatesPEM(ca)
	}
	crpolicy.SetCondition(&next.Status, crpolicy.Issued(), now)
	if err := r.Status.Update(ctx, next); err != nil {
		// A conflict means the request changed (denied, say): the watch
		// brings the new version, and this certificate is dropped.
		return ctrl.Result{}, ignoreConflict(err)
	}
	r.Events.Eventf(cr, nil, corev1.EventTypeNormal, crpolicy.ReasonIssued, "Sign",
		"%s: serial %s for %q, valid until %s", crpolicy.MessageIssued, leaf.SerialNumber.Text(16), leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	return ctrl.Result{}, nil
}

// selfSignedKey reads the key a selfSigned issuer signs with: tls.key of
// the Secret the request's annotation names. When it cannot, it has
// written the request's status, and done is true.
func (r *CertificateRequestReconciler) selfSignedKey(ctx context.Context, cr *cmv1.CertificateRequest, csr *x509.CertificateRequest, now time.Time) (key crypto.Signer, result ctrl.Result, done bool, err error) {
	name := cr.Annotations[crpolicy.AnnotationPrivateKeySecretName]
	if name == "" {
		msg := fmt.Sprintf("Annotation %q missing or reference empty: a selfSigned issuer signs with the private key of that Secret", crpolicy.AnnotationPrivateKeySecretName)
		return nil, ctrl.Result{}, true, r.finish(ctx, cr, crpolicy.Failed(msg), nil, now)
	}
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: name}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, ctrl.Result{}, true, err
		}
		result, err := r.pending(ctx, cr, fmt.Sprintf("Referenced secret %s/%s not found", cr.Namespace, name), now)
		return nil, result, true, err
	}
	key, err = pki.ParsePrivateKeyPEM(secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		result, err := r.pending(ctx, cr, crpolicy.KeyError(name, secret.Data[corev1.TLSPrivateKeyKey], err), now)
		return nil, result, true, err
	}
	if !pki.KeyMatches(csr.PublicKey, key) {
		msg := fmt.Sprintf("Error generating certificate template: the private key in Secret %q does not match the public key of spec.request", name)
		return nil, ctrl.Result{}, true, r.finish(ctx, cr, crpolicy.Failed(msg), nil, now)
	}
	return key, ctrl.Result{}, false, nil
}

// pending writes Ready=False reason Pending and looks again later.
func (r *CertificateRequestReconciler) pending(ctx context.Context, cr *cmv1.CertificateRequest, message string, now time.Time) (ctrl.Result, error) {
	next := cr.DeepCopy()
	crpolicy.SetCondition(&next.Status, crpolicy.Pending(message), now)
	if err := r.write(ctx, cr, next); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: pendingRetry}, nil
}

// finish writes an outcome other than issuance: Ready (Failed or Denied),
// the failure time, and the InvalidRequest condition if given.
func (r *CertificateRequestReconciler) finish(ctx context.Context, cr *cmv1.CertificateRequest, ready cmv1.CertificateRequestCondition, invalid *cmv1.CertificateRequestCondition, now time.Time) error {
	next := cr.DeepCopy()
	if invalid != nil {
		crpolicy.SetCondition(&next.Status, *invalid, now)
	}
	crpolicy.SetCondition(&next.Status, ready, now)
	next.Status.FailureTime = timePtr(now)
	return r.write(ctx, cr, next)
}

// write updates the status when it changed, with a Warning Event when the
// Ready condition did.
func (r *CertificateRequestReconciler) write(ctx context.Context, old, next *cmv1.CertificateRequest) error {
	before := crpolicy.FindCondition(old.Status.Conditions, crpolicy.ConditionReady)
	after := crpolicy.FindCondition(next.Status.Conditions, crpolicy.ConditionReady)
	if before != nil && after != nil && before.Status == after.Status && before.Reason == after.Reason && before.Message == after.Message &&
		(next.Status.FailureTime == nil || old.Status.FailureTime != nil) {
		return nil
	}
	if err := r.Status.Update(ctx, next); err != nil {
		return ignoreConflict(err)
	}
	r.Events.Eventf(next, nil, corev1.EventTypeWarning, after.Reason, "Sign", "%s", after.Message)
	return nil
}

// ignoreConflict drops the errors after which the watch brings a newer
// version: a conflict, or a request deleted meanwhile.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (r *CertificateRequestReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *CertificateRequestReconciler) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}

// indexRequestIssuer indexes CertificateRequests by the built-in issuer
// they name.
const indexRequestIssuer = "spec.issuerRef"

// SetupWithManager watches CertificateRequests and the issuers they name,
// so that pending requests move on as soon as their issuer is ready.
func (r *CertificateRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &cmv1.CertificateRequest{}, indexRequestIssuer, func(o client.Object) []string {
		ref := o.(*cmv1.CertificateRequest).Spec.IssuerRef
		switch {
		case !crpolicy.BuiltIn(ref):
			return nil
		case ref.Kind == crpolicy.KindClusterIssuer:
			return []string{crpolicy.KindClusterIssuer + "/" + ref.Name}
		default:
			return []string{crpolicy.KindIssuer + "/" + o.GetNamespace() + "/" + ref.Name}
		}
	})
	if err != nil {
		return err
	}
	byIssuer := func(kind string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			k := kind + "/" + o.GetName()
			if kind == crpolicy.KindIssuer {
				k = kind + "/" + o.GetNamespace() + "/" + o.GetName()
			}
			var list cmv1.CertificateRequestList
			if err := mgr.GetClient().List(ctx, &list, client.MatchingFields{indexRequestIssuer: k}); err != nil {
				return nil
			}
			var reqs []reconcile.Request
			for i := range list.Items {
				if st := crpolicy.StateOf(&list.Items[i]); st.ReadyToSign() {
					reqs = append(reqs, reconcile.Request{NamespacedName: key(&list.Items[i])})
				}
			}
			return reqs
		})
	}
	workers := r.Workers
	if workers <= 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&cmv1.CertificateRequest{}).
		Watches(&cmv1.Issuer{}, byIssuer(crpolicy.KindIssuer), builder.WithPredicates(readinessChanged{})).
		Watches(&cmv1.ClusterIssuer{}, byIssuer(crpolicy.KindClusterIssuer), builder.WithPredicates(readinessChanged{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("certificaterequests-issuer").
		Complete(r)
}
