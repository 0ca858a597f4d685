package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"
)

// Report describes what a PEM (or DER) input holds. Private keys are
// described by algorithm and size only: no key material is ever included.
type Report struct {
	Certificates []CertificateInfo `json:"certificates,omitempty"`
	Requests     []RequestInfo     `json:"requests,omitempty"`
	Keys         []KeyInfo         `json:"keys,omitempty"`
	// Chain is set when the input holds more than one certificate.
	Chain *ChainInfo `json:"chain,omitempty"`
}

// Names are the subject and SANs of a certificate or request.
type Names struct {
	Subject        string   `json:"subject"`
	CommonName     string   `json:"commonName,omitempty"`
	Organization   []string `json:"organization,omitempty"`
	DNSNames       []string `json:"dnsNames,omitempty"`
	IPAddresses    []string `json:"ipAddresses,omitempty"`
	URIs           []string `json:"uris,omitempty"`
	EmailAddresses []string `json:"emailAddresses,omitempty"`
}

// CertificateInfo describes one certificate.
type CertificateInfo struct {
	Names
	Issuer             string    `json:"issuer"`
	SerialNumber       string    `json:"serialNumber"`
	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	SecondsLeft        int64     `json:"secondsLeft"`
	Expired            bool      `json:"expired"`
	Usages             []Usage   `json:"usages,omitempty"`
	KeyAlgorithm       string    `json:"keyAlgorithm"`
	KeySize            int       `json:"keySize"`
	SignatureAlgorithm string    `json:"signatureAlgorithm"`
	IsCA               bool      `json:"isCA"`
	MaxPathLen         *int      `json:"maxPathLen,omitempty"`
	SelfSigned         bool      `json:"selfSigned"`
	SubjectKeyID       string    `json:"subjectKeyId,omitempty"`
	AuthorityKeyID     string    `json:"authorityKeyId,omitempty"`
	SHA256Fingerprint  string    `json:"sha256Fingerprint"`
}

// RequestInfo describes one certificate request.
type RequestInfo struct {
	Names
	KeyAlgorithm       string `json:"keyAlgorithm"`
	KeySize            int    `json:"keySize"`
	SignatureAlgorithm string `json:"signatureAlgorithm"`
	SignatureValid     bool   `json:"signatureValid"`
}

// KeyInfo describes a private or public key by its type and size.
type KeyInfo struct {
	Private   bool   `json:"private"`
	Algorithm string `json:"algorithm"`
	Size      int    `json:"size"`
}

