package certmanager

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/internal/requestpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// Condition reasons of Certificates beside certpolicy's trigger reasons.
const (
	reasonReady       = "Ready"
	reasonIssuing     = "Issuing"
	reasonFailed      = "Failed"
	reasonInvalidSpec = "InvalidSpec"
	reasonSecretInUse = "SecretInUse"
	// reasonKeystorePassword: a keystore's password Secret cannot be read.
	reasonKeystorePassword = "KeystorePasswordUnavailable"
	readyMessage           = "Certificate is up to date and has not expired"
	// retrySoon is the wait before looking again after a write lost to a
	// newer version or a stale request was dropped.
	retrySoon = 100 * time.Millisecond
)

// Metrics are the collectors the cert-manager.io controllers export
// besides CertificateCollector.
func Metrics() []prometheus.Collector {
	return []prometheus.Collector{issuedTotal}
}

var issuedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "certplane_certificates_issued_total",
	Help: "Certificates issued for cert-manager.io Certificates, by issuer kind and trigger reason.",
}, []string{"issuer_kind", "reason"})

// CertificateReconciler issues the certificates of cert-manager.io
// Certificates into their Secrets through the built-in issuers, in
// process: one Secret write, one status write and one Event per issuance.
type CertificateReconciler struct {
	// Reader reads Certificates (the cache).
	Reader client.Reader
	// Secrets reads the Secrets certplane caches (labelled
	// controller.cert-manager.io/fao=true), which may lack their keys and
	// most annotations; APIReader reads whole Secrets.
	Secrets   client.Reader
	APIReader client.Reader
	// Writer creates and updates Secrets; Status updates Certificates.
	Writer  client.Writer
	Status  client.SubResourceWriter
	Events  eventRecorder
	Issuers *Issuers
	// MinBackoff and MaxBackoff bound the wait after failed issuances. If
	// zero, cert-manager's 1h and 32h.
	MinBackoff, MaxBackoff time.Duration
	// Workers is how many Certificates are handled at once. If zero, 16.
	Workers int
	// OwnerRef makes the Certificate the controller owner of its Secret
	// (cert-manager's --enable-certificate-owner-ref); without it, a
	// reference to the Certificate is removed.
	OwnerRef bool
	// ThroughRequests sends every issuance, built-in issuers' too, through
	// a CertificateRequest that waits for approval, as cert-manager does:
	// for clusters whose approver is not the built-in one. Without it, the
	// built-in issuers sign in process, skipping a request the built-in
	// approver would approve anyway.
	ThroughRequests bool
	// Policy, if set, decides in-process issuances as the
	// CertificateRequestPolicies would decide their CertificateRequests.
	Policy issuancePolicy
	// RequirePolicy refuses what no policy selects (--require-policy).
	RequirePolicy bool
	// PolicyChanged, if set, tells that the policies changed.
	PolicyChanged <-chan event.GenericEvent
	// RenewalHorizon and RenewalPeriod: a renewal further away than the
	// horizon is not kept in the workqueue; the renewal scheduler puts it
	// back, looking every period (certificate_renewals.go). If zero,
	// DefaultRenewalHorizon and DefaultRenewalPeriod.
	RenewalHorizon, RenewalPeriod time.Duration
	Now                           func() time.Time
	Rand                          io.Reader

	// written remembers the resourceVersion of each Secret this controller
	// wrote, so that the watch event of its own write does not come back
	// as another reconcile.
	written sync.Map
}

// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates/status,verbs=update
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Certificate's Secret and status up to date. A write
// that lost to a newer version looks again at once: the newer version may be
// a status change, which the watch filters out.
func (r *CertificateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: retrySoon}, nil
	}
	return res, err
}

func (r *CertificateReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	crt := &cmv1.Certificate{}
	if err := r.Reader.Get(ctx, req.NamespacedName, crt); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if crt.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	now := r.now()
	request, err := certpolicy.NewRequest(&crt.Spec)
	if err != nil {
		return ctrl.Result{}, r.notReady(ctx, crt, reasonInvalidSpec, err.Error(), nil, now)
	}
	secret, err := r.secret(ctx, crt)
	if err != nil {
		return ctrl.Result{}, err
	}
	return r.withSecret(ctx, crt, request, secret, now, true)
}

