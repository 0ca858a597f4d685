package certpolicy

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// Reasons of the Issuing condition: why a certificate is (re)issued. They
// are cert-manager's.
const (
	ReasonDoesNotExist       = "DoesNotExist"
	ReasonMissingData        = "MissingData"
	ReasonInvalidKeyPair     = "InvalidKeyPair"
	ReasonInvalidCertificate = "InvalidCertificate"
	ReasonSecretMismatch     = "SecretMismatch"
	ReasonIncorrectIssuer    = "IncorrectIssuer"
	ReasonIncorrectCert      = "IncorrectCertificate"
	ReasonRequestChanged     = "RequestChanged"
	ReasonRenewing           = "Renewing"
	ReasonExpired            = "Expired"
	ReasonManuallyTriggered  = "ManuallyTriggered"
)

// Secret labels and annotations.
const (
	LabelCached            = "controller.cert-manager.io/fao"
	AnnotationCertName     = "cert-manager.io/certificate-name"
	AnnotationIssuerName   = "cert-manager.io/issuer-name"
	AnnotationIssuerKind   = "cert-manager.io/issuer-kind"
	AnnotationIssuerGroup  = "cert-manager.io/issuer-group"
	AnnotationCommonName   = "cert-manager.io/common-name"
	AnnotationAltNames     = "cert-manager.io/alt-names"
	AnnotationIPSANs       = "cert-manager.io/ip-sans"
	AnnotationURISANs      = "cert-manager.io/uri-sans"
	AnnotationEmailSANs    = "cert-manager.io/email-sans"
	AnnotationRevision     = "certplane.io/revision"
	AnnotationRequestHash  = "certplane.io/request-hash"
	issuerGroupCertManager = "cert-manager.io"
)

// Current is what a Certificate's Secret holds, when it holds a usable pair.
type Current struct {
	Chain []*x509.Certificate
	Key   crypto.Signer
	// Revision is the revision the Secret says it holds, 0 if none.
	Revision int
}

// Leaf is the current certificate.
func (c *Current) Leaf() *x509.Certificate { return c.Chain[0] }

// Decision says whether to issue and why.
type Decision struct {
	Issue   bool
	Reason  string
	Message string
	// Current is the Secret's pair, if it has a usable one.
	Current *Current
	// Key is the Secret's private key when it parses and is what the spec
	// asks for, whether or not a certificate goes with it: rotationPolicy
	// Never keeps it, as does a key a user put there to be certified.
	Key crypto.Signer
}

// Check compares a Certificate and the Secret it names (nil if missing)
// with what its spec asks for, at now.
func Check(crt *cmv1.Certificate, req *Request, secret *corev1.Secret, now time.Time) Decision {
	issue := func(reason, format string, args ...any) Decision {
		return Decision{Issue: true, Reason: reason, Message: "Issuing certificate as " + fmt.Sprintf(format, args...)}
	}
	if secret == nil {
		return issue(ReasonDoesNotExist, "Secret does not exist")
	}
	certPEM, keyPEM := secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]
	var usableKey crypto.Signer
	key, keyErr := pki.ParsePrivateKeyPEM(keyPEM)
	if keyErr == nil {
		if alg, bits := pki.KeyDescription(key.Public()); keyMatchesSpec(req.Key, alg, bits) {
			usableKey = key
		}
	}
	withKey := func(reason, format string, args ...any) Decision {
		out := issue(reason, format, args...)
		out.Key = usableKey
		return out
	}
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return withKey(ReasonMissingData, "Secret does not contain a certificate and private key")
	}
	if keyErr != nil {
		return issue(ReasonInvalidKeyPair, "Secret contains an invalid private key: %v", keyErr)
	}
	chain, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return withKey(ReasonInvalidCertificate, "Secret contains an invalid certificate: %v", err)
	}
	if !pki.KeyMatches(chain[0].PublicKey, key) {
		return withKey(ReasonInvalidKeyPair, "Secret contains a private key that does not match its certificate")
	}
	cur := &Current{Chain: chain, Key: key}
	cur.Revision, _ = strconv.Atoi(secret.Annotations[AnnotationRevision])
	d := func(reason, format string, args ...any) Decision {
		out := withKey(reason, format, args...)
		out.Current = cur
		return out
	}
	if want, got := IssuerAnnotations(crt.Spec.IssuerRef), secret.Annotations; !issuerMatches(want, got) {
		return d(ReasonIncorrectIssuer, "Secret was previously issued by %q", got[AnnotationIssuerKind]+"."+got[AnnotationIssuerGroup]+"/"+got[AnnotationIssuerName])
	}
	if alg, bits := pki.KeyDescription(key.Public()); !keyMatchesSpec(req.Key, alg, bits) {
		return d(ReasonSecretMismatch, "Secret's private key (%s %d) does not match spec.privateKey (%s)", alg, bits, req.Key)
	}
	h := secret.Annotations[AnnotationRequestHash]
	if h != "" && h != req.Hash {
		return d(ReasonRequestChanged, "the spec changed since the certificate was issued")
	}
	// With the hash of this spec, the certificate was issued for it, even if
	// an issuer changed what it certifies; without one (cert-manager wrote
	// the Secret), the certificate itself is compared. So is a certificate
	// put in the Secret since certplane wrote it, with the annotations
	// kept: the names they record are no longer the leaf's.
	trusted := h != "" && namesRecorded(secret.Annotations, chain[0])
	if fields := mismatches(req.Template, chain[0]); !trusted && len(fields) > 0 {
		return d(ReasonIncorrectCert, "the certificate does not match the spec: %s", strings.Join(fields, ", "))
	}
	leaf := chain[0]
	if !now.Before(leaf.NotAfter) {
		return d(ReasonExpired, "Certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if at, ok := RenewalTime(leaf.NotBefore, leaf.NotAfter, &crt.Spec, Seed(crt, leaf)); ok && !now.Before(at) {
		return d(ReasonRenewing, "renewal was scheduled at %s", at.UTC().Format(time.RFC3339))
	}
	if c := condition(crt.Status.Conditions, "Issuing"); c != nil && c.Status == cmv1.ConditionTrue && c.Reason == ReasonManuallyTriggered {
		return d(ReasonManuallyTriggered, "a renewal was requested (%s)", c.Message)
	}
	return Decision{Current: cur, Key: usableKey}
}

