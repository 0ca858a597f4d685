package http01

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzServeHTTP feeds arbitrary Host headers and paths to the handler: it
// must never panic, answer only 200 or 404, consult the KeyLookup only with a
// normalized host and a base64url token, and serve a key only for the exact
// pair it was added under.
func FuzzServeHTTP(f *testing.F) {
	seeds := []struct{ host, path string }{
		{"app.example.test", ChallengePathPrefix + tokenA},
		{"APP.example.test.:8089", ChallengePathPrefix + tokenA},
		{"[::1]:80", ChallengePathPrefix + tokenC},
		{"[::1", ChallengePathPrefix + tokenC},
		{"[fe80::1%eth0]:80", ChallengePathPrefix + tokenC},
		{"127.0.0.1:80", ChallengePathPrefix + tokenB},
		{"", ChallengePathPrefix + tokenA},
		{"app.example.test:http", ChallengePathPrefix + tokenA},
		{"app.example.test", ChallengePathPrefix},
		{"app.example.test", ChallengePathPrefix + "a/b"},
		{"app.example.test", ChallengePathPrefix + "a b\x00"},
		{"app.example.test", "/healthz"},
		{"app.example.test", "/"},
		{"app.example.test", "/.well-known/acme-challenge"},
		{"::ffff:1.2.3.4", ChallengePathPrefix + "x"},
		{"a..", ChallengePathPrefix + "x"},
	}
	for _, s := range seeds {
		f.Add(s.host, s.path)
	}
	tokens := testTokens()
	f.Fuzz(func(t *testing.T, host, path string) {
		lookup := &checkingLookup{t: t, keys: tokens}
		s := NewServer("127.0.0.1:0", lookup)
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}, Host: host, Header: http.Header{}}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusNotFound:
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d for host %q path %q", rec.Code, host, path)
		}
		body := rec.Body.String()
		if path == "/" || path == "/healthz" {
			if body != "ok" {
				t.Fatalf("body %q for %q", body, path)
			}
			return
		}
		token := strings.TrimPrefix(path, ChallengePathPrefix)
		want, ok := tokens.Lookup(NormalizeHost(host), token)
		if !ok || body != want {
			t.Fatalf("host %q path %q served %q, want a key added for the pair", host, path, body)
		}
	})
}

// checkingLookup fails the test when it is asked about a host or token the
// Server should have rejected.
type checkingLookup struct {
	t    *testing.T
	keys KeyLookup
}

func (c *checkingLookup) Lookup(host, token string) (string, bool) {
	if host == "" || NormalizeHost(host) != host {
		c.t.Fatalf("Lookup with host %q, which is not normalized", host)
	}
	if !ValidToken(token) {
		c.t.Fatalf("Lookup with invalid token %q", token)
	}
	return c.keys.Lookup(host, token)
}

// FuzzNormalizeHost checks that NormalizeHost is idempotent and that what it
// returns has no port, no upper-case letters, no trailing dot and only the
// characters of a DNS name or an IP address.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{
		"app.example.test", "App.Example.Test.:80", "[::1]:443", "[::1]", "::1", "2001:DB8::1",
		"[::ffff:127.0.0.1]", "127.0.0.1:5002", "[fe80::1%eth0]", "host:port", "a..", ".", ":", "[]", "[:]:1",
		"*.example.test", "xn--bcher-kva.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := NormalizeHost(in)
		if out == "" {
			return
		}
		if again := NormalizeHost(out); again != out {
			t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q", in, out, out, again)
		}
		if strings.HasSuffix(out, ".") {
			t.Fatalf("NormalizeHost(%q) = %q ends in a dot", in, out)
		}
		if len(out) > maxHostLen {
			t.Fatalf("NormalizeHost(%q) = %q is longer than %d", in, out, maxHostLen)
		}
		for _, c := range out {
			if allowed := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c); !allowed {
				t.Fatalf("NormalizeHost(%q) = %q contains %q", in, out, c)
			}
		}
		if strings.Contains(out, ":") && !isIPv6(out) {
			t.Fatalf("NormalizeHost(%q) = %q keeps a port", in, out)
		}
	})
}
