package acme

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// Config is what an ACME client needs from an issuer.
type Config struct {
	// Server is the directory URL.
	Server string
	// CABundle is the PEM of the CAs the server's TLS certificate must chain
	// to. If empty, the system's roots are used.
	CABundle []byte
	// SkipTLSVerify turns off the check of the server's TLS certificate.
	SkipTLSVerify bool
	// Key is the account key.
	Key crypto.Signer
	// AccountURL is the account's URL, once registered. If empty, the
	// client asks the server for it on first use.
	AccountURL string
	// UserAgent is sent with every request. If empty, "certplane".
	UserAgent string
	// Timeout bounds each HTTP request. If zero, 30 seconds.
	Timeout time.Duration
	// Retries is how often a request that failed with a bad nonce, a rate
	// limit or a server error is retried. If zero, 5.
	Retries int
	// Observe, if set, is called after each HTTP request the client
	// makes (retries included) with the request's labels and duration,
	// for cert-manager's ACME client metrics. It must be quick and safe
	// for concurrent use.
	Observe func(Observation)
}

// NewClient returns an ACME client for c. Bad nonces are retried at once
// with a fresh nonce, as RFC 8555 section 6.5 asks; 429 and 5xx answers
// after their Retry-After or a short backoff, at most c.Retries times, so
// that a reconciler gets the error and backs off itself.
func NewClient(c Config) (*xacme.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case c.SkipTLSVerify:
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // the issuer's spec.acme.skipTLSVerify asks for it
	case len(c.CABundle) > 0:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CABundle) {
			return nil, errors.New("acme: caBundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	var rt http.RoundTripper = transport
	if c.Observe != nil {
		rt = &observingTransport{next: transport, directory: c.Server, observe: c.Observe}
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "certplane"
	}
	retries := c.Retries
	if retries == 0 {
		retries = 5
	}
	return &xacme.Client{
		Key:          c.Key,
		DirectoryURL: c.Server,
		KID:          xacme.KeyID(c.AccountURL),
		HTTPClient:   &http.Client{Transport: rt, Timeout: timeout},
		UserAgent:    ua,
		RetryBackoff: func(n int, _ *http.Request, res *http.Response) time.Duration {
			return retryAfter(n, retries, res)
		},
	}, nil
}

// retryAfter is the wait before retry n of a request whose answer was res,
// or 0 for no more retries.
func retryAfter(n, retries int, res *http.Response) time.Duration {
	if res != nil && res.StatusCode == http.StatusBadRequest {
		// x/crypto/acme retries 400 only for badNonce: the fresh nonce
		// came with the answer, so try again at once. A server may
		// refuse many nonces in a row (Pebble's NONCEREJECT): give it
		// more tries than the others.
		if n > 4*retries {
			return 0
		}
		return time.Millisecond
	}
	if n > retries {
		return 0
	}
	if res != nil {
		if s := res.Header.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
				if d := time.Duration(secs) * time.Second; d <= 10*time.Second {
					return d + time.Millisecond
				}
				return 0 // too long to hold a worker: the caller backs off
			}
		}
	}
	d := time.Duration(1<<uint(n-1)) * 250 * time.Millisecond
	if d > 4*time.Second {
		d = 4 * time.Second
	}
	return d
}

// ClientError reports whether err is the server's refusal of the request
// itself (a 4xx problem), which retrying unchanged cannot fix; a bad nonce
// is not: the next try has a new one.
func ClientError(err error) bool {
	var e *xacme.Error
	return errors.As(err, &e) && e.StatusCode >= 400 && e.StatusCode < 500 && ProblemType(err) != "badNonce"
}

// ProblemType is the problem document's type with the
// urn:ietf:params:acme:error: prefix removed ("malformed", "badNonce"),
// or "" when err is not a problem document.
func ProblemType(err error) string {
	var e *xacme.Error
	if !errors.As(err, &e) {
		return ""
	}
	const prefix = "urn:ietf:params:acme:error:"
	if len(e.ProblemType) > len(prefix) && e.ProblemType[:len(prefix)] == prefix {
		return e.ProblemType[len(prefix):]
	}
	return e.ProblemType
}

// Describe is err on one line: for a problem document its status, type,
// detail and subproblems, as a user reads them in a status reason.
func Describe(err error) string {
	var e *xacme.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	s := fmt.Sprintf("%d %s: %s", e.StatusCode, e.ProblemType, e.Detail)
	for _, sub := range e.Subproblems {
		s += fmt.Sprintf("; %s", sub.Type)
		if sub.Identifier != nil {
			s += fmt.Sprintf(" (%s)", sub.Identifier.Value)
		}
		s += ": " + sub.Detail
	}
	return s
}
