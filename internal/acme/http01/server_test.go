package http01

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// SelfCheck honours the proxy environment, which http.ProxyFromEnvironment
	// reads once; the tests talk to loopback listeners directly.
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		_ = os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

const (
	tokenA = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	keyA   = tokenA + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
	tokenB = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
	keyB   = tokenB + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
	tokenC = "c_-0"
	keyC   = tokenC + ".thumb"
)

// countingLookup counts the lookups that reach the KeyLookup.
type countingLookup struct {
	keys  KeyLookup
	calls atomic.Int32
}

func (c *countingLookup) Lookup(host, token string) (string, bool) {
	c.calls.Add(1)
	return c.keys.Lookup(host, token)
}

func testTokens() *Tokens {
	var tokens Tokens
	tokens.Add("app.example.test", tokenA, keyA)
	tokens.Add("127.0.0.1", tokenB, keyB)
	tokens.Add("[::1]", tokenC, keyC)
	return &tokens
}

func TestServeHTTP(t *testing.T) {
	pathA := ChallengePathPrefix + tokenA
	tests := []struct {
		name       string
		method     string
		host       string
		target     string
		wantStatus int
		wantBody   string // checked when wantStatus is 200
		wantLookup bool   // whether the KeyLookup may be consulted
	}{
		{name: "match", host: "app.example.test", target: pathA, wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "host with port", host: "app.example.test:8089", target: pathA, wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "host with empty port", host: "app.example.test:", target: pathA, wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "host upper case", host: "APP.Example.TEST", target: pathA, wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "host trailing dot", host: "app.example.test.", target: pathA, wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "host trailing dot and port", host: "app.example.test.:80", target: pathA, wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "query ignored", host: "app.example.test", target: pathA + "?x=1", wantStatus: 200, wantBody: keyA, wantLookup: true},
		{name: "ipv4 with port", host: "127.0.0.1:80", target: ChallengePathPrefix + tokenB, wantStatus: 200, wantBody: keyB, wantLookup: true},
		{name: "ipv6 bracketed with port", host: "[::1]:80", target: ChallengePathPrefix + tokenC, wantStatus: 200, wantBody: keyC, wantLookup: true},
		{name: "ipv6 bracketed", host: "[::1]", target: ChallengePathPrefix + tokenC, wantStatus: 200, wantBody: keyC, wantLookup: true},
		{name: "ipv6 long form", host: "[0:0:0:0:0:0:0:1]:5002", target: ChallengePathPrefix + tokenC, wantStatus: 200, wantBody: keyC, wantLookup: true},
		{name: "HEAD", method: http.MethodHead, host: "app.example.test", target: pathA, wantStatus: 200, wantLookup: true},

		{name: "other host", host: "other.example.test", target: pathA, wantStatus: 404, wantLookup: true},
		{name: "subdomain", host: "x.app.example.test", target: pathA, wantStatus: 404, wantLookup: true},
		{name: "unknown token", host: "app.example.test", target: ChallengePathPrefix + "unknown", wantStatus: 404, wantLookup: true},
		{name: "token of other host", host: "app.example.test", target: ChallengePathPrefix + tokenB, wantStatus: 404, wantLookup: true},
		{name: "token case matters", host: "app.example.test", target: ChallengePathPrefix + strings.ToUpper(tokenA), wantStatus: 404, wantLookup: true},
		{name: "POST", method: http.MethodPost, host: "app.example.test", target: pathA, wantStatus: 404},
		{name: "empty host", host: "", target: pathA, wantStatus: 404},
		{name: "named port", host: "app.example.test:http", target: pathA, wantStatus: 404},
		{name: "bad host characters", host: "app example.test", target: pathA, wantStatus: 404},
		{name: "ipv6 zone", host: "[fe80::1%25eth0]", target: ChallengePathPrefix + tokenC, wantStatus: 404},
		{name: "unclosed bracket", host: "[::1", target: ChallengePathPrefix + tokenC, wantStatus: 404},
		{name: "empty token", host: "app.example.test", target: ChallengePathPrefix, wantStatus: 404},
		{name: "token with dot", host: "app.example.test", target: ChallengePathPrefix + "a.b", wantStatus: 404},
		{name: "token with slash", host: "app.example.test", target: pathA + "/", wantStatus: 404},
		{name: "token with escaped space", host: "app.example.test", target: ChallengePathPrefix + "a%20b", wantStatus: 404},
		{name: "token with escaped slash", host: "app.example.test", target: ChallengePathPrefix + "a%2Fb", wantStatus: 404},
		{name: "token with padding", host: "app.example.test", target: ChallengePathPrefix + "YQ==", wantStatus: 404},
		{name: "token too long", host: "app.example.test", target: ChallengePathPrefix + strings.Repeat("a", 257), wantStatus: 404},
		{name: "prefix without slash", host: "app.example.test", target: "/.well-known/acme-challenge", wantStatus: 404},
		{name: "double slash", host: "app.example.test", target: "/" + pathA, wantStatus: 404},
		{name: "other path", host: "app.example.test", target: "/other", wantStatus: 404},

		{name: "root", host: "anything.example", target: "/", wantStatus: 200, wantBody: "ok"},
		{name: "healthz", host: "10.0.0.1:8089", target: "/healthz", wantStatus: 200, wantBody: "ok"},
		{name: "healthz HEAD", method: http.MethodHead, host: "x", target: "/healthz", wantStatus: 200},
		{name: "healthz POST", method: http.MethodPost, host: "x", target: "/healthz", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := &countingLookup{keys: testTokens()}
			s := NewServer("127.0.0.1:0", lookup)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "http://placeholder"+tt.target, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if got := lookup.calls.Load(); got != 0 && !tt.wantLookup {
				t.Errorf("KeyLookup called %d times, want never", got)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
			if method == http.MethodHead {
				if rec.Body.Len() != 0 {
					t.Errorf("HEAD body %q, want none", rec.Body.String())
				}
				if cl := rec.Header().Get("Content-Length"); cl == "" || cl == "0" {
					t.Errorf("HEAD Content-Length %q, want the key's length", cl)
				}
				return
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body %q, want %q", got, tt.wantBody)
			}
			if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(tt.wantBody)) {
				t.Errorf("Content-Length %q, want %d", cl, len(tt.wantBody))
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app.example.test", "app.example.test"},
		{"App.Example.Test.", "app.example.test"},
		{"app.example.test:80", "app.example.test"},
		{"app.example.test.:8089", "app.example.test"},
		{"_acme.example.test", "_acme.example.test"},
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1:5002", "127.0.0.1"},
		{"[::1]", "::1"},
		{"[::1]:80", "::1"},
		{"::1", "::1"},
		{"[2001:DB8:0:0::1]:443", "2001:db8::1"},
		{"2001:db8::0:1", "2001:db8::1"},
		{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
		{"", ""},
		{".", ""},
		{"a..", ""},
		{"a..b", ""},
		{".a", ""},
		{":80", ""},
		{"host:port", ""},
		{"host:123456", ""},
		{"[127.0.0.1]", ""},
		{"[::1]x", ""},
		{"[::1", ""},
		{"[fe80::1%eth0]", ""},
		{"fe80::1%eth0", ""},
		{"a:b:c", ""},
		{"*.example.test", ""},
		{"app.example.test/x", ""},
		{"ünicode.example", ""},
		{strings.Repeat("a", 254), ""},
		{strings.Repeat("a", 253) + ".", strings.Repeat("a", 253)},
	}
	for _, tt := range tests {
		if got := NormalizeHost(tt.in); got != tt.want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		token string
		want  bool
	}{
		{tokenA, true},
		{"a", true},
		{"-_", true},
		{strings.Repeat("Z", 256), true},
		{"", false},
		{strings.Repeat("Z", 257), false},
		{"a+b", false},
		{"a/b", false},
		{"a=", false},
		{"a.b", false},
		{"a b", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := ValidToken(tt.token); got != tt.want {
			t.Errorf("ValidToken(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestTokens(t *testing.T) {
	var tokens Tokens
	if _, ok := tokens.Lookup("app.example.test", tokenA); ok {
		t.Fatal("empty Tokens found a key")
	}
	tokens.Remove("app.example.test", tokenA) // no-op on empty

	tokens.Add("App.Example.Test.", tokenA, keyA)
	if got, ok := tokens.Lookup("app.example.test", tokenA); !ok || got != keyA {
		t.Fatalf("Lookup = %q, %v; want %q, true", got, ok, keyA)
	}
	tokens.Add("app.example.test", tokenA, keyB)
	if got, _ := tokens.Lookup("app.example.test", tokenA); got != keyB {
		t.Fatalf("after a second Add, Lookup = %q, want %q", got, keyB)
	}
	tokens.Remove("APP.example.test:80", tokenA)
	if _, ok := tokens.Lookup("app.example.test", tokenA); ok {
		t.Fatal("Lookup found a removed key")
	}
}

// startServer runs s.Start in the background and returns once it listens.
// Cancelling the returned function stops it; the test fails if Start then
// returns an error or does not return.
func startServer(t *testing.T, s *Server) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Start: %v", err)
	}
	var stopped bool
	var stopErr error
	stop = func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		cancel()
		select {
		case stopErr = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Start did not return 30 s after its context was cancelled")
		}
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	return stop
}

func TestStartServesAndStops(t *testing.T) {
	if s := NewServer("127.0.0.1:0", testTokens()); s.Addr() != nil {
		t.Fatalf("Addr before Start = %v, want nil", s.Addr())
	}
	s := NewServer("127.0.0.1:0", testTokens())
	stop := startServer(t, s)
	addr := s.Addr().String()

	transport := &http.Transport{} // keeps an idle connection open across the shutdown
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, err := http.NewRequest(method, "http://"+addr+ChallengePathPrefix+tokenA, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "app.example.test"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", method, resp.StatusCode)
		}
		want := keyA
		if method == http.MethodHead {
			want = ""
		}
		if string(body) != want {
			t.Errorf("%s: body %q, want %q", method, body, want)
		}
		if resp.ContentLength != int64(len(keyA)) {
			t.Errorf("%s: Content-Length %d, want %d", method, resp.ContentLength, len(keyA))
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Start returned %v after cancel, want nil", err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		_ = conn.Close()
		t.Errorf("%s still accepts connections after Start returned", addr)
	}
	transport.CloseIdleConnections()
	waitNoServerGoroutines(t)

	if err := s.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded, want an error")
	}
}

// waitNoServerGoroutines polls until no goroutine of an http.Server or of
// Start is left.
func waitNoServerGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var left []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "net/http.(*conn).serve") ||
				strings.Contains(g, "net/http.(*Server).Serve") ||
				strings.Contains(g, "http01.(*Server).Start") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Start returned:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blockingLookup blocks every lookup until release is closed.
type blockingLookup struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingLookup) Lookup(host, token string) (string, bool) {
	b.entered <- struct{}{}
	<-b.release
	return keyA, true
}

func TestStartFinishesRequestsInFlight(t *testing.T) {
	lookup := &blockingLookup{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := NewServer("127.0.0.1:0", lookup)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Start: %v", err)
	}
	addr := s.Addr().String()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + ChallengePathPrefix + tokenA)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(body), err}
	}()
	<-lookup.entered
	cancel()
	// Shutdown has begun once the listener is closed.
	for {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		_ = conn.Close()
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Start returned (%v) while a request was in flight", err)
	default:
	}
	close(lookup.release)
	r := <-got
	if r.err != nil || r.status != http.StatusOK || r.body != keyA {
		t.Errorf("request in flight got %d %q %v, want 200 %q", r.status, r.body, r.err, keyA)
	}
	if err := <-done; err != nil {
		t.Errorf("Start: %v", err)
	}
}

func TestStartListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	s := NewServer(ln.Addr().String(), testTokens())
	err = s.Start(context.Background())
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("Start on a busy port = %v, want a *net.OpError", err)
	}
	select {
	case <-s.Ready():
		t.Error("Ready closed although Start did not listen")
	default:
	}
}
