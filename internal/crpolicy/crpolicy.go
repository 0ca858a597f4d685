// Package crpolicy holds the decisions about cert-manager.io
// CertificateRequests as pure functions, with cert-manager's conditions,
// reasons and messages: whether a request still needs approval, whether it
// is ready to sign or already final, which signer name guards its approval,
// what certificate it asks for, and the Ready condition to write. Nothing
// here does I/O or reads the clock.
package crpolicy

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// Condition types of a CertificateRequest.
const (
	ConditionApproved       = "Approved"
	ConditionDenied         = "Denied"
	ConditionReady          = "Ready"
	ConditionInvalidRequest = "InvalidRequest"
)

// Reasons and messages cert-manager writes.
const (
	// ReasonApproved and MessageApproved are those of cert-manager's
	// built-in approver.
	ReasonApproved  = "cert-manager.io"
	MessageApproved = "Certificate request has been approved by cert-manager.io"

	ReasonPending = "Pending"
	ReasonFailed  = "Failed"
	ReasonIssued  = "Issued"
	ReasonDenied  = "Denied"

	MessageIssued         = "Certificate fetched from issuer successfully"
	MessageDenied         = "The CertificateRequest was denied by an approval controller"
	MessageIssuerNotReady = "Referenced issuer does not have a Ready status condition"
)

// AnnotationPrivateKeySecretName names the Secret, in the request's
// namespace, whose tls.key a selfSigned issuer signs the request with.
const AnnotationPrivateKeySecretName = "cert-manager.io/private-key-secret-name"

// DefaultDuration is cert-manager's validity when spec.duration is unset.
const DefaultDuration = 2160 * time.Hour

// The group and kinds of cert-manager's own issuers.
const (
	GroupCertManager  = "cert-manager.io"
	KindIssuer        = "Issuer"
	KindClusterIssuer = "ClusterIssuer"
)

// State is what a request's conditions say.
type State struct {
	// Approved and Denied are the approval conditions with status True.
	Approved, Denied bool
	// Ready is Ready=True; Failed is Ready=False with reason Failed or
	// Denied, after which cert-manager never touches a request again.
	Ready, Failed bool
}

// StateOf reads a request's state.
func StateOf(cr *cmv1.CertificateRequest) State {
	var s State
	for _, c := range cr.Status.Conditions {
		switch {
		case c.Type == ConditionApproved && c.Status == cmv1.ConditionTrue:
			s.Approved = true
		case c.Type == ConditionDenied && c.Status == cmv1.ConditionTrue:
			s.Denied = true
		case c.Type == ConditionReady && c.Status == cmv1.ConditionTrue:
			s.Ready = true
		case c.Type == ConditionReady && c.Status == cmv1.ConditionFalse && (c.Reason == ReasonFailed || c.Reason == ReasonDenied):
			s.Failed = true
		}
	}
	return s
}

// Final reports whether the request has its outcome: issued, failed or
// denied.
func (s State) Final() bool { return s.Ready || s.Failed }

// ReadyToSign reports whether a signer should sign now: approved, not
// denied, and without an outcome.
func (s State) ReadyToSign() bool { return s.Approved && !s.Denied && !s.Final() }

// NeedsApproval reports whether the request has neither an Approved nor a
// Denied condition, whatever their status: only then does the built-in
// approver approve it.
func NeedsApproval(cr *cmv1.CertificateRequest) bool {
	for _, c := range cr.Status.Conditions {
		if c.Type == ConditionApproved || c.Type == ConditionDenied {
			return false
		}
	}
	return true
}

// ApprovedCondition is the condition cert-manager's approver adds.
func ApprovedCondition() cmv1.CertificateRequestCondition {
	return cmv1.CertificateRequestCondition{Type: ConditionApproved, Status: cmv1.ConditionTrue, Reason: ReasonApproved, Message: MessageApproved}
}

// Group is the reference's group, cert-manager.io when unset.
func Group(ref cmv1.ObjectReference) string {
	if ref.Group == "" {
		return GroupCertManager
	}
	return ref.Group
}

// Kind is the reference's kind, Issuer when unset.
func Kind(ref cmv1.ObjectReference) string {
	if ref.Kind == "" {
		return KindIssuer
	}
	return ref.Kind
}

