package dns01

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestChallengeFQDN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com", "_acme-challenge.example.com."},
		{"example.com.", "_acme-challenge.example.com."},
		{"*.example.com", "_acme-challenge.example.com."},
		{"*.example.com.", "_acme-challenge.example.com."},
		{"a.b.example.com", "_acme-challenge.a.b.example.com."},
		{"Mixed.Example.COM", "_acme-challenge.Mixed.Example.COM."},
	}
	for _, tt := range tests {
		if got := ChallengeFQDN(tt.in); got != tt.want {
			t.Errorf("ChallengeFQDN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseNameserver(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "127.0.0.1", want: "127.0.0.1:53"},
		{in: "127.0.0.1:15353", want: "127.0.0.1:15353"},
		{in: " 10.0.0.1:0053 ", want: "10.0.0.1:53"},
		{in: "::1", want: "[::1]:53"},
		{in: "2001:DB8::1", want: "[2001:db8::1]:53"},
		{in: "[::1]", want: "[::1]:53"},
		{in: "[2001:db8::1]:5353", want: "[2001:db8::1]:5353"},
		{in: "fe80::1%eth0", want: "[fe80::1%eth0]:53"},
		{in: "ns1.example.com", want: "ns1.example.com:53"},
		{in: "ns1.example.com.:8053", want: "ns1.example.com.:8053"},
		{in: "localhost:53", want: "localhost:53"},
		{in: "bind.cert-manager_e2e.svc", want: "bind.cert-manager_e2e.svc:53"},
		{in: "", err: "dns01: empty nameserver"},
		{in: "https://1.1.1.1/dns-query", err: `dns01: nameserver "https://1.1.1.1/dns-query": DNS over HTTPS is not supported, give host:port`},
		{in: "HTTPS://dns.google/dns-query", err: "DNS over HTTPS is not supported"},
		{in: "tls://1.1.1.1", err: `dns01: nameserver "tls://1.1.1.1": URLs are not supported, give host:port`},
		{in: "127.0.0.1:", err: `dns01: nameserver "127.0.0.1:": port "" is not a number from 1 to 65535`},
		{in: "127.0.0.1:0", err: `port "0" is not a number`},
		{in: "127.0.0.1:65536", err: `port "65536" is not a number`},
		{in: "127.0.0.1:+53", err: `port "+53" is not a number`},
		{in: "127.0.0.1:dns", err: `port "dns" is not a number`},
		{in: "[ns.example.com]:53", err: `"ns.example.com" is not an IP address`},
		{in: "[::1", err: "want host[:port] with IPv6 addresses in brackets"},
		{in: "2001:db8::1:53:x", err: `"2001:db8::1:53:x" is not an IP address`},
		{in: "fe80::1%eth0/x", err: `IPv6 zone "eth0/x" is not an interface name`},
		{in: "ns..example.com", err: `"ns..example.com" is not a host name or IP address`},
		{in: "ns example.com", err: `is not a host name or IP address`},
		{in: ".", err: `"." is not a host name or IP address`},
	}
	for _, tt := range tests {
		got, err := parseNameserver(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseNameserver(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseNameserver(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseNameservers(t *testing.T) {
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("search example.com\nnameserver 10.96.0.10\nnameserver fd00::10\noptions ndots:5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(empty, []byte("search example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		values []string
		resolv string
		want   []string
		err    string
	}{
		{name: "given", values: []string{"1.1.1.1:53", "8.8.8.8"}, resolv: resolv, want: []string{"1.1.1.1:53", "8.8.8.8:53"}},
		{name: "duplicates dropped", values: []string{"8.8.8.8", "8.8.8.8:53"}, resolv: resolv, want: []string{"8.8.8.8:53"}},
		{name: "blank skipped", values: []string{"", " ", "9.9.9.9"}, resolv: resolv, want: []string{"9.9.9.9:53"}},
		{name: "nil uses resolv.conf", resolv: resolv, want: []string{"10.96.0.10:53", "[fd00::10]:53"}},
		{name: "only blanks use resolv.conf", values: []string{""}, resolv: resolv, want: []string{"10.96.0.10:53", "[fd00::10]:53"}},
		{name: "resolv.conf without servers", resolv: empty, want: []string{"8.8.8.8:53", "8.8.4.4:53"}},
		{name: "no resolv.conf", resolv: filepath.Join(dir, "missing"), want: []string{"8.8.8.8:53", "8.8.4.4:53"}},
		{name: "DoH", values: []string{"8.8.8.8", "https://dns.google/dns-query"}, resolv: resolv, err: "DNS over HTTPS is not supported"},
		{name: "bad", values: []string{"1.2.3.4:99999"}, resolv: resolv, err: `port "99999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNameservers(tt.values, tt.resolv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseNameservers = %q, %v; want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("parseNameservers = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseTSIGAlgorithm(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "", want: "hmac-md5.sig-alg.reg.int."},
		{in: "HMACMD5", want: "hmac-md5.sig-alg.reg.int."},
		{in: "hmacmd5", want: "hmac-md5.sig-alg.reg.int."},
		{in: "HMACSHA1", want: "hmac-sha1."},
		{in: "HmacSha256", want: "hmac-sha256."},
		{in: "hmacsha512", want: "hmac-sha512."},
		{in: "hmac-sha256", err: `dns01: unsupported TSIG algorithm "hmac-sha256": use HMACMD5, HMACSHA1, HMACSHA256 or HMACSHA512`},
		{in: "HMACSHA224", err: `unsupported TSIG algorithm "HMACSHA224"`},
		{in: "hmac\u017fha256", err: "unsupported TSIG algorithm"},
		{in: " HMACSHA256", err: `unsupported TSIG algorithm " HMACSHA256"`},
	}
	for _, tt := range tests {
		got, err := ParseTSIGAlgorithm(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTSIGAlgorithm(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTSIGAlgorithm(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
