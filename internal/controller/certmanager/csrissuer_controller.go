package certmanager

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	csrcontroller "github.com/certplane/certplane/internal/controller/certificates"
	"io"
	"strings"
	"sync"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// csrIssuerRetry is how often a request whose issuer is missing or not
// ready is looked at again; issuers becoming ready bring it back sooner.
const csrIssuerRetry = 30 * time.Second

// indexIssuerSigner indexes CertificateSigningRequests by the signer name
// of a cert-manager.io issuer.
const indexIssuerSigner = "issuerSignerName"

// CSRIssuerReconciler signs approved CertificateSigningRequests whose
// signer is a cert-manager.io Issuer (issuers.cert-manager.io/<ns>.<name>)
// or ClusterIssuer (clusterissuers.cert-manager.io/<name>), as cert-manager's
// certificatesigningrequests controllers do: with a ca issuer's CA, or,
// for a selfSigned issuer, with the key in the Secret the request names.
type CSRIssuerReconciler struct {
	// Reader reads CertificateSigningRequests (the cache).
	Reader client.Reader
	// Status updates their status subresource.
	Status client.SubResourceWriter
	// Creator creates SubjectAccessReviews.
	Creator client.Writer
	Issuers *Issuers
	Events  eventRecorder
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Rand is the entropy for serials. If nil, crypto/rand.
	Rand io.Reader

	// waiting holds, per request name, the UID and note of the last wait
	// reported, so that each wait is recorded as an Event once.
	mu      sync.Mutex
	waiting map[string]string
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*,verbs=sign
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// halt is a request that cannot be signed now: it waits for its issuer or
// a Secret, or, if fail is set, is marked Failed.
type halt struct {
	fail            bool
	reason, message string
}

// issued is a signed request's certificate chain and its issuer.
type issued struct {
	chain []*x509.Certificate
	from  *issuer
	ref   issuerpolicy.SignerRef
}

// Reconcile signs one request if it is approved and its issuer is ready.
func (r *CSRIssuerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certv1.CertificateSigningRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, csr); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !issuerpolicy.IsIssuerSigner(csr.Spec.SignerName) || !csrpolicy.ReadyToSign(csrpolicy.StateOf(csr)) {
		r.forget(csr.Name)
		return ctrl.Result{}, nil
	}
	out, h, err := r.sign(ctx, csr)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case h != nil && h.fail:
		return ctrl.Result{}, r.fail(ctx, csr, h.reason, h.message)
	case h != nil:
		return r.wait(ctx, csr, h.reason, h.message), nil
	}
	csr.Status.Certificate = pki.EncodeCertificatesPEM(out.chain...)
	if err := r.Status.Update(ctx, csr); err != nil {
		// A conflict is retried against the newer version, which may
		// already be issued.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.forget(csr.Name)
	csrcontroller.RecordCSRSigned(csr.Spec.SignerName)
	csrcontroller.ObserveCSRIssued(csr, r.now())
	leaf := out.chain[0]
	r.Events.Eventf(csr, out.from.Object, corev1.EventTypeNormal, "Issued", "Sign", "issued certificate serial %s for %q from %s, valid until %s",
		leaf.SerialNumber.Text(16), leaf.Subject.String(), out.ref, leaf.NotAfter.UTC().Format(time.RFC3339))
	return ctrl.Result{}, nil
}

