package dns01

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// DefaultPort is the DNS port used when a nameserver is given without one.
const DefaultPort = 53

// resolvConfPath is where ParseNameservers reads the system's nameservers.
const resolvConfPath = "/etc/resolv.conf"

// fallbackNameservers are used when no nameservers are configured and
// /etc/resolv.conf names none, as cert-manager does.
var fallbackNameservers = []string{"8.8.8.8:53", "8.8.4.4:53"}

// ChallengeFQDN returns the name that holds the DNS-01 TXT record for
// dnsName: "_acme-challenge.<dnsName>." with a leading "*." (wildcard)
// removed and exactly one trailing dot.
func ChallengeFQDN(dnsName string) string {
	name := strings.TrimPrefix(dnsName, "*.")
	name = strings.TrimSuffix(name, ".")
	return "_acme-challenge." + name + "."
}

// ParseNameservers parses --dns01-recursive-nameservers style values into
// "host:port" addresses. A value is an IP address, a bracketed IPv6
// address or a host name, each with an optional ":port" (DefaultPort when
// missing). Blank values are skipped and duplicates dropped. DNS over HTTPS
// (https://...) is not supported and gives an error.
//
// When no value is given the servers of /etc/resolv.conf are returned, or
// 8.8.8.8:53 and 8.8.4.4:53 when that file names none (as cert-manager).
func ParseNameservers(values []string) ([]string, error) {
	return parseNameservers(values, resolvConfPath)
}

func parseNameservers(values []string, resolvConf string) ([]string, error) {
	var out []string
	seen := make(map[string]bool)
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		ns, err := parseNameserver(v)
		if err != nil {
			return nil, err
		}
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	return systemNameservers(resolvConf), nil
}

// systemNameservers returns the nameservers of a resolv.conf file, or the
// fallback servers when it cannot be read or names none.
func systemNameservers(path string) []string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return append([]string(nil), fallbackNameservers...)
	}
	var out []string
	for _, s := range cfg.Servers {
		ns, err := parseNameserver(net.JoinHostPort(s, cfg.Port))
		if err != nil {
			continue
		}
		out = append(out, ns)
	}
	if len(out) == 0 {
		return append([]string(nil), fallbackNameservers...)
	}
	return out
}

// parseNameserver parses one nameserver, "host[:port]" with IPv6 addresses
// in brackets when a port is given, into a normalized "host:port".
func parseNameserver(s string) (string, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return "", errors.New("dns01: empty nameserver")
	}
	lower := strings.ToLower(v)
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		return "", fmt.Errorf("dns01: nameserver %q: DNS over HTTPS is not supported, give host:port", v)
	}
	if strings.Contains(v, "://") {
		return "", fmt.Errorf("dns01: nameserver %q: URLs are not supported, give host:port", v)
	}

	var host, port string
	switch {
	case strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"):
		host, port = v[1:len(v)-1], ""
	case strings.HasPrefix(v, "["), strings.Count(v, ":") == 1:
		h, p, err := net.SplitHostPort(v)
		if err != nil {
			return "", fmt.Errorf("dns01: nameserver %q: want host[:port] with IPv6 addresses in brackets", v)
		}
		host, port = h, p
	default:
		// No port, or a bare IPv6 address (several colons, no brackets).
		host, port = v, ""
	}

	n := DefaultPort
	if port != "" || strings.HasSuffix(v, ":") {
		p, err := parsePort(port)
		if err != nil {
			return "", fmt.Errorf("dns01: nameserver %q: %w", v, err)
		}
		n = p
	}
	portText := strconv.Itoa(n)

	addr, ipErr := parseIP(host)
	if ipErr == nil {
		return net.JoinHostPort(addr, portText), nil
	}
	if strings.HasPrefix(v, "[") || strings.Contains(host, ":") {
		// Brackets or colons in the host: only an IPv6 address fits.
		return "", fmt.Errorf("dns01: nameserver %q: %w", v, ipErr)
	}
	if err := checkHostname(host); err != nil {
		return "", fmt.Errorf("dns01: nameserver %q: %w", v, err)
	}
	return net.JoinHostPort(host, portText), nil
}

// parseIP parses an IP address (IPv6 zones limited to simple interface
// names) and returns its canonical text.
func parseIP(s string) (string, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address", s)
	}
	if z := addr.Zone(); z != "" && !isHostChars(z) {
		return "", fmt.Errorf("IPv6 zone %q is not an interface name", z)
	}
	return addr.String(), nil
}

func parsePort(p string) (int, error) {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return n, nil
}

// checkHostname accepts DNS host names: labels of letters, digits, '-' and
// '_' separated by dots, with an optional trailing dot.
func checkHostname(h string) error {
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 || !isHostChars(name) {
		return fmt.Errorf("%q is not a host name or IP address", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q is not a host name or IP address", h)
		}
	}
	return nil
}

func isHostChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// checkName reports whether s is a usable domain name for queries and
// updates, and returns it fully qualified.
func checkName(what, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("dns01: empty %s", what)
	}
	name := dns.Fqdn(s)
	if _, ok := dns.IsDomainName(name); !ok || name == "." {
		return "", fmt.Errorf("dns01: %s %q is not a valid domain name", what, s)
	}
	return name, nil
}
