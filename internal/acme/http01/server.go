package http01

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChallengePathPrefix is the path under which HTTP-01 tokens are served
// (RFC 8555 section 8.3).
const ChallengePathPrefix = "/.well-known/acme-challenge/"

// maxTokenLen bounds the token accepted in a request path. ACME servers use
// 43 characters (256 bits, base64url); the limit only stops absurd requests
// before they reach the KeyLookup.
const maxTokenLen = 256

// maxHostLen bounds a normalized host: a DNS name is at most 253 characters.
const maxHostLen = 253

// Timeouts of the listener. The peers are ACME validation servers and
// health probes, whose requests are tiny.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 5 * time.Second
)

// KeyLookup finds the key authorization of a pending HTTP-01 challenge.
//
// host is normalized as by [NormalizeHost] and token contains only base64url
// characters. Implementations must be safe for concurrent use.
type KeyLookup interface {
	Lookup(host, token string) (keyAuthorization string, ok bool)
}

// Server answers HTTP-01 validation requests for every pending challenge from
// one listener. It is an [http.Handler]; [Server.Start] runs it on its
// address and makes it usable as a controller-runtime Runnable.
type Server struct {
	address  string
	listener net.Listener
	keys     KeyLookup
	ready    chan struct{}

	mu      sync.Mutex
	started bool
	addr    net.Addr
}

// NewServer returns a Server that will listen on address (host:port, as
// net.Listen takes it; port 0 picks a free port) and answer from keys.
func NewServer(address string, keys KeyLookup) *Server {
	return &Server{address: address, keys: keys, ready: make(chan struct{})}
}

// NewServerOn returns a Server that serves on ln, already listening (so that
// nobody else can take its port meanwhile), and answers from keys.
func NewServerOn(ln net.Listener, keys KeyLookup) *Server {
	return &Server{address: ln.Addr().String(), listener: ln, keys: keys, ready: make(chan struct{})}
}

// Ready returns a channel that is closed once Start is listening; then Addr
// returns the bound address. It is never closed if Start fails to listen, so
// wait for it together with Start's result.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the address Start is listening on, or nil before Ready is
// closed.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// NeedLeaderElection reports false: every controller replica serves the
// tokens, whichever one is the leader, because the Service may route the ACME
// server's request to any of them.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens on the Server's address and serves until ctx is done. Then it
// stops accepting connections, lets requests in flight finish for up to five
// seconds, and returns nil. It returns an error if it cannot listen, if
// serving fails, or if it was already started; a Server starts only once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("http-01 solver already started")
	}
	s.started = true
	s.mu.Unlock()

	ln := s.listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", s.address); err != nil {
			return fmt.Errorf("http-01 solver listening on %s: %w", s.address, err)
		}
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}

	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	close(s.ready)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("http-01 solver serving on %s: %w", s.address, err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if shutdownErr != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http-01 solver serving on %s: %w", s.address, err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("http-01 solver shutting down on %s: %w", s.address, shutdownErr)
	}
	return nil
}

// ServeHTTP answers GET and HEAD of /.well-known/acme-challenge/<token> with
// the key authorization (200, text/plain) when the Host header and the token
// match a pending challenge, and GET and HEAD of / and /healthz with "ok".
// Every other request gets 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.NotFound(w, r)
		return
	}
	switch r.URL.Path {
	case "/", "/healthz":
		writeText(w, r, "ok")
		return
	}
	host, token, ok := parseRequest(r.Host, r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	key, ok := s.keys.Lookup(host, token)
	if !ok {
		http.NotFound(w, r)
		return
	}
	writeText(w, r, key)
}

func writeText(w http.ResponseWriter, r *http.Request, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// parseRequest extracts the normalized host and the token of a challenge
// request. ok is false when the path is not a challenge path, the token is
// not base64url, or the host is not a valid host.
func parseRequest(hostHeader, path string) (host, token string, ok bool) {
	token, found := strings.CutPrefix(path, ChallengePathPrefix)
	if !found || !ValidToken(token) {
		return "", "", false
	}
	host = NormalizeHost(hostHeader)
	if host == "" {
		return "", "", false
	}
	return host, token, true
}

// ValidToken reports whether token is a non-empty base64url string
// ([A-Za-z0-9_-]) of at most 256 characters, the only tokens the Server looks
// up.
func ValidToken(token string) bool {
	if token == "" || len(token) > maxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// NormalizeHost returns the host a KeyLookup is asked about for a Host header
// value or a challenge's DNS name: the port is removed, letters are
// lower-cased, one trailing dot is dropped, and an IP address is written in
// its canonical form without brackets ("[::1]:80" becomes "::1"). It returns
// "" for a value that is not a host name or IP address, such as one with a
// non-numeric port, an IPv6 zone, an empty label, or characters outside
// letters, digits, '-', '_' and '.'.
//
// A KeyLookup implementation should key its index by NormalizeHost of each
// challenge's DNS name.
func NormalizeHost(hostport string) string {
	host := hostport
	switch {
	case strings.HasPrefix(host, "["):
		end := strings.IndexByte(host, ']')
		if end < 0 || !validPort(host[end+1:]) {
			return ""
		}
		addr, err := netip.ParseAddr(host[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return ""
		}
		return addr.String()
	case strings.Count(host, ":") == 1:
		i := strings.IndexByte(host, ':')
		if !validPort(host[i:]) {
			return ""
		}
		host = host[:i]
	case strings.Count(host, ":") > 1:
		// A bare IPv6 address, as a challenge's identifier may hold it.
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return ""
		}
		return addr.String()
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || len(host) > maxHostLen ||
		strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return ""
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return ""
		}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.String()
	}
	return host
}

// validPort reports whether s is empty, ":" or ":" followed by up to five
// digits.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) > 6 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