// withSecret decides and acts given the Secret as read. mayRetry allows
// one more pass with the Secret read live, for a Secret the cache does not
// hold (one certplane did not write).
func (r *CertificateReconciler) withSecret(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, secret *corev1.Secret, now time.Time, mayRetry bool) (ctrl.Result, error) {
	if secret != nil {
		if owner := secret.Annotations[certpolicy.AnnotationCertName]; owner != "" && owner != crt.Name {
			if other := (&cmv1.Certificate{}); r.Reader.Get(ctx, types.NamespacedName{Namespace: crt.Namespace, Name: owner}, other) == nil && other.Spec.SecretName == crt.Spec.SecretName {
				msg := fmt.Sprintf("Secret %q is managed by Certificate %q", crt.Spec.SecretName, owner)
				return ctrl.Result{RequeueAfter: 3 * time.Minute}, r.notReady(ctx, crt, reasonSecretInUse, msg, nil, now)
			}
		}
	}
	decision := certpolicy.Check(crt, request, secret, now)
	if !decision.Issue {
		return r.upToDate(ctx, crt, request, secret, decision.Current, now)
	}
	if wait := r.backoff(crt, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if r.ThroughRequests || !crpolicy.BuiltIn(crt.Spec.IssuerRef) {
		return r.external(ctx, crt, request, secret, decision, now)
	}
	iss, err := r.Issuers.Resolve(ctx, crt.Namespace, crt.Spec.IssuerRef, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if iss.Spec != nil && iss.Spec.ACME != nil {
		// An ACME server signs: through a CertificateRequest and its Order.
		return r.external(ctx, crt, request, secret, decision, now)
	}
	if !iss.Readiness.Ready {
		msg := fmt.Sprintf("%s; waiting for issuer %q: %s", decision.Message, crt.Spec.IssuerRef.Name, iss.Readiness.Message)
		issuing := &cmv1.CertificateCondition{Type: "Issuing", Status: cmv1.ConditionTrue, Reason: decision.Reason, Message: msg}
		if r.stillValid(crt, decision, now) {
			// The current certificate serves until the issuer is back.
			next := crt.DeepCopy()
			issuing.ObservedGeneration = crt.Generation
			setCondition(&next.Status, *issuing, now)
			if err := r.updateStatus(ctx, crt, next); err != nil {
				return ctrl.Result{}, err
			}
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		if err := r.notReady(ctx, crt, decision.Reason, msg, issuing, now); err != nil {
			return ctrl.Result{}, err
		}
		// Issuer and Secret watches bring it back sooner.
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if denied, err := r.policyDenies(ctx, crt, request, decision, now); denied || err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.issue(ctx, crt, request, secret, decision, iss, now)
	if errors.Is(err, errSecretExists) {
		// A Secret certplane did not write is not cached: nothing was
		// written; decide again on the Secret as it is, keeping its key.
		live, lerr := r.liveSecret(ctx, crt)
		if lerr != nil || live == nil || !mayRetry {
			return ctrl.Result{RequeueAfter: time.Second}, lerr
		}
		return r.withSecret(ctx, crt, request, live, now, false)
	}
	return res, err
}

// ReasonDenied is a Certificate's Ready reason when no
// CertificateRequestPolicy allows what it asks for.
const ReasonDenied = "Denied"

// policyDenies asks the CertificateRequestPolicies about the Certificate
// before anything is signed, as they would decide its CertificateRequest,
// for the requester the apiserver recorded in its annotations. A refusal
// is Ready=False reason Denied with the policies' message; no API write is
// added otherwise. A policy's change brings denied Certificates back.
func (r *CertificateReconciler) policyDenies(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, d certpolicy.Decision, now time.Time) (bool, error) {
	if r.Policy == nil {
		return false, nil
	}
	req := requestpolicy.FromTemplate(crt.Namespace, crt.Name, requestpolicy.IssuerRefOf(crt.Spec.IssuerRef), request.Template, request.Key)
	pd, err := r.Policy.Decide(ctx, req, certpolicy.Requester(crt))
	switch {
	case err != nil:
		return false, err
	case !pd.Selected && r.RequirePolicy:
		pd.Message = requestpolicy.NoPolicyMessage
	case !pd.Selected || pd.Approved:
		return false, nil
	}
	issuing := &cmv1.CertificateCondition{Type: "Issuing", Status: cmv1.ConditionFalse, Reason: ReasonDenied, Message: pd.Message}
	if r.stillValid(crt, d, now) {
		// The current certificate serves until it expires.
		next := crt.DeepCopy()
		issuing.ObservedGeneration = crt.Generation
		setCondition(&next.Status, *issuing, now)
		return true, r.updateStatus(ctx, crt, next)
	}
	return true, r.notReady(ctx, crt, ReasonDenied, pd.Message, issuing, now)
}

// errSecretExists: the Secret to create exists after all.
var errSecretExists = errors.New("the Secret exists")

// stillValid reports whether the Secret's certificate is the one the spec
// asks for and unexpired, and is reissued only because renewal is due.
func (r *CertificateReconciler) stillValid(crt *cmv1.Certificate, d certpolicy.Decision, now time.Time) bool {
	return d.Current != nil && (d.Reason == certpolicy.ReasonRenewing || d.Reason == certpolicy.ReasonManuallyTriggered) &&
		now.Before(d.Current.Leaf().NotAfter) && readyTrue(crt.Status.Conditions)
}

func (r *CertificateReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *CertificateReconciler) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}

// liveSecret reads the Certificate's Secret from the apiserver; nil if it
// does not exist.
func (r *CertificateReconciler) liveSecret(ctx context.Context, crt *cmv1.Certificate) (*corev1.Secret, error) {
	return readSecret(ctx, types.NamespacedName{Namespace: crt.Namespace, Name: crt.Spec.SecretName}, r.APIReader)
}

// secret reads the Certificate's Secret from the apiserver, when the
// cache has it or the Certificate says it was issued (the Secret may have
// lost its label, or the cache be behind); nil when it does not exist. The
// cache holds Secrets without their data and most annotations
// (internal/app's cache transform), so it only tells whether there is one:
// a new Certificate whose Secret the cache does not hold is issued with no
// read at all.
func (r *CertificateReconciler) secret(ctx context.Context, crt *cmv1.Certificate) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: crt.Namespace, Name: crt.Spec.SecretName}
	if crt.Status.Revision == nil {
		if cached, err := readSecret(ctx, key, r.Secrets); err != nil || cached == nil {
			return nil, err
		}
	}
	return readSecret(ctx, key, r.APIReader)
}

// backoff is how long the Certificate must still wait after failed
// issuances; a spec changed since the last failure does not wait.
func (r *CertificateReconciler) backoff(crt *cmv1.Certificate, now time.Time) time.Duration {
	st := crt.Status
	if st.FailedIssuanceAttempts == nil || st.LastFailureTime == nil {
		return 0
	}
	c := findCondition(st.Conditions, "Issuing")
	if c == nil || c.ObservedGeneration != crt.Generation {
		return 0
	}
	if c.Status == cmv1.ConditionTrue && c.Reason == certpolicy.ReasonManuallyTriggered {
		return 0 // `cmctl renew` asks for an attempt now
	}
	minB, maxB := r.backoffBounds()
	until := st.LastFailureTime.Add(certpolicy.Backoff(*st.FailedIssuanceAttempts, minB, maxB))
	if now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

// issue signs a new certificate, writes the Secret, then the status.
func (r *CertificateReconciler) issue(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, secret *corev1.Secret, d certpolicy.Decision, iss *issuer, now time.Time) (ctrl.Result, error) {
	pw, err := r.passwords(ctx, crt)
	if err != nil {
		return r.waitForPasswords(ctx, crt, d, err, now)
	}
	key, err := r.keyFor(crt, request, d)
	if err != nil {
		return r.failed(ctx, crt, d, fmt.Sprintf("generating the private key: %v", err), now)
	}
	var (
		leaf *x509.Certificate
		out  = &certpolicy.Issued{Key: key, KeyFormat: request.KeyFormat, RequestHash: request.Hash}
	)
	switch {
	case iss.Spec.CA != nil:
		leaf, err = iss.Readiness.CA.Issue(r.rand(), now, request.Template, key.Public())
		out.Chain, out.CA = append([]*x509.Certificate{leaf}, iss.Readiness.Chain...), iss.Readiness.Anchor
	case iss.Spec.Vault != nil:
		leaf, out.Chain, out.CA, err = r.signByVault(ctx, iss, request, key)
	default:
		leaf, err = pki.SelfSign(r.rand(), now, request.Template, key)
		out.Chain, out.CA = []*x509.Certificate{leaf}, leaf
	}
	if err != nil {
		return r.failed(ctx, crt, d, fmt.Sprintf("signing: %v", err), now)
	}
	revision := 1
	if crt.Status.Revision != nil {
		revision = *crt.Status.Revision + 1
	}
	if d.Current != nil && d.Current.Revision >= revision {
		revision = d.Current.Revision + 1
	}
	out.Revision = revision
	if err := r.writeSecret(ctx, crt, secret, out, pw); err != nil {
		if secret == nil && apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, errSecretExists
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// The Secret changed since it was read (or the cache is behind):
			// nothing was written; decide again on what is there now.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if pe := (*passwordError)(nil); asPasswordError(err, &pe) {
			return r.failed(ctx, crt, d, pe.Error(), now)
		}
		if secretRefused(err) {
			return r.failed(ctx, crt, d, secretRefusedMessage(crt, err), now)
		}
		return ctrl.Result{}, err
	}
	issuedTotal.WithLabelValues(issuerKind(iss.Spec), d.Reason).Inc()
	// The Secret holds the new certificate now: say so even if the status
	// update below conflicts, because the retry finds the Secret current
	// and has nothing left to issue.
	r.Events.Eventf(crt, nil, corev1.EventTypeNormal, reasonIssuing, "Issue",
		"The certificate has been successfully issued (revision %d, serial %s): %s", revision, leaf.SerialNumber.Text(16), d.Message)
	if err := r.ready(ctx, crt, leaf, revision, now); err != nil {
		return ctrl.Result{}, err
	}
	observeIssued(crt, now)
	return r.requeueAt(crt, leaf, now), nil
}

// keyFor is the key to certify: the Secret's own under rotationPolicy
// Never (when it is what the spec asks for), else a new one.
func (r *CertificateReconciler) keyFor(crt *cmv1.Certificate, request *certpolicy.Request, d certpolicy.Decision) (crypto.Signer, error) {
	if crt.Spec.PrivateKey != nil && crt.Spec.PrivateKey.RotationPolicy == "Never" && d.Key != nil {
		return d.Key, nil
	}
	return pki.GenerateKey(r.rand(), request.Key)
}

// signByVault has a vault issuer sign a CSR for key asking for what the
// request describes, in one Vault call.
func (r *CertificateReconciler) signByVault(ctx context.Context, iss *issuer, request *certpolicy.Request, key crypto.Signer) (*x509.Certificate, []*x509.Certificate, *x509.Certificate, error) {
	csrPEM, err := pki.CreateTemplateCSR(r.rand(), request.Template, key)
	if err != nil {
		return nil, nil, nil, err
	}
	csr, err := pki.ParseCSRPEM(csrPEM)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := r.Issuers.signVault(ctx, iss, csrPEM, csr, request.Template.Duration)
	if err != nil {
		return nil, nil, nil, err
	}
	if !pki.KeyMatches(res.Chain[0].PublicKey, key) {
		return nil, nil, nil, fmt.Errorf("vault returned a certificate for another key")
	}
	return res.Chain[0], res.Chain, res.CA, nil
}

func issuerKind(spec *cmv1.IssuerSpec) string {
	switch {
	case spec.CA != nil:
		return "ca"
	case spec.Vault != nil:
		return "vault"
	}
	return "selfSigned"
}

// upToDate handles a Secret whose certificate needs no reissue: its
// metadata and extra outputs are brought up to date, and the status.
func (r *CertificateReconciler) upToDate(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, secret *corev1.Secret, cur *certpolicy.Current, now time.Time) (ctrl.Result, error) {
	revision := cur.Revision
	if crt.Status.Revision != nil && *crt.Status.Revision > revision {
		revision = *crt.Status.Revision
	}
	if revision == 0 {
		revision = 1
	}
	in := &certpolicy.Issued{Key: cur.Key, KeyFormat: request.KeyFormat, Chain: cur.Chain, Revision: revision, RequestHash: request.Hash}
	if cas, err := pki.ParseCertificatesPEM(secret.Data[certpolicy.KeyCA]); err == nil {
		in.CA, in.CABundle = cas[0], secret.Data[certpolicy.KeyCA]
	}
	if !certpolicy.SecretCurrent(secret, crt, in) || !certpolicy.OwnerReferencesCurrent(secret.OwnerReferences, crt, r.OwnerRef) {
		pw, err := r.passwords(ctx, crt)
		if err != nil {
			var pe *passwordError
			if !asPasswordError(err, &pe) {
				return ctrl.Result{}, err
			}
			return ctrl.Result{RequeueAfter: passwordRecheck}, r.notReady(ctx, crt, reasonKeystorePassword, pe.Error(), nil, now)
		}
		if err := r.writeSecret(ctx, crt, secret, in, pw); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			if pe := (*passwordError)(nil); asPasswordError(err, &pe) {
				return ctrl.Result{}, r.notReady(ctx, crt, reasonFailed, pe.Error(), nil, now)
			}
			if secretRefused(err) {
				// A spec change brings it back.
				return ctrl.Result{}, r.notReady(ctx, crt, reasonFailed, secretRefusedMessage(crt, err), nil, now)
			}
			return ctrl.Result{}, err
		}
	}
	if err := r.ready(ctx, crt, cur.Leaf(), revision, now); err != nil {
		return ctrl.Result{}, err
	}
	return r.requeueAt(crt, cur.Leaf(), now), nil
}

