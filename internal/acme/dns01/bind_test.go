package dns01

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// bindServer is a BIND named serving the zone example.test on loopback,
// accepting TXT updates signed with either of two keys.
type bindServer struct {
	addr         string // 127.0.0.1:port
	port         int
	sha256Secret string            // key certplane-key, hmac-sha256
	secrets      map[string]string // key name -> secret, for bindKeys
	log          *lockedBuffer
}

// bindKeys are the TSIG keys named knows, by name, with their algorithms
// as cert-manager spells them and as tsig-keygen does.
var bindKeys = []struct{ name, certManager, keygen string }{
	{"certplane-key", "HMACSHA256", "hmac-sha256"},
	{"certplane-md5", "HMACMD5", "hmac-md5"},
	{"certplane-sha1", "HMACSHA1", "hmac-sha1"},
	{"certplane-sha512", "HMACSHA512", "hmac-sha512"},
}

const bindZone = `$TTL 60
@	IN SOA	ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
@	IN NS	ns
ns	IN A	127.0.0.1
app	IN A	127.0.0.1
www	IN A	127.0.0.1
target	IN A	127.0.0.1
_acme-challenge.alias	IN CNAME	_acme-challenge.target
_acme-challenge.loop1	IN CNAME	_acme-challenge.loop2
_acme-challenge.loop2	IN CNAME	_acme-challenge.loop1
`

const bindConf = `include "{{dir}}/keys.conf";
options {
	directory "{{dir}}";
	pid-file "{{dir}}/named.pid";
	session-keyfile "{{dir}}/session.key";
	managed-keys-directory "{{dir}}";
	listen-on port {{port}} { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
};
controls { };
zone "example.test" {
	type primary;
	file "{{dir}}/example.test.zone";
	update-policy {
		grant certplane-key zonesub TXT;
		grant certplane-md5 zonesub TXT;
		grant certplane-sha1 zonesub TXT;
		grant certplane-sha512 zonesub TXT;
	};
};
`

// startBIND runs named in the foreground on a free loopback port and stops
// it when the test ends. It skips the test when BIND is not installed.
func startBIND(t *testing.T) *bindServer {
	t.Helper()
	named, err := exec.LookPath("/usr/sbin/named")
	if err != nil {
		t.Skip("BIND named is not installed:", err)
	}
	keygen, err := exec.LookPath("/usr/sbin/tsig-keygen")
	if err != nil {
		t.Skip("tsig-keygen is not installed:", err)
	}
	dir := t.TempDir()
	s := &bindServer{log: &lockedBuffer{}, secrets: map[string]string{}}
	var keys strings.Builder
	for _, k := range bindKeys {
		file, secret := makeKey(t, keygen, k.keygen, k.name)
		keys.WriteString(file)
		s.secrets[k.name] = secret
	}
	s.sha256Secret = s.secrets["certplane-key"]
	writeFile(t, filepath.Join(dir, "keys.conf"), keys.String())
	s.port = freePort(t)
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))

	conf := regexp.MustCompile(`\{\{dir\}\}`).ReplaceAllLiteralString(bindConf, dir)
	conf = regexp.MustCompile(`\{\{port\}\}`).ReplaceAllLiteralString(conf, strconv.Itoa(s.port))
	writeFile(t, filepath.Join(dir, "named.conf"), conf)
	writeFile(t, filepath.Join(dir, "example.test.zone"), bindZone)

	cmd := exec.Command(named, "-g", "-n", "1", "-c", filepath.Join(dir, "named.conf"))
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("named output:\n%s", s.log.String())
		}
	})

	// Ready when the zone answers its SOA.
	deadline := time.Now().Add(20 * time.Second)
	r := resolver{timeout: 200 * time.Millisecond}
	for {
		select {
		case <-done:
			t.Fatalf("named exited early:\n%s", s.log.String())
		default:
		}
		in, err := r.exchange(context.Background(), s.addr, "example.test.", dns.TypeSOA, false)
		if err == nil && in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("named did not answer on %s within 20s (last error %v):\n%s", s.addr, err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not a wait for a condition
	}
}

