package vault

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// SignRequest is what to ask Vault's pki/sign (or sign-verbatim) endpoint
// for. cert-manager fills it from the CSR: the subject's common name, the
// DNS names in AltNames (emails are not sent; Vault takes them from the CSR
// when the role's use_csr_sans is set), the IP and URI SANs, the
// Certificate's duration, and ExcludeCNFromSANs true.
type SignRequest struct {
	CSR               []byte // PEM CERTIFICATE REQUEST
	CommonName        string
	AltNames          []string // DNS names
	IPSANs            []string
	URISANs           []string
	TTL               time.Duration // 0: not sent (the role's default)
	ExcludeCNFromSANs bool
}

// Body returns the JSON body cert-manager sends, every value a string:
// common_name, alt_names, ip_sans and uri_sans (lists joined with ","),
// ttl (time.Duration's String, e.g. "2160h0m0s"; left out when TTL is 0),
// csr, and exclude_cn_from_sans ("true" or "false").
func (r SignRequest) Body() map[string]any {
	b := map[string]any{
		"common_name":          r.CommonName,
		"alt_names":            strings.Join(r.AltNames, ","),
		"ip_sans":              strings.Join(r.IPSANs, ","),
		"uri_sans":             strings.Join(r.URISANs, ","),
		"csr":                  string(r.CSR),
		"exclude_cn_from_sans": strconv.FormatBool(r.ExcludeCNFromSANs),
	}
	if r.TTL != 0 {
		b["ttl"] = r.TTL.String()
	}
	return b
}

// Issued is a certificate Vault signed, split as cert-manager splits it.
type Issued struct {
	// Chain is the leaf then its issuers up to, not including, a
	// self-signed root: cert-manager's tls.crt. A lone self-signed
	// certificate is kept.
	Chain []*x509.Certificate
	// CA is the self-signed root when Vault's answer holds one, else the
	// top certificate of Chain when there is more than one, else nil:
	// cert-manager's ca.crt.
	CA *x509.Certificate
	// Serial is Vault's serial_number: the leaf's serial as lower-case hex
	// pairs joined by colons.
	Serial string
}

// maxCerts bounds the certificates ParseIssued accepts (ordering them is
// quadratic in signature checks).
const maxCerts = 100

// ParseIssued turns the certificate, issuing_ca and ca_chain fields of a
// sign answer into the chain and CA. It drops duplicates, orders the
// certificates leaf first by their signatures, and fails when they are not
// one chain starting at the first certificate of certificate, or when a
// field holds no certificate (issuingCA and caChain may be empty).
func ParseIssued(certificate string, issuingCA string, caChain []string) (*Issued, error) {
	is, err := parseIssued(certificate, issuingCA, caChain)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return is, nil
}

func parseIssued(certificate string, issuingCA string, caChain []string) (*Issued, error) {
	leaf, err := parseField("certificate", certificate)
	if err != nil {
		return nil, err
	}
	if len(leaf) == 0 {
		return nil, errors.New("the answer holds no certificate")
	}
	all := leaf
	more, err := parseField("issuing_ca", issuingCA)
	if err != nil {
		return nil, err
	}
	all = append(all, more...)
	for i, pem := range caChain {
		more, err := parseField(fmt.Sprintf("ca_chain[%d]", i), pem)
		if err != nil {
			return nil, err
		}
		all = append(all, more...)
	}
	var certs []*x509.Certificate
	for _, c := range all {
		if !slices.ContainsFunc(certs, func(d *x509.Certificate) bool { return bytes.Equal(c.Raw, d.Raw) }) {
			certs = append(certs, c)
		}
		if len(certs) > maxCerts {
			return nil, fmt.Errorf("the answer holds more than %d certificates", maxCerts)
		}
	}
	chain, err := pki.OrderChain(certs)
	if err != nil {
		return nil, fmt.Errorf("the answer's certificates: %w", err)
	}
	if !bytes.Equal(chain[0].Raw, leaf[0].Raw) {
		return nil, errors.New("the answer's certificate is not the leaf of its chain")
	}
	is := &Issued{Serial: serialString(chain[0])}
	top := chain[len(chain)-1]
	switch {
	case selfSigned(top) && len(chain) > 1:
		is.Chain, is.CA = chain[:len(chain)-1], top
	case selfSigned(top):
		is.Chain, is.CA = chain, top
	case len(chain) > 1:
		is.Chain, is.CA = chain, top
	default:
		is.Chain = chain
	}
	return is, nil
}

// parseField reads the certificates of one PEM field; an empty field is
// none.
func parseField(name, data string) ([]*x509.Certificate, error) {
	if strings.TrimSpace(data) == "" {
		return nil, nil
	}
	certs, err := pki.ParseCertificatesPEM([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("the answer's %s: %w", name, err)
	}
	return certs, nil
}

// selfSigned reports whether c is a root as cert-manager sees one: it
// verifies its own signature as its own issuer (so it must be a CA).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// serialString formats a serial as Vault does: lower-case hex pairs joined
// by colons.
func serialString(c *x509.Certificate) string {
	h := hex.EncodeToString(c.SerialNumber.Bytes())
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

// signData is the data of a sign answer.
type signData struct {
	Certificate  string   `json:"certificate"`
	IssuingCA    string   `json:"issuing_ca"`
	CAChain      []string `json:"ca_chain"`
	SerialNumber string   `json:"serial_number"`
}

// Sign posts req.Body() to /v1/<path> (path as cert-manager's vault.path,
// e.g. "pki/sign/web") and parses the answer with ParseIssued. With a
// fresh token it makes exactly one HTTP request; it logs in first when it
// has no token or the token is past two thirds of its lease, and when a
// login method's token is refused (403) it logs in again and retries once.
func (c *Client) Sign(ctx context.Context, path string, req SignRequest) (*Issued, error) {
	p, err := apiPath(path)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(req.CSR)) == 0 {
		return nil, errors.New("vault: the sign request has no CSR")
	}
	a, err := c.authed(ctx, request{method: http.MethodPost, path: p, body: req.Body()})
	if err != nil {
		return nil, err
	}
	var d signData
	if len(a.Data) == 0 || string(a.Data) == "null" {
		return nil, fmt.Errorf("vault: POST %s: the answer holds no data", p)
	}
	if err := json.Unmarshal(a.Data, &d); err != nil {
		return nil, fmt.Errorf("vault: POST %s: reading the answer's data: %w", p, err)
	}
	is, err := parseIssued(d.Certificate, d.IssuingCA, d.CAChain)
	if err != nil {
		return nil, fmt.Errorf("vault: POST %s: %w", p, err)
	}
	if d.SerialNumber != "" {
		is.Serial = d.SerialNumber
	}
	return is, nil
}
