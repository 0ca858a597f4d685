package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
)

// Request is what a certificate should say about its subject: the
// distinguished name and the subject alternative names. It is the input of
// CreateCSR and part of a Template.
type Request struct {
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	Country            []string
	Locality           []string
	Province           []string

	DNSNames       []string
	IPAddresses    []net.IP
	URIs           []*url.URL
	EmailAddresses []string
}

// Subject returns the request's distinguished name.
func (r *Request) Subject() pkix.Name {
	return pkix.Name{
		CommonName:         r.CommonName,
		Organization:       r.Organization,
		OrganizationalUnit: r.OrganizationalUnit,
		Country:            r.Country,
		Locality:           r.Locality,
		Province:           r.Province,
	}
}

// AddHosts sorts host names into the request's SANs: an IP address becomes an
// IP SAN, a string with a scheme a URI SAN, one with an @ an email SAN, and
// anything else a DNS name (as cfssl does with "hosts"), which must pass
// ValidateHost.
func (r *Request) AddHosts(hosts ...string) error {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			r.IPAddresses = append(r.IPAddresses, ip)
			continue
		}
		if u, err := url.Parse(h); err == nil && u.Scheme != "" && u.Host+u.Opaque+u.Path != "" {
			r.URIs = append(r.URIs, u)
			continue
		}
		if at := strings.IndexByte(h, '@'); at > 0 && at < len(h)-1 {
			r.EmailAddresses = append(r.EmailAddresses, h)
			continue
		}
		if err := ValidateHost(h); err != nil {
			return err
		}
		r.DNSNames = append(r.DNSNames, h)
	}
	return nil
}

// CreateCSR makes a PKCS#10 certificate request for req, signed with key, and
// returns it PEM-encoded ("CERTIFICATE REQUEST").
func CreateCSR(rand io.Reader, req *Request, key crypto.Signer) ([]byte, error) {
	if err := checkPublicKey(key.Public()); err != nil {
		return nil, err
	}
	rawSubject, err := marshalSubject(req.Subject())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.CertificateRequest{
		RawSubject:     rawSubject,
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPAddresses,
		URIs:           req.URIs,
		EmailAddresses: req.EmailAddresses,
	}
	der, err := x509.CreateCertificateRequest(rand, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCSRPEM reads the first PEM "CERTIFICATE REQUEST" (or the older "NEW
// CERTIFICATE REQUEST") in data and verifies its signature, which proves that
// whoever made it holds the private key. Weak or unsupported keys are refused.
func ParseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block := findBlock(data, "CERTIFICATE REQUEST")
	if block == nil {
		block = findBlock(data, "NEW CERTIFICATE REQUEST")
	}
	if block == nil {
		return nil, fmt.Errorf("%w: want a certificate request", ErrNoPEM)
	}
	return ParseCSR(block.Bytes)
}

// ParseCSR reads a DER certificate request and verifies its signature.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: certificate request: %w", ErrBadSignature, err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// RequestFromCSR returns the subject and SANs a certificate request asks for.
func RequestFromCSR(csr *x509.CertificateRequest) *Request {
	return &Request{
		CommonName:         csr.Subject.CommonName,
		Organization:       csr.Subject.Organization,
		OrganizationalUnit: csr.Subject.OrganizationalUnit,
		Country:            csr.Subject.Country,
		Locality:           csr.Subject.Locality,
		Province:           csr.Subject.Province,
		DNSNames:           csr.DNSNames,
		IPAddresses:        csr.IPAddresses,
		URIs:               csr.URIs,
		EmailAddresses:     csr.EmailAddresses,
	}
}

// CreateTemplateCSR makes a PKCS#10 request asking for what t describes:
// its subject, SANs and extra extensions (usages and validity are the
// issuer's to decide). It returns PEM.
func CreateTemplateCSR(rand io.Reader, t *Template, key crypto.Signer) ([]byte, error) {
	if err := checkPublicKey(key.Public()); err != nil {
		return nil, err
	}
	rawSubject, err := marshalSubject(t.Subject)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.CertificateRequest{
		RawSubject:      rawSubject,
		DNSNames:        t.DNSNames,
		IPAddresses:     t.IPAddresses,
		URIs:            t.URIs,
		EmailAddresses:  t.EmailAddresses,
		ExtraExtensions: t.ExtraExtensions,
	}
	der, err := x509.CreateCertificateRequest(rand, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}
