package acmepolicy_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/acmepolicy"
)

func TestAccountCurrent(t *testing.T) {
	spec := &cmv1.ACMEIssuer{Server: "https://acme.example.com/dir", Email: "Ops@Example.com"}
	status := func(uri, email, hash string) *cmv1.IssuerStatus {
		return &cmv1.IssuerStatus{ACME: &cmv1.ACMEIssuerStatus{URI: uri, LastRegisteredEmail: email, LastPrivateKeyHash: hash}}
	}
	const acct = "https://acme.example.com/acct/42"
	tests := []struct {
		name        string
		status      *cmv1.IssuerStatus
		ready       bool
		spec        *cmv1.ACMEIssuer
		hash        string
		wantCurrent bool
		wantClear   bool
	}{
		{"current", status(acct, "ops@example.com", "h"), true, spec, "h", true, false},
		{"email case ignored", status(acct, "OPS@EXAMPLE.COM", "h"), true, spec, "h", true, false},
		{"not ready", status(acct, "ops@example.com", "h"), false, spec, "h", false, false},
		{"no status", &cmv1.IssuerStatus{}, true, spec, "h", false, false},
		{"nil status", nil, true, spec, "h", false, false},
		{"no uri", status("", "ops@example.com", "h"), true, spec, "h", false, false},
		{"email changed", status(acct, "old@example.com", "h"), true, spec, "h", false, false},
		{"email removed", status(acct, "ops@example.com", "h"), true, &cmv1.ACMEIssuer{Server: spec.Server}, "h", false, false},
		{"key changed", status(acct, "ops@example.com", "h"), true, spec, "other", false, false},
		{"server host changed", status("https://old-ca.example.com/acct/42", "ops@example.com", "h"), true, spec, "h", false, true},
		{"server port changed", status("https://acme.example.com:8443/acct/42", "ops@example.com", "h"), true, spec, "h", false, true},
		{"server path changed only", status(acct, "ops@example.com", "h"), true, &cmv1.ACMEIssuer{Server: "https://acme.example.com/v2/dir", Email: spec.Email}, "h", true, false},
		{"host changed, not ready", status("https://old-ca.example.com/acct/42", "ops@example.com", "h"), false, spec, "h", false, true},
		{"uri not a URL", status("::not a url", "ops@example.com", "h"), true, spec, "h", false, true},
		{"uri without host", status("/acct/42", "ops@example.com", "h"), true, spec, "h", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current, clear := acmepolicy.AccountCurrent(tt.status, tt.ready, tt.spec, tt.hash)
			if current != tt.wantCurrent || clear != tt.wantClear {
				t.Errorf("got current=%v clear=%v, want %v %v", current, clear, tt.wantCurrent, tt.wantClear)
			}
		})
	}
}

func TestKeyHash(t *testing.T) {
	// SHA-256 of the empty string.
	if got, want := acmepolicy.KeyHash(nil), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; got != want {
		t.Errorf("KeyHash(nil) = %q, want %q", got, want)
	}
	if acmepolicy.KeyHash([]byte{1}) == acmepolicy.KeyHash([]byte{2}) {
		t.Error("different keys, same hash")
	}
}

