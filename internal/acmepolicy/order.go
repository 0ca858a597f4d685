package acmepolicy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// ReasonInvalidOrder is the reason a CertificateRequest fails with when its
// CSR cannot become an ACME order; see OrderSpec.
const ReasonInvalidOrder = "InvalidOrder"

// maxNamePrefix is the longest prefix OrderName and ChallengeName keep: with
// "-" and the at most 10 digits of a 32-bit hash the name stays within 63
// characters, so it also fits where a label is needed.
const maxNamePrefix = 52

// OrderSpec builds the Order for a CertificateRequest whose parsed CSR is
// csr, for the ACME issuer spec issuer. The Order asks for the CSR's DNS
// names (in the CSR's order) and IP addresses (in their canonical text
// form); its common name is the CSR's. The CertificateRequest's duration is
// copied only when the issuer's enableDurationFeature is on, and the
// issuer's profile is copied.
//
// Every error is permanent: the caller fails the CertificateRequest with
// ReasonInvalidOrder and the error's text. The CSR must name at least one
// DNS name or IP address, no URIs or email addresses (ACME certifies only
// DNS names and IPs), and a common name, if set, must be one of its DNS
// names or IP addresses.
func OrderSpec(cr *cmv1.CertificateRequest, csr *x509.CertificateRequest, issuer *cmv1.ACMEIssuer) (acmev1.OrderSpec, error) {
	if cr == nil || csr == nil || issuer == nil {
		return acmev1.OrderSpec{}, errors.New("no certificate request, CSR or issuer")
	}
	if len(csr.URIs) > 0 {
		return acmev1.OrderSpec{}, fmt.Errorf("the CSR requests URI SANs %v; ACME certifies only DNS names and IP addresses", csr.URIs)
	}
	if len(csr.EmailAddresses) > 0 {
		return acmev1.OrderSpec{}, fmt.Errorf("the CSR requests email SANs %v; ACME certifies only DNS names and IP addresses", csr.EmailAddresses)
	}
	if len(csr.DNSNames) == 0 && len(csr.IPAddresses) == 0 {
		return acmev1.OrderSpec{}, errors.New("the CSR requests no DNS names or IP addresses; an ACME order needs at least one")
	}
	var ips []string
	for _, ip := range csr.IPAddresses {
		ips = append(ips, ip.String())
	}
	cn := csr.Subject.CommonName
	if cn != "" && !commonNameListed(cn, csr.DNSNames, csr.IPAddresses) {
		return acmev1.OrderSpec{}, fmt.Errorf("the CSR's common name %q is not one of its DNS names %v or IP addresses %v; ACME requires a common name to be one of them", cn, csr.DNSNames, ips)
	}
	spec := acmev1.OrderSpec{
		Request:     cr.Spec.Request,
		IssuerRef:   cr.Spec.IssuerRef,
		CommonName:  cn,
		DNSNames:    append([]string(nil), csr.DNSNames...),
		IPAddresses: ips,
		Profile:     issuer.Profile,
	}
	if issuer.EnableDurationFeature && cr.Spec.Duration != nil {
		d := *cr.Spec.Duration
		spec.Duration = &d
	}
	return spec, nil
}

func commonNameListed(cn string, dnsNames []string, ips []net.IP) bool {
	for _, n := range dnsNames {
		if n == cn {
			return true
		}
	}
	cnIP := net.ParseIP(cn)
	for _, ip := range ips {
		if ip.String() == cn || (cnIP != nil && cnIP.Equal(ip)) {
			return true
		}
	}
	return false
}

// OrderName is the name of the Order for the CertificateRequest crName with
// spec: "<prefix>-<h>", where h is the decimal FNV-1 32-bit hash of the JSON
// of spec with Request cleared, so the same request for the same names
// always gets the same Order. The prefix is crName when it has at most 52
// characters; a longer crName is cut and made unique again by a hash of the
// whole name (see shortenPrefix). For a crName that is a valid object name,
// the result is a DNS-1123 subdomain of at most 63 characters.
func OrderName(crName string, spec acmev1.OrderSpec) string {
	spec.Request = nil
	return hashedName(crName, spec)
}

// ChallengeName is the name of the Challenge of the Order orderName with
// spec, built as OrderName builds it, from the JSON of the whole spec.
func ChallengeName(orderName string, spec acmev1.ChallengeSpec) string {
	return hashedName(orderName, spec)
}

func hashedName(prefix string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// The API types always marshal; keep the name deterministic anyway.
		b = []byte(err.Error())
	}
	h := fnv.New32()
	h.Write(b)
	return shortenPrefix(prefix) + "-" + strconv.FormatUint(uint64(h.Sum32()), 10)
}

// shortenPrefix returns name when it has at most maxNamePrefix characters.
// Otherwise it keeps the start of name, without trailing characters that
// are not letters or digits, and appends "-" and the first 8 hex digits of
// the SHA-256 of the whole name, so two long names sharing their first 52
// characters still get different prefixes.
func shortenPrefix(name string) string {
	if len(name) <= maxNamePrefix {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:4])
	head := strings.TrimRightFunc(name[:maxNamePrefix-1-len(suffix)], func(r rune) bool { return !isAlnum(r) })
	if head == "" {
		return suffix
	}
	return head + "-" + suffix
}

func isAlnum(r rune) bool {
	return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// ChallengeType converts a challenge type as the ACME server spells it
// (http-01, dns-01, in any case) to the Challenge resource's spelling. ok is
// false for other types.
func ChallengeType(acmeType string) (acmev1.ACMEChallengeType, bool) {
	switch {
	case strings.EqualFold(acmeType, TypeHTTP01):
		return acmev1.ACMEChallengeTypeHTTP01, true
	case strings.EqualFold(acmeType, TypeDNS01):
		return acmev1.ACMEChallengeTypeDNS01, true
	}
	return "", false
}

// ChallengeSpec is the spec of the Challenge for the offered challenge chal
// of the authorization authz of order, answered by solver (as PickChallenge
// and ApplySolverOverrides chose it) with key: the key authorization for
// HTTP-01, its base64url SHA-256 for DNS-01. A type other than http-01 or
// dns-01 is copied upper-cased; the Challenge CRD rejects it.
func ChallengeSpec(order *acmev1.Order, authz acmev1.ACMEAuthorization, chal acmev1.ACMEChallenge, solver cmv1.ACMEChallengeSolver, key string) acmev1.ChallengeSpec {
	typ, ok := ChallengeType(chal.Type)
	if !ok {
		typ = acmev1.ACMEChallengeType(strings.ToUpper(chal.Type))
	}
	wildcard := authz.Wildcard != nil && *authz.Wildcard
	name := authz.Identifier
	if strings.HasPrefix(name, "*.") {
		name = strings.TrimPrefix(name, "*.")
		wildcard = true
	}
	return acmev1.ChallengeSpec{
		URL:              chal.URL,
		AuthorizationURL: authz.URL,
		DNSName:          name,
		Wildcard:         wildcard,
		Type:             typ,
		Token:            chal.Token,
		Key:              key,
		Solver:           *solver.DeepCopy(),
		IssuerRef:        order.Spec.IssuerRef,
	}
}
