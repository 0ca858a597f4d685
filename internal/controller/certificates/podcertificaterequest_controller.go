package certificates

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authnv1 "k8s.io/api/authentication/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/certplane/certplane/internal/podcertpolicy"
	"github.com/certplane/certplane/internal/requestpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// PodSigner is one signer of PodCertificateRequests: it says which signer
// names it serves, and for a request, the CA that signs it, the
// certificates that follow the leaf in its chain, and the rules.
type PodSigner interface {
	Serves(signerName string) bool
	Signer(ctx context.Context, pcr *certv1.PodCertificateRequest, now time.Time) (*PodCA, error)
}

// PodCA is what signs one request.
type PodCA struct {
	CA *pki.CA
	// Chain follows the leaf in status.certificateChain: intermediates,
	// no self-signed root.
	Chain []*x509.Certificate
	Rules podcertpolicy.Rules
}

// PodSignerError is a signer that cannot sign a request. With Wait, it may
// later (an issuer that is not ready yet): the request waits, for at most
// podSignerPatience from its creation, and is then Failed.
type PodSignerError struct {
	Reason, Message string
	Wait            bool
}

func (e *PodSignerError) Error() string { return e.Message }

// podSignerPatience is how long a request waits for its signer to become
// able to sign before it is Failed: kubelet gives up on a request without
// a condition, and the cleaner deletes it after 15 minutes.
const podSignerPatience = time.Minute

var (
	pcrTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certplane_podcertificaterequests_total",
		Help: "PodCertificateRequests handled, by signer and outcome (Issued, Denied, Failed).",
	}, []string{"signer", "outcome"})
)

// PodCertificateMetrics are the collectors the PodCertificateRequest
// signers export.
func PodCertificateMetrics() []prometheus.Collector {
	return []prometheus.Collector{pcrTotal}
}

// PodCertificateRequestReconciler signs PodCertificateRequests
// (certificates.k8s.io/v1) for its signers: Issued, Denied or Failed in one
// status write, no Event on success. It leaves alone requests of other
// signers, requests already decided, and requests the cleaner is about to
// delete.
type PodCertificateRequestReconciler struct {
	Reader  client.Reader
	Status  client.SubResourceWriter
	Events  eventRecorder
	Signers []PodSigner
	// Policy, if set, denies what the CertificateRequestPolicies that
	// select a request do not allow its pod's ServiceAccount; with
	// RequirePolicy, also what none selects.
	Policy        issuancePolicy
	RequirePolicy bool
	// Workers is how many requests are handled at once. If zero, 16.
	Workers int
	Now     func() time.Time
	Rand    io.Reader
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=podcertificaterequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=podcertificaterequests/status,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=sign,resourceNames=certplane.io/spiffe;issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*

// Reconcile decides one request.
func (r *PodCertificateRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pcr := &certv1.PodCertificateRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, pcr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.now()
	signer := r.signerFor(pcr.Spec.SignerName)
	if signer == nil || !podcertpolicy.Pending(pcr, now) {
		return ctrl.Result{}, nil
	}
	ca, err := signer.Signer(ctx, pcr, now)
	var se *PodSignerError
	switch {
	case errors.As(err, &se) && se.Wait && now.Sub(pcr.CreationTimestamp.Time) < podSignerPatience:
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	case errors.As(err, &se):
		return ctrl.Result{}, r.finish(ctx, pcr, podcertpolicy.ConditionFailed, se.Reason, se.Message, now)
	case err != nil:
		return ctrl.Result{}, err
	}
	d := podcertpolicy.Decide(pcr, ca.Rules)
	switch {
	case d.Deny:
		return ctrl.Result{}, r.finish(ctx, pcr, podcertpolicy.ConditionDenied, d.Reason, d.Message, now)
	case d.Fail:
		return ctrl.Result{}, r.finish(ctx, pcr, podcertpolicy.ConditionFailed, d.Reason, d.Message, now)
	}
	if r.Policy != nil {
		msg, err := r.policyDenies(ctx, pcr, d)
		if err != nil {
			return ctrl.Result{}, err
		}
		if msg != "" {
			return ctrl.Result{}, r.finish(ctx, pcr, podcertpolicy.ConditionDenied, ReasonPolicyDenied, msg, now)
		}
	}
	leaf, err := ca.CA.Issue(r.rand(), now, d.Template, d.PublicKey)
	if err != nil {
		return ctrl.Result{}, r.finish(ctx, pcr, podcertpolicy.ConditionFailed, podcertpolicy.ReasonSigningFailed, fmt.Sprintf("signing: %v", err), now)
	}
	refresh, ok := podcertpolicy.BeginRefreshAt(leaf.NotBefore, leaf.NotAfter, []byte(pcr.Spec.PodUID))
	if lifetime := leaf.NotAfter.Sub(leaf.NotBefore); !ok || lifetime < podcertpolicy.MinLifetime {
		return ctrl.Result{}, r.finish(ctx, pcr, podcertpolicy.ConditionFailed, podcertpolicy.ReasonSigningFailed,
			fmt.Sprintf("the signing CA expires at %s, leaving %s, under the hour a pod certificate must last", ca.CA.Certificate.NotAfter.UTC().Format(time.RFC3339), lifetime.Round(time.Second)), now)
	}
	next := pcr.DeepCopy()
	next.Status.Conditions = []metav1.Condition{{
		Type: podcertpolicy.ConditionIssued, Status: metav1.ConditionTrue, Reason: d.Reason,
		Message:            fmt.Sprintf("issued by %s, valid until %s", pcr.Spec.SignerName, leaf.NotAfter.UTC().Format(time.RFC3339)),
		LastTransitionTime: metav1.NewTime(now),
	}}
	next.Status.CertificateChain = string(pki.EncodeCertificatesPEM(append([]*x509.Certificate{leaf}, ca.Chain...)...))
	nb, na, br := metav1.NewTime(leaf.NotBefore), metav1.NewTime(leaf.NotAfter), metav1.NewTime(refresh)
	next.Status.NotBefore, next.Status.NotAfter, next.Status.BeginRefreshAt = &nb, &na, &br
	if err := r.Status.Update(ctx, next); err != nil {
		// A newer version is looked at again; a deleted request is gone.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	pcrTotal.WithLabelValues(pcr.Spec.SignerName, podcertpolicy.ConditionIssued).Inc()
	ObserveIssuance(KindPodCertificateRequest, SignerIssuerKind(pcr.Spec.SignerName), pcr.CreationTimestamp.Time, now)
	return ctrl.Result{}, nil
}

// finish writes a Denied or Failed condition, with a Warning event.
func (r *PodCertificateRequestReconciler) finish(ctx context.Context, pcr *certv1.PodCertificateRequest, typ, reason, message string, now time.Time) error {
	next := pcr.DeepCopy()
	next.Status.Conditions = []metav1.Condition{{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now)}}
	if err := r.Status.Update(ctx, next); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	pcrTotal.WithLabelValues(pcr.Spec.SignerName, typ).Inc()
	r.Events.Eventf(pcr, nil, corev1.EventTypeWarning, reason, "Sign", "%s: %s", typ, message)
	return nil
}

func (r *PodCertificateRequestReconciler) signerFor(name string) PodSigner {
	for _, s := range r.Signers {
		if s.Serves(name) {
			return s
		}
	}
	return nil
}

func (r *PodCertificateRequestReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *PodCertificateRequestReconciler) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}

