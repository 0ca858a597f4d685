package dns01

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseNameserver checks that nameserver parsing never panics, that
// what it accepts is a dialable host:port with a port from 1 to 65535, and
// that its output parses to itself.
func FuzzParseNameserver(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1", "127.0.0.1:15353", "::1", "[::1]", "[2001:db8::1]:5353", "fe80::1%eth0",
		"ns1.example.com", "ns1.example.com.:8053", "https://1.1.1.1/dns-query", "tls://x", "1.2.3.4:",
		"[::1", "a..b", "", " ", "[ns]:53", "1.2.3.4:65536", "::ffff:1.2.3.4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseNameserver(s)
		if err != nil {
			if got != "" {
				t.Fatalf("parseNameserver(%q) = %q with error %v", s, got, err)
			}
			return
		}
		host, port, err := net.SplitHostPort(got)
		if err != nil {
			t.Fatalf("parseNameserver(%q) = %q, not host:port: %v", s, got, err)
		}
		if host == "" {
			t.Fatalf("parseNameserver(%q) = %q with an empty host", s, got)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			t.Fatalf("parseNameserver(%q) = %q with port %q", s, got, port)
		}
		again, err := parseNameserver(got)
		if err != nil || again != got {
			t.Fatalf("parseNameserver(%q) = %q, but that parses to %q, %v", s, got, again, err)
		}
	})
}

// FuzzParseNameservers checks the list form: no panics, and every result
// is a parsed nameserver.
func FuzzParseNameservers(f *testing.F) {
	f.Add("8.8.8.8", "1.1.1.1:53")
	f.Add("", "https://dns.google/dns-query")
	f.Add("[::1]:53", "[::1]")
	resolv := f.TempDir() + "/missing-resolv.conf"
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := parseNameservers([]string{a, b}, resolv)
		if err != nil {
			return
		}
		if len(got) == 0 {
			t.Fatalf("parseNameservers(%q, %q) returned nothing and no error", a, b)
		}
		for _, ns := range got {
			if again, err := parseNameserver(ns); err != nil || again != ns {
				t.Fatalf("parseNameservers(%q, %q) gave %q, which parses to %q, %v", a, b, ns, again, err)
			}
		}
	})
}

// FuzzParseTSIGAlgorithm checks that exactly cert-manager's four names
// (any case) and "" are accepted, and that the result is a TSIG name this
// package can sign with.
func FuzzParseTSIGAlgorithm(f *testing.F) {
	for _, s := range []string{"", "HMACMD5", "hmacsha1", "HmacSha256", "HMACSHA512", "hmac-sha256.", "HMACSHA224", "\u212a", "hmac\u017fha256"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTSIGAlgorithm(s)
		_, known := tsigAlgorithms[strings.ToUpper(s)]
		if want := s == "" || known && isASCII(s); (err == nil) != want {
			t.Fatalf("ParseTSIGAlgorithm(%q) = %q, %v", s, got, err)
		}
		if err != nil {
			return
		}
		if _, err := newHash(got); err != nil {
			t.Fatalf("ParseTSIGAlgorithm(%q) = %q, which cannot sign: %v", s, got, err)
		}
	})
}

// FuzzRFC2136Validate checks that configuration errors never contain the
// TSIG secret, whatever the other fields hold.
func FuzzRFC2136Validate(f *testing.F) {
	const marker = "c2VjcmV0LW1hcmtlci0xMjM0NQ=="
	const badMarker = "!!not-base64-secret-marker!!"
	f.Add("127.0.0.1:53", "certplane-key", "HMACSHA256", "UDP", false)
	f.Add("[::1]:x", "a..b", "SHA256", "DoT", true)
	f.Add("", "", "", "", false)
	f.Fuzz(func(t *testing.T, ns, keyName, alg, proto string, bad bool) {
		secret := marker
		if bad {
			secret = badMarker
		}
		for _, field := range []string{ns, keyName, alg, proto} {
			if strings.Contains(field, secret) {
				return
			}
		}
		p := RFC2136{Nameserver: ns, TSIGKeyName: keyName, TSIGAlgorithm: alg, TSIGSecret: secret, Protocol: proto}
		if err := p.Validate(); err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("Validate error contains the secret: %v", err)
		}
		if s := p.String(); strings.Contains(s, secret) {
			t.Fatalf("String contains the secret: %s", s)
		}
	})
}
