package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Defaults for Template's zero values.
const (
	// DefaultDuration is how long a certificate is valid when its template
	// gives no duration: one year.
	DefaultDuration = 365 * 24 * time.Hour
	// DefaultBackdate is how far before the time of signing NotBefore is set,
	// so that clocks a little behind still accept a new certificate.
	DefaultBackdate = 5 * time.Minute
)

// Template describes a certificate to issue. Its zero value, given a
// Subject, is a one-year certificate with no usages.
type Template struct {
	Subject        pkix.Name
	DNSNames       []string
	IPAddresses    []net.IP
	URIs           []*url.URL
	EmailAddresses []string

	// Usages are the key usages and extended key usages, by their Kubernetes
	// names. If empty on a CA, "cert sign", "crl sign" and "digital
	// signature".
	Usages []Usage

	// IsCA makes a CA certificate.
	IsCA bool
	// MaxPathLen is a CA's path length constraint: how many intermediate
	// CAs may follow it. If nil, no constraint.
	MaxPathLen *int
	// NameConstraints, if set on a CA, limit the names it may certify.
	NameConstraints *NameConstraints

	// Duration is the validity from the time of signing. If zero,
	// DefaultDuration; negative is an error. NotAfter is never later than
	// the CA's NotAfter.
	Duration time.Duration
	// Backdate moves NotBefore back from the time of signing. If zero,
	// DefaultBackdate; if negative, NotBefore is the time of signing.
	Backdate time.Duration

	// SignatureAlgorithm, if set, is the algorithm the issuer signs with;
	// it must suit the issuer's key. If zero, crypto/x509 chooses from it.
	SignatureAlgorithm x509.SignatureAlgorithm
	// ExtraExtensions are added to the certificate as they are, such as a
	// subject alternative name extension carrying otherNames.
	ExtraExtensions []pkix.Extension
}

// NameConstraints is an X.509 name constraints extension.
type NameConstraints struct {
	Critical            bool
	PermittedDNSDomains []string
	ExcludedDNSDomains  []string
	PermittedIPRanges   []*net.IPNet
	ExcludedIPRanges    []*net.IPNet
	PermittedEmails     []string
	ExcludedEmails      []string
	PermittedURIDomains []string
	ExcludedURIDomains  []string
}

// TemplateFromCSR returns a template that copies a request's subject
// verbatim and its DNS, IP, URI and email SANs, with the given usages.
func TemplateFromCSR(csr *x509.CertificateRequest, usages []Usage) *Template {
	return &Template{
		Subject:        csr.Subject,
		DNSNames:       csr.DNSNames,
		IPAddresses:    csr.IPAddresses,
		URIs:           csr.URIs,
		EmailAddresses: csr.EmailAddresses,
		Usages:         usages,
	}
}

// TemplateFromRequest returns a template with the request's subject and SANs.
func TemplateFromRequest(req *Request, usages []Usage) *Template {
	return &Template{
		Subject:        req.Subject(),
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPAddresses,
		URIs:           req.URIs,
		EmailAddresses: req.EmailAddresses,
		Usages:         usages,
	}
}

// CA is a certificate authority: a CA certificate and its private key.
type CA struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
}

// NewCA pairs a CA certificate with its key, checking that the certificate
// is a CA and that the key belongs to it.
func NewCA(cert *x509.Certificate, key crypto.Signer) (*CA, error) {
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("%w: %s", ErrNotCA, describeName(cert.Subject))
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %s lacks the cert sign key usage", ErrNotCA, describeName(cert.Subject))
	}
	if !KeyMatches(cert.PublicKey, key) {
		return nil, fmt.Errorf("%w: CA %s", ErrKeyMismatch, describeName(cert.Subject))
	}
	return &CA{Certificate: cert, Key: key}, nil
}

// ParseCA reads a CA certificate and its private key from PEM.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	return NewCA(certs[0], key)
}

// Issue signs a certificate for pub as t describes. It refuses when the CA
// is not valid at now (ErrCAExpired), and clamps NotAfter to the CA's.
func (ca *CA) Issue(rand io.Reader, now time.Time, t *Template, pub crypto.PublicKey) (*x509.Certificate, error) {
	c := ca.Certificate
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: %s is valid from %s to %s", ErrCAExpired,
			describeName(c.Subject), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	return issue(rand, now, t, pub, c, ca.Key)
}