// requeueAt schedules the next look: at renewal, or at expiry when renewal
// is disabled; the times ready wrote in the status. One further away than
// the renewal horizon is left to the renewal scheduler, which reads them
// there.
func (r *CertificateReconciler) requeueAt(crt *cmv1.Certificate, leaf *x509.Certificate, now time.Time) ctrl.Result {
	at, ok := certpolicy.RenewalTime(leaf.NotBefore, leaf.NotAfter, &crt.Spec, certpolicy.Seed(crt, leaf))
	if !ok {
		at = leaf.NotAfter
	}
	if at.Sub(now) > r.renewalHorizon() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(at.Sub(now), 0) + time.Second}
}

// writeSecret creates the Secret or updates the one read, keeping what
// others put in it.
func (r *CertificateReconciler) writeSecret(ctx context.Context, crt *cmv1.Certificate, existing *corev1.Secret, in *certpolicy.Issued, pw certpolicy.Passwords) error {
	data, err := certpolicy.SecretData(&crt.Spec, in, pw, r.rand())
	if err != nil {
		return &passwordError{err}
	}
	labels, annotations := certpolicy.SecretMetadata(crt, in)
	if existing == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: crt.Namespace, Name: crt.Spec.SecretName, Labels: labels, Annotations: annotations,
				OwnerReferences: certpolicy.SecretOwnerReferences(nil, crt, r.OwnerRef),
			},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
		if err := r.Writer.Create(ctx, s); err != nil {
			return err
		}
		r.written.Store(key(s), s.ResourceVersion)
		return nil
	}
	s := existing.DeepCopy()
	s.OwnerReferences = certpolicy.SecretOwnerReferences(s.OwnerReferences, crt, r.OwnerRef)
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	staleLabels, staleAnnotations := certpolicy.StaleMetadata(s, labels, annotations)
	for _, k := range staleLabels {
		delete(s.Labels, k)
	}
	for _, k := range staleAnnotations {
		delete(s.Annotations, k)
	}
	for k, v := range labels {
		s.Labels[k] = v
	}
	for k, v := range annotations {
		s.Annotations[k] = v
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for _, k := range []string{certpolicy.KeyCA, certpolicy.KeyDER, certpolicy.KeyCombinedPEM, certpolicy.KeyPKCS12Keystore,
		certpolicy.KeyPKCS12Truststore, certpolicy.KeyJKSKeystore, certpolicy.KeyJKSTruststore} {
		delete(s.Data, k)
	}
	for k, v := range data {
		s.Data[k] = v
	}
	if err := r.Writer.Update(ctx, s); err != nil {
		return err
	}
	r.written.Store(key(s), s.ResourceVersion)
	return nil
}

