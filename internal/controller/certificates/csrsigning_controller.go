// Package controller holds certplane's controller-runtime reconcilers, one
// per file. Each fetches, asks internal/csrpolicy what to do, and writes the
// result; the decisions themselves live there as pure functions.
package certificates

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// eventRecorder is what the reconcilers need of an events.k8s.io recorder.
type eventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// ReasonSignerUnavailable is the reason of the Warning Event on a request
// the signer could not sign yet because its CA or its key could not be
// used (a key in a PKCS#11 token that refuses, say); it is tried again.
const ReasonSignerUnavailable = "SignerUnavailable"

// CASource yields the current CA of a signer.
type CASource interface {
	CA() (*pki.CA, error)
}

var signedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "certplane_csr_signed_total",
	Help: "Certificates issued for CertificateSigningRequests, by signer.",
}, []string{"signer"})

var failedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "certplane_csr_failed_total",
	Help: "CertificateSigningRequests marked Failed, by signer and reason.",
}, []string{"signer", "reason"})

// Metrics are the collectors the CSR controllers export.
func Metrics() []prometheus.Collector {
	return []prometheus.Collector{signedTotal, failedTotal}
}

// CSRSigningReconciler signs approved CertificateSigningRequests for the
// signers it holds a CA for, with kube-controller-manager's rules.
type CSRSigningReconciler struct {
	Reader client.Reader
	Status client.SubResourceWriter
	Events eventRecorder
	// CAs maps each served signer name to its CA.
	CAs map[string]CASource
	// MaxDuration is --cluster-signing-duration. If zero, 8760h.
	MaxDuration time.Duration
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Rand is the entropy for serials. If nil, crypto/rand.
	Rand io.Reader
	// Workers is how many requests are signed at once. If zero, 32:
	// signing takes well under a millisecond, the status write tens to
	// hundreds of milliseconds on a busy apiserver, so a worker mostly
	// waits, and few workers leave approved requests queued behind them
	// (kube-controller-manager's 5 do).
	Workers int
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=kubernetes.io/kube-apiserver-client;kubernetes.io/kube-apiserver-client-kubelet;kubernetes.io/kubelet-serving;kubernetes.io/legacy-unknown,verbs=sign
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile signs one request if it is approved and ready.
func (r *CSRSigningReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certv1.CertificateSigningRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	src, served := r.CAs[csr.Spec.SignerName]
	if !served || !csrpolicy.ReadyToSign(csrpolicy.StateOf(csr)) {
		return ctrl.Result{}, nil
	}
	signer := csr.Spec.SignerName
	parsed, err := csrpolicy.ParseRequest(signer, csr.Spec.Request)
	if err == nil {
		err = csrpolicy.Validate(signer, parsed, csr.Spec.Usages)
	}
	var rule *csrpolicy.RuleError
	if errors.As(err, &rule) {
		return ctrl.Result{}, r.fail(ctx, csr, csrpolicy.ReasonSignerValidationFailure, err.Error())
	}
	ca, err := src.CA()
	if err != nil {
		// A CA file being replaced, or a token that cannot be reached
		// (its error names the key URI, never the PIN): say so, try again.
		r.Events.Eventf(csr, nil, corev1.EventTypeWarning, ReasonSignerUnavailable, "Sign", "%s", err.Error())
		return ctrl.Result{}, err
	}
	now := r.now()
	rnd := r.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	cert, err := ca.Issue(rnd, now, csrpolicy.Template(parsed, csr.Spec.Usages, csrpolicy.Duration(csr.Spec.ExpirationSeconds, r.maxDuration())), parsed.PublicKey)
	if errors.Is(err, pki.ErrCAExpired) {
		return ctrl.Result{}, r.fail(ctx, csr, csrpolicy.ReasonSigningFailed, "refusing to sign: "+err.Error())
	}
	if err != nil {
		// A key in a token that stopped answering, say: tried again.
		r.Events.Eventf(csr, nil, corev1.EventTypeWarning, ReasonSignerUnavailable, "Sign", "signing: %s", err.Error())
		return ctrl.Result{}, fmt.Errorf("signing: %w", err)
	}
	csr.Status.Certificate = pki.EncodeCertificatesPEM(cert)
	if err := r.Status.Update(ctx, csr); err != nil {
		// A conflict means someone else wrote first; the watch brings the
		// new version, which is issued or still ready.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// No Event on success, as kube-controller-manager: the certificate in
	// the status says it, and an Event would be a second write per request.
	signedTotal.WithLabelValues(signer).Inc()
	ObserveCSRIssued(csr, now)
	return ctrl.Result{}, nil
}

// fail marks the request Failed; it is not retried.
func (r *CSRSigningReconciler) fail(ctx context.Context, csr *certv1.CertificateSigningRequest, reason, message string) error {
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
	failedTotal.WithLabelValues(csr.Spec.SignerName, reason).Inc()
	r.Events.Eventf(csr, nil, corev1.EventTypeWarning, reason, "Sign", "%s", message)
	return nil
}

func (r *CSRSigningReconciler) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *CSRSigningReconciler) maxDuration() time.Duration {
	if r.MaxDuration == 0 {
		return 8760 * time.Hour
	}
	return r.MaxDuration
}

// SetupWithManager watches CertificateSigningRequests of the served signers.
func (r *CSRSigningReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.Workers
	if workers == 0 {
		workers = 32
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&certv1.CertificateSigningRequest{}).
		WithEventFilter(predicate.NewPredicateFuncs(func(o client.Object) bool {
			csr, ok := o.(*certv1.CertificateSigningRequest)
			if !ok {
				return false
			}
			_, served := r.CAs[csr.Spec.SignerName]
			return served
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("csrsigning").
		Complete(r)
}