// SelfSign makes a certificate for key, signed by key itself.
func SelfSign(rand io.Reader, now time.Time, t *Template, key crypto.Signer) (*x509.Certificate, error) {
	return issue(rand, now, t, key.Public(), nil, key)
}

func issue(rand io.Reader, now time.Time, t *Template, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	ku, eku, err := ParseUsages(t.Usages)
	if err != nil {
		return nil, err
	}
	if t.IsCA && ku == 0 && len(eku) == 0 {
		ku = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	}
	serial, err := SerialNumber(rand)
	if err != nil {
		return nil, err
	}
	ski, err := SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	duration := t.Duration
	if duration < 0 {
		return nil, fmt.Errorf("%w: negative duration %s", ErrInvalidTemplate, duration)
	}
	if duration == 0 {
		duration = DefaultDuration
	}
	backdate := t.Backdate
	if backdate == 0 {
		backdate = DefaultBackdate
	} else if backdate < 0 {
		backdate = 0
	}
	rawSubject, err := marshalSubject(t.Subject)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            rawSubject,
		Subject:               t.Subject,
		DNSNames:              t.DNSNames,
		IPAddresses:           t.IPAddresses,
		URIs:                  t.URIs,
		EmailAddresses:        t.EmailAddresses,
		NotBefore:             now.Add(-backdate).UTC(),
		NotAfter:              now.Add(duration).UTC(),
		KeyUsage:              ku,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  t.IsCA,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    t.SignatureAlgorithm,
		ExtraExtensions:       t.ExtraExtensions,
	}
	if t.IsCA {
		tmpl.MaxPathLen = -1
		if t.MaxPathLen != nil {
			tmpl.MaxPathLen = *t.MaxPathLen
			tmpl.MaxPathLenZero = *t.MaxPathLen == 0
		}
	}
	if nc := t.NameConstraints; nc != nil {
		tmpl.PermittedDNSDomainsCritical = nc.Critical
		tmpl.PermittedDNSDomains = nc.PermittedDNSDomains
		tmpl.ExcludedDNSDomains = nc.ExcludedDNSDomains
		tmpl.PermittedIPRanges = nc.PermittedIPRanges
		tmpl.ExcludedIPRanges = nc.ExcludedIPRanges
		tmpl.PermittedEmailAddresses = nc.PermittedEmails
		tmpl.ExcludedEmailAddresses = nc.ExcludedEmails
		tmpl.PermittedURIDomains = nc.PermittedURIDomains
		tmpl.ExcludedURIDomains = nc.ExcludedURIDomains
	}
	if parent == nil {
		parent = tmpl
	} else if tmpl.NotAfter.After(parent.NotAfter) {
		tmpl.NotAfter = parent.NotAfter
	}
	der, err := x509.CreateCertificate(rand, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("pki: signing certificate for %s: %w", describeName(t.Subject), err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing issued certificate: %w", err)
	}
	return cert, nil
}

var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// SerialNumber returns a random positive serial number of up to 128 bits.
func SerialNumber(rand io.Reader) (*big.Int, error) {
	for {
		n, err := randInt(rand, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("pki: generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// randInt returns a uniform integer in [0, max) read from r. Unlike
// crypto/rand.Int it reads exactly from r, so a deterministic reader gives
// deterministic serials in tests.
func randInt(r io.Reader, max *big.Int) (*big.Int, error) {
	b := make([]byte, (max.BitLen()+6)/8)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(b)
	return n.Mod(n, max), nil
}

// SubjectKeyID returns the key identifier certplane puts in the subject key
// identifier extension: the first 160 bits of the SHA-256 hash of the
// DER-encoded SubjectPublicKeyInfo.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

// describeName is a short form of a distinguished name for error messages.
func describeName(n pkix.Name) string {
	if n.CommonName != "" {
		return fmt.Sprintf("%q", n.CommonName)
	}
	return fmt.Sprintf("%q", n.String())
}
