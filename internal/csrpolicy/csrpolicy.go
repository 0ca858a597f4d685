// Package csrpolicy holds the decisions of the certificates.k8s.io
// controllers as pure functions: whether a CertificateSigningRequest is
// ready to sign, whether it passes its signer's rules, what certificate it
// gets, whether it may be approved automatically, and when it is deleted.
// They follow kube-controller-manager's csrsigning, csrapproving and
// csrcleaner controllers; nothing here does I/O or reads the clock.
package csrpolicy

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/certplane/certplane/pkg/pki"
)

// The signers kube-controller-manager serves.
const (
	KubeAPIServerClient        = certv1.KubeAPIServerClientSignerName
	KubeAPIServerClientKubelet = certv1.KubeAPIServerClientKubeletSignerName
	KubeletServing             = certv1.KubeletServingSignerName
	LegacyUnknown              = "kubernetes.io/legacy-unknown"
)

// SystemMasters is the group kube-apiserver grants every right without
// asking RBAC.
const SystemMasters = "system:masters"

// KubernetesSigners lists them.
var KubernetesSigners = []string{KubeAPIServerClient, KubeAPIServerClientKubelet, KubeletServing, LegacyUnknown}

// Condition reasons certplane writes.
const (
	ReasonSignerValidationFailure = "SignerValidationFailure"
	ReasonSigningFailed           = "SigningFailed"
	ReasonAutoApproved            = "AutoApproved"
)

// State is what the conditions and status of a request say.
type State struct {
	Approved, Denied, Failed, Issued bool
}

// StateOf reads a request's state.
func StateOf(csr *certv1.CertificateSigningRequest) State {
	var s State
	for _, c := range csr.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case certv1.CertificateApproved:
			s.Approved = true
		case certv1.CertificateDenied:
			s.Denied = true
		case certv1.CertificateFailed:
			s.Failed = true
		}
	}
	s.Issued = len(csr.Status.Certificate) > 0
	return s
}

// ReadyToSign reports whether a signer should act on a request: approved,
// not denied, not failed, not yet issued. Nothing is signed before
// approval or after denial.
func ReadyToSign(s State) bool {
	return s.Approved && !s.Denied && !s.Failed && !s.Issued
}

// RuleError is a request breaking a signer's rule. It is permanent: the
// request is marked Failed and not retried.
type RuleError struct {
	Signer string
	Rule   string
}

func (e *RuleError) Error() string { return e.Signer + ": " + e.Rule }

func ruleErr(signer, format string, args ...any) error {
	return &RuleError{Signer: signer, Rule: fmt.Sprintf(format, args...)}
}

// ParseRequest reads and verifies spec.request. Any failure is a RuleError.
func ParseRequest(signer string, request []byte) (*x509.CertificateRequest, error) {
	csr, err := pki.ParseCSRPEM(request)
	if err != nil {
		return nil, ruleErr(signer, "spec.request is not a valid PEM certificate request: %v", err)
	}
	return csr, nil
}

// Validate checks a parsed request and its usages against the signer's
// rules, which are kube-controller-manager's.
func Validate(signer string, csr *x509.CertificateRequest, usages []certv1.KeyUsage) error {
	for _, u := range usages {
		if _, _, err := pki.ParseUsages([]pki.Usage{pki.Usage(u)}); err != nil {
			return ruleErr(signer, "usage %q is not a known key usage", u)
		}
	}
	switch signer {
	case KubeAPIServerClient:
		allowed := []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth}
		for _, u := range usages {
			if !slices.Contains(allowed, u) {
				return ruleErr(signer, "usage %q is not allowed: only digital signature, key encipherment and client auth", u)
			}
		}
		if !slices.Contains(usages, certv1.UsageClientAuth) {
			return ruleErr(signer, "usages must include client auth")
		}
		// kube-apiserver's CertificateSubjectRestriction admission plugin
		// refuses these at creation; the signer refuses them too, for
		// clusters where the plugin is off or the request predates it.
		if slices.Contains(csr.Subject.Organization, SystemMasters) {
			return ruleErr(signer, "subject organization %q is not allowed: its members are cluster admins whom no RBAC rule restricts", SystemMasters)
		}
	case KubeAPIServerClientKubelet:
		if err := validateNodeSubject(signer, csr); err != nil {
			return err
		}
		if len(csr.DNSNames)+len(csr.EmailAddresses)+len(csr.IPAddresses)+len(csr.URIs) > 0 {
			return ruleErr(signer, "DNS, email, IP and URI subject alternative names are not allowed")
		}
		if !usageSetIs(usages, certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth) &&
			!usageSetIs(usages, certv1.UsageDigitalSignature, certv1.UsageClientAuth) {
			return ruleErr(signer, "usages must be exactly {digital signature, key encipherment, client auth} or {digital signature, client auth}")
		}
	case KubeletServing:
		if err := validateNodeSubject(signer, csr); err != nil {
			return err
		}
		if len(csr.DNSNames)+len(csr.IPAddresses) == 0 {
			return ruleErr(signer, "at least one DNS or IP subject alternative name is required")
		}
		if len(csr.EmailAddresses) > 0 {
			return ruleErr(signer, "email subject alternative names are not allowed")
		}
		if len(csr.URIs) > 0 {
			return ruleErr(signer, "URI subject alternative names are not allowed")
		}
		if !usageSetIs(usages, certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageServerAuth) &&
			!usageSetIs(usages, certv1.UsageDigitalSignature, certv1.UsageServerAuth) {
			return ruleErr(signer, "usages must be exactly {digital signature, key encipherment, server auth} or {digital signature, server auth}")
		}
	case LegacyUnknown:
	default:
		return ruleErr(signer, "not a signer certplane serves")
	}
	return nil
}