// BuiltIn reports whether ref names one of cert-manager.io's own kinds,
// which certplane signs for.
func BuiltIn(ref cmv1.ObjectReference) bool {
	k := Kind(ref)
	return Group(ref) == GroupCertManager && (k == KindIssuer || k == KindClusterIssuer)
}

// ClusterScoped reports whether ref names a cluster-scoped issuer. For
// cert-manager.io that is ClusterIssuer; cert-manager asks discovery about
// other groups, which a policy cannot, so a kind containing "Cluster" (as
// in StepClusterIssuer or AWSPCAClusterIssuer) is taken to be one.
func ClusterScoped(ref cmv1.ObjectReference) bool {
	if Group(ref) == GroupCertManager {
		return Kind(ref) == KindClusterIssuer
	}
	return strings.Contains(Kind(ref), "Cluster")
}

// Plural guesses a kind's resource name as Kubernetes does when it has no
// discovery: lower case, then "es" after an s, "ies" for a final y, else
// "s".
func Plural(kind string) string {
	l := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(l, "s"):
		return l + "es"
	case strings.HasSuffix(l, "y"):
		return strings.TrimSuffix(l, "y") + "ies"
	default:
		return l + "s"
	}
}

// SignerName is the name of the signers.cert-manager.io resource whose
// approve verb lets a user approve or deny requests of namespace for ref:
// "issuers.cert-manager.io/<namespace>.<name>" for an Issuer,
// "clusterissuers.cert-manager.io/<name>" for a ClusterIssuer.
func SignerName(namespace string, ref cmv1.ObjectReference) string {
	prefix := signerPrefix(ref)
	if ClusterScoped(ref) {
		return prefix + ref.Name
	}
	return prefix + namespace + "." + ref.Name
}

// SignerWildcard is the signer name that covers every issuer of ref's kind,
// such as "issuers.cert-manager.io/*". RBAC has no wildcard resource names:
// it is a literal name granted to approvers of all of them.
func SignerWildcard(ref cmv1.ObjectReference) string {
	return signerPrefix(ref) + "*"
}

func signerPrefix(ref cmv1.ObjectReference) string {
	return Plural(Kind(ref)) + "." + Group(ref) + "/"
}

// Usages maps spec.usages to pki's names, with cert-manager's defaults:
// "digital signature" and "key encipherment" when none are given, and
// "cert sign" added for a CA.
func Usages(spec *cmv1.CertificateRequestSpec) []pki.Usage {
	var out []pki.Usage
	for _, u := range spec.Usages {
		out = append(out, pki.Usage(u))
	}
	if len(out) == 0 {
		out = []pki.Usage{pki.UsageDigitalSignature, pki.UsageKeyEncipherment}
	}
	if spec.IsCA && !hasUsage(out, pki.UsageCertSign) {
		out = append(out, pki.UsageCertSign)
	}
	return out
}

func hasUsage(us []pki.Usage, u pki.Usage) bool {
	for _, x := range us {
		if x == u {
			return true
		}
	}
	return false
}

// Duration is spec.duration, DefaultDuration when unset.
func Duration(spec *cmv1.CertificateRequestSpec) time.Duration {
	if spec.Duration == nil || spec.Duration.Duration <= 0 {
		return DefaultDuration
	}
	return spec.Duration.Duration
}

// Template is the certificate a request asks for: the CSR's subject and
// SANs, spec's usages, duration and isCA.
func Template(csr *x509.CertificateRequest, spec *cmv1.CertificateRequestSpec) *pki.Template {
	t := pki.TemplateFromCSR(csr, Usages(spec))
	t.Duration = Duration(spec)
	t.IsCA = spec.IsCA
	return t
}

// PendingMessage is the Ready message of a request whose issuer cannot
// sign: notFound when the issuer does not exist, reason and message from
// its readiness otherwise.
func PendingMessage(notFound bool, message string) string {
	switch {
	case notFound:
		return "Referenced " + message
	case message == "":
		return MessageIssuerNotReady
	default:
		return fmt.Sprintf("%s: %s", MessageIssuerNotReady, message)
	}
}

// MessageBadRequest prefixes the message of a spec.request that cannot be
// read, as cert-manager prefixes it.
const MessageBadRequest = "Failed to decode CSR in spec.request: "