func TestCheckServer(t *testing.T) {
	tests := []struct {
		server     string
		wantReason string
		wantMsg    string
	}{
		{"https://acme-v02.api.letsencrypt.org/directory", "", ""},
		{"http://pebble:14000/dir", "", ""},
		{"HTTPS://ca.example.com/dir", "", ""},
		{"https://acme-v01.api.letsencrypt.org/directory", "InvalidConfig", "v1 endpoint (https://acme-v01.api.letsencrypt.org/directory), which no longer works. You should update the spec.acme.server field to the v2 endpoint https://acme-v02.api.letsencrypt.org/directory"},
		{"https://acme-staging.api.letsencrypt.org/directory/", "InvalidConfig", "https://acme-staging-v02.api.letsencrypt.org/directory"},
		{"https://ACME-V01.api.letsencrypt.org/directory", "InvalidConfig", "v1 endpoint"},
		{"", "InvalidURL", "not an http or https URL"},
		{"acme.example.com/dir", "InvalidURL", "not an http or https URL"},
		{"ftp://acme.example.com/dir", "InvalidURL", "not an http or https URL"},
		{"https:///dir", "InvalidURL", "not an http or https URL"},
		{"https://user:secret@ca.example.com/dir%", "InvalidURL", `Failed to parse the ACME server URL: invalid URL escape "%"`},
		{"https://user:secret@/dir", "InvalidURL", "user:xxxxx@"},
		{"://x", "InvalidURL", "Failed to parse"},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			reason, msg, ok := acmepolicy.CheckServer(tt.server)
			if reason != tt.wantReason || ok != (tt.wantReason == "") || !strings.Contains(msg, tt.wantMsg) || strings.Contains(msg, "secret") {
				t.Errorf("got %q %q %v, want %q containing %q", reason, msg, ok, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestParseEABKey(t *testing.T) {
	key := []byte{0xfb, 0xff, 0x01, 0x02, 0x03}
	enc := base64.RawURLEncoding.EncodeToString(key) // "-_8BAgM"
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr string
	}{
		{"unpadded base64url", enc, key, ""},
		{"trailing newline", enc + "\n", key, ""},
		{"surrounding space", "  " + enc + "\r\n", key, ""},
		{"padded", base64.URLEncoding.EncodeToString(key), nil, "padding '=' is not allowed"},
		{"standard alphabet", base64.RawStdEncoding.EncodeToString(key), nil, "not unpadded base64url: bad data at byte 0"},
		{"bad length", "abcde", nil, "not unpadded base64url"},
		{"empty", "", nil, "empty"},
		{"blank", " \n", nil, "empty"},
		{"inner space", "abcd efgh", nil, "not unpadded base64url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := acmepolicy.ParseEABKey([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("got %x %v, want %x", got, err, tt.want)
			}
		})
	}
}

func FuzzParseEABKey(f *testing.F) {
	f.Add([]byte("-_8BAgM"))
	f.Add([]byte("-_8BAgM=\n"))
	f.Add([]byte("abcd\nefgh"))
	f.Add([]byte(" "))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		key, err := acmepolicy.ParseEABKey(in)
		text := strings.TrimSpace(string(in))
		if err != nil {
			if len(text) >= 6 && strings.Contains(err.Error(), text) {
				t.Fatalf("the error %q shows the key", err)
			}
			return
		}
		if len(key) == 0 {
			t.Fatal("accepted an empty key")
		}
		// The decoder skips CR and LF; otherwise the input is the canonical
		// encoding, or differs from it only in unused final bits.
		re := base64.RawURLEncoding.EncodeToString(key)
		plain := strings.NewReplacer("\r", "", "\n", "").Replace(text)
		if len(re) != len(plain) || re[:len(re)-1] != plain[:len(plain)-1] {
			t.Fatalf("%q decoded to %x, which encodes as %q", text, key, re)
		}
	})
}