// secretRefused reports whether the apiserver refused a Secret write for
// what it holds, such as a label or annotation of spec.secretTemplate that
// is not a valid one, or a Secret over the size limit: the same write can
// never succeed, so it is a failed issuance with the apiserver's reason,
// not an error to retry.
func secretRefused(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsRequestEntityTooLargeError(err)
}

func secretRefusedMessage(crt *cmv1.Certificate, err error) string {
	return fmt.Sprintf("the apiserver refused Secret %q: %v", crt.Spec.SecretName, err)
}

func key(o client.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
}

// passwordRecheck is how often a Certificate whose keystore password is
// missing looks for it again: password Secrets are not cached, so no watch
// tells when one appears.
const passwordRecheck = 10 * time.Second

// waitForPasswords reports a keystore password that cannot be read, as
// Issuing=True and Ready=False, and looks again soon. It is not a failed
// issuance: nothing was signed, and creating the Secret is enough.
func (r *CertificateReconciler) waitForPasswords(ctx context.Context, crt *cmv1.Certificate, d certpolicy.Decision, err error, now time.Time) (ctrl.Result, error) {
	var pe *passwordError
	if !asPasswordError(err, &pe) {
		return ctrl.Result{}, err
	}
	msg := fmt.Sprintf("%s; waiting for the keystore password: %s", d.Message, pe.Error())
	issuing := &cmv1.CertificateCondition{Type: "Issuing", Status: cmv1.ConditionTrue, Reason: d.Reason, Message: msg, ObservedGeneration: crt.Generation}
	if r.stillValid(crt, d, now) {
		next := crt.DeepCopy()
		setCondition(&next.Status, *issuing, now)
		return ctrl.Result{RequeueAfter: passwordRecheck}, r.updateStatus(ctx, crt, next)
	}
	return ctrl.Result{RequeueAfter: passwordRecheck}, r.notReady(ctx, crt, reasonKeystorePassword, msg, issuing, now)
}