// sign issues the certificate chain of an approved request, or says why it
// cannot be issued now. Errors are failures to talk to the apiserver.
func (r *CSRIssuerReconciler) sign(ctx context.Context, csr *certv1.CertificateSigningRequest) (*issued, *halt, error) {
	ref, err := issuerpolicy.ParseSignerName(csr.Spec.SignerName)
	if err != nil {
		return nil, &halt{fail: true, reason: issuerpolicy.ReasonBadSignerName, message: err.Error()}, nil
	}
	now := r.now()
	iss, err := r.Issuers.Resolve(ctx, ref.Namespace, ref.IssuerRef(), now)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	if iss.Object == nil {
		return nil, &halt{reason: "IssuerNotFound", message: fmt.Sprintf("waiting for %s, which does not exist", ref)}, nil
	}
	if !ref.Cluster {
		allowed, err := r.mayReference(ctx, csr, ref)
		if err != nil {
			return nil, nil, err
		}
		if !allowed {
			return nil, &halt{fail: true, reason: issuerpolicy.ReasonDeniedReference, message: fmt.Sprintf(
				"requester %q may not reference %s: it needs verb reference on signers.cert-manager.io named %q or \"*\" in namespace %q",
				csr.Spec.Username, ref, ref.Name, ref.Namespace)}, nil
		}
	}
	if !iss.Readiness.Ready {
		return nil, &halt{reason: "IssuerNotReady", message: fmt.Sprintf("waiting for %s to be ready: %s: %s", ref, iss.Readiness.Reason, iss.Readiness.Message)}, nil
	}
	badRequest := func(format string, args ...any) *halt {
		return &halt{fail: true, reason: issuerpolicy.ReasonBadRequest, message: fmt.Sprintf(format, args...)}
	}
	duration, err := issuerpolicy.RequestDuration(csr.Spec.ExpirationSeconds, csr.Annotations)
	if err != nil {
		return nil, badRequest("%v", err), nil
	}
	parsed, err := pki.ParseCSRPEM(csr.Spec.Request)
	if err != nil {
		return nil, badRequest("invalid certificate request: %v", err), nil
	}
	usages := issuerpolicy.RequestUsages(csr.Spec.Usages)
	if _, _, err := pki.ParseUsages(usages); err != nil {
		return nil, badRequest("%v", err), nil
	}
	template := pki.TemplateFromCSR(parsed, usages)
	template.Duration, template.IsCA = duration, issuerpolicy.RequestIsCA(csr.Annotations)

	switch {
	case iss.Spec.CA != nil:
		leaf, err := iss.Readiness.CA.Issue(r.rand(), now, template, parsed.PublicKey)
		if err != nil {
			return nil, signingFailed(err), nil
		}
		return &issued{chain: append([]*x509.Certificate{leaf}, iss.Readiness.Chain...), from: iss, ref: ref}, nil, nil
	case iss.Spec.SelfSigned != nil:
		leaf, h, err := r.selfSign(ctx, csr, ref, parsed, template, now)
		if err != nil || h != nil {
			return nil, h, err
		}
		return &issued{chain: []*x509.Certificate{leaf}, from: iss, ref: ref}, nil, nil
	case iss.Spec.Vault != nil:
		res, err := r.Issuers.signVault(ctx, iss, csr.Spec.Request, parsed, duration)
		if err != nil {
			return nil, &halt{fail: VaultRefused(err), reason: issuerpolicy.ReasonErrorSigning, message: fmt.Sprintf("Vault failed to sign certificate: %v", err)}, nil
		}
		return &issued{chain: res.Chain, from: iss, ref: ref}, nil, nil
	default:
		// Other kinds are never ready, so this is not reached.
		return nil, &halt{reason: "IssuerNotReady", message: fmt.Sprintf("%s cannot sign requests", ref)}, nil
	}
}

func signingFailed(err error) *halt {
	return &halt{fail: true, reason: issuerpolicy.ReasonErrorSigning, message: fmt.Sprintf("signing: %v", err)}
}

// selfSign signs a request for a selfSigned issuer with the private key in
// the Secret its annotation names, which must be the request's own key.
// Errors are failures to talk to the apiserver.
func (r *CSRIssuerReconciler) selfSign(ctx context.Context, csr *certv1.CertificateSigningRequest, ref issuerpolicy.SignerRef, parsed *x509.CertificateRequest, template *pki.Template, now time.Time) (*x509.Certificate, *halt, error) {
	name := csr.Annotations[issuerpolicy.AnnotationPrivateKeySecretName]
	if name == "" {
		return nil, &halt{fail: true, reason: issuerpolicy.ReasonMissingAnnotation, message: fmt.Sprintf(
			"%s is selfSigned: the request must name the Secret holding its private key in annotation %s", ref, issuerpolicy.AnnotationPrivateKeySecretName)}, nil
	}
	ns := ref.Namespace
	if ref.Cluster {
		ns = r.Issuers.ClusterResourceNamespace
	}
	// Live: the cache holds no Secret's data.
	secret, err := readSecret(ctx, types.NamespacedName{Namespace: ns, Name: name}, r.Issuers.APIReader)
	if err != nil {
		return nil, nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
	}
	if secret == nil {
		return nil, &halt{reason: "SecretNotFound", message: fmt.Sprintf("waiting for Secret %s/%s, which does not exist, for the private key", ns, name)}, nil
	}
	key, err := pki.ParsePrivateKeyPEM(secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, &halt{reason: "ErrorParsingKey", message: fmt.Sprintf("waiting for a valid %s in Secret %s/%s: %v", corev1.TLSPrivateKeyKey, ns, name, err)}, nil
	}
	if !pki.KeyMatches(parsed.PublicKey, key) {
		return nil, &halt{fail: true, reason: issuerpolicy.ReasonErrorKeyMatch, message: fmt.Sprintf(
			"the private key in Secret %s/%s is not the key of the request", ns, name)}, nil
	}
	leaf, err := pki.SelfSign(r.rand(), now, template, key)
	if err != nil {
		return nil, signingFailed(err), nil
	}
	return leaf, nil, nil
}

