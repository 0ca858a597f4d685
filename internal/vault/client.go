package vault

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is how to reach one Vault server and log in.
type Config struct {
	// Server is Vault's address, e.g. https://vault.example:8200. A path
	// after the host is kept as a prefix of every request path. http is
	// accepted (a dev server); Certificate auth needs https.
	Server string
	// Namespace is sent as X-Vault-Namespace on every request except
	// sys/health (Vault Enterprise; open-source Vault ignores it).
	Namespace string
	// ServerName overrides the TLS server name (SNI and verification).
	ServerName string
	// CABundle is PEM; Vault's certificate must chain to one of its
	// certificates. Empty means the system roots. A bundle without any
	// certificate is an error.
	CABundle []byte
	// ClientCert is a TLS client certificate to present to Vault on every
	// connection (mTLS); nil means none.
	ClientCert *tls.Certificate
	// Auth is how to get a token.
	Auth Auth
	// Now is the clock for token lifetimes; nil means time.Now.
	Now func() time.Time
}

// requestTimeout bounds one HTTP request when the caller's context has no
// earlier deadline, as vault/api's default does.
const requestTimeout = 60 * time.Second

// maxBody bounds how much of an answer is read.
const maxBody = 8 << 20

// Client talks to one Vault server with one login method. It is safe for
// use by many goroutines.
type Client struct {
	base      *url.URL
	namespace string
	now       func() time.Time
	http      *http.Client // every request but a Certificate login
	auth      authSetup
	calls     atomic.Uint64

	mu     sync.Mutex
	tok    *token  // nil until the first login
	flight *flight // the login running now, if any
	expiry time.Time
	known  bool // expiry was learned
}

// token is a client token and when to stop using it.
type token struct {
	value   string
	renewAt time.Time // zero: never
}

func (t *token) fresh(now time.Time) bool {
	return t.renewAt.IsZero() || now.Before(t.renewAt)
}

// flight is a login in progress; done is closed when tok or err is set.
type flight struct {
	done chan struct{}
	tok  *token
	err  error
}