// SetupWithManager watches the PodCertificateRequests of its signers that
// are still undecided.
func (r *PodCertificateRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.Workers
	if workers <= 0 {
		workers = 16
	}
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		pcr, ok := o.(*certv1.PodCertificateRequest)
		return ok && r.signerFor(pcr.Spec.SignerName) != nil && !podcertpolicy.Terminal(pcr)
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&certv1.PodCertificateRequest{}, builder.WithPredicates(mine)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("podcertificaterequests").
		Complete(r)
}

// SPIFFESigner signs certplane.io/spiffe requests with a CA from files.
type SPIFFESigner struct {
	CA          CASource
	TrustDomain string
	// MaxLifetime caps the certificates' lifetime; zero is a day.
	MaxLifetime time.Duration
}

// Serves reports whether name is certplane.io/spiffe.
func (s *SPIFFESigner) Serves(name string) bool { return name == podcertpolicy.SPIFFESigner }

// Signer returns the SPIFFE CA, or a Failed reason when it cannot be read.
func (s *SPIFFESigner) Signer(_ context.Context, _ *certv1.PodCertificateRequest, now time.Time) (*PodCA, error) {
	ca, err := s.CA.CA()
	if err != nil {
		return nil, &PodSignerError{Reason: podcertpolicy.ReasonSigningFailed, Message: err.Error()}
	}
	if now.After(ca.Certificate.NotAfter) {
		return nil, &PodSignerError{Reason: podcertpolicy.ReasonSigningFailed, Message: fmt.Sprintf("the %s CA expired at %s", podcertpolicy.SPIFFESigner, ca.Certificate.NotAfter.UTC().Format(time.RFC3339))}
	}
	return &PodCA{CA: ca, Rules: podcertpolicy.Rules{TrustDomain: s.TrustDomain, MaxLifetime: s.MaxLifetime}}, nil
}

// ReasonPolicyDenied is a PodCertificateRequest's Denied reason when the
// CertificateRequestPolicies do not allow it.
const ReasonPolicyDenied = "PolicyDenied"

// policyDenies asks the policies about the certificate d would issue, for
// the pod's ServiceAccount; the message is empty when it may be issued.
func (r *PodCertificateRequestReconciler) policyDenies(ctx context.Context, pcr *certv1.PodCertificateRequest, d podcertpolicy.Decision) (string, error) {
	ref, _ := requestpolicy.SignerIssuerRef(pcr.Spec.SignerName)
	alg, bits := pki.KeyDescription(d.PublicKey)
	key := pki.KeySpec{Algorithm: pki.KeyAlgorithm(strings.ToLower(alg)), Size: bits}
	req := requestpolicy.FromTemplate(pcr.Namespace, pcr.Name, ref, d.Template, key)
	who := authnv1.UserInfo{Username: "system:serviceaccount:" + pcr.Namespace + ":" + pcr.Spec.ServiceAccountName, UID: string(pcr.Spec.ServiceAccountUID),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + pcr.Namespace, "system:authenticated"}}
	pd, err := r.Policy.Decide(ctx, req, who)
	switch {
	case err != nil:
		return "", err
	case pd.Selected && !pd.Approved:
		return pd.Message, nil
	case !pd.Selected && r.RequirePolicy:
		return requestpolicy.NoPolicyMessage, nil
	}
	return "", nil
}