// mayReference asks the apiserver whether the requester may use a
// namespaced Issuer: verb reference on signers.cert-manager.io named after
// the Issuer or "*", in its namespace, as cert-manager checks.
func (r *CSRIssuerReconciler) mayReference(ctx context.Context, csr *certv1.CertificateSigningRequest, ref issuerpolicy.SignerRef) (bool, error) {
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	for _, name := range ref.ReferenceNames() {
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Group: crpolicy.GroupCertManager, Resource: "signers", Verb: "reference", Version: "*", Namespace: ref.Namespace, Name: name,
			},
		}}
		if err := r.Creator.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("reviewing whether %q may reference %s: %w", csr.Spec.Username, ref, err)
		}
		if sar.Status.Allowed {
			return true, nil
		}
	}
	return false, nil
}

// wait records why a request waits, once per reason and message, and looks
// at it again later.
func (r *CSRIssuerReconciler) wait(ctx context.Context, csr *certv1.CertificateSigningRequest, reason, message string) ctrl.Result {
	note := string(csr.UID) + "\x00" + reason + "\x00" + message
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[string]string{}
	}
	seen := r.waiting[csr.Name] == note
	r.waiting[csr.Name] = note
	r.mu.Unlock()
	if !seen {
		logf.FromContext(ctx).V(1).Info("waiting to sign", "reason", reason, "message", message)
		r.Events.Eventf(csr, nil, corev1.EventTypeWarning, reason, "Sign", "%s", message)
	}
	return ctrl.Result{RequeueAfter: csrIssuerRetry}
}

func (r *CSRIssuerReconciler) forget(name string) {
	r.mu.Lock()
	delete(r.waiting, name)
	r.mu.Unlock()
}

// fail marks the request Failed; it is not retried.
func (r *CSRIssuerReconciler) fail(ctx context.Context, csr *certv1.CertificateSigningRequest, reason, message string) error {
	r.forget(csr.Name)
	now := metav1.NewTime(r.now())
	csr.Status.Conditions = append(csr.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: certv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastUpdateTime: now, LastTransitionTime: now,
	})
	if err := r.Status.Update(ctx, csr); err != nil {
		if apierrors.IsConflict(err) {
			return err
		}
		return client.IgnoreNotFound(err)
	}
	csrcontroller.RecordCSRFailed(metricSigner(csr.Spec.SignerName), reason)
	r.Events.Eventf(csr, nil, corev1.EventTypeWarning, reason, "Sign", "%s", message)
	return nil
}

// metricSigner is the signer label of a request: its signer name, or the
// prefix's wildcard for a malformed one, so that labels stay few.
func metricSigner(signerName string) string {
	switch _, err := issuerpolicy.ParseSignerName(signerName); {
	case err == nil:
		return signerName
	case strings.HasPrefix(signerName, issuerpolicy.SignerPrefixClusterIssuers):
		return issuerpolicy.SignerPrefixClusterIssuers + "*"
	default:
		return issuerpolicy.SignerPrefixIssuers + "*"
	}
}

func (r *CSRIssuerReconciler) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *CSRIssuerReconciler) rand() io.Reader {
	if r.Rand == nil {
		return rand.Reader
	}
	return r.Rand
}

// SetupWithManager watches the CertificateSigningRequests of cert-manager.io
// issuers, and the issuers, so that requests waiting for one are signed as
// soon as it becomes ready.
func (r *CSRIssuerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &certv1.CertificateSigningRequest{}, indexIssuerSigner, func(o client.Object) []string {
		if s := o.(*certv1.CertificateSigningRequest).Spec.SignerName; issuerpolicy.IsIssuerSigner(s) {
			return []string{s}
		}
		return nil
	})
	if err != nil {
		return err
	}
	byIssuer := func(cluster bool) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			signer := issuerpolicy.SignerRef{Cluster: cluster, Namespace: o.GetNamespace(), Name: o.GetName()}.SignerName()
			var list certv1.CertificateSigningRequestList
			if err := r.Reader.List(ctx, &list, client.MatchingFields{indexIssuerSigner: signer}); err != nil {
				logf.FromContext(ctx).Error(err, "listing requests of an issuer", "signer", signer)
				return nil
			}
			var reqs []reconcile.Request
			for i := range list.Items {
				if csrpolicy.ReadyToSign(csrpolicy.StateOf(&list.Items[i])) {
					reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}})
				}
			}
			return reqs
		})
	}
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		csr, ok := o.(*certv1.CertificateSigningRequest)
		return ok && issuerpolicy.IsIssuerSigner(csr.Spec.SignerName)
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&certv1.CertificateSigningRequest{}, builder.WithPredicates(ours)).
		Watches(&cmv1.Issuer{}, byIssuer(false), builder.WithPredicates(readinessChanged{})).
		Watches(&cmv1.ClusterIssuer{}, byIssuer(true), builder.WithPredicates(readinessChanged{})).
		Named("certificatesigningrequests-issuers").
		Complete(r)
}
