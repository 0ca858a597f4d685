package dns01

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startFakeDNS serves every UDP query on loopback with rcode and the given
// answer records, and returns its address.
func startFakeDNS(t *testing.T, rcode int, answers ...dns.RR) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{
		PacketConn:        pc,
		NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(req, rcode)
			m.Answer = answers
			_ = w.WriteMsg(m)
		}),
	}
	done := make(chan struct{})
	go func() {
		_ = srv.ActivateAndServe()
		close(done)
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return pc.LocalAddr().String()
}

func txtRR(name string, values ...string) dns.RR {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: values}
}

func TestTXTResult(t *testing.T) {
	const name = "_acme-challenge.x.example.test."
	const where = name + " TXT at 192.0.2.1:53"
	msg := func(rcode int, rrs ...dns.RR) *dns.Msg {
		return &dns.Msg{MsgHdr: dns.MsgHdr{Rcode: rcode}, Answer: rrs}
	}
	long := strings.Repeat("a", 300)
	tests := []struct {
		name   string
		in     *dns.Msg
		ok     bool
		detail string
	}{
		{"found", msg(dns.RcodeSuccess, txtRR(name, "v")), true, where + ": found"},
		{"found among others", msg(dns.RcodeSuccess, txtRR(name, "other"), txtRR(name, "v")), true, where + ": found"},
		{"split into strings", msg(dns.RcodeSuccess, txtRR(name, long[:255], long[255:])), true, where + ": found"},
		{"owner case differs", msg(dns.RcodeSuccess, txtRR(strings.ToUpper(name), "v")), true, where + ": found"},
		{"no data", msg(dns.RcodeSuccess), false, where + ": no record"},
		{"nxdomain", msg(dns.RcodeNameError), false, where + ": no record (NXDOMAIN)"},
		{"servfail", msg(dns.RcodeServerFailure), false, where + ": SERVFAIL"},
		{"refused", msg(dns.RcodeRefused), false, where + ": REFUSED"},
		{"other owner", msg(dns.RcodeSuccess, txtRR("other.example.test.", "v")), false, where + ": no record"},
		{"other values", msg(dns.RcodeSuccess, txtRR(name, "a"), txtRR(name, "b")), false, where + `: other values only: "a", "b"`},
		{"many values", msg(dns.RcodeSuccess, txtRR(name, "a"), txtRR(name, "b"), txtRR(name, "c"), txtRR(name, "d"), txtRR(name, "e")), false,
			where + `: other values only: "a", "b", "c", and 2 more`},
		{"long value shortened", msg(dns.RcodeSuccess, txtRR(name, strings.Repeat("b", 70))), false,
			where + `: other values only: "` + strings.Repeat("b", 64) + `..."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := "v"
			if tt.name == "split into strings" {
				value = long
			}
			ok, detail := txtResult(tt.in, name, value, where)
			if ok != tt.ok || detail != tt.detail {
				t.Errorf("txtResult = %v, %q; want %v, %q", ok, detail, tt.ok, tt.detail)
			}
		})
	}
}

func TestCheckTXTArguments(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, fqdn, value string
		opts              CheckOptions
		want              string
	}{
		{"no servers", "_acme-challenge.x.", "v", CheckOptions{}, "dns01: no recursive nameservers configured"},
		{"empty name", "", "v", CheckOptions{RecursiveNameservers: []string{"127.0.0.1:53"}}, "dns01: empty record name"},
		{"bad name", "a..b", "v", CheckOptions{RecursiveNameservers: []string{"127.0.0.1:53"}}, `dns01: record name "a..b" is not a valid domain name`},
		{"empty value", "x.", "", CheckOptions{RecursiveNameservers: []string{"127.0.0.1:53"}}, "dns01: empty TXT value"},
		{"quote in value", "x.", `a"b`, CheckOptions{RecursiveNameservers: []string{"127.0.0.1:53"}}, "dns01: TXT value has a character that is not allowed at byte 1"},
		{"bad port", "x.", "v", CheckOptions{RecursiveNameservers: []string{"127.0.0.1:53"}, AuthoritativePort: 70000}, "dns01: authoritative port 70000 is not from 1 to 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := CheckTXT(ctx, tt.fqdn, tt.value, tt.opts)
			if ok || err == nil || err.Error() != tt.want {
				t.Errorf("CheckTXT = %v, %v; want error %q", ok, err, tt.want)
			}
		})
	}
}

func TestCheckTXTRecursiveOnly(t *testing.T) {
	ctx := context.Background()
	const name = "_acme-challenge.fake.test."
	has := startFakeDNS(t, dns.RcodeSuccess, txtRR(name, "token"))
	hasToo := startFakeDNS(t, dns.RcodeSuccess, txtRR(name, "other"), txtRR(name, "token"))
	failing := startFakeDNS(t, dns.RcodeServerFailure)

	// A closed UDP port on loopback answers with ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	_ = pc.Close()

	opts := func(servers ...string) CheckOptions {
		return CheckOptions{RecursiveNameservers: servers, RecursiveOnly: true, Timeout: 2 * time.Second}
	}
	ok, detail, err := CheckTXT(ctx, name, "token", opts(has, hasToo))
	if err != nil || !ok {
		t.Fatalf("two good servers: %v, %q, %v", ok, detail, err)
	}
	if want := name + " TXT at " + has + ": found; " + name + " TXT at " + hasToo + ": found"; detail != want {
		t.Errorf("detail = %q, want %q", detail, want)
	}

	ok, detail, err = CheckTXT(ctx, name, "token", opts(has, failing))
	if err != nil || ok {
		t.Fatalf("with a failing server: %v, %q, %v", ok, detail, err)
	}
	if want := name + " TXT at " + failing + ": SERVFAIL"; !strings.HasSuffix(detail, want) {
		t.Errorf("detail = %q, want suffix %q", detail, want)
	}

	ok, detail, err = CheckTXT(ctx, name, "token", opts(has, closed))
	if err != nil || ok {
		t.Fatalf("with a closed port: %v, %q, %v", ok, detail, err)
	}
	if want := name + " TXT at " + closed + ": query failed: "; !strings.Contains(detail, want) {
		t.Errorf("detail = %q, want it to contain %q", detail, want)
	}
}
