package acme

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Observation is one HTTP request an ACME client made, labelled as
// cert-manager labels its certmanager_http_acme_client_request_count and
// _duration_seconds: scheme, host, action, method and status. Every label
// comes from a small set, whatever the URLs of the orders, authorizations
// and certificates are.
type Observation struct {
	// Scheme is the request URL's scheme, "https" (or "http").
	Scheme string
	// Host is the server's host and port, as in the request URL.
	Host string
	// Action is the ACME operation, one of Actions.
	Action string
	// Method is the HTTP method: GET, HEAD or POST.
	Method string
	// Status is the answer's status code ("200", "429"), or "error"
	// when no answer came (a refused connection, a TLS error, a timeout).
	Status string
	// Duration is the time from sending the request to the answer's
	// headers.
	Duration time.Duration
}

// Actions are the values of Observation.Action.
var Actions = []string{
	"get_directory", "new_nonce", "new_account", "account", "key_change",
	"new_order", "get_order", "finalize_order", "get_authorization",
	"challenge", "get_certificate", "revoke_certificate", "other",
}

// maxDirectory bounds the directory document read to learn its URLs.
const maxDirectory = 1 << 20

// observingTransport reports every request its next transport makes.
type observingTransport struct {
	next      http.RoundTripper
	directory string
	observe   func(Observation)

	mu sync.Mutex
	// known maps the URLs the directory names to their actions.
	known map[string]string
}

// RoundTrip sends req through the next transport and reports it. The
// directory's answer is read (and handed on unchanged) to learn the URLs
// of newNonce, newAccount, newOrder, revokeCert and keyChange.
func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(req)
	d := time.Since(start)
	u := req.URL.String()
	action := t.lookup(u)
	if action == "" {
		action = Action(req.Method, req.URL.Path)
	}
	status := "error"
	if err == nil {
		status = strconv.Itoa(res.StatusCode)
		if action == "get_directory" && res.StatusCode == http.StatusOK {
			t.learn(res)
		}
	}
	t.observe(Observation{Scheme: req.URL.Scheme, Host: req.URL.Host, Action: action, Method: req.Method, Status: status, Duration: d})
	return res, err
}

func (t *observingTransport) lookup(u string) string {
	if u == t.directory {
		return "get_directory"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.known[u]
}

// learn reads the directory from res, puts the body back for the client
// and remembers the URLs it names.
func (t *observingTransport) learn(res *http.Response) {
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDirectory))
	rest := res.Body
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	if err != nil || len(body) == maxDirectory {
		return
	}
	var dir struct {
		NewNonce   string `json:"newNonce"`
		NewAccount string `json:"newAccount"`
		NewOrder   string `json:"newOrder"`
		RevokeCert string `json:"revokeCert"`
		KeyChange  string `json:"keyChange"`
	}
	if json.Unmarshal(body, &dir) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.known = map[string]string{}
	for u, action := range map[string]string{
		dir.NewNonce: "new_nonce", dir.NewAccount: "new_account", dir.NewOrder: "new_order",
		dir.RevokeCert: "revoke_certificate", dir.KeyChange: "key_change",
	} {
		if u != "" {
			t.known[u] = action
		}
	}
}

// Action names the ACME operation of a request to path that is not one of
// the directory's own URLs: orders, finalization, authorizations,
// challenges, certificates and accounts, recognized by the words their
// paths hold at Let's Encrypt (Boulder), Pebble and step-ca ("finalize",
// "authz", "chall", "cert", "order", "acct"), "other" for the rest. It
// never returns a part of path, so that the metrics' label values stay a
// small set (Actions) whatever the IDs in the URLs.
func Action(method, path string) string {
	if method == http.MethodHead {
		return "new_nonce"
	}
	p := strings.ToLower(path)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(p, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("finalize"):
		return "finalize_order"
	case has("revoke"):
		return "revoke_certificate"
	case has("key-change", "keychange", "key_change", "rollover"):
		return "key_change"
	case has("nonce"):
		return "new_nonce"
	case has("authz", "authorization"):
		return "get_authorization"
	case has("chal"):
		return "challenge"
	case has("cert"):
		return "get_certificate"
	case has("new-order", "neworder", "new_order", "order-plz"):
		return "new_order"
	case has("order"):
		return "get_order"
	case has("new-acct", "new-account", "newaccount", "new_account", "sign-me-up"):
		return "new_account"
	case has("acct", "account"):
		return "account"
	case has("dir"):
		return "get_directory"
	}
	return "other"
}