func validateNodeSubject(signer string, csr *x509.CertificateRequest) error {
	if !slices.Equal(csr.Subject.Organization, []string{"system:nodes"}) {
		return ruleErr(signer, "subject organization must be exactly [\"system:nodes\"], not %q", csr.Subject.Organization)
	}
	if !strings.HasPrefix(csr.Subject.CommonName, "system:node:") {
		return ruleErr(signer, "subject common name must begin with \"system:node:\", not %q", csr.Subject.CommonName)
	}
	return nil
}

// usageSetIs compares usages with want as sets.
func usageSetIs(usages []certv1.KeyUsage, want ...certv1.KeyUsage) bool {
	got := map[certv1.KeyUsage]bool{}
	for _, u := range usages {
		got[u] = true
	}
	if len(got) != len(want) {
		return false
	}
	for _, u := range want {
		if !got[u] {
			return false
		}
	}
	return true
}

// Signing is how long certificates are valid and how they are dated.
const (
	MinDuration = 10 * time.Minute
	Backdate    = 5 * time.Minute
	short       = 8 * time.Hour
)

// Duration is the lifetime a request gets: spec.expirationSeconds, capped at
// max (--cluster-signing-duration) and raised to at least ten minutes; max
// when the request names none.
func Duration(expirationSeconds *int32, max time.Duration) time.Duration {
	if expirationSeconds == nil {
		return max
	}
	d := time.Duration(*expirationSeconds) * time.Second
	switch {
	case d > max:
		return max
	case d < MinDuration:
		return MinDuration
	}
	return d
}

// Template is the certificate a valid request gets: its subject verbatim,
// its SANs, the usages of spec.usages only, NotBefore five minutes back,
// and NotAfter at ttl (less the backdate for ttl of eight hours or more, as
// kube-controller-manager does); pki clamps NotAfter to the CA.
func Template(csr *x509.CertificateRequest, usages []certv1.KeyUsage, ttl time.Duration) *pki.Template {
	us := make([]pki.Usage, len(usages))
	for i, u := range usages {
		us[i] = pki.Usage(u)
	}
	t := pki.TemplateFromCSR(csr, us)
	t.Backdate = Backdate
	t.Duration = ttl
	if ttl >= short {
		t.Duration = ttl - Backdate
	}
	return t
}

// KubeletClientKind says which approval rule a kubelet client request
// falls under: "selfnodeclient" when the requester is the node it names,
// "nodeclient" otherwise, "" when it is no kubelet client request.
func KubeletClientKind(csr *certv1.CertificateSigningRequest, parsed *x509.CertificateRequest) string {
	if csr.Spec.SignerName != KubeAPIServerClientKubelet || Validate(KubeAPIServerClientKubelet, parsed, csr.Spec.Usages) != nil {
		return ""
	}
	if csr.Spec.Username == parsed.Subject.CommonName {
		return "selfnodeclient"
	}
	return "nodeclient"
}

// ApprovalMessage is upstream's message for each kubelet client rule.
func ApprovalMessage(kind string) string {
	if kind == "selfnodeclient" {
		return "Auto approving self kubelet client certificate after SubjectAccessReview."
	}
	return "Auto approving kubelet client certificate after SubjectAccessReview."
}

