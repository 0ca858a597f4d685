package certmanager

import (
	"context"
	"crypto"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// Annotations and labels of the CertificateRequests and next-key Secrets
// made for external issuers, as cert-manager names them.
const (
	annotationCRRevision = "cert-manager.io/certificate-revision"
	labelNextPrivateKey  = "cert-manager.io/next-private-key"
)

// crReadyAt is when a CertificateRequest reached its final Ready
// condition (its creation if it has none).
func crReadyAt(cr *cmv1.CertificateRequest) time.Time {
	if c := crpolicy.FindCondition(cr.Status.Conditions, "Ready"); c != nil && c.LastTransitionTime != nil {
		return c.LastTransitionTime.Truncate(time.Second)
	}
	return cr.CreationTimestamp.Truncate(time.Second)
}

// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=delete

// external issues through an issuer certplane does not implement (one whose
// group is not cert-manager.io): the next private key waits in a Secret of
// its own while a CertificateRequest named <certificate>-<revision> asks
// the external issuer; once the request is issued, the key and certificate
// go into the Certificate's Secret together.
func (r *CertificateReconciler) external(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, secret *corev1.Secret, d certpolicy.Decision, now time.Time) (ctrl.Result, error) {
	revision := 1
	if crt.Status.Revision != nil {
		revision = *crt.Status.Revision + 1
	}
	crName := fmt.Sprintf("%s-%d", crt.Name, revision)
	cr := &cmv1.CertificateRequest{}
	err := r.Reader.Get(ctx, types.NamespacedName{Namespace: crt.Namespace, Name: crName}, cr)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	if apierrors.IsNotFound(err) {
		// The cached Secret may be behind a just-completed issuance: decide
		// on the live one before asking the issuer again.
		live, err := r.liveSecret(ctx, crt)
		if err != nil {
			return ctrl.Result{}, err
		}
		if d = certpolicy.Check(crt, request, live, now); !d.Issue {
			return r.upToDate(ctx, crt, request, live, d.Current, now)
		}
		return r.requestExternal(ctx, crt, request, d, crName, revision, now)
	}
	if !metav1.IsControlledBy(cr, crt) || cr.Annotations[certpolicy.AnnotationRequestHash] != request.Hash ||
		!equalRefs(cr.Spec.IssuerRef, crt.Spec.IssuerRef) {
		// A request for another spec, issuer or Certificate of this name:
		// ask again.
		return ctrl.Result{RequeueAfter: retrySoon}, client.IgnoreNotFound(r.Writer.Delete(ctx, cr))
	}
	// A failure of this request already counted (and its backoff, checked
	// by the caller, has passed): drop it and ask again.
	failureRecorded := crt.Status.LastFailureTime != nil && !crt.Status.LastFailureTime.Time.Before(crReadyAt(cr))
	state := crpolicy.StateOf(cr)
	switch {
	case (state.Ready || state.Failed || state.Denied) && failureRecorded:
		return ctrl.Result{RequeueAfter: retrySoon}, client.IgnoreNotFound(r.Writer.Delete(ctx, cr))
	case state.Ready && len(cr.Status.Certificate) > 0:
		return r.completeExternal(ctx, crt, request, secret, cr, d, revision, now)
	case state.Failed || state.Denied:
		msg := fmt.Sprintf("CertificateRequest %q failed", crName)
		if c := crpolicy.FindCondition(cr.Status.Conditions, "Ready"); c != nil {
			msg += ": " + c.Message
		}
		return r.failed(ctx, crt, d, msg, now)
	default:
		return ctrl.Result{}, nil // the request's watch brings us back
	}
}

func equalRefs(a, b cmv1.ObjectReference) bool {
	return a.Name == b.Name && a.Kind == b.Kind && a.Group == b.Group
}

// requestExternal keeps the next key in a Secret and creates the request.
func (r *CertificateReconciler) requestExternal(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, d certpolicy.Decision, crName string, revision int, now time.Time) (ctrl.Result, error) {
	key, keySecret, err := r.nextKey(ctx, crt, request, d)
	if err != nil {
		return ctrl.Result{}, err
	}
	if crt.Status.NextPrivateKeySecretName == nil || *crt.Status.NextPrivateKeySecretName != keySecret {
		next := crt.DeepCopy()
		next.Status.NextPrivateKeySecretName = &keySecret
		setCondition(&next.Status, cmv1.CertificateCondition{Type: "Issuing", Status: cmv1.ConditionTrue, Reason: d.Reason, Message: d.Message, ObservedGeneration: crt.Generation}, now)
		if !r.stillValid(crt, d, now) {
			// Until the issuer answers, Ready says why there is no
			// certificate yet, as in process (and cert-manager's readiness).
			setCondition(&next.Status, cmv1.CertificateCondition{Type: "Ready", Status: cmv1.ConditionFalse, Reason: d.Reason, Message: d.Message, ObservedGeneration: crt.Generation}, now)
		}
		if err := r.Status.Update(ctx, next); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			return ctrl.Result{}, err
		}
	}
	csrPEM, err := pki.CreateTemplateCSR(r.rand(), request.Template, key)
	if err != nil {
		return r.failed(ctx, crt, d, fmt.Sprintf("creating the certificate request: %v", err), now)
	}
	usages := make([]cmv1.KeyUsage, len(request.Template.Usages))
	for i, u := range request.Template.Usages {
		usages[i] = cmv1.KeyUsage(u)
	}
	t := true
	cr := &cmv1.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: crt.Namespace, Name: crName,
			// The Certificate's labels, as cert-manager copies them: ACME
			// solvers select by them through the Order.
			Labels: maps.Clone(crt.Labels),
			Annotations: map[string]string{
				certpolicy.AnnotationCertName:           crt.Name,
				annotationCRRevision:                    strconv.Itoa(revision),
				crpolicy.AnnotationPrivateKeySecretName: keySecret,
				certpolicy.AnnotationRequestHash:        request.Hash,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cmv1.GroupVersion.String(), Kind: "Certificate", Name: crt.Name, UID: crt.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: cmv1.CertificateRequestSpec{
			Duration: &metav1.Duration{Duration: request.Template.Duration}, IssuerRef: crt.Spec.IssuerRef,
			Request: csrPEM, IsCA: crt.Spec.IsCA, Usages: usages,
		},
	}
	if err := r.Writer.Create(ctx, cr); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, err
	}
	r.Events.Eventf(crt, nil, corev1.EventTypeNormal, "Requested", "Issue", "Created new CertificateRequest resource %q", crName)
	return ctrl.Result{}, nil
}

