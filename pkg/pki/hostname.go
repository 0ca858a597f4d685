package pki

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// MaxDNSNameLength is the longest DNS name, in characters, a certificate may
// carry (RFC 1035: 255 octets on the wire, 253 written out).
const MaxDNSNameLength = 253

// ErrInvalidName means a name is neither a valid DNS name nor an IP address.
var ErrInvalidName = errors.New("pki: invalid name")

// NameError says why a name cannot be a certificate's DNS name or IP
// address. It matches ErrInvalidName with errors.Is.
type NameError struct {
	// Name is the name as given.
	Name string
	// Want is what it should have been: "a valid DNS name", or "an IP
	// address or a valid DNS name".
	Want string
	// Reason says what is wrong with it, without the name.
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("pki: %q is not %s: %s", e.Name, e.Want, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidName) true.
func (e *NameError) Is(target error) bool { return target == ErrInvalidName }

// ValidateDNSName checks that name can be a certificate's DNS name (a
// dNSName subject alternative name), by the rules of RFC 1123 host names
// that Kubernetes applies to DNS subdomains: labels of ASCII letters, digits
// and '-', separated by '.', each 1 to 63 characters that start and end
// with a letter or digit, 253 characters in all. Letters of either case are
// accepted (DNS compares them without case). The first label may be the
// wildcard '*' on its own, as in *.example.com. The last label may not be
// all digits, so that a mistyped IPv4 address such as 999.1.1.1 is not taken
// for a name. A trailing dot is refused.
//
// The CRDs of cert-manager.io certplane serves check dnsNames with the
// regular expression DNSNamePattern, which accepts the same names.
func ValidateDNSName(name string) error {
	bad := func(format string, args ...any) error {
		return &NameError{Name: name, Want: "a valid DNS name", Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > MaxDNSNameLength:
		return bad("it is longer than %d characters", MaxDNSNameLength)
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		switch {
		case l == "":
			if i == len(labels)-1 {
				return bad("it ends with '.'")
			}
			return bad("it has an empty label")
		case l == "*" && i == 0:
			if len(labels) == 1 {
				return bad("a wildcard needs a domain after '*.'")
			}
			continue
		case strings.Contains(l, "*"):
			return bad("'*' may only be the whole first label, as in *.example.com")
		case len(l) > 63:
			return bad("label %q is longer than 63 characters", l)
		case l[0] == '-' || l[len(l)-1] == '-':
			return bad("label %q starts or ends with '-'", l)
		}
		for _, c := range l {
			if !isLetterDigit(c) && c != '-' {
				return bad("label %q has %q, which is not an ASCII letter, digit or '-'", l, c)
			}
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return bad("its last label %q is all digits", last)
	}
	return nil
}

// DNSNamePattern is a regular expression (RE2, as Go's regexp and CEL's
// matches use) that matches what ValidateDNSName accepts, but for the
// length limit of the whole name and the rule that the last label is not
// all digits, which are checked apart. It has no backslash, so that it can
// be written unchanged into CEL rules and kubebuilder markers.
const DNSNamePattern = `^([*][.])?([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?[.])*[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`

// NumericTLDPattern matches names whose last label is all digits, which
// ValidateDNSName refuses.
const NumericTLDPattern = `(^|[.])[0-9]+$`

// ValidateHost checks a name given as free text that may be either an IP
// address or a DNS name, as kubeadm's certSANs or cfssl's hosts: an IP
// address is accepted as net.ParseIP reads it, anything else must pass
// ValidateDNSName.
func ValidateHost(host string) error {
	if net.ParseIP(host) != nil {
		return nil
	}
	if err := ValidateDNSName(host); err != nil {
		var ne *NameError
		if errors.As(err, &ne) {
			ne.Want = "an IP address or a valid DNS name"
		}
		return err
	}
	return nil
}

func isLetterDigit(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