// nameAnnotations are the annotations that describe a Secret's leaf
// certificate, its common name and subject alternative names, as
// cert-manager writes them.
func nameAnnotations(leaf *x509.Certificate) map[string]string {
	ips := make([]string, len(leaf.IPAddresses))
	for i, ip := range leaf.IPAddresses {
		ips[i] = ip.String()
	}
	uris := make([]string, len(leaf.URIs))
	for i, u := range leaf.URIs {
		uris[i] = u.String()
	}
	return map[string]string{
		AnnotationCommonName: leaf.Subject.CommonName,
		AnnotationAltNames:   strings.Join(leaf.DNSNames, ","),
		AnnotationIPSANs:     strings.Join(ips, ","),
		AnnotationURISANs:    strings.Join(uris, ","),
		AnnotationEmailSANs:  strings.Join(leaf.EmailAddresses, ","),
	}
}

// namesRecorded reports whether a Secret's annotations describe its leaf,
// as they do when certplane wrote both.
func namesRecorded(annotations map[string]string, leaf *x509.Certificate) bool {
	for k, v := range nameAnnotations(leaf) {
		if annotations[k] != v {
			return false
		}
	}
	return true
}

// Seed is what spreads one certificate's renewal time.
func Seed(crt *cmv1.Certificate, leaf *x509.Certificate) []byte {
	return append([]byte(crt.UID), leaf.SerialNumber.Bytes()...)
}

// IssuerAnnotations are the issuer-* annotations of a Secret issued through
// ref, as cert-manager writes them: the kind defaults to Issuer, the group
// is kept exactly as written (empty when the manifest omits it).
func IssuerAnnotations(ref cmv1.ObjectReference) map[string]string {
	kind := ref.Kind
	if kind == "" {
		kind = "Issuer"
	}
	return map[string]string{AnnotationIssuerName: ref.Name, AnnotationIssuerKind: kind, AnnotationIssuerGroup: ref.Group}
}

// issuerMatches compares issuer annotations with cert-manager's defaults
// filled in on both sides: an empty group is cert-manager.io, an empty kind
// Issuer.
func issuerMatches(want, got map[string]string) bool {
	group := func(a map[string]string) string {
		if g := a[AnnotationIssuerGroup]; g != "" {
			return g
		}
		return issuerGroupCertManager
	}
	kind := func(a map[string]string) string {
		if k := a[AnnotationIssuerKind]; k != "" {
			return k
		}
		return "Issuer"
	}
	return got[AnnotationIssuerName] == want[AnnotationIssuerName] && kind(got) == kind(want) && group(got) == group(want)
}

func keyMatchesSpec(spec pki.KeySpec, alg string, bits int) bool {
	switch spec.Algorithm {
	case pki.RSA:
		return alg == "RSA" && bits == spec.Size
	case pki.ECDSA:
		return alg == "ECDSA" && bits == spec.Size
	default:
		return alg == "Ed25519"
	}
}

// mismatches names the fields of the template the certificate does not
// carry. The subject is compared by common name and organizations; a
// literal subject is covered by the request hash.
func mismatches(t *pki.Template, c *x509.Certificate) []string {
	var out []string
	if len(t.Subject.ExtraNames) == 0 {
		if t.Subject.CommonName != c.Subject.CommonName {
			out = append(out, "spec.commonName")
		}
		if !sameSet(t.Subject.Organization, c.Subject.Organization) {
			out = append(out, "spec.subject.organizations")
		}
	}
	if !sameSet(t.DNSNames, c.DNSNames) {
		out = append(out, "spec.dnsNames")
	}
	var want, got []string
	for _, ip := range t.IPAddresses {
		want = append(want, ip.String())
	}
	for _, ip := range c.IPAddresses {
		got = append(got, ip.String())
	}
	if !sameSet(want, got) {
		out = append(out, "spec.ipAddresses")
	}
	want, got = nil, nil
	for _, u := range t.URIs {
		want = append(want, u.String())
	}
	for _, u := range c.URIs {
		got = append(got, u.String())
	}
	if !sameSet(want, got) {
		out = append(out, "spec.uris")
	}
	if !sameSet(t.EmailAddresses, c.EmailAddresses) {
		out = append(out, "spec.emailAddresses")
	}
	if t.IsCA != c.IsCA {
		out = append(out, "spec.isCA")
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func condition(cs []cmv1.CertificateCondition, typ string) *cmv1.CertificateCondition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// Annotations where the apiserver records who asked for a Certificate
// (config/policy/certificate-identity-policy.yaml): the user who created
// it or last changed its spec.
const (
	AnnotationRequester       = "certplane.io/requester"
	AnnotationRequesterUID    = "certplane.io/requester-uid"
	AnnotationRequesterGroups = "certplane.io/requester-groups"
)

// Requester is the user recorded in a Certificate's annotations; empty
// when none was recorded.
func Requester(crt *cmv1.Certificate) authnv1.UserInfo {
	a := crt.Annotations
	who := authnv1.UserInfo{Username: a[AnnotationRequester], UID: a[AnnotationRequesterUID]}
	if g := a[AnnotationRequesterGroups]; g != "" {
		who.Groups = strings.Split(g, ",")
	}
	return who
}