// RequestError is the Ready message for a spec.request that pki cannot
// read (err from pki.ParseCSRPEM): one sentence in the user's terms, what
// spec.request holds instead of a PKCS#10 request or why it is refused,
// never the parser's internals.
func RequestError(request []byte, err error) string {
	return MessageBadRequest + describeParseError("it", "certificate request", request, err)
}

// KeyError is the Pending message for a selfSigned issuer's Secret whose
// tls.key pki cannot read (err from pki.ParsePrivateKeyPEM).
func KeyError(secret string, data []byte, err error) string {
	return fmt.Sprintf("Failed to get key %q referenced in annotation %q: %s", secret, AnnotationPrivateKeySecretName,
		describeParseError("tls.key", "private key", data, err))
}

// describeParseError says why data, called subject, is not the PEM object
// want: what it holds instead, that it is no PEM or a damaged block, that
// its DER does not parse, or why pki refuses it.
func describeParseError(subject, want string, data []byte, err error) string {
	its := subject + "'s"
	if subject == "it" {
		its = "its"
	}
	switch {
	case errors.Is(err, pki.ErrNoPEM):
		if held := pki.DescribePEM(data); held != "" {
			return fmt.Sprintf("%s holds %s, not a %s", subject, held, want)
		}
		if bytes.Contains(data, []byte("-----BEGIN ")) {
			return fmt.Sprintf("%s holds a damaged or truncated PEM block, not a readable %s", subject, want)
		}
		return fmt.Sprintf("%s is not PEM-encoded: want a %s in PEM", subject, want)
	case errors.Is(err, pki.ErrBadSignature):
		return its + " signature does not verify, so the requester has not shown that it holds the private key"
	case errors.Is(err, pki.ErrEncryptedKey):
		return subject + " is encrypted with a passphrase"
	case errors.Is(err, pki.ErrWeakKey), errors.Is(err, pki.ErrUnsupportedKey):
		return its + " key is refused: " + strings.TrimPrefix(err.Error(), "pki: ")
	case strings.HasPrefix(err.Error(), "pki: parsing "):
		return fmt.Sprintf("%s is not a valid %s: its DER does not parse", subject, want)
	}
	return subject + " cannot be read: " + strings.TrimPrefix(err.Error(), "pki: ")
}

// Pending is Ready=False reason Pending: the issuer cannot sign yet.
func Pending(message string) cmv1.CertificateRequestCondition {
	return readyCondition(cmv1.ConditionFalse, ReasonPending, message)
}

// Failed is Ready=False reason Failed.
func Failed(message string) cmv1.CertificateRequestCondition {
	return readyCondition(cmv1.ConditionFalse, ReasonFailed, message)
}

// Denied is Ready=False reason Denied.
func Denied() cmv1.CertificateRequestCondition {
	return readyCondition(cmv1.ConditionFalse, ReasonDenied, MessageDenied)
}

// Issued is Ready=True reason Issued.
func Issued() cmv1.CertificateRequestCondition {
	return readyCondition(cmv1.ConditionTrue, ReasonIssued, MessageIssued)
}

// InvalidRequest marks a request that can never be signed as it is.
func InvalidRequest(message string) cmv1.CertificateRequestCondition {
	return cmv1.CertificateRequestCondition{Type: ConditionInvalidRequest, Status: cmv1.ConditionTrue, Reason: ReasonFailed, Message: message}
}

func readyCondition(status cmv1.ConditionStatus, reason, message string) cmv1.CertificateRequestCondition {
	return cmv1.CertificateRequestCondition{Type: ConditionReady, Status: status, Reason: reason, Message: message}
}

// FindCondition returns the condition of type typ, or nil.
func FindCondition(cs []cmv1.CertificateRequestCondition, typ string) *cmv1.CertificateRequestCondition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// SetCondition puts cond into st. Its transition time is now when it is new
// or its status changes, else the one it had.
func SetCondition(st *cmv1.CertificateRequestStatus, cond cmv1.CertificateRequestCondition, now time.Time) {
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	if c := FindCondition(st.Conditions, cond.Type); c != nil {
		cond.LastTransitionTime = c.LastTransitionTime
		if c.Status != cond.Status || cond.LastTransitionTime == nil {
			cond.LastTransitionTime = &t
		}
		*c = cond
		return
	}
	cond.LastTransitionTime = &t
	st.Conditions = append(st.Conditions, cond)
}