// passwordError is a failure to build the Secret's data that the user must
// fix in the spec or a password Secret.
type passwordError struct{ err error }

func (e *passwordError) Error() string { return e.err.Error() }
func (e *passwordError) Unwrap() error { return e.err }

func asPasswordError(err error, target **passwordError) bool { return errors.As(err, target) }

// passwords reads the keystore passwords from the spec or its Secrets.
func (r *CertificateReconciler) passwords(ctx context.Context, crt *cmv1.Certificate) (certpolicy.Passwords, error) {
	var pw certpolicy.Passwords
	ks := crt.Spec.Keystores
	if ks == nil {
		return pw, nil
	}
	read := func(field string, literal *string, ref cmv1.SecretKeySelector) (string, error) {
		if literal != nil {
			return *literal, nil
		}
		if ref.Name == "" {
			return "", &passwordError{fmt.Errorf("spec.keystores.%s: set password or passwordSecretRef", field)}
		}
		s := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: crt.Namespace, Name: ref.Name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", &passwordError{fmt.Errorf("spec.keystores.%s.passwordSecretRef: Secret %q not found", field, ref.Name)}
			}
			return "", err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", &passwordError{fmt.Errorf("spec.keystores.%s.passwordSecretRef: Secret %q has no key %q", field, ref.Name, ref.Key)}
		}
		return string(v), nil
	}
	var err error
	if p := ks.PKCS12; p != nil && p.Create {
		if pw.PKCS12, err = read("pkcs12", p.Password, p.PasswordSecretRef); err != nil {
			return pw, err
		}
	}
	if j := ks.JKS; j != nil && j.Create {
		if pw.JKS, err = read("jks", j.Password, j.PasswordSecretRef); err != nil {
			return pw, err
		}
	}
	return pw, nil
}