func TestCheckSolvers(t *testing.T) {
	str := func(s string) *string { return &s }
	raw := &runtime.RawExtension{Raw: []byte(`{}`)}
	rfc := func(r cmv1.ACMEIssuerDNS01ProviderRFC2136) cmv1.ACMEChallengeSolver {
		return cmv1.ACMEChallengeSolver{DNS01: &cmv1.ACMEChallengeSolverDNS01{RFC2136: &r}}
	}
	okRFC := cmv1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "127.0.0.1:5353", TSIGKeyName: "k", TSIGSecret: cmv1.SecretKeySelector{LocalObjectReference: cmv1.LocalObjectReference{Name: "tsig"}, Key: "secret"}, TSIGAlgorithm: "hmacsha256"}
	with := func(f func(*cmv1.ACMEIssuerDNS01ProviderRFC2136)) cmv1.ACMEChallengeSolver {
		r := okRFC
		f(&r)
		return rfc(r)
	}
	httpIng := func(ing cmv1.ACMEChallengeSolverHTTP01Ingress) cmv1.ACMEChallengeSolver {
		return cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &ing}}
	}
	tests := []struct {
		name    string
		solvers []cmv1.ACMEChallengeSolver
		wantErr string
	}{
		{"none", nil, ""},
		{"good", []cmv1.ACMEChallengeSolver{
			httpIng(cmv1.ACMEChallengeSolverHTTP01Ingress{IngressClassName: str("nginx")}),
			httpIng(cmv1.ACMEChallengeSolverHTTP01Ingress{Name: "web"}),
			httpIng(cmv1.ACMEChallengeSolverHTTP01Ingress{}),
			{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &cmv1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{ParentRefs: []cmv1.ParentReference{{Name: "gw"}}}}},
			rfc(okRFC),
			rfc(cmv1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "ns.example.com"}),
			rfc(cmv1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "[2001:db8::1]:53", Protocol: "TCP"}),
			rfc(cmv1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "[2001:db8::1]"}),
			rfc(cmv1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "10.0.0.1:"}),
			{DNS01: &cmv1.ACMEChallengeSolverDNS01{Cloudflare: raw, CNAMEStrategy: "Follow"}},
		}, ""},
		{"no type", []cmv1.ACMEChallengeSolver{{}}, "spec.acme.solvers[0]: exactly one of http01 and dns01 must be set"},
		{"both types", []cmv1.ACMEChallengeSolver{rfc(okRFC), {HTTP01: &cmv1.ACMEChallengeSolverHTTP01{}, DNS01: &cmv1.ACMEChallengeSolverDNS01{}}}, "spec.acme.solvers[1]: exactly one of http01 and dns01"},
		{"http01 empty", []cmv1.ACMEChallengeSolver{{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{}}}, "spec.acme.solvers[0].http01: exactly one of ingress and gatewayHTTPRoute"},
		{"ingress name and class", []cmv1.ACMEChallengeSolver{httpIng(cmv1.ACMEChallengeSolverHTTP01Ingress{Name: "web", Class: str("nginx")})}, "spec.acme.solvers[0].http01.ingress: only one of"},
		{"ingress bad name", []cmv1.ACMEChallengeSolver{httpIng(cmv1.ACMEChallengeSolverHTTP01Ingress{Name: "Web_1"})}, `spec.acme.solvers[0].http01.ingress.name: "Web_1" is not a valid Ingress name`},
		{"parent ref without name", []cmv1.ACMEChallengeSolver{{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &cmv1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{ParentRefs: []cmv1.ParentReference{{Name: "gw"}, {}}}}}}, "spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[1].name: must be set"},
		{"no provider", []cmv1.ACMEChallengeSolver{{DNS01: &cmv1.ACMEChallengeSolverDNS01{}}}, "spec.acme.solvers[0].dns01: exactly one DNS provider"},
		{"two providers", []cmv1.ACMEChallengeSolver{{DNS01: &cmv1.ACMEChallengeSolverDNS01{RFC2136: &okRFC, Route53: raw}}}, "exactly one DNS provider"},
		{"bad cname strategy", []cmv1.ACMEChallengeSolver{{DNS01: &cmv1.ACMEChallengeSolverDNS01{RFC2136: &okRFC, CNAMEStrategy: "follow"}}}, `dns01.cnameStrategy: "follow"`},
		{"rfc2136 without nameserver", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = " " })}, "spec.acme.solvers[0].dns01.rfc2136.nameserver: must be set"},
		{"rfc2136 bare IPv6", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = "2001:db8::1" })}, "put an IPv6 address in brackets"},
		{"rfc2136 bad port", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = "ns:dns" })}, "invalid port"},
		{"rfc2136 port 0", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = "ns:0" })}, "invalid port"},
		{"rfc2136 port only", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = ":53" })}, "has no host"},
		{"rfc2136 URL", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = "dns://ns" })}, "invalid port"},
		{"rfc2136 path", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Nameserver = "ns/x:53" })}, "not host[:port]"},
		{"rfc2136 key name without secret", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.TSIGSecret = cmv1.SecretKeySelector{} })}, "tsigSecretSecretRef.name: must be set when tsigKeyName is set"},
		{"rfc2136 secret without key name", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.TSIGKeyName = "" })}, "tsigKeyName: must be set when tsigSecretSecretRef is set"},
		{"rfc2136 algorithm", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.TSIGAlgorithm = "HMACSHA384" })}, `tsigAlgorithm: "HMACSHA384"`},
		{"rfc2136 protocol", []cmv1.ACMEChallengeSolver{with(func(r *cmv1.ACMEIssuerDNS01ProviderRFC2136) { r.Protocol = "DoH" })}, `protocol: "DoH"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := acmepolicy.CheckSolvers(&cmv1.ACMEIssuer{Solvers: tt.solvers})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if err := acmepolicy.CheckSolvers(nil); err != nil {
		t.Error(err)
	}
}

func TestReasons(t *testing.T) {
	for got, want := range map[string]string{
		acmepolicy.ReasonAccountRegistered:      "ACMEAccountRegistered",
		acmepolicy.ReasonErrRegisterACMEAccount: "ErrRegisterACMEAccount",
		acmepolicy.ReasonErrVerifyACMEAccount:   "ErrVerifyACMEAccount",
		acmepolicy.ReasonErrUpdateACMEAccount:   "ErrUpdateACMEAccount",
		acmepolicy.ReasonInvalidConfig:          "InvalidConfig",
		acmepolicy.ReasonInvalidURL:             "InvalidURL",
		acmepolicy.ReasonInvalidSolver:          "InvalidSolver",
		acmepolicy.MessageAccountRegistered:     "The ACME account was registered with the ACME server",
		acmepolicy.MessagePrefixErrRegister:     "Failed to register ACME account: ",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
