package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
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
	NotYetValid        bool      `json:"notYetValid,omitempty"`
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
	// Valid is true when the chain verifies up to a trusted root: one of
	// the roots given to check against, or else the bundle's own
	// self-signed root.
	Valid bool `json:"valid"`
	// Ordered is true when the bundle lists the leaf first and each
	// certificate's issuer after it.
	Ordered bool `json:"ordered"`
	// Root is the subject of the root the chain leads to: the bundle's own
	// or, when roots were given, the one it verified against.
	Root string `json:"root,omitempty"`
	// GivenRoots is how many roots the chain was checked against; zero
	// when none were given and only a root in the bundle is trusted.
	GivenRoots int `json:"givenRoots,omitempty"`
	// MissingRoot is set when the bundle stops short of its root and no
	// root was given, as a Kubernetes tls.crt does (leaf and
	// intermediates): every certificate is signed by the next and valid,
	// up to this root, which is not included. Valid is then false: there
	// is no root to trust.
	MissingRoot string `json:"missingRoot,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Inspect describes every certificate, certificate request and key in data,
// which is PEM or a single DER certificate or request. now is the time
// validity and time left are measured at. A bundle's chain is verified up
// to its own root, if it holds one.
func Inspect(data []byte, now time.Time) (*Report, error) {
	return InspectWithRoots(data, now, nil)
}

// InspectWithRoots is Inspect, with the certificates also verified against
// roots when roots is not empty: a single certificate too, and a bundle
// only up to one of roots, not to a root of its own.
func InspectWithRoots(data []byte, now time.Time, roots []*x509.Certificate) (*Report, error) {
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
	if len(certs) > 1 || (len(certs) == 1 && len(roots) > 0) {
		r.Chain = describeChain(certs, roots, now)
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
		NotYetValid:        now.Before(c.NotBefore),
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

func describeChain(certs []*x509.Certificate, roots []*x509.Certificate, now time.Time) *ChainInfo {
	info := &ChainInfo{GivenRoots: len(roots)}
	ordered, err := OrderChain(certs)
	if err != nil {
		info.Error = chainError(err, roots)
		return info
	}
	info.Ordered = true
	for i := range certs {
		if certs[i] != ordered[i] {
			info.Ordered = false
		}
	}
	last := ordered[len(ordered)-1]
	if len(roots) > 0 {
		chains, err := verify(ordered, roots, now)
		if err != nil {
			info.Error = chainError(err, roots)
			return info
		}
		path := chains[0]
		info.Valid, info.Root = true, path[len(path)-1].Subject.String()
		return info
	}
	if root := Root(ordered); root != nil {
		info.Root = root.Subject.String()
		if err := VerifyChain(ordered, nil, now); err != nil {
			info.Error = chainError(err, nil)
			return info
		}
		info.Valid = true
		return info
	}
	// No root in the bundle: check everything up to the last certificate,
	// taken as the anchor, and name the root it needs.
	if _, err := verify(ordered, []*x509.Certificate{last}, now); err != nil {
		info.Error = chainError(err, nil)
		return info
	}
	info.MissingRoot = last.Issuer.String()
	return info
}

// verify checks chain (leaf first) against roots at now; the other
// certificates of the chain are intermediates.
func verify(chain, roots []*x509.Certificate, now time.Time) ([][]*x509.Certificate, error) {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	return chain[0].Verify(opts)
}

// chainError says in words why a chain does not verify, without the
// package prefixes of the errors it comes from.
func chainError(err error, roots []*x509.Certificate) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown) && len(roots) > 0:
		return "no certificate in it was signed by the given root"
	case errors.As(err, &unknown):
		return "it does not lead to its root"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "certificate " + describeName(invalid.Cert.Subject) + " is not valid now: " + invalid.Detail
	}
	msg := err.Error()
	for _, p := range []string{ErrChain.Error() + ": ", "pki: ", "x509: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
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

// Problems says, one sentence each, what makes the inspected input unfit
// for use: a certificate that has expired or is not yet valid at the time
// of inspection, a request whose signature does not verify, and a chain
// that does not verify against the roots given to check it against. A
// chain that stops short of its root, or a bundle that is not one chain (a
// set of trusted roots, say), is described but is not a problem.
func (r *Report) Problems() []string {
	var out []string
	for i, c := range r.Certificates {
		which := "the certificate"
		if len(r.Certificates) > 1 {
			which = fmt.Sprintf("certificate %d of %d", i+1, len(r.Certificates))
		}
		name := c.Subject
		if c.CommonName != "" {
			name = c.CommonName
		}
		switch {
		case c.Expired:
			out = append(out, fmt.Sprintf("%s (%s) expired on %s", which, name, c.NotAfter.Format(time.RFC3339)))
		case c.NotYetValid:
			out = append(out, fmt.Sprintf("%s (%s) is not valid before %s", which, name, c.NotBefore.Format(time.RFC3339)))
		}
	}
	if ch := r.Chain; ch != nil && ch.GivenRoots > 0 && !ch.Valid {
		out = append(out, "the chain does not verify against the given root: "+ch.Error)
	}
	for i, q := range r.Requests {
		if q.SignatureValid {
			continue
		}
		which := "the certificate request"
		if len(r.Requests) > 1 {
			which = fmt.Sprintf("certificate request %d of %d", i+1, len(r.Requests))
		}
		out = append(out, which+"'s signature does not verify: it was not signed by the key it carries")
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
		order := ", in order"
		if !ch.Ordered {
			order = ", but not in order (leaf first, then each issuer)"
		}
		switch {
		case ch.Valid:
			row(tw, "Status", "valid"+order)
		case ch.MissingRoot != "":
			row(tw, "Status", "complete"+order+", up to a root that is not included")
		default:
			row(tw, "Status", "invalid: "+ch.Error)
		}
		switch {
		case ch.Valid && ch.GivenRoots > 0:
			row(tw, "Root", ch.Root+" (a given root)")
		case ch.MissingRoot != "":
			row(tw, "Root", ch.MissingRoot+" (not included)")
		default:
			row(tw, "Root", ch.Root)
		}
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

// DescribePEM names the kinds of PEM blocks in data, in the order they
// first appear ("a certificate and a private key"), or "" when it holds
// none: for messages that say what a file holds instead of what was asked.
func DescribePEM(data []byte) string {
	var kinds []string
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		kind := fmt.Sprintf("a %q PEM block", block.Type)
		switch {
		case block.Type == "CERTIFICATE":
			kind = "a certificate"
		case strings.HasSuffix(block.Type, "CERTIFICATE REQUEST"):
			kind = "a certificate request"
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			kind = "a private key"
		case block.Type == "PUBLIC KEY":
			kind = "a public key"
		}
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
	}
	return strings.Join(kinds, " and ")
}