// ready writes Ready=True with the certificate's times and revision, and
// drops the Issuing condition and the failure counters.
func (r *CertificateReconciler) ready(ctx context.Context, crt *cmv1.Certificate, leaf *x509.Certificate, revision int, now time.Time) error {
	next := crt.DeepCopy()
	st := &next.Status
	st.NotBefore, st.NotAfter = timePtr(leaf.NotBefore), timePtr(leaf.NotAfter)
	st.RenewalTime = nil
	if at, ok := certpolicy.RenewalTime(leaf.NotBefore, leaf.NotAfter, &crt.Spec, certpolicy.Seed(crt, leaf)); ok {
		st.RenewalTime = timePtr(at)
	}
	st.Revision = &revision
	st.FailedIssuanceAttempts, st.LastFailureTime = nil, nil
	removeCondition(st, "Issuing")
	setCondition(st, cmv1.CertificateCondition{Type: "Ready", Status: cmv1.ConditionTrue, Reason: reasonReady, Message: readyMessage, ObservedGeneration: crt.Generation}, now)
	return r.updateStatus(ctx, crt, next)
}

// notReady writes Ready=False, and the Issuing condition if given.
func (r *CertificateReconciler) notReady(ctx context.Context, crt *cmv1.Certificate, reason, message string, issuing *cmv1.CertificateCondition, now time.Time) error {
	next := crt.DeepCopy()
	if issuing != nil {
		issuing.ObservedGeneration = crt.Generation
		setCondition(&next.Status, *issuing, now)
	}
	setCondition(&next.Status, cmv1.CertificateCondition{Type: "Ready", Status: cmv1.ConditionFalse, Reason: reason, Message: message, ObservedGeneration: crt.Generation}, now)
	if err := r.updateStatus(ctx, crt, next); err != nil {
		return err
	}
	if changedCondition(crt.Status.Conditions, next.Status.Conditions, "Ready") {
		r.Events.Eventf(crt, nil, corev1.EventTypeWarning, reason, "Issue", "%s", message)
	}
	return nil
}

