package acmepolicy

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// Reasons of an ACME issuer's Ready condition, as cert-manager sets them.
const (
	// ReasonAccountRegistered (Ready=True, MessageAccountRegistered).
	ReasonAccountRegistered = "ACMEAccountRegistered"
	// ReasonErrRegisterACMEAccount: registration failed; the message is
	// MessagePrefixErrRegister followed by the error.
	ReasonErrRegisterACMEAccount = "ErrRegisterACMEAccount"
	// ReasonErrVerifyACMEAccount: the account could not be checked, for
	// example because its key is missing and may not be generated.
	ReasonErrVerifyACMEAccount = "ErrVerifyACMEAccount"
	// ReasonErrUpdateACMEAccount: the account's contact could not be updated.
	ReasonErrUpdateACMEAccount = "ErrUpdateACMEAccount"
	// ReasonInvalidConfig: the spec cannot work, such as a v1 server URL.
	ReasonInvalidConfig = "InvalidConfig"
	// ReasonInvalidURL: the server URL is not an http(s) URL.
	ReasonInvalidURL = "InvalidURL"
	// ReasonInvalidSolver: a solver is misconfigured, or its Secret or key
	// is missing.
	ReasonInvalidSolver = "InvalidSolver"
)

// Messages of the Ready condition.
const (
	MessageAccountRegistered = "The ACME account was registered with the ACME server"
	MessagePrefixErrRegister = "Failed to register ACME account: "
)

// AccountCurrent reports whether the ACME account in status can be used
// without asking the server again: the issuer is ready, status.acme.uri is
// set, the account URL's host equals the server URL's host, the email in
// spec equals the last registered one (ignoring case) and keyHash (see
// KeyHash) equals the last registered key's hash. clearURI is true when the
// account URL must be forgotten before registering again: its host differs
// from the server's (the server was changed), or it is not a URL.
func AccountCurrent(status *cmv1.IssuerStatus, ready bool, spec *cmv1.ACMEIssuer, keyHash string) (current bool, clearURI bool) {
	if status == nil || status.ACME == nil || status.ACME.URI == "" || spec == nil {
		return false, false
	}
	acct, err := url.Parse(status.ACME.URI)
	if err != nil || acct.Host == "" {
		return false, true
	}
	server, err := url.Parse(spec.Server)
	if err != nil {
		return false, false
	}
	if !strings.EqualFold(acct.Host, server.Host) {
		return false, true
	}
	current = ready &&
		strings.EqualFold(spec.Email, status.ACME.LastRegisteredEmail) &&
		keyHash == status.ACME.LastPrivateKeyHash
	return current, false
}

// KeyHash is the hash status.acme.lastPrivateKeyHash records: the standard
// base64 of the SHA-256 of the account key's PKCS#1 DER.
func KeyHash(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// letsEncryptV1 maps Let's Encrypt's retired ACME v1 directories to their
// RFC 8555 successors.
var letsEncryptV1 = map[string]string{
	"https://acme-v01.api.letsencrypt.org/directory":     "https://acme-v02.api.letsencrypt.org/directory",
	"https://acme-staging.api.letsencrypt.org/directory": "https://acme-staging-v02.api.letsencrypt.org/directory",
}

// CheckServer checks an issuer's spec.acme.server before any request is
// made. An unparsable URL, or one that is not http or https with a host,
// gives ReasonInvalidURL; a known Let's Encrypt v1 directory gives
// ReasonInvalidConfig and names the v2 URL to use.
func CheckServer(server string) (reason, message string, ok bool) {
	u, err := url.Parse(server)
	if err != nil {
		// The URL text is left out: it may hold a password.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return ReasonInvalidURL, fmt.Sprintf("Failed to parse the ACME server URL: %v", err), false
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ReasonInvalidURL, fmt.Sprintf("The ACME server URL %q is not an http or https URL with a host", u.Redacted()), false
	}
	if v2, isV1 := letsEncryptV1[strings.TrimSuffix(strings.ToLower(server), "/")]; isV1 {
		return ReasonInvalidConfig, fmt.Sprintf("Your ACME server URL is set to a v1 endpoint (%s), which no longer works. You should update the spec.acme.server field to the v2 endpoint %s", server, v2), false
	}
	return "", "", true
}

// ParseEABKey decodes an external account binding's HMAC key as stored in
// its Secret: unpadded base64url (RFC 4648 section 5 without "="), as
// cert-manager reads it. Surrounding white space, such as a final newline,
// is ignored; anything else, padding included, is an error. Errors never
// contain the key.
func ParseEABKey(s []byte) ([]byte, error) {
	text := strings.TrimSpace(string(s))
	if text == "" {
		return nil, errors.New("external account binding key is empty")
	}
	if strings.Contains(text, "=") {
		return nil, errors.New("external account binding key must be unpadded base64url: padding '=' is not allowed")
	}
	key, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			return nil, fmt.Errorf("external account binding key is not unpadded base64url: bad data at byte %d", int64(corrupt))
		}
		return nil, errors.New("external account binding key is not unpadded base64url")
	}
	return key, nil
}

