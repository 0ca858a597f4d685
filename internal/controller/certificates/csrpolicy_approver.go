package certificates

import (
	"context"
	"crypto/x509"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/internal/requestpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// ReasonPolicy is the reason of the Approved and Denied conditions the
// CertificateRequestPolicies decide.
const ReasonPolicy = "CertificateRequestPolicy"

// annotationRequestIsCA is cert-manager's annotation asking its signers
// for a CA certificate.
const annotationRequestIsCA = "experimental.cert-manager.io/request-is-ca"

// issuancePolicy decides requests by CertificateRequestPolicies
// (internal/controller/policy's Gate).
type issuancePolicy interface {
	Decide(ctx context.Context, r requestpolicy.Request, who authnv1.UserInfo) (requestpolicy.Decision, error)
}

// CSRPolicyApprover approves or denies certificates.k8s.io
// CertificateSigningRequests to the kubernetes.io signers and to the
// cert-manager issuer signers by the same CertificateRequestPolicies as
// cert-manager.io CertificateRequests, for the requester in the CSR's
// spec. A CSR that no policy selects is left alone: nothing is approved
// unless a policy allows it (the kubelet client rules of csrapproving
// aside).
type CSRPolicyApprover struct {
	Reader   client.Reader
	Approval client.SubResourceWriter
	Events   eventRecorder
	Policy   issuancePolicy
	Now      func() time.Time
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=kubernetes.io/*;issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*,verbs=approve

// Reconcile decides one CSR that a policy selects.
func (r *CSRPolicyApprover) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	csr := &certv1.CertificateSigningRequest{}
	if err := r.Reader.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if st := csrpolicy.StateOf(csr); st.Approved || st.Denied || st.Issued || !policySigner(csr.Spec.SignerName) {
		return ctrl.Result{}, nil
	}
	parsed, err := pki.ParseCSRPEM(csr.Spec.Request)
	if err != nil {
		return ctrl.Result{}, nil // the signer fails it
	}
	d, err := r.Policy.Decide(ctx, CSRRequest(csr, parsed), csrRequester(csr))
	if err != nil || !d.Selected {
		return ctrl.Result{}, err
	}
	cond := certv1.CertificateSigningRequestCondition{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: ReasonPolicy, Message: d.Message}
	eventType := corev1.EventTypeNormal
	if !d.Approved {
		cond.Type, eventType = certv1.CertificateDenied, corev1.EventTypeWarning
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	cond.LastUpdateTime, cond.LastTransitionTime = metav1.NewTime(now), metav1.NewTime(now)
	csr.Status.Conditions = append(csr.Status.Conditions, cond)
	if err := r.Approval.Update(ctx, csr); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // decided or gone meanwhile: the watch brings it
		}
		return ctrl.Result{}, err
	}
	r.Events.Eventf(csr, nil, eventType, ReasonPolicy, "Approve", "%s", d.Message)
	return ctrl.Result{}, nil
}

// CSRRequest is what the policies decide about a CSR: its request, the
// issuer its signer stands for, its usages, lifetime and (for the
// cert-manager signers) whether it asks for a CA.
func CSRRequest(csr *certv1.CertificateSigningRequest, parsed *x509.CertificateRequest) requestpolicy.Request {
	r := requestpolicy.FromCSR(parsed)
	r.IssuerRef, r.Namespace = requestpolicy.SignerIssuerRef(csr.Spec.SignerName)
	r.Name = csr.Name
	for _, u := range csr.Spec.Usages {
		r.Usages = append(r.Usages, string(u))
	}
	if s := csr.Spec.ExpirationSeconds; s != nil {
		r.Duration = time.Duration(*s) * time.Second
	}
	r.IsCA = csr.Annotations[annotationRequestIsCA] == "true"
	return r
}

func csrRequester(csr *certv1.CertificateSigningRequest) authnv1.UserInfo {
	who := authnv1.UserInfo{Username: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups}
	if len(csr.Spec.Extra) > 0 {
		who.Extra = map[string]authnv1.ExtraValue{}
		for k, v := range csr.Spec.Extra {
			who.Extra[k] = authnv1.ExtraValue(v)
		}
	}
	return who
}

// policySigner reports whether CSRs to signer are decided by policies.
func policySigner(signer string) bool {
	return strings.HasPrefix(signer, "kubernetes.io/") || strings.HasPrefix(signer, "issuers.cert-manager.io/") || strings.HasPrefix(signer, "clusterissuers.cert-manager.io/")
}

// SetupWithManager watches the CSRs not yet decided.
func (r *CSRPolicyApprover) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&certv1.CertificateSigningRequest{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			csr, ok := o.(*certv1.CertificateSigningRequest)
			if !ok || !policySigner(csr.Spec.SignerName) {
				return false
			}
			st := csrpolicy.StateOf(csr)
			return !st.Approved && !st.Denied && !st.Issued
		}))).
		Named("certificatesigningrequests-policy").
		Complete(r)
}