// failed records a failed issuance: Issuing=False reason Failed, one more
// failed attempt, and the time, which starts the backoff; it comes back
// when the backoff ends. Ready stays True while the current certificate is
// still good.
func (r *CertificateReconciler) failed(ctx context.Context, crt *cmv1.Certificate, d certpolicy.Decision, message string, now time.Time) (ctrl.Result, error) {
	next := crt.DeepCopy()
	n := 1
	if p := crt.Status.FailedIssuanceAttempts; p != nil {
		n = *p + 1
	}
	next.Status.FailedIssuanceAttempts = &n
	next.Status.LastFailureTime = timePtr(now)
	msg := fmt.Sprintf("The certificate request has failed to complete and will be retried: %s", message)
	setCondition(&next.Status, cmv1.CertificateCondition{Type: "Issuing", Status: cmv1.ConditionFalse, Reason: reasonFailed, Message: msg, ObservedGeneration: crt.Generation}, now)
	if !r.stillValid(crt, d, now) {
		setCondition(&next.Status, cmv1.CertificateCondition{Type: "Ready", Status: cmv1.ConditionFalse, Reason: reasonFailed, Message: msg, ObservedGeneration: crt.Generation}, now)
	}
	if err := r.updateStatus(ctx, crt, next); err != nil {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(crt, nil, corev1.EventTypeWarning, reasonFailed, "Issue", "%s", msg)
	minB, maxB := r.backoffBounds()
	return ctrl.Result{RequeueAfter: certpolicy.Backoff(n, minB, maxB)}, nil
}

func (r *CertificateReconciler) backoffBounds() (time.Duration, time.Duration) {
	minB, maxB := r.MinBackoff, r.MaxBackoff
	if minB <= 0 {
		minB = time.Hour
	}
	if maxB <= 0 {
		maxB = 32 * time.Hour
	}
	return minB, maxB
}

func (r *CertificateReconciler) updateStatus(ctx context.Context, old, next *cmv1.Certificate) error {
	if statusEqual(&old.Status, &next.Status) {
		return nil
	}
	if err := r.Status.Update(ctx, next); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// SetupWithManager watches Certificates, the Secrets certplane wrote for
// them, and the issuers they name.
func (r *CertificateReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.Workers
	if workers <= 0 {
		workers = 16
	}
	// An issuer whose readiness changed wakes its Certificates that wait
	// on it, found by reading the cache's own Certificates: an index of
	// them by issuer would cost some 60 bytes a Certificate for an event
	// this rare.
	byIssuer := func(kind string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			store, err := certificateStore(ctx, mgr.GetCache())
			if err != nil {
				return nil
			}
			var reqs []reconcile.Request
			for _, c := range store.List() {
				sum, ok := certcache.Of(c)
				m, isObj := c.(metav1.Object)
				if ok && isObj && waitsOn(sum, m.GetNamespace(), kind, o.GetNamespace(), o.GetName()) {
					reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}})
				}
			}
			return reqs
		})
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cmv1.Certificate{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, manualRenewal{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToCertificate), builder.WithPredicates(r.notOwnWrite())).
		Owns(&cmv1.CertificateRequest{}).
		Watches(&cmv1.Issuer{}, byIssuer(crpolicy.KindIssuer), builder.WithPredicates(readinessChanged{})).
		Watches(&cmv1.ClusterIssuer{}, byIssuer(crpolicy.KindClusterIssuer), builder.WithPredicates(readinessChanged{})).
		WatchesRawSource(r.renewals(mgr.GetCache()))
	if r.PolicyChanged != nil {
		// A policy's change decides the denied Certificates again.
		b = b.WatchesRawSource(source.Channel(r.PolicyChanged, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			var list cmv1.CertificateList
			if err := mgr.GetClient().List(ctx, &list); err != nil {
				return nil
			}
			var reqs []reconcile.Request
			for i := range list.Items {
				if c := findCondition(list.Items[i].Status.Conditions, "Issuing"); c != nil && c.Reason == ReasonDenied {
					reqs = append(reqs, reconcile.Request{NamespacedName: key(&list.Items[i])})
				}
			}
			return reqs
		})))
	}
	return b.
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("certificates").
		Complete(r)
}