var secretRE = regexp.MustCompile(`secret "([^"]+)";`)

// makeKey makes a TSIG key with tsig-keygen and returns the key statement
// and its secret.
func makeKey(t *testing.T, keygen, alg, name string) (string, string) {
	t.Helper()
	out, err := exec.Command(keygen, "-a", alg, name).Output()
	if err != nil {
		t.Fatalf("tsig-keygen -a %s %s: %v", alg, name, err)
	}
	m := secretRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no secret in tsig-keygen output %q", out)
	}
	return string(out), string(m[1])
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback port that is free for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err == nil {
			_ = pc.Close()
			return port
		}
	}
	t.Fatal("no free port for UDP and TCP on 127.0.0.1")
	return 0
}

// lockedBuffer collects a process's output from its copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (s *bindServer) provider() *RFC2136 {
	return &RFC2136{
		Nameserver:    s.addr,
		TSIGKeyName:   "certplane-key",
		TSIGAlgorithm: "HMACSHA256",
		TSIGSecret:    s.sha256Secret,
		Timeout:       3 * time.Second,
	}
}

func (s *bindServer) authoritative() CheckOptions {
	return CheckOptions{RecursiveNameservers: []string{s.addr}, AuthoritativePort: s.port, Timeout: 3 * time.Second}
}

func (s *bindServer) recursiveOnly() CheckOptions {
	return CheckOptions{RecursiveNameservers: []string{s.addr}, RecursiveOnly: true, Timeout: 3 * time.Second}
}

// wantCheck runs CheckTXT and fails unless ok is want.
func wantCheck(t *testing.T, fqdn, value string, opts CheckOptions, want bool) string {
	t.Helper()
	ok, detail, err := CheckTXT(context.Background(), fqdn, value, opts)
	if err != nil {
		t.Fatalf("CheckTXT(%q): %v", fqdn, err)
	}
	if ok != want {
		t.Fatalf("CheckTXT(%q, recursiveOnly=%v) = %v, want %v; detail: %s", fqdn, opts.RecursiveOnly, ok, want, detail)
	}
	return detail
}