// New checks cfg and builds the HTTP clients. It does no network I/O.
func New(cfg Config) (*Client, error) {
	base, err := parseServer(cfg.Server)
	if err != nil {
		return nil, err
	}
	if cfg.Auth == nil {
		return nil, errors.New("vault: no auth method")
	}
	auth, err := cfg.Auth.setup()
	if err != nil {
		return nil, err
	}
	if auth.cert != nil && base.Scheme != "https" {
		return nil, fmt.Errorf("vault: certificate auth needs an https server, not %s", base.Scheme)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if len(cfg.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, errors.New("vault: the CA bundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	if cfg.ClientCert != nil {
		if err := checkKeyPair(cfg.ClientCert); err != nil {
			return nil, fmt.Errorf("vault: client certificate: %w", err)
		}
		tlsConfig.Certificates = []tls.Certificate{*cfg.ClientCert}
	}
	c := &Client{
		base:      base,
		namespace: cfg.Namespace,
		now:       cfg.Now,
		auth:      auth,
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.http = c.httpClient(tlsConfig)
	if auth.cert != nil {
		certConfig := tlsConfig.Clone()
		certConfig.Certificates = []tls.Certificate{*auth.cert}
		c.auth.http = c.httpClient(certConfig)
	} else {
		c.auth.http = c.http
	}
	if auth.static != "" {
		c.tok = &token{value: auth.static}
	}
	return c, nil
}

// parseServer checks Config.Server and returns it without a trailing slash.
func parseServer(server string) (*url.URL, error) {
	if server == "" {
		return nil, errors.New("vault: no server address")
	}
	u, err := url.Parse(server)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the address, which may hold a password
		}
		return nil, fmt.Errorf("vault: server address: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("vault: server address %q: want an http or https URL", u.Redacted())
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("vault: server address %q: want scheme://host[:port][/prefix]", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func checkKeyPair(c *tls.Certificate) error {
	if len(c.Certificate) == 0 {
		return errors.New("no certificate")
	}
	if c.PrivateKey == nil {
		return errors.New("no private key")
	}
	return nil
}

// httpClient returns a client whose every round trip Calls counts. It
// follows one redirect (a standby node sends clients to the active one) and
// never from https to http.
func (c *Client) httpClient(tlsConfig *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{
		Transport: countingTransport{next: tr, calls: &c.calls},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 1 {
				return errors.New("more than one redirect")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("redirect from https to http refused")
			}
			return nil
		},
	}
}

type countingTransport struct {
	next  http.RoundTripper
	calls *atomic.Uint64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.calls.Add(1)
	return t.next.RoundTrip(r)
}

// Calls returns how many HTTP requests the client has made.
func (c *Client) Calls() uint64 { return c.calls.Load() }

// TokenExpiry returns when the client token expires, as the last login or
// CheckLogin's token lookup said. known is false until one of them has
// run; a zero expiry with known true is a token that never expires.
func (c *Client) TokenExpiry() (expiry time.Time, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.expiry, c.known
}

// answer is the part of Vault's JSON answers the client reads.
type answer struct {
	Data json.RawMessage `json:"data"`
	Auth *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int64  `json:"lease_duration"`
	} `json:"auth"`
	Errors []string `json:"errors"`
}

// request describes one HTTP request to Vault.
type request struct {
	method    string
	path      string         // URL path under the server, e.g. /v1/pki/sign/web
	token     string         // X-Vault-Token; empty: none
	namespace bool           // send X-Vault-Namespace
	body      map[string]any // JSON body; nil: none
	http      *http.Client   // nil: c.http
	secrets   []string       // values to keep out of errors
}

// do makes one HTTP request. A non-2xx answer is a *ResponseError.
func (c *Client) do(ctx context.Context, r request) (*answer, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("vault: %s %s: encoding the request: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("vault: %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("X-Vault-Request", "true")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("X-Vault-Token", r.token)
	}
	if r.namespace && c.namespace != "" {
		req.Header.Set("X-Vault-Namespace", c.namespace)
	}
	hc := r.http
	if hc == nil {
		hc = c.http
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("vault: %s %s: %w", r.method, u.String(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("vault: %s %s: reading the answer: %w", r.method, r.path, err)
	}
	var a answer
	var jsonErr error
	if len(bytes.TrimSpace(raw)) > 0 {
		jsonErr = json.Unmarshal(raw, &a)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &ResponseError{Method: r.method, Path: r.path, StatusCode: resp.StatusCode}
		for _, m := range a.Errors {
			if m = oneLine(redact(m, r.secrets)); m != "" {
				e.Errors = append(e.Errors, m)
			}
		}
		return nil, e
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("vault: %s %s: %d: the answer is not JSON: %w", r.method, r.path, resp.StatusCode, jsonErr)
	}
	return &a, nil
}

// currentToken returns a token that is fresh and is not stale, logging in
// when there is none. Only one login runs at a time; callers that arrive
// while it runs wait for it and share its result. With a static token it
// always returns that token.
func (c *Client) currentToken(ctx context.Context, stale *token) (*token, error) {
	for {
		c.mu.Lock()
		if t := c.tok; t != nil && (c.auth.static != "" || (t != stale && t.fresh(c.now()))) {
			c.mu.Unlock()
			return t, nil
		}
		f := c.flight
		if f == nil {
			f = &flight{done: make(chan struct{})}
			c.flight = f
			c.mu.Unlock()
			f.tok, f.err = c.login(ctx)
			c.mu.Lock()
			if f.err == nil {
				c.tok = f.tok
			}
			c.flight = nil
			c.mu.Unlock()
			close(f.done)
			return f.tok, f.err
		}
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("vault: waiting for a login: %w", context.Cause(ctx))
		}
		if f.err == nil {
			return f.tok, nil
		}
		// The login ran under another caller's context; if that one ended,
		// try again under ours.
		if ctx.Err() == nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
			continue
		}
		return nil, f.err
	}
}

// login gets a new token with the login method.
func (c *Client) login(ctx context.Context) (*token, error) {
	body, secrets, err := c.auth.body(ctx)
	if err != nil {
		return nil, err
	}
	start := c.now()
	a, err := c.do(ctx, request{
		method:    http.MethodPost,
		path:      c.auth.path,
		namespace: true,
		body:      body,
		http:      c.auth.http,
		secrets:   secrets,
	})
	if err != nil {
		return nil, err
	}
	if a.Auth == nil || a.Auth.ClientToken == "" {
		return nil, fmt.Errorf("vault: POST %s: the answer holds no client token", c.auth.path)
	}
	t := &token{value: a.Auth.ClientToken}
	lease := time.Duration(a.Auth.LeaseDuration) * time.Second
	var expiry time.Time
	if lease > 0 {
		t.renewAt = start.Add(lease * 2 / 3)
		expiry = start.Add(lease)
	}
	c.mu.Lock()
	c.expiry, c.known = expiry, true
	c.mu.Unlock()
	return t, nil
}

// authed makes a request with the client token, logging in first when
// needed. When Vault refuses a token that came from a login, it logs in
// once more and repeats the request once.
func (c *Client) authed(ctx context.Context, r request) (*answer, error) {
	t, err := c.currentToken(ctx, nil)
	if err != nil {
		return nil, err
	}
	r.token = t.value
	r.namespace = true
	a, err := c.do(ctx, r)
	if err == nil || c.auth.static != "" || !errors.Is(err, ErrPermissionDenied) {
		return a, err
	}
	t, err = c.currentToken(ctx, t)
	if err != nil {
		return nil, err
	}
	r.token = t.value
	return c.do(ctx, r)
}