// waitsOn says whether a Certificate of namespace, summed up by sum, names
// the issuer of kind (Issuer or ClusterIssuer) issuerNamespace/issuerName
// and is not settled on it: never issued, not Ready, or issuing.
func waitsOn(sum certcache.Summary, namespace, kind, issuerNamespace, issuerName string) bool {
	ref := sum.IssuerRef
	refKind := crpolicy.KindIssuer
	if ref.Kind == crpolicy.KindClusterIssuer {
		refKind = crpolicy.KindClusterIssuer
	}
	if refKind != kind || ref.Name != issuerName || (kind == crpolicy.KindIssuer && namespace != issuerNamespace) {
		return false
	}
	return sum.NotAfter == 0 || sum.Ready != cmv1.ConditionTrue || sum.IssuingStatus != ""
}

// secretToCertificate maps a Secret to the Certificate that wrote it.
func (r *CertificateReconciler) secretToCertificate(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetAnnotations()[certpolicy.AnnotationCertName]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// notOwnWrite drops the update events of the Secrets this controller just
// wrote; creations, deletions and others' edits pass.
func (r *CertificateReconciler) notOwnWrite() predicate.Predicate {
	own := func(o client.Object) bool {
		rv, ok := r.written.Load(key(o))
		if ok && rv == o.GetResourceVersion() {
			r.written.Delete(key(o))
			return true
		}
		return false
	}
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return !own(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool { return !own(e.ObjectNew) },
	}
}

// manualRenewal passes Certificates whose Issuing condition was set to True
// by someone else, as `cmctl renew` does.
type manualRenewal struct{ predicate.Funcs }

func (manualRenewal) Update(e event.UpdateEvent) bool {
	sum, ok := certcache.Of(e.ObjectNew)
	return ok && sum.IssuingStatus == cmv1.ConditionTrue && sum.IssuingReason == "ManuallyTriggered"
}
func (manualRenewal) Create(event.CreateEvent) bool   { return false }
func (manualRenewal) Delete(event.DeleteEvent) bool   { return false }
func (manualRenewal) Generic(event.GenericEvent) bool { return false }

// readinessChanged passes issuers that appear or whose Ready condition or
// spec changes.
type readinessChanged struct{ predicate.Funcs }

func (readinessChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
		return true
	}
	return issuerReady(e.ObjectOld) != issuerReady(e.ObjectNew)
}
func (readinessChanged) Create(event.CreateEvent) bool   { return true }
func (readinessChanged) Delete(event.DeleteEvent) bool   { return false }
func (readinessChanged) Generic(event.GenericEvent) bool { return false }

func issuerReady(o client.Object) string {
	var cs []cmv1.IssuerCondition
	switch i := o.(type) {
	case *cmv1.Issuer:
		cs = i.Status.Conditions
	case *cmv1.ClusterIssuer:
		cs = i.Status.Conditions
	}
	for _, c := range cs {
		if c.Type == "Ready" {
			return string(c.Status) + c.Message
		}
	}
	return ""
}

func readyTrue(cs []cmv1.CertificateCondition) bool {
	c := findCondition(cs, "Ready")
	return c != nil && c.Status == cmv1.ConditionTrue
}