func TestBIND(t *testing.T) {
	s := startBIND(t)
	ctx := context.Background()
	const zone = "example.test."

	t.Run("present, check, clean up", func(t *testing.T) {
		p := s.provider()
		fqdn := ChallengeFQDN("app.example.test")
		const value = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

		detail := wantCheck(t, fqdn, value, s.authoritative(), false)
		want := fmt.Sprintf("%s TXT at %s (ns.example.test.): no record (NXDOMAIN)", fqdn, s.addr)
		if detail != want {
			t.Errorf("detail before Present = %q, want %q", detail, want)
		}

		if err := p.Present(ctx, fqdn, zone, value); err != nil {
			t.Fatalf("Present: %v", err)
		}
		detail = wantCheck(t, fqdn, value, s.authoritative(), true)
		if want := fmt.Sprintf("%s TXT at %s (ns.example.test.): found", fqdn, s.addr); detail != want {
			t.Errorf("detail = %q, want %q", detail, want)
		}
		detail = wantCheck(t, fqdn, value, s.recursiveOnly(), true)
		if want := fmt.Sprintf("%s TXT at %s: found", fqdn, s.addr); detail != want {
			t.Errorf("recursive-only detail = %q, want %q", detail, want)
		}
		// Present is idempotent.
		if err := p.Present(ctx, fqdn, zone, value); err != nil {
			t.Fatalf("second Present: %v", err)
		}

		if err := p.CleanUp(ctx, fqdn, zone, value); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		wantCheck(t, fqdn, value, s.authoritative(), false)
		wantCheck(t, fqdn, value, s.recursiveOnly(), false)
		// CleanUp of a missing record succeeds.
		if err := p.CleanUp(ctx, fqdn, zone, value); err != nil {
			t.Fatalf("second CleanUp: %v", err)
		}
	})

	t.Run("clean up removes only its own value", func(t *testing.T) {
		// A wildcard and its base name share one challenge name.
		p := s.provider()
		fqdn := ChallengeFQDN("www.example.test")
		const v1, v2 = "value-one-for-www", "value-two-for-www"
		for _, v := range []string{v1, v2} {
			if err := p.Present(ctx, fqdn, zone, v); err != nil {
				t.Fatalf("Present(%s): %v", v, err)
			}
		}
		wantCheck(t, fqdn, v1, s.authoritative(), true)
		wantCheck(t, fqdn, v2, s.authoritative(), true)
		if err := p.CleanUp(ctx, fqdn, zone, v1); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		detail := wantCheck(t, fqdn, v1, s.authoritative(), false)
		if want := fmt.Sprintf(`: other values only: %q`, v2); !strings.HasSuffix(detail, want) {
			t.Errorf("detail = %q, want suffix %q", detail, want)
		}
		wantCheck(t, fqdn, v2, s.authoritative(), true)
		if err := p.CleanUp(ctx, fqdn, zone, v2); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		wantCheck(t, fqdn, v2, s.recursiveOnly(), false)
	})

	t.Run("TCP", func(t *testing.T) {
		p := s.provider()
		p.Protocol = "tcp"
		fqdn := "_acme-challenge.tcp.example.test" // without the final dot
		if err := p.Present(ctx, fqdn, "example.test", "over-tcp"); err != nil {
			t.Fatalf("Present: %v", err)
		}
		wantCheck(t, fqdn, "over-tcp", s.authoritative(), true)
		if err := p.CleanUp(ctx, fqdn, "example.test", "over-tcp"); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		wantCheck(t, fqdn, "over-tcp", s.authoritative(), false)
	})

	t.Run("every algorithm", func(t *testing.T) {
		type use struct{ key, alg string }
		uses := []use{{"certplane-md5", ""}, {"certplane-md5", "hmacmd5"}} // MD5 is the default
		for _, k := range bindKeys {
			uses = append(uses, use{k.name, k.certManager})
		}
		for _, u := range uses {
			p := &RFC2136{Nameserver: s.addr, TSIGKeyName: u.key, TSIGAlgorithm: u.alg, TSIGSecret: s.secrets[u.key], Timeout: 3 * time.Second}
			fqdn := ChallengeFQDN("alg.example.test")
			value := "signed-with-" + u.key + "-" + u.alg
			if err := p.Present(ctx, fqdn, zone, value); err != nil {
				t.Fatalf("Present with key %s, algorithm %q: %v", u.key, u.alg, err)
			}
			wantCheck(t, fqdn, value, s.authoritative(), true)
			if err := p.CleanUp(ctx, fqdn, zone, value); err != nil {
				t.Fatalf("CleanUp with key %s, algorithm %q: %v", u.key, u.alg, err)
			}
			wantCheck(t, fqdn, value, s.authoritative(), false)
		}
	})

	t.Run("algorithm the server does not have for the key", func(t *testing.T) {
		// The server has certplane-key only as hmac-sha256.
		for _, alg := range []string{"HMACMD5", "HMACSHA1", "HMACSHA512"} {
			p := s.provider()
			p.TSIGAlgorithm = alg
			err := p.Present(ctx, ChallengeFQDN("alg.example.test"), zone, "x")
			var ue *UpdateError
			if !errors.As(err, &ue) || ue.TSIGError != dns.RcodeBadKey {
				t.Fatalf("Present with %s: error %v is not an UpdateError with TSIG BADKEY", alg, err)
			}
			assertNoSecret(t, err, s.sha256Secret)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		p := s.provider()
		p.TSIGSecret = "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1yaWdodC1vbmU=" // same length class, other bytes
		fqdn := ChallengeFQDN("bad.example.test")
		err := p.Present(ctx, fqdn, zone, "never-written")
		if err == nil {
			t.Fatal("Present with a wrong secret succeeded")
		}
		assertNoSecret(t, err, p.TSIGSecret)
		assertNoSecret(t, err, s.sha256Secret)
		var ue *UpdateError
		if !errors.As(err, &ue) || ue.TSIGError != dns.RcodeBadSig {
			t.Fatalf("error %v is not an UpdateError with TSIG BADSIG", err)
		}
		want := fmt.Sprintf(`dns01: update of %q refused by %s: NOTAUTH, TSIG error BADSIG (the server rejected the signature of key "certplane-key.": check the TSIG secret and algorithm)`, fqdn, s.addr)
		if err.Error() != want {
			t.Errorf("error = %q\nwant    %q", err, want)
		}
		wantCheck(t, fqdn, "never-written", s.recursiveOnly(), false)
	})

	t.Run("unknown key", func(t *testing.T) {
		p := s.provider()
		p.TSIGKeyName = "no-such-key"
		err := p.Present(ctx, ChallengeFQDN("bad.example.test"), zone, "x")
		var ue *UpdateError
		if !errors.As(err, &ue) || ue.TSIGError != dns.RcodeBadKey {
			t.Fatalf("error %v is not an UpdateError with TSIG BADKEY", err)
		}
		assertNoSecret(t, err, s.sha256Secret)
		if !strings.Contains(err.Error(), `BADKEY (the server does not know key "no-such-key." with algorithm hmac-sha256`) {
			t.Errorf("error = %q", err)
		}
	})

	t.Run("unsigned update is refused", func(t *testing.T) {
		p := &RFC2136{Nameserver: s.addr, Timeout: 3 * time.Second}
		fqdn := ChallengeFQDN("x.example.test")
		err := p.Present(ctx, fqdn, zone, "x")
		want := fmt.Sprintf(`dns01: update of "_acme-challenge.x.example.test." refused by %s: REFUSED (the update was not signed: set a TSIG key, or allow unsigned updates to zone example.test.)`, s.addr)
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v\nwant    %s", err, want)
		}
		err = p.CleanUp(ctx, fqdn, zone, "x")
		if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf(`dns01: removal of %q refused by %s: REFUSED`, fqdn, s.addr)) {
			t.Fatalf("CleanUp error = %v", err)
		}
	})

	t.Run("name outside the zone", func(t *testing.T) {
		err := s.provider().Present(ctx, "_acme-challenge.example.org.", zone, "x")
		if err == nil || err.Error() != `dns01: "_acme-challenge.example.org." is not inside zone "example.test."` {
			t.Fatalf("error = %v", err)
		}
	})

	t.Run("zone the server does not serve", func(t *testing.T) {
		err := s.provider().Present(ctx, "_acme-challenge.example.org.", "example.org.", "x")
		var ue *UpdateError
		if !errors.As(err, &ue) || ue.Rcode != dns.RcodeNotAuth {
			t.Fatalf("error %v is not an UpdateError with NOTAUTH", err)
		}
		t.Log(err)
	})

	t.Run("wildcard", func(t *testing.T) {
		p := s.provider()
		fqdn := ChallengeFQDN("*.wild.example.test")
		if fqdn != "_acme-challenge.wild.example.test." {
			t.Fatalf("ChallengeFQDN = %q", fqdn)
		}
		if err := p.Present(ctx, fqdn, zone, "wild-value"); err != nil {
			t.Fatalf("Present: %v", err)
		}
		wantCheck(t, fqdn, "wild-value", s.authoritative(), true)
		wantCheck(t, fqdn, "wild-value", s.recursiveOnly(), true)
		if err := p.CleanUp(ctx, fqdn, zone, "wild-value"); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		wantCheck(t, fqdn, "wild-value", s.authoritative(), false)
	})

	t.Run("CNAME follow", func(t *testing.T) {
		alias := ChallengeFQDN("alias.example.test")
		got, err := FollowCNAME(ctx, alias, []string{s.addr})
		if err != nil {
			t.Fatalf("FollowCNAME: %v", err)
		}
		const target = "_acme-challenge.target.example.test."
		if got != target {
			t.Fatalf("FollowCNAME(%q) = %q, want %q", alias, got, target)
		}
		// A name without CNAME is its own end.
		if got, err := FollowCNAME(ctx, "_acme-challenge.app.example.test", []string{s.addr}); err != nil || got != "_acme-challenge.app.example.test." {
			t.Fatalf("FollowCNAME without CNAME = %q, %v", got, err)
		}

		zoneOfTarget, err := FindZone(ctx, got, []string{s.addr})
		if err != nil {
			t.Fatalf("FindZone: %v", err)
		}
		p := s.provider()
		if err := p.Present(ctx, got, zoneOfTarget, "via-cname"); err != nil {
			t.Fatalf("Present: %v", err)
		}
		detail := wantCheck(t, alias, "via-cname", s.authoritative(), true)
		want := fmt.Sprintf("%s is a CNAME to %s; %s TXT at %s (ns.example.test.): found", alias, target, target, s.addr)
		if detail != want {
			t.Errorf("detail = %q, want %q", detail, want)
		}
		wantCheck(t, alias, "via-cname", s.recursiveOnly(), true)
		if err := p.CleanUp(ctx, got, zoneOfTarget, "via-cname"); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		wantCheck(t, alias, "via-cname", s.authoritative(), false)

		_, err = FollowCNAME(ctx, "_acme-challenge.loop1.example.test.", []string{s.addr})
		want = "dns01: CNAME loop: _acme-challenge.loop1.example.test. -> _acme-challenge.loop2.example.test. -> _acme-challenge.loop1.example.test."
		if err == nil || err.Error() != want {
			t.Fatalf("FollowCNAME on a loop: %v, want %s", err, want)
		}
		if _, _, err := CheckTXT(ctx, "_acme-challenge.loop2.example.test.", "x", s.authoritative()); err == nil {
			t.Fatal("CheckTXT on a CNAME loop gave no error")
		}
	})

	t.Run("FindZone", func(t *testing.T) {
		for _, name := range []string{"example.test", "example.test.", "app.example.test.", "_acme-challenge.a.b.c.deep.example.test."} {
			got, err := FindZone(ctx, name, []string{s.addr})
			if err != nil || got != zone {
				t.Errorf("FindZone(%q) = %q, %v; want %q", name, got, err, zone)
			}
		}
		_, err := FindZone(ctx, "host.example.org.", []string{s.addr})
		want := fmt.Sprintf(`dns01: finding the zone of "host.example.org.": SOA query for "host.example.org." failed: %s: REFUSED`, s.addr)
		if err == nil || err.Error() != want {
			t.Errorf("FindZone outside the server's zones: %v, want %s", err, want)
		}
		// A dead server before a live one is skipped.
		dead := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if got, err := FindZone(ctx, "a.example.test", []string{dead, s.addr}); err != nil || got != zone {
			t.Errorf("FindZone with a dead first server = %q, %v", got, err)
		}
	})

	t.Run("recursive-only with a second server lacking the record", func(t *testing.T) {
		p := s.provider()
		fqdn := ChallengeFQDN("two.example.test")
		if err := p.Present(ctx, fqdn, zone, "two-servers"); err != nil {
			t.Fatalf("Present: %v", err)
		}
		t.Cleanup(func() { _ = p.CleanUp(ctx, fqdn, zone, "two-servers") })
		empty := startFakeDNS(t, dns.RcodeNameError)
		opts := s.recursiveOnly()
		opts.RecursiveNameservers = []string{s.addr, empty}
		detail := wantCheck(t, fqdn, "two-servers", opts, false)
		want := fmt.Sprintf("%s TXT at %s: found; %s TXT at %s: no record (NXDOMAIN)", fqdn, s.addr, fqdn, empty)
		if detail != want {
			t.Errorf("detail = %q, want %q", detail, want)
		}
	})
}

func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Fatalf("error contains the TSIG secret: %v", err)
	}
}
