package dns01

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const testSecret = "/usWYDlPT65aSbZ/XuUOTus2sMHFc0NoKWEvuoRLY1I="

func TestRFC2136Validate(t *testing.T) {
	base := RFC2136{Nameserver: "127.0.0.1:53", TSIGKeyName: "k", TSIGAlgorithm: "HMACSHA256", TSIGSecret: testSecret}
	tests := []struct {
		name   string
		change func(p *RFC2136)
		err    string
	}{
		{name: "valid", change: func(*RFC2136) {}},
		{name: "defaults", change: func(p *RFC2136) { p.TSIGAlgorithm, p.Protocol = "", "" }},
		{name: "tcp", change: func(p *RFC2136) { p.Protocol = "TCP" }},
		{name: "udp lower-case", change: func(p *RFC2136) { p.Protocol = "udp" }},
		{name: "unsigned", change: func(p *RFC2136) { p.TSIGKeyName, p.TSIGSecret = "", "" }},
		{name: "key name without secret is unsigned", change: func(p *RFC2136) { p.TSIGSecret = "" }},
		{name: "secret split over lines", change: func(p *RFC2136) { p.TSIGSecret = testSecret[:20] + "\n " + testSecret[20:] }},
		{name: "no nameserver", change: func(p *RFC2136) { p.Nameserver = " " }, err: "dns01: rfc2136: the nameserver is required"},
		{name: "bad nameserver", change: func(p *RFC2136) { p.Nameserver = "[::1]:x" }, err: `dns01: nameserver "[::1]:x": port "x" is not a number from 1 to 65535`},
		{name: "bad protocol", change: func(p *RFC2136) { p.Protocol = "DoT" }, err: `dns01: rfc2136: unsupported protocol "DoT": use UDP or TCP`},
		{name: "bad algorithm", change: func(p *RFC2136) { p.TSIGAlgorithm = "SHA256" }, err: `unsupported TSIG algorithm "SHA256"`},
		{name: "bad key name", change: func(p *RFC2136) { p.TSIGKeyName = "a..b" }, err: `dns01: TSIG key name "a..b" is not a valid domain name`},
		{name: "secret not base64", change: func(p *RFC2136) { p.TSIGSecret = "not*base64*secret" }, err: "dns01: the TSIG secret is not valid base64 (give the secret text of the BIND key file)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.change(&p)
			err := p.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.err)
			}
			if p.TSIGSecret != "" && strings.Contains(err.Error(), p.TSIGSecret) {
				t.Fatalf("error contains the secret: %v", err)
			}
		})
	}
}

func TestRFC2136HidesSecret(t *testing.T) {
	p := RFC2136{Nameserver: "127.0.0.1", TSIGKeyName: "k", TSIGSecret: testSecret}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{p, &p} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, testSecret) || !strings.Contains(s, "<redacted>") {
				t.Errorf("Sprintf(%q) = %s", format, s)
			}
		}
	}
}

func TestRFC2136ArgumentErrors(t *testing.T) {
	ctx := context.Background()
	p := &RFC2136{Nameserver: "127.0.0.1:1"}
	tests := []struct{ fqdn, zone, value, err string }{
		{"_acme-challenge.a.example.", "", "v", "dns01: empty zone"},
		{"", "example.", "v", "dns01: empty record name"},
		{"_acme-challenge.a.example.", "other.", "v", `dns01: "_acme-challenge.a.example." is not inside zone "other."`},
		{"_acme-challenge.a.example.", "example.", "", "dns01: empty TXT value"},
		{"_acme-challenge.a.example.", "example.", "a\\b", "dns01: TXT value has a character that is not allowed at byte 1"},
		{"_acme-challenge.a.example.", "example.", "é", "dns01: TXT value has a character that is not allowed at byte 0"},
	}
	for _, tt := range tests {
		if err := p.Present(ctx, tt.fqdn, tt.zone, tt.value); err == nil || err.Error() != tt.err {
			t.Errorf("Present(%q, %q, %q) = %v, want %q", tt.fqdn, tt.zone, tt.value, err, tt.err)
		}
	}
}

