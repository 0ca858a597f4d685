package http01

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultCheckTimeout is the time a self check may take when
// CheckOptions.Timeout is zero, as in cert-manager.
const DefaultCheckTimeout = 10 * time.Second

// maxCheckBody bounds how much of the response body a self check reads; a key
// authorization is under 100 bytes.
const maxCheckBody = 16 << 10

// shownBody is how much of an unexpected body an error quotes.
const shownBody = 64

// CheckOptions tunes SelfCheck. The zero value checks port 80 through the
// system resolver with a ten-second timeout.
type CheckOptions struct {
	// Nameservers, as host:port (port 53 if omitted), resolve the DNS name
	// and the host of every redirect, tried in order until one answers, like
	// cert-manager's --acme-http01-solver-nameservers. If empty, the system
	// resolver is used. Ignored when HTTPClient is set.
	Nameservers []string

	// Port is the port of the URL checked. If zero, 80: ACME servers
	// validate HTTP-01 on port 80 only, and cert-manager always checks it.
	// Tests set it to reach a loopback listener.
	Port int

	// Timeout bounds the whole check, redirects included. If zero,
	// DefaultCheckTimeout.
	Timeout time.Duration

	// HTTPClient, if set, makes the request. If nil, SelfCheck uses a client
	// that resolves through Nameservers, honours HTTP_PROXY, HTTPS_PROXY and
	// NO_PROXY, follows up to ten redirects and does not verify TLS
	// certificates of https redirect targets (as cert-manager does: the body
	// is what is checked).
	HTTPClient *http.Client
}

// SelfCheck makes one attempt to fetch
// http://<dnsName>/.well-known/acme-challenge/<token>, whose Host header is
// dnsName, and reports an error unless the response is 200 with a body that,
// trimmed of white space, equals keyAuthorization. With opts.Port set to
// another port than 80 the URL and Host are <dnsName>:<port>. The error is
// one line, in cert-manager's words where it has them, such as "wrong status
// code '404', expected '200'". SelfCheck does not retry or sleep; the caller
// requeues.
func SelfCheck(ctx context.Context, dnsName, token, keyAuthorization string, opts CheckOptions) error {
	return selfCheck(ctx, dnsName, token, keyAuthorization, opts, http.ProxyFromEnvironment)
}

func selfCheck(ctx context.Context, dnsName, token, keyAuthorization string, opts CheckOptions,
	proxy func(*http.Request) (*url.URL, error)) error {
	host := NormalizeHost(dnsName)
	if host == "" || strings.Contains(dnsName, ":") && !isIPv6(host) {
		return fmt.Errorf("invalid DNS name %q for an HTTP-01 self check", dnsName)
	}
	if !ValidToken(token) {
		return fmt.Errorf("invalid HTTP-01 token %q: it must be base64url", token)
	}
	port := opts.Port
	if port == 0 {
		port = 80
	}
	if port < 0 || port > 65535 {
		return fmt.Errorf("invalid HTTP-01 self check port %d", port)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}

	// The Host header is the URL's host: the DNS name alone on port 80, as an
	// ACME server sends it, and name:port otherwise.
	u := url.URL{Scheme: "http", Host: host, Path: ChallengePathPrefix + token}
	if isIPv6(host) {
		u.Host = "[" + host + "]"
	}
	if port != 80 {
		u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("building self check request for %s: %w", u.String(), err)
	}

	client := opts.HTTPClient
	if client == nil {
		transport := newTransport(opts.Nameservers, proxy)
		defer transport.CloseIdleConnections()
		client = &http.Client{Transport: transport}
	}
	resp, err := client.Do(req)
	if err != nil {
		failed := u.String()
		var uerr *url.Error
		if errors.As(err, &uerr) {
			failed, err = uerr.URL, uerr.Err
		}
		return fmt.Errorf("failed to perform self check GET request '%s': %w", failed, err)
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wrong status code '%d', expected '%d'", resp.StatusCode, http.StatusOK)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckBody+1))
	if err != nil {
		return fmt.Errorf("failed to read self check response body from '%s': %w", u.String(), err)
	}
	got := strings.TrimSpace(string(body))
	if got != keyAuthorization {
		shown := fmt.Sprintf("%q", got)
		if len(got) > shownBody {
			shown = fmt.Sprintf("%q (truncated)", got[:shownBody])
		}
		return fmt.Errorf("did not get expected response when querying endpoint, expected %q but got: %s",
			keyAuthorization, shown)
	}
	return nil
}

func isIPv6(host string) bool {
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Is6()
}

// newTransport returns the self check's transport: fresh connections only,
// names resolved through nameservers when given, TLS not verified.
func newTransport(nameservers []string, proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	dialer := &net.Dialer{}
	dial := dialer.DialContext
	if len(nameservers) > 0 {
		dial = (&nameserverDialer{dialer: dialer, nameservers: nameservers}).DialContext
	}
	return &http.Transport{
		Proxy:       proxy,
		DialContext: dial,
		// As cert-manager: a redirect to https is followed without checking
		// the certificate, since only the body matters.
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// nameserverDialer dials host names after resolving them through its own
// nameservers instead of the system's.
type nameserverDialer struct {
	dialer      *net.Dialer
	nameservers []string
}

func (d *nameserverDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return d.dialer.DialContext(ctx, network, address)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, addr := range addrs {
		conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(addr.String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// resolve looks name up through each nameserver in turn and returns the
// first non-empty answer.
func (d *nameserverDialer) resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	fqdn := name
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "." // rooted: no search domains from resolv.conf
	}
	rerr := &resolveError{name: strings.TrimSuffix(name, ".")}
	for _, ns := range d.nameservers {
		server := nameserverAddress(ns)
		r := &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.dialer.DialContext(ctx, network, server)
			},
		}
		addrs, err := r.LookupNetIP(ctx, "ip", fqdn)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no addresses")
		}
		if err == nil {
			return addrs, nil
		}
		rerr.failures = append(rerr.failures, nameserverFailure{server, err})
		if ctx.Err() != nil {
			break
		}
	}
	return nil, rerr
}

// nameserverAddress adds port 53 to a nameserver given without a port.
func nameserverAddress(ns string) string {
	if _, _, err := net.SplitHostPort(ns); err == nil {
		return ns
	}
	return net.JoinHostPort(strings.Trim(ns, "[]"), "53")
}

// resolveError reports that no nameserver resolved a name.
type resolveError struct {
	name     string
	failures []nameserverFailure
}

type nameserverFailure struct {
	nameserver string
	err        error
}

func (e *resolveError) Error() string {
	if len(e.failures) == 1 {
		f := e.failures[0]
		return fmt.Sprintf("failed to resolve %q using nameserver %s: %s", e.name, f.nameserver, reason(f.err))
	}
	parts := make([]string, len(e.failures))
	for i, f := range e.failures {
		parts[i] = f.nameserver + ": " + reason(f.err)
	}
	return fmt.Sprintf("failed to resolve %q using nameservers: %s", e.name, strings.Join(parts, "; "))
}

// Unwrap returns the last nameserver's error.
func (e *resolveError) Unwrap() error {
	if len(e.failures) == 0 {
		return nil
	}
	return e.failures[len(e.failures)-1].err
}

// reason is a resolver error without the "lookup <name> on <server>" prefix,
// whose server is the one in resolv.conf, not the one dialled.
func reason(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Err
	}
	return err.Error()
}
