package http01

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsStub is a minimal authoritative DNS server on 127.0.0.1 (UDP) that
// answers A queries for its names and NXDOMAIN for the rest.
type dnsStub struct {
	addr    string
	queries atomic.Int32
}

func startDNSStub(t *testing.T, records map[string]netip.Addr) *dnsStub {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stub := &dnsStub{addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			stub.queries.Add(1)
			if resp := dnsAnswer(buf[:n], records); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		<-done
	})
	return stub
}

func dnsAnswer(query []byte, records map[string]netip.Addr) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	addr, known := records[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	if known && q.Type == dnsmessage.TypeA && addr.Is4() {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		if b.AResource(rr, dnsmessage.AResource{A: addr.As4()}) != nil {
			return nil
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

// freeUDPAddr returns a 127.0.0.1 UDP address nothing listens on.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	_ = pc.Close()
	return addr
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestSelfCheck(t *testing.T) {
	tokens := testTokens()
	solver := NewServer("127.0.0.1:0", tokens)
	startServer(t, solver)
	solverPort := portOf(t, solver.Addr().String())

	dns := startDNSStub(t, map[string]netip.Addr{
		"app.example.test.":      loopback,
		"redirect.example.test.": loopback,
		"body.example.test.":     loopback,
	})

	// Another listener, reached by name, that redirects or answers with a
	// body of the test's choice.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "redirect":
			target := "http://app.example.test:" + strconv.Itoa(solverPort) + r.URL.Path
			http.Redirect(w, r, target, http.StatusFound)
		case "long":
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		case "spaces":
			_, _ = w.Write([]byte("\n  " + keyA + " \r\n"))
		default:
			_, _ = w.Write([]byte("not the key\nsecond line"))
		}
	}))
	t.Cleanup(other.Close)
	otherPort := portOf(t, other.Listener.Addr().String())
	// The token reaches the other server; the case rides in a query
	// parameter added by a client wrapper below.
	withCase := func(c string) *http.Client {
		return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.URL.RawQuery = "case=" + c
			return newTransport([]string{dns.addr}, nil).RoundTrip(r)
		})}
	}

	tests := []struct {
		name    string
		dnsName string
		token   string
		key     string
		opts    CheckOptions
		wantErr string // exact message, or a prefix ending in "…"
	}{
		{
			name: "success", dnsName: "app.example.test", token: tokenA, key: keyA,
			opts: CheckOptions{Nameservers: []string{dns.addr}, Port: solverPort},
		},
		{
			name: "success with trailing dot and capitals", dnsName: "App.Example.Test.", token: tokenA, key: keyA,
			opts: CheckOptions{Nameservers: []string{dns.addr}, Port: solverPort},
		},
		{
			name: "second nameserver answers", dnsName: "app.example.test", token: tokenA, key: keyA,
			opts: CheckOptions{Nameservers: []string{freeUDPAddr(t), dns.addr}, Port: solverPort},
		},
		{
			name: "ip address through the system dialer", dnsName: "127.0.0.1", token: tokenB, key: keyB,
			opts: CheckOptions{Port: solverPort},
		},
		{
			name: "ipv4 ignores nameservers", dnsName: "127.0.0.1", token: tokenB, key: keyB,
			opts: CheckOptions{Nameservers: []string{freeUDPAddr(t)}, Port: solverPort},
		},
		{
			name: "not found", dnsName: "app.example.test", token: "missingtoken", key: "missingtoken.x",
			opts:    CheckOptions{Nameservers: []string{dns.addr}, Port: solverPort},
			wantErr: "wrong status code '404', expected '200'",
		},
		{
			name: "wrong host", dnsName: "redirect.example.test", token: tokenA, key: keyA,
			opts:    CheckOptions{Nameservers: []string{dns.addr}, Port: solverPort},
			wantErr: "wrong status code '404', expected '200'",
		},
		{
			name: "wrong body", dnsName: "body.example.test", token: tokenA, key: keyA,
			opts: CheckOptions{Port: otherPort, HTTPClient: withCase("wrong")},
			wantErr: `did not get expected response when querying endpoint, expected "` + keyA +
				`" but got: "not the key\nsecond line"`,
		},
		{
			name: "long wrong body", dnsName: "body.example.test", token: tokenA, key: keyA,
			opts: CheckOptions{Port: otherPort, HTTPClient: withCase("long")},
			wantErr: `did not get expected response when querying endpoint, expected "` + keyA +
				`" but got: "` + strings.Repeat("x", 64) + `" (truncated)`,
		},
		{
			name: "white space around the key", dnsName: "body.example.test", token: tokenA, key: keyA,
			opts: CheckOptions{Port: otherPort, HTTPClient: withCase("spaces")},
		},
		{
			name: "redirect followed", dnsName: "redirect.example.test", token: tokenA, key: keyA,
			opts: CheckOptions{Port: otherPort, HTTPClient: withCase("redirect")},
		},
		{
			name: "unresolvable name", dnsName: "missing.example.test", token: tokenA, key: keyA,
			opts:    CheckOptions{Nameservers: []string{dns.addr}, Port: solverPort},
			wantErr: `failed to perform self check GET request 'http://missing.example.test:` + strconv.Itoa(solverPort) + ChallengePathPrefix + tokenA + `': failed to resolve "missing.example.test" using nameserver ` + dns.addr + `: no such host`,
		},
		{
			name: "invalid token", dnsName: "app.example.test", token: "a/b", key: keyA,
			wantErr: `invalid HTTP-01 token "a/b": it must be base64url`,
		},
		{
			name: "wildcard name", dnsName: "*.example.test", token: tokenA, key: keyA,
			wantErr: `invalid DNS name "*.example.test" for an HTTP-01 self check`,
		},
		{
			name: "name with port", dnsName: "app.example.test:80", token: tokenA, key: keyA,
			wantErr: `invalid DNS name "app.example.test:80" for an HTTP-01 self check`,
		},
		{
			name: "bad port", dnsName: "app.example.test", token: tokenA, key: keyA,
			opts:    CheckOptions{Port: 70000},
			wantErr: "invalid HTTP-01 self check port 70000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SelfCheck(context.Background(), tt.dnsName, tt.token, tt.key, tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("SelfCheck: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("SelfCheck succeeded, want %q", tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("SelfCheck error\n got %q\nwant %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	if dns.queries.Load() == 0 {
		t.Error("the DNS stub got no queries")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSelfCheckNameserversAllFail(t *testing.T) {
	down1, down2 := freeUDPAddr(t), freeUDPAddr(t)
	err := SelfCheck(context.Background(), "app.example.test", tokenA, keyA,
		CheckOptions{Nameservers: []string{down1, down2}, Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("SelfCheck succeeded with no nameserver up")
	}
	msg := err.Error()
	for _, want := range []string{`failed to resolve "app.example.test" using nameservers: `, down1 + ": ", "; " + down2 + ": "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
}

func TestSelfCheckTLSRedirectNotVerified(t *testing.T) {
	tlsServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "secure.example.test:"+r.URL.Query().Get("port") {
			http.Error(w, "host "+r.Host, http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(keyA))
	}))
	t.Cleanup(tlsServer.Close)
	tlsPort := strconv.Itoa(portOf(t, tlsServer.Listener.Addr().String()))
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://secure.example.test:"+tlsPort+r.URL.Path+"?port="+tlsPort, http.StatusMovedPermanently)
	}))
	t.Cleanup(redirector.Close)
	dns := startDNSStub(t, map[string]netip.Addr{
		"plain.example.test.":  loopback,
		"secure.example.test.": loopback,
	})
	err := SelfCheck(context.Background(), "plain.example.test", tokenA, keyA, CheckOptions{
		Nameservers: []string{dns.addr},
		Port:        portOf(t, redirector.Listener.Addr().String()),
	})
	if err != nil {
		t.Fatalf("SelfCheck through an https redirect with a self-signed certificate: %v", err)
	}
}

func TestSelfCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	start := time.Now()
	err := SelfCheck(context.Background(), "127.0.0.1", tokenA, keyA, CheckOptions{
		Port:    portOf(t, slow.Listener.Addr().String()),
		Timeout: 100 * time.Millisecond,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SelfCheck against a server that never answers = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("SelfCheck took %s with a 100ms timeout", elapsed)
	}
}

func TestSelfCheckProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		// A forward proxy gets the absolute URL (net/http then reports its
		// host as r.Host, not the Host header).
		if r.URL.Host != "behind-proxy.example.test:8089" || r.URL.Path != ChallengePathPrefix+tokenA {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(keyA))
	}))
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The name resolves nowhere: only the proxy can answer.
	err = selfCheck(context.Background(), "behind-proxy.example.test", tokenA, keyA,
		CheckOptions{Port: 8089, Nameservers: []string{freeUDPAddr(t)}}, http.ProxyURL(proxyURL))
	if err != nil {
		t.Fatalf("SelfCheck through a proxy: %v", err)
	}
	if proxied.Load() != 1 {
		t.Errorf("proxy got %d requests, want 1", proxied.Load())
	}
}

func TestNameserverAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:5353", "127.0.0.1:5353"},
		{"127.0.0.1", "127.0.0.1:53"},
		{"[::1]:53", "[::1]:53"},
		{"::1", "[::1]:53"},
		{"[::1]", "[::1]:53"},
		{"ns.example.test", "ns.example.test:53"},
	}
	for _, tt := range tests {
		if got := nameserverAddress(tt.in); got != tt.want {
			t.Errorf("nameserverAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSelfCheckRequest(t *testing.T) {
	tests := []struct {
		dnsName string
		port    int
		wantURL string
	}{
		{"app.example.test", 0, "http://app.example.test" + ChallengePathPrefix + tokenA},
		{"App.Example.Test.", 80, "http://app.example.test" + ChallengePathPrefix + tokenA},
		{"app.example.test", 5002, "http://app.example.test:5002" + ChallengePathPrefix + tokenA},
		{"192.0.2.1", 0, "http://192.0.2.1" + ChallengePathPrefix + tokenA},
		{"2001:db8::1", 0, "http://[2001:db8::1]" + ChallengePathPrefix + tokenA},
		{"[2001:db8::1]", 5002, "http://[2001:db8::1]:5002" + ChallengePathPrefix + tokenA},
	}
	for _, tt := range tests {
		var got *http.Request
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return &http.Response{
				StatusCode: http.StatusOK,
				Body:       io.NopCloser(strings.NewReader(keyA)),
				Request:    r,
			}, nil
		})}
		err := SelfCheck(context.Background(), tt.dnsName, tokenA, keyA, CheckOptions{Port: tt.port, HTTPClient: client})
		if err != nil {
			t.Errorf("%s port %d: %v", tt.dnsName, tt.port, err)
			continue
		}
		if got.Method != http.MethodGet || got.URL.String() != tt.wantURL {
			t.Errorf("%s port %d: request %s %s, want GET %s", tt.dnsName, tt.port, got.Method, got.URL, tt.wantURL)
		}
		if _, ok := got.Context().Deadline(); !ok {
			t.Errorf("%s: request has no deadline", tt.dnsName)
		}
	}
}