// nextKey finds the key waiting for this issuance, or makes one and keeps
// it in a new Secret, and returns it with that Secret's name.
func (r *CertificateReconciler) nextKey(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, d certpolicy.Decision) (crypto.Signer, string, error) {
	if name := crt.Status.NextPrivateKeySecretName; name != nil {
		// Live: the cache holds no private keys.
		s := &corev1.Secret{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: crt.Namespace, Name: *name}, s)
		if err == nil {
			if k, err := pki.ParsePrivateKeyPEM(s.Data[corev1.TLSPrivateKeyKey]); err == nil {
				return k, *name, nil
			}
		} else if !apierrors.IsNotFound(err) {
			return nil, "", err
		}
	}
	key, err := r.keyFor(crt, request, d)
	if err != nil {
		return nil, "", err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
	if err != nil {
		return nil, "", err
	}
	t := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: crt.Namespace, GenerateName: crt.Name + "-",
			Labels: map[string]string{certpolicy.LabelCached: "true", labelNextPrivateKey: "true"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cmv1.GroupVersion.String(), Kind: "Certificate", Name: crt.Name, UID: crt.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM},
	}
	if err := r.Writer.Create(ctx, s); err != nil {
		return nil, "", err
	}
	return key, s.Name, nil
}

// completeExternal writes the issued certificate and its waiting key into
// the Certificate's Secret, then cleans up.
func (r *CertificateReconciler) completeExternal(ctx context.Context, crt *cmv1.Certificate, request *certpolicy.Request, secret *corev1.Secret, cr *cmv1.CertificateRequest, d certpolicy.Decision, revision int, now time.Time) (ctrl.Result, error) {
	chain, err := pki.ParseCertificatesPEM(cr.Status.Certificate)
	if err != nil {
		return r.failed(ctx, crt, d, fmt.Sprintf("CertificateRequest %q holds an invalid certificate: %v", cr.Name, err), now)
	}
	keyName := cr.Annotations[crpolicy.AnnotationPrivateKeySecretName]
	ks := &corev1.Secret{}
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: crt.Namespace, Name: keyName}, ks) // the cache holds no keys
	if err != nil {
		if apierrors.IsNotFound(err) {
			// The key is gone: ask again with a new one.
			return ctrl.Result{}, client.IgnoreNotFound(r.Writer.Delete(ctx, cr))
		}
		return ctrl.Result{}, err
	}
	key, err := pki.ParsePrivateKeyPEM(ks.Data[corev1.TLSPrivateKeyKey])
	if err != nil || !pki.KeyMatches(chain[0].PublicKey, key) {
		return r.failed(ctx, crt, d, fmt.Sprintf("the certificate of CertificateRequest %q does not match its private key", cr.Name), now)
	}
	if !now.Before(chain[0].NotAfter) {
		return r.failed(ctx, crt, d, fmt.Sprintf("CertificateRequest %q was issued a certificate that expired on %s", cr.Name, chain[0].NotAfter.UTC().Format(time.RFC3339)), now)
	}
	out := &certpolicy.Issued{Key: key, KeyFormat: request.KeyFormat, RequestHash: request.Hash, Revision: revision}
	for _, c := range chain {
		if !pki.IsSelfSigned(c) || c == chain[0] {
			out.Chain = append(out.Chain, c)
		}
	}
	if cas, err := pki.ParseCertificatesPEM(cr.Status.CA); err == nil {
		out.CA, out.CABundle = cas[0], cr.Status.CA // ca.crt as the issuer gave it
	}
	pw, err := r.passwords(ctx, crt)
	if err != nil {
		return r.waitForPasswords(ctx, crt, d, err, now)
	}
	if err := r.writeSecret(ctx, crt, secret, out, pw); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if secretRefused(err) {
			return r.failed(ctx, crt, d, secretRefusedMessage(crt, err), now)
		}
		return ctrl.Result{}, err
	}
	issuedTotal.WithLabelValues("external", d.Reason).Inc()
	// Sent before the status update, whose retry would find nothing to issue.
	r.Events.Eventf(crt, nil, corev1.EventTypeNormal, reasonIssuing, "Issue",
		"The certificate has been successfully issued (revision %d, serial %s) by %s %q", revision, chain[0].SerialNumber.Text(16), crt.Spec.IssuerRef.Kind, crt.Spec.IssuerRef.Name)
	next := crt.DeepCopy()
	next.Status.NextPrivateKeySecretName = nil
	if err := r.ready(ctx, next, chain[0], revision, now); err != nil {
		return ctrl.Result{}, err
	}
	observeIssued(crt, now)
	if err := r.deleteNextKeys(ctx, crt); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.pruneRequests(ctx, crt, revision); err != nil {
		return ctrl.Result{}, err
	}
	return r.requeueAt(crt, chain[0], now), nil
}