// ChainInfo says whether a bundle's certificates form a valid chain.
type ChainInfo struct {
	Valid bool `json:"valid"`
	// Ordered is true when the bundle lists the leaf first and each
	// certificate's issuer after it.
	Ordered bool   `json:"ordered"`
	Root    string `json:"root,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Inspect describes every certificate, certificate request and key in data,
// which is PEM or a single DER certificate or request. now is the time
// validity and time left are measured at.
func Inspect(data []byte, now time.Time) (*Report, error) {
	r := &Report{}
	var certs []*x509.Certificate
	rest := data
	sawPEM := false
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sawPEM = true
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pki: parsing certificate %d: %w", len(certs)+1, err)
			}
			certs = append(certs, c)
			r.Certificates = append(r.Certificates, describeCertificate(c, now))
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pki: parsing certificate request: %w", err)
			}
			r.Requests = append(r.Requests, describeRequest(csr))
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pki: parsing public key: %w", err)
			}
			alg, size := KeyDescription(pub)
			r.Keys = append(r.Keys, KeyInfo{Algorithm: alg, Size: size})
		default:
			if !isPrivateKeyBlock(block.Type) {
				continue
			}
			info, err := describePrivateKey(block)
			if err != nil {
				return nil, err
			}
			r.Keys = append(r.Keys, info)
		}
	}
	if !sawPEM {
		if c, err := x509.ParseCertificate(data); err == nil {
			certs = append(certs, c)
			r.Certificates = append(r.Certificates, describeCertificate(c, now))
		} else if csr, err := x509.ParseCertificateRequest(data); err == nil {
			r.Requests = append(r.Requests, describeRequest(csr))
		} else {
			return nil, fmt.Errorf("%w: not a certificate, request or key in PEM or DER", ErrNoPEM)
		}
	}
	if len(r.Certificates)+len(r.Requests)+len(r.Keys) == 0 {
		return nil, fmt.Errorf("%w: no certificate, request or key among the PEM blocks", ErrNoPEM)
	}
	if len(certs) > 1 {
		r.Chain = describeChain(certs, now)
	}
	return r, nil
}

func describeNames(subject string, cn string, o []string, dns []string, ips []string, uris []string, emails []string) Names {
	return Names{Subject: subject, CommonName: cn, Organization: o, DNSNames: dns, IPAddresses: ips, URIs: uris, EmailAddresses: emails}
}

func describeCertificate(c *x509.Certificate, now time.Time) CertificateInfo {
	alg, size := KeyDescription(c.PublicKey)
	info := CertificateInfo{
		Names: describeNames(c.Subject.String(), c.Subject.CommonName, c.Subject.Organization,
			c.DNSNames, ipStrings(c.IPAddresses), uriStrings(c.URIs), c.EmailAddresses),
		Issuer:             c.Issuer.String(),
		SerialNumber:       colonHex(c.SerialNumber.Bytes()),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		SecondsLeft:        int64(c.NotAfter.Sub(now) / time.Second),
		Expired:            now.After(c.NotAfter),
		Usages:             UsageNames(c.KeyUsage, c.ExtKeyUsage),
		KeyAlgorithm:       alg,
		KeySize:            size,
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		IsCA:               c.IsCA,
		SelfSigned:         IsSelfSigned(c),
		SHA256Fingerprint:  Fingerprint(c),
	}
	if c.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) {
		n := c.MaxPathLen
		info.MaxPathLen = &n
	}
	if len(c.SubjectKeyId) > 0 {
		info.SubjectKeyID = colonHex(c.SubjectKeyId)
	}
	if len(c.AuthorityKeyId) > 0 {
		info.AuthorityKeyID = colonHex(c.AuthorityKeyId)
	}
	return info
}

func describeRequest(csr *x509.CertificateRequest) RequestInfo {
	alg, size := KeyDescription(csr.PublicKey)
	return RequestInfo{
		Names: describeNames(csr.Subject.String(), csr.Subject.CommonName, csr.Subject.Organization,
			csr.DNSNames, ipStrings(csr.IPAddresses), uriStrings(csr.URIs), csr.EmailAddresses),
		KeyAlgorithm:       alg,
		KeySize:            size,
		SignatureAlgorithm: csr.SignatureAlgorithm.String(),
		SignatureValid:     csr.CheckSignature() == nil,
	}
}

func describePrivateKey(block *pem.Block) (KeyInfo, error) {
	signer, err := parsePrivateKeyBlock(block)
	if errors.Is(err, ErrEncryptedKey) {
		return KeyInfo{Private: true, Algorithm: "encrypted"}, nil
	}
	if err != nil {
		return KeyInfo{}, err
	}
	alg, size := KeyDescription(signer.Public())
	return KeyInfo{Private: true, Algorithm: alg, Size: size}, nil
}

func describeChain(certs []*x509.Certificate, now time.Time) *ChainInfo {
	info := &ChainInfo{}
	ordered, err := OrderChain(certs)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	info.Ordered = true
	for i := range certs {
		if certs[i] != ordered[i] {
			info.Ordered = false
		}
	}
	if root := Root(ordered); root != nil {
		info.Root = root.Subject.String()
	}
	if err := VerifyChain(ordered, nil, now); err != nil {
		info.Error = err.Error()
		return info
	}
	info.Valid = true
	return info
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func uriStrings[T fmt.Stringer](uris []T) []string {
	out := make([]string, 0, len(uris))
	for _, u := range uris {
		out = append(out, u.String())
	}
	return out
}

// WriteText writes the report for people to read.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, c := range r.Certificates {
		heading := "Certificate"
		if len(r.Certificates) > 1 {
			heading = fmt.Sprintf("Certificate %d of %d", i+1, len(r.Certificates))
		}
		fmt.Fprintf(tw, "%s\n", heading)
		row(tw, "Subject", c.Subject)
		row(tw, "Issuer", c.Issuer)
		row(tw, "Serial", c.SerialNumber)
		row(tw, "Not before", c.NotBefore.Format(time.RFC3339))
		row(tw, "Not after", c.NotAfter.Format(time.RFC3339)+" ("+TimeLeft(time.Duration(c.SecondsLeft)*time.Second)+")")
		writeSANs(tw, c.Names)
		row(tw, "Usages", joinUsages(c.Usages))
		row(tw, "Key", fmt.Sprintf("%s %d", c.KeyAlgorithm, c.KeySize))
		row(tw, "Signature", c.SignatureAlgorithm)
		ca := "no"
		if c.IsCA {
			ca = "yes"
			if c.MaxPathLen != nil {
				ca = fmt.Sprintf("yes, path length %d", *c.MaxPathLen)
			}
		}
		row(tw, "CA", ca)
		if c.SelfSigned {
			row(tw, "Self-signed", "yes")
		}
		row(tw, "Subject key ID", c.SubjectKeyID)
		row(tw, "Authority key ID", c.AuthorityKeyID)
		row(tw, "SHA-256", c.SHA256Fingerprint)
	}
	if ch := r.Chain; ch != nil {
		fmt.Fprintf(tw, "Chain\n")
		switch {
		case ch.Valid && ch.Ordered:
			row(tw, "Status", "valid, in order")
		case ch.Valid:
			row(tw, "Status", "valid, but not in order (leaf first, then each issuer)")
		default:
			row(tw, "Status", "invalid: "+ch.Error)
		}
		row(tw, "Root", ch.Root)
	}
	for _, q := range r.Requests {
		fmt.Fprintf(tw, "Certificate request\n")
		row(tw, "Subject", q.Subject)
		writeSANs(tw, q.Names)
		row(tw, "Key", fmt.Sprintf("%s %d", q.KeyAlgorithm, q.KeySize))
		row(tw, "Signature", q.SignatureAlgorithm)
		sig := "valid"
		if !q.SignatureValid {
			sig = "INVALID: the request was not signed by its key"
		}
		row(tw, "Signature check", sig)
	}
	for _, k := range r.Keys {
		kind := "Public key"
		if k.Private {
			kind = "Private key"
		}
		fmt.Fprintf(tw, "%s\n", kind)
		if k.Size > 0 {
			row(tw, "Type", fmt.Sprintf("%s %d", k.Algorithm, k.Size))
		} else {
			row(tw, "Type", k.Algorithm)
		}
	}
	return tw.Flush()
}

func writeSANs(w io.Writer, n Names) {
	row(w, "DNS names", strings.Join(n.DNSNames, ", "))
	row(w, "IP addresses", strings.Join(n.IPAddresses, ", "))
	row(w, "URIs", strings.Join(n.URIs, ", "))
	row(w, "Emails", strings.Join(n.EmailAddresses, ", "))
}

func row(w io.Writer, name, value string) {
	if value != "" {
		fmt.Fprintf(w, "  %s:\t%s\n", name, value)
	}
}

func joinUsages(us []Usage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ", ")
}

// TimeLeft says how long d is, in the largest two units, such as
// "364d 23h", "5h 3m" or "expired 2d 1h ago" for a negative d.
func TimeLeft(d time.Duration) string {
	if d < 0 {
		return "expired " + shortDuration(-d) + " ago"
	}
	return shortDuration(d) + " left"
}

func shortDuration(d time.Duration) string {
	days := int64(d / (24 * time.Hour))
	hours := int64(d%(24*time.Hour)) / int64(time.Hour)
	minutes := int64(d%time.Hour) / int64(time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, minutes)
	default:
		return fmt.Sprintf("%dm %ds", minutes, int64(d%time.Minute)/int64(time.Second))
	}
}