// tsigAlgorithms are the TSIG algorithms rfc2136 solvers accept, upper-cased.
var tsigAlgorithms = map[string]bool{"HMACMD5": true, "HMACSHA1": true, "HMACSHA256": true, "HMACSHA512": true}

// CheckSolvers checks what the CRD's rules cannot: that each solver sets
// exactly one challenge type and one way to route or present it, and that
// an rfc2136 solver names a usable nameserver and a complete TSIG key. Its
// error names the field; the caller reports it with ReasonInvalidSolver.
// Secrets are not read here.
func CheckSolvers(spec *cmv1.ACMEIssuer) error {
	if spec == nil {
		return nil
	}
	for i := range spec.Solvers {
		if err := checkSolver(&spec.Solvers[i]); err != nil {
			return fmt.Errorf("spec.acme.solvers[%d]%w", i, err)
		}
	}
	return nil
}

// checkSolver and the checks below return errors that continue a field
// path: they start with "." and a field, or with ": " for the solver itself.
func checkSolver(s *cmv1.ACMEChallengeSolver) error {
	switch {
	case s.HTTP01 != nil && s.DNS01 != nil, s.HTTP01 == nil && s.DNS01 == nil:
		return errors.New(": exactly one of http01 and dns01 must be set")
	case s.HTTP01 != nil:
		return checkHTTP01(s.HTTP01)
	default:
		return checkDNS01(s.DNS01)
	}
}

func checkHTTP01(h *cmv1.ACMEChallengeSolverHTTP01) error {
	if (h.Ingress == nil) == (h.GatewayHTTPRoute == nil) {
		return errors.New(".http01: exactly one of ingress and gatewayHTTPRoute must be set")
	}
	if ing := h.Ingress; ing != nil {
		n := 0
		for _, set := range []bool{ing.Name != "", ing.Class != nil, ing.IngressClassName != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return errors.New(".http01.ingress: only one of name, class and ingressClassName may be set")
		}
		if ing.Name != "" {
			if msgs := validation.IsDNS1123Subdomain(ing.Name); len(msgs) > 0 {
				return fmt.Errorf(".http01.ingress.name: %q is not a valid Ingress name: %s", ing.Name, strings.Join(msgs, "; "))
			}
		}
		return nil
	}
	for j, ref := range h.GatewayHTTPRoute.ParentRefs {
		if ref.Name == "" {
			return fmt.Errorf(".http01.gatewayHTTPRoute.parentRefs[%d].name: must be set", j)
		}
	}
	return nil
}

func checkDNS01(d *cmv1.ACMEChallengeSolverDNS01) error {
	switch d.CNAMEStrategy {
	case "", "None", "Follow":
	default:
		return fmt.Errorf(".dns01.cnameStrategy: %q is not None or Follow", d.CNAMEStrategy)
	}
	n := 0
	for _, set := range []bool{d.RFC2136 != nil, d.Akamai != nil, d.CloudDNS != nil, d.Cloudflare != nil, d.Route53 != nil, d.AzureDNS != nil, d.DigitalOcean != nil, d.AcmeDNS != nil, d.Webhook != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New(".dns01: exactly one DNS provider must be set")
	}
	if d.RFC2136 == nil {
		return nil
	}
	r := d.RFC2136
	if err := checkNameserver(r.Nameserver); err != nil {
		return fmt.Errorf(".dns01.rfc2136.nameserver: %w", err)
	}
	if r.TSIGKeyName != "" && r.TSIGSecret.Name == "" {
		return errors.New(".dns01.rfc2136.tsigSecretSecretRef.name: must be set when tsigKeyName is set")
	}
	if r.TSIGKeyName == "" && r.TSIGSecret.Name != "" {
		return errors.New(".dns01.rfc2136.tsigKeyName: must be set when tsigSecretSecretRef is set")
	}
	if r.TSIGAlgorithm != "" && !tsigAlgorithms[strings.ToUpper(r.TSIGAlgorithm)] {
		return fmt.Errorf(".dns01.rfc2136.tsigAlgorithm: %q is not one of HMACMD5, HMACSHA1, HMACSHA256, HMACSHA512", r.TSIGAlgorithm)
	}
	switch r.Protocol {
	case "", "UDP", "TCP":
	default:
		return fmt.Errorf(".dns01.rfc2136.protocol: %q is not UDP or TCP", r.Protocol)
	}
	return nil
}

// checkNameserver accepts host, host:port, [ipv6] and [ipv6]:port.
func checkNameserver(ns string) error {
	ns = strings.TrimSpace(ns)
	if ns == "" {
		return errors.New("must be set")
	}
	host, port := ns, ""
	if h, p, err := net.SplitHostPort(ns); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(ns, "[") && strings.HasSuffix(ns, "]") {
		host = ns[1 : len(ns)-1]
	} else if strings.Contains(ns, ":") {
		return fmt.Errorf("%q is not host[:port] (put an IPv6 address in brackets)", ns)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", ns)
	}
	if strings.ContainsAny(host, "[]/ ") {
		return fmt.Errorf("%q is not host[:port]", ns)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has an invalid port", ns)
		}
	}
	return nil
}
