// Package certpolicy decides, as pure functions, what certplane does with a
// cert-manager.io/v1 Certificate: the certificate its spec asks for, whether
// the Secret it names still holds that certificate or must be reissued, when
// to renew, how long to back off after a failure, and what the Secret holds.
// It does no I/O and reads no clock: time and entropy are parameters.
package certpolicy

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// Limits and defaults of cert-manager's API.
const (
	DefaultDuration = 90 * 24 * time.Hour
	MinDuration     = time.Hour
	MinRenewBefore  = 5 * time.Minute
	DefaultJKSAlias = "certificate"
)

// Request is what a Certificate asks an issuer for.
type Request struct {
	Template  *pki.Template
	Key       pki.KeySpec
	KeyFormat pki.KeyFormat
	// Hash identifies everything in the spec that shapes the certificate or
	// its key; a Secret issued for another hash is reissued.
	Hash string
}

// NewRequest reads and checks a Certificate's spec. Its errors name the
// offending field, for the Certificate's conditions.
func NewRequest(spec *cmv1.CertificateSpec) (*Request, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	key, format, err := KeySpec(spec.PrivateKey)
	if err != nil {
		return nil, err
	}
	if err := checkSignatureAlgorithm(spec.SignatureAlgorithm, key.Algorithm); err != nil {
		return nil, err
	}
	t := &pki.Template{IsCA: spec.IsCA, DNSNames: spec.DNSNames, EmailAddresses: spec.EmailAddresses}
	if spec.LiteralSubject != "" {
		if spec.CommonName != "" {
			return nil, fmt.Errorf("spec.commonName: when providing a literalSubject no commonName may be provided")
		}
		if spec.Subject != nil && !subjectEmpty(spec.Subject) {
			return nil, fmt.Errorf("spec.subject: when providing a literalSubject no subject properties may be provided")
		}
		name, err := pki.ParseDN(spec.LiteralSubject)
		if err != nil {
			return nil, fmt.Errorf("spec.literalSubject: %w", err)
		}
		t.Subject = name
	} else {
		t.Subject = subject(spec)
	}
	for i, s := range spec.IPAddresses {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("spec.ipAddresses[%d]: %q is not an IP address", i, s)
		}
		t.IPAddresses = append(t.IPAddresses, ip)
	}
	for i, s := range spec.URIs {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("spec.uris[%d]: %q is not an absolute URI", i, s)
		}
		t.URIs = append(t.URIs, u)
	}
	for i, e := range spec.EmailAddresses {
		if at := strings.IndexByte(e, '@'); at <= 0 || at == len(e)-1 {
			return nil, fmt.Errorf("spec.emailAddresses[%d]: %q is not an email address", i, e)
		}
	}
	if commonName(t.Subject) == "" && len(spec.DNSNames)+len(spec.IPAddresses)+len(spec.URIs)+len(spec.EmailAddresses)+len(spec.OtherNames) == 0 {
		return nil, fmt.Errorf("spec: at least one of commonName, literalSubject, dnsNames, uris, ipAddresses, emailAddresses or otherNames must be set")
	}
	if len(spec.OtherNames) > 0 {
		others := make([]pki.OtherName, len(spec.OtherNames))
		for i, o := range spec.OtherNames {
			others[i] = pki.OtherName{OID: o.OID, UTF8Value: o.UTF8Value}
		}
		ext, err := pki.SANExtension(t.DNSNames, t.EmailAddresses, t.IPAddresses, t.URIs, others)
		if err != nil {
			return nil, fmt.Errorf("spec.otherNames: %w", err)
		}
		t.ExtraExtensions = []pkix.Extension{ext}
	}
	t.Duration = DefaultDuration
	if spec.Duration != nil {
		t.Duration = spec.Duration.Duration
		if t.Duration < MinDuration {
			return nil, fmt.Errorf("spec.duration: %s is shorter than the minimum of %s", t.Duration, MinDuration)
		}
	}
	if spec.RenewBefore != nil && spec.RenewBeforePercentage != nil {
		return nil, fmt.Errorf("spec: renewBefore and renewBeforePercentage may not both be set")
	}
	if rb := spec.RenewBefore; rb != nil && rb.Duration < MinRenewBefore {
		return nil, fmt.Errorf("spec.renewBefore: %s is shorter than the minimum of %s", rb.Duration, MinRenewBefore)
	}
	if rb := spec.RenewBefore; rb != nil && rb.Duration >= t.Duration {
		return nil, fmt.Errorf("spec.renewBefore: %s must be shorter than the duration, %s", rb.Duration, t.Duration)
	}
	if p := spec.RenewBeforePercentage; p != nil && (*p <= 0 || *p >= 100) {
		return nil, fmt.Errorf("spec.renewBeforePercentage: %d is not between 0 and 100", *p)
	}
	usages, err := Usages(spec.Usages, spec.IsCA)
	if err != nil {
		return nil, err
	}
	t.Usages = usages
	if t.SignatureAlgorithm, err = signatureAlgorithm(spec.SignatureAlgorithm); err != nil {
		return nil, err
	}
	if spec.NameConstraints != nil {
		if !spec.IsCA {
			return nil, fmt.Errorf("spec.nameConstraints: only a CA (isCA: true) may carry name constraints")
		}
		if t.NameConstraints, err = nameConstraints(spec.NameConstraints); err != nil {
			return nil, err
		}
	}
	h, err := specHash(spec)
	if err != nil {
		return nil, err
	}
	return &Request{Template: t, Key: key, KeyFormat: format, Hash: h}, nil
}