func TestTXTStrings(t *testing.T) {
	long := strings.Repeat("x", 600)
	got, err := txtStrings(long)
	if err != nil || len(got) != 3 || len(got[0]) != 255 || len(got[1]) != 255 || strings.Join(got, "") != long {
		t.Fatalf("txtStrings(600 bytes) = %d strings, %v", len(got), err)
	}
}

// TestTSIGKeyRoundTrip signs a message with each algorithm and verifies it,
// through miekg/dns's TSIG framing, and checks that tampering is caught.
func TestTSIGKeyRoundTrip(t *testing.T) {
	for _, name := range []string{"HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"} {
		t.Run(name, func(t *testing.T) {
			alg, err := ParseTSIGAlgorithm(name)
			if err != nil {
				t.Fatal(err)
			}
			key, err := newTSIGKey("certplane-key.", alg, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			m := new(dns.Msg)
			m.SetUpdate("example.test.")
			m.Insert([]dns.RR{txtRR("_acme-challenge.example.test.", "v")})
			m.SetTsig("certplane-key.", alg, tsigFudge, time.Now().Unix())
			wire, mac, err := dns.TsigGenerateWithProvider(m, key, "", false)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if mac == "" {
				t.Fatal("empty MAC")
			}
			if err := dns.TsigVerifyWithProvider(append([]byte(nil), wire...), key, "", false); err != nil {
				t.Fatalf("verify: %v", err)
			}
			other, err := newTSIGKey("certplane-key.", alg, "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1yaWdodC1vbmU=")
			if err != nil {
				t.Fatal(err)
			}
			if err := dns.TsigVerifyWithProvider(append([]byte(nil), wire...), other, "", false); !errors.Is(err, dns.ErrSig) {
				t.Fatalf("verify with another secret = %v, want ErrSig", err)
			}
			renamed, err := newTSIGKey("other-key.", alg, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			if err := dns.TsigVerifyWithProvider(append([]byte(nil), wire...), renamed, "", false); err == nil {
				t.Fatal("verify with another key name succeeded")
			}
		})
	}
}

func TestUpdateErrorMessages(t *testing.T) {
	base := UpdateError{Op: "update", FQDN: "_acme-challenge.x.example.test.", Zone: "example.test.", Server: "127.0.0.1:15353",
		keyName: "k.", algorithm: "hmac-sha256."}
	tests := []struct {
		rcode, tsig int
		unsigned    bool
		want        string
	}{
		{rcode: dns.RcodeRefused, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: REFUSED (key "k." may not update TXT records at this name in zone example.test.)`},
		{rcode: dns.RcodeRefused, unsigned: true, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: REFUSED (the update was not signed: set a TSIG key, or allow unsigned updates to zone example.test.)`},
		{rcode: dns.RcodeNotAuth, tsig: dns.RcodeBadTime, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: NOTAUTH, TSIG error BADTIME (the clocks of this host and the server differ by more than 5 minutes)`},
		{rcode: dns.RcodeNotAuth, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: NOTAUTH (the server is not authoritative for zone example.test.)`},
		{rcode: dns.RcodeNotZone, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: NOTZONE (_acme-challenge.x.example.test. is not in zone example.test.)`},
		{rcode: dns.RcodeServerFailure, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: SERVFAIL`},
		{rcode: 23, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: BADCOOKIE`},
		{rcode: 4000, want: `dns01: update of "_acme-challenge.x.example.test." refused by 127.0.0.1:15353: RCODE4000`},
	}
	for _, tt := range tests {
		e := base
		e.Rcode, e.TSIGError = tt.rcode, tt.tsig
		if tt.unsigned {
			e.keyName, e.algorithm = "", ""
		}
		if got := e.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}