// ServingApproval decides whether a kubelet-serving request may be approved
// automatically: it must pass the signer's rules, name an existing Node in
// its CN, come from that node (spec.username), and every DNS SAN must be one
// of the Node's Hostname, InternalDNS or ExternalDNS addresses and every IP
// SAN one of its InternalIP or ExternalIP addresses. A node writes its own
// addresses, so names that clients use for the apiserver or for loopback
// (kubernetes.default..., localhost, 127.0.0.0/8, ::1) are never approved,
// whatever the Node says. It returns the approval message, or why not.
func ServingApproval(csr *certv1.CertificateSigningRequest, parsed *x509.CertificateRequest, node *corev1.Node) (string, error) {
	if err := Validate(KubeletServing, parsed, csr.Spec.Usages); err != nil {
		return "", err
	}
	name := strings.TrimPrefix(parsed.Subject.CommonName, "system:node:")
	if node == nil || node.Name != name {
		return "", fmt.Errorf("node %q does not exist", name)
	}
	if csr.Spec.Username != parsed.Subject.CommonName {
		return "", fmt.Errorf("requested by %q, not by node %q", csr.Spec.Username, name)
	}
	dnsNames, ips := map[string]bool{}, map[string]bool{}
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			dnsNames[strings.ToLower(a.Address)] = true
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				ips[ip.String()] = true
			}
		}
	}
	for _, dns := range parsed.DNSNames {
		d := strings.ToLower(strings.TrimSuffix(dns, "."))
		if reservedName(d) {
			return "", fmt.Errorf("DNS name %q belongs to the apiserver or to loopback and is never approved automatically", dns)
		}
		if !dnsNames[d] {
			return "", fmt.Errorf("DNS name %q is not a hostname or DNS address of node %q", dns, name)
		}
	}
	for _, ip := range parsed.IPAddresses {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return "", fmt.Errorf("IP address %s is a loopback address and is never approved automatically", ip)
		}
		if !ips[ip.String()] {
			return "", fmt.Errorf("IP address %s is not an IP address of node %q", ip, name)
		}
	}
	return fmt.Sprintf("Auto approving kubelet serving certificate: node %q exists and every SAN is one of its addresses.", name), nil
}

func reservedName(d string) bool {
	switch d {
	case "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc":
		return true
	}
	return strings.HasPrefix(d, "kubernetes.default.svc.") || strings.HasSuffix(d, ".localhost")
}

// Retention is how long the cleaner keeps finished requests. The zero value
// means upstream's periods.
type Retention struct {
	// Pending requests are deleted this long after creation. If zero, 24h.
	Pending time.Duration
	// Approved and issued requests are deleted this long after approval.
	// If zero, 1h.
	Approved time.Duration
	// Denied and failed requests are deleted this long after the condition.
	// If zero, 1h.
	Denied time.Duration
}

func (r Retention) withDefaults() Retention {
	if r.Pending == 0 {
		r.Pending = 24 * time.Hour
	}
	if r.Approved == 0 {
		r.Approved = time.Hour
	}
	if r.Denied == 0 {
		r.Denied = time.Hour
	}
	return r
}

// DeleteAt says when the cleaner deletes a request, by upstream's rules:
// pending ones 24h after creation; approved and issued ones 1h after
// approval or when the certificate expires, whichever is first; denied and
// failed ones 1h after the condition. ok is false for a request no rule
// deletes (approved but never issued).
func DeleteAt(csr *certv1.CertificateSigningRequest, r Retention) (at time.Time, ok bool) {
	r = r.withDefaults()
	var times []time.Time
	pending := true
	for _, c := range csr.Status.Conditions {
		pending = false
		if c.Status != corev1.ConditionTrue || c.LastUpdateTime.IsZero() {
			continue
		}
		switch c.Type {
		case certv1.CertificateDenied, certv1.CertificateFailed:
			times = append(times, c.LastUpdateTime.Add(r.Denied))
		case certv1.CertificateApproved:
			if len(csr.Status.Certificate) > 0 {
				times = append(times, c.LastUpdateTime.Add(r.Approved))
			}
		}
	}
	if pending && !csr.CreationTimestamp.IsZero() {
		times = append(times, csr.CreationTimestamp.Add(r.Pending))
	}
	if StateOf(csr).Approved && len(csr.Status.Certificate) > 0 {
		if certs, err := pki.ParseCertificatesPEM(csr.Status.Certificate); err == nil {
			times = append(times, certs[0].NotAfter)
		}
	}
	if len(times) == 0 {
		return time.Time{}, false
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times[0], true
}