// MaxCommonNameLength is the longest common name cert-manager accepts
// (RFC 5280's upper bound ub-common-name).
const MaxCommonNameLength = 64

// checkSpec applies the rules of cert-manager's webhook that the CRDs also
// apply at admission, for Certificates admitted before those rules or
// without them: the first broken rule, naming its field.
func checkSpec(spec *cmv1.CertificateSpec) error {
	if spec.SecretName == "" {
		return fmt.Errorf("spec.secretName: must be specified")
	}
	if msgs := validation.IsDNS1123Subdomain(spec.SecretName); len(msgs) > 0 {
		return fmt.Errorf("spec.secretName: %q is not a valid Secret name: %s", spec.SecretName, strings.Join(msgs, "; "))
	}
	if err := CheckIssuerRef(spec.IssuerRef, "spec.issuerRef"); err != nil {
		return err
	}
	if len(spec.CommonName) > MaxCommonNameLength {
		return fmt.Errorf("spec.commonName: must be no more than %d characters", MaxCommonNameLength)
	}
	for i, d := range spec.DNSNames {
		if ne, ok := errors.AsType[*pki.NameError](pki.ValidateDNSName(d)); ok {
			return fmt.Errorf("spec.dnsNames[%d]: %q is not a valid DNS name: %s", i, d, ne.Reason)
		}
	}
	for i, o := range spec.OtherNames {
		if o.OID == "" {
			return fmt.Errorf("spec.otherNames[%d].oid: must be specified", i)
		}
		if o.UTF8Value == "" || !utf8.ValidString(o.UTF8Value) {
			return fmt.Errorf("spec.otherNames[%d].utf8Value: must be set to a valid non-empty UTF8 string", i)
		}
	}
	if nc := spec.NameConstraints; nc != nil && spec.IsCA && nc.Permitted == nil && nc.Excluded == nil {
		return fmt.Errorf("spec.nameConstraints: either permitted or excluded must be set")
	}
	if st := spec.SecretTemplate; st != nil {
		for _, k := range slices.Sorted(maps.Keys(st.Annotations)) {
			if strings.HasPrefix(k, "cert-manager.io/") && k != "cert-manager.io/allow-direct-injection" {
				return fmt.Errorf("spec.secretTemplate.annotations: %q: cert-manager.io/* annotations are not allowed", k)
			}
		}
	}
	seen := map[string]bool{}
	for i, f := range spec.AdditionalOutputFormats {
		if seen[f.Type] {
			return fmt.Errorf("spec.additionalOutputFormats[%d].type: duplicate value %q", i, f.Type)
		}
		seen[f.Type] = true
	}
	if ks := spec.Keystores; ks != nil {
		if j := ks.JKS; j != nil {
			if err := checkKeystorePassword("jks", "JKS", j.Password, j.PasswordSecretRef.Name); err != nil {
				return err
			}
		}
		if p := ks.PKCS12; p != nil {
			if err := checkKeystorePassword("pkcs12", "PKCS#12", p.Password, p.PasswordSecretRef.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckIssuerRef applies cert-manager's rules to an issuerRef at path: a
// name, and for cert-manager.io's own group (also when the group is
// empty) a kind of Issuer or ClusterIssuer. Other groups' kinds are not
// known here.
func CheckIssuerRef(ref cmv1.ObjectReference, path string) error {
	if ref.Name == "" {
		return fmt.Errorf("%s.name: must be specified", path)
	}
	if ref.Group != "" && ref.Group != cmv1.GroupVersion.Group {
		return nil
	}
	switch ref.Kind {
	case "", "Issuer", "ClusterIssuer":
		return nil
	}
	hint := ""
	if ref.Group == "" {
		hint = fmt.Sprintf(" (did you forget to set %s.group?)", path)
	}
	return fmt.Errorf("%s.kind: %q must be one of Issuer or ClusterIssuer%s", path, ref.Kind, hint)
}

func checkKeystorePassword(field, name string, password *string, secretName string) error {
	switch {
	case password != nil && secretName != "":
		return fmt.Errorf("spec.keystores.%s: exactly one of passwordSecretRef and password must be provided for %s keystores; cannot set both", field, name)
	case password == nil && secretName == "":
		return fmt.Errorf("spec.keystores.%s: exactly one of passwordSecretRef and password must be provided for %s keystores", field, name)
	case password != nil && *password == "":
		return fmt.Errorf("spec.keystores.%s.password: literal password cannot be empty if set on %s keystores", field, name)
	}
	return nil
}

// signatureAlgorithms are the signature algorithms each key algorithm
// may sign with.
var signatureAlgorithms = map[pki.KeyAlgorithm][]cmv1.SignatureAlgorithm{
	pki.RSA:     {"SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA"},
	pki.ECDSA:   {"ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512"},
	pki.Ed25519: {"PureEd25519"},
}

// checkSignatureAlgorithm refuses a signature algorithm the key cannot
// make, as cert-manager's webhook does.
func checkSignatureAlgorithm(alg cmv1.SignatureAlgorithm, key pki.KeyAlgorithm) error {
	allowed, ok := signatureAlgorithms[key]
	if alg == "" || !ok || slices.Contains(allowed, alg) {
		return nil
	}
	names := map[pki.KeyAlgorithm]string{pki.RSA: "RSA", pki.ECDSA: "ECDSA", pki.Ed25519: "Ed25519"}
	list := make([]string, len(allowed))
	for i, a := range allowed {
		list[i] = string(a)
	}
	return fmt.Errorf("spec.signatureAlgorithm: for key algorithm %s the allowed signature algorithms are %s", names[key], strings.Join(list, ", "))
}

// subjectEmpty reports whether s sets no attribute.
func subjectEmpty(s *cmv1.X509Subject) bool {
	return len(s.Organizations)+len(s.Countries)+len(s.OrganizationalUnits)+len(s.Localities)+len(s.Provinces)+
		len(s.StreetAddresses)+len(s.PostalCodes) == 0 && s.SerialNumber == ""
}

// commonName is the subject's common name, also when it comes from a
// literalSubject (which ParseDN keeps in ExtraNames).
func commonName(n pkix.Name) string {
	if n.CommonName != "" {
		return n.CommonName
	}
	for _, atv := range n.ExtraNames {
		if s, ok := atv.Value.(string); ok && atv.Type.Equal(oidCommonName) {
			return s
		}
	}
	return ""
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

func subject(spec *cmv1.CertificateSpec) pkix.Name {
	n := pkix.Name{CommonName: spec.CommonName}
	if s := spec.Subject; s != nil {
		n.Organization = s.Organizations
		n.Country = s.Countries
		n.OrganizationalUnit = s.OrganizationalUnits
		n.Locality = s.Localities
		n.Province = s.Provinces
		n.StreetAddress = s.StreetAddresses
		n.PostalCode = s.PostalCodes
		n.SerialNumber = s.SerialNumber
	}
	return n
}

// KeySpec reads spec.privateKey: cert-manager's defaults are RSA 2048 in
// PKCS#1.
func KeySpec(pk *cmv1.CertificatePrivateKey) (pki.KeySpec, pki.KeyFormat, error) {
	if pk == nil {
		pk = &cmv1.CertificatePrivateKey{}
	}
	var s pki.KeySpec
	switch pk.Algorithm {
	case "", "RSA":
		s = pki.KeySpec{Algorithm: pki.RSA, Size: pk.Size}
		if s.Size == 0 {
			s.Size = 2048
		}
	case "ECDSA":
		s = pki.KeySpec{Algorithm: pki.ECDSA, Size: pk.Size}
		if s.Size == 0 {
			s.Size = 256
		}
	case "Ed25519":
		s = pki.Ed25519Key
	default:
		return pki.KeySpec{}, 0, fmt.Errorf("spec.privateKey.algorithm: %q is not RSA, ECDSA or Ed25519", pk.Algorithm)
	}
	if err := s.Validate(); err != nil {
		return pki.KeySpec{}, 0, fmt.Errorf("spec.privateKey: %w", err)
	}
	format := pki.FormatPKCS1
	switch pk.Encoding {
	case "", "PKCS1":
		switch s.Algorithm {
		case pki.ECDSA:
			format = pki.FormatSEC1
		case pki.Ed25519:
			format = pki.FormatPKCS8
		}
	case "PKCS8":
		format = pki.FormatPKCS8
	default:
		return pki.KeySpec{}, 0, fmt.Errorf("spec.privateKey.encoding: %q is not PKCS1 or PKCS8", pk.Encoding)
	}
	switch pk.RotationPolicy {
	case "", "Always", "Never":
	default:
		return pki.KeySpec{}, 0, fmt.Errorf("spec.privateKey.rotationPolicy: %q is not Always or Never", pk.RotationPolicy)
	}
	return s, format, nil
}

// Usages are the key usages to issue with: cert-manager's default is
// "digital signature" and "key encipherment"; a CA also gets "cert sign".
func Usages(us []cmv1.KeyUsage, isCA bool) ([]pki.Usage, error) {
	out := make([]pki.Usage, 0, len(us)+1)
	for _, u := range us {
		out = append(out, pki.Usage(u))
	}
	if len(out) == 0 {
		out = append(out, pki.UsageDigitalSignature, pki.UsageKeyEncipherment)
	}
	if isCA && !slices.Contains(out, pki.UsageCertSign) {
		out = append(out, pki.UsageCertSign)
	}
	if _, _, err := pki.ParseUsages(out); err != nil {
		return nil, fmt.Errorf("spec.usages: %w", err)
	}
	return out, nil
}

func signatureAlgorithm(a cmv1.SignatureAlgorithm) (x509.SignatureAlgorithm, error) {
	algs := map[cmv1.SignatureAlgorithm]x509.SignatureAlgorithm{
		"":                x509.UnknownSignatureAlgorithm,
		"SHA256WithRSA":   x509.SHA256WithRSA,
		"SHA384WithRSA":   x509.SHA384WithRSA,
		"SHA512WithRSA":   x509.SHA512WithRSA,
		"ECDSAWithSHA256": x509.ECDSAWithSHA256,
		"ECDSAWithSHA384": x509.ECDSAWithSHA384,
		"ECDSAWithSHA512": x509.ECDSAWithSHA512,
		"PureEd25519":     x509.PureEd25519,
	}
	alg, ok := algs[a]
	if !ok {
		return 0, fmt.Errorf("spec.signatureAlgorithm: %q is not supported", a)
	}
	return alg, nil
}

func nameConstraints(nc *cmv1.NameConstraints) (*pki.NameConstraints, error) {
	out := &pki.NameConstraints{Critical: nc.Critical}
	ranges := func(field string, in []string) ([]*net.IPNet, error) {
		var nets []*net.IPNet
		for i, s := range in {
			_, n, err := net.ParseCIDR(s)
			if err != nil {
				return nil, fmt.Errorf("spec.nameConstraints.%s.ipRanges[%d]: %q is not a CIDR range", field, i, s)
			}
			nets = append(nets, n)
		}
		return nets, nil
	}
	var err error
	if p := nc.Permitted; p != nil {
		out.PermittedDNSDomains, out.PermittedEmails, out.PermittedURIDomains = p.DNSDomains, p.EmailAddresses, p.URIDomains
		if out.PermittedIPRanges, err = ranges("permitted", p.IPRanges); err != nil {
			return nil, err
		}
	}
	if e := nc.Excluded; e != nil {
		out.ExcludedDNSDomains, out.ExcludedEmails, out.ExcludedURIDomains = e.DNSDomains, e.EmailAddresses, e.URIDomains
		if out.ExcludedIPRanges, err = ranges("excluded", e.IPRanges); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// specHash hashes the fields of the spec that shape the certificate and its
// key. Renewal settings, the Secret's name, template and keystores are left
// out: changing them never needs a new certificate.
func specHash(spec *cmv1.CertificateSpec) (string, error) {
	shaped := struct {
		Subject         *cmv1.X509Subject
		LiteralSubject  string
		CommonName      string
		Duration        any
		DNSNames        []string
		IPAddresses     []string
		URIs            []string
		OtherNames      []cmv1.OtherName
		EmailAddresses  []string
		IsCA            bool
		Usages          []cmv1.KeyUsage
		Algorithm       string
		Size            int
		SignatureAlg    cmv1.SignatureAlgorithm
		NameConstraints *cmv1.NameConstraints
	}{
		spec.Subject, spec.LiteralSubject, spec.CommonName, spec.Duration, spec.DNSNames, spec.IPAddresses, spec.URIs,
		spec.OtherNames, spec.EmailAddresses, spec.IsCA, spec.Usages, "", 0, spec.SignatureAlgorithm, spec.NameConstraints,
	}
	if pk := spec.PrivateKey; pk != nil {
		shaped.Algorithm, shaped.Size = pk.Algorithm, pk.Size
	}
	b, err := json.Marshal(shaped)
	if err != nil {
		return "", fmt.Errorf("hashing the spec: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}