// pruneRequests keeps the newest revisionHistoryLimit (default 1) requests.
func (r *CertificateReconciler) pruneRequests(ctx context.Context, crt *cmv1.Certificate, revision int) error {
	limit := 1
	if p := crt.Spec.RevisionHistoryLimit; p != nil && *p > 0 {
		limit = int(*p)
	}
	var list cmv1.CertificateRequestList
	if err := r.Reader.List(ctx, &list, client.InNamespace(crt.Namespace)); err != nil {
		return err
	}
	var revs []int
	byRev := map[int]*cmv1.CertificateRequest{}
	for i := range list.Items {
		cr := &list.Items[i]
		if !metav1.IsControlledBy(cr, crt) {
			continue
		}
		n, err := strconv.Atoi(cr.Annotations[annotationCRRevision])
		if err != nil || n > revision {
			continue
		}
		revs = append(revs, n)
		byRev[n] = cr
	}
	slices.Sort(revs)
	for len(revs) > limit {
		if err := r.Writer.Delete(ctx, byRev[revs[0]]); client.IgnoreNotFound(err) != nil {
			return err
		}
		revs = revs[1:]
	}
	return nil
}

// deleteNextKeys deletes every next-private-key Secret the Certificate
// owns: once issued, none is needed, and they hold private keys.
func (r *CertificateReconciler) deleteNextKeys(ctx context.Context, crt *cmv1.Certificate) error {
	var list corev1.SecretList
	if err := r.Secrets.List(ctx, &list, client.InNamespace(crt.Namespace), client.MatchingLabels{labelNextPrivateKey: "true"}); err != nil {
		return err
	}
	for i := range list.Items {
		if s := &list.Items[i]; metav1.IsControlledBy(s, crt) {
			if err := r.Writer.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}
