package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
)

func TestAction(t *testing.T) {
	for _, tt := range []struct {
		name, method, path, want string
	}{
		{"nonce by HEAD", http.MethodHead, "/anything", "new_nonce"},
		{"Pebble order", http.MethodPost, "/my-order/Xy1", "get_order"},
		{"Pebble finalize", http.MethodPost, "/finalize-order/Xy1", "finalize_order"},
		{"Pebble authz", http.MethodPost, "/authZ/abc", "get_authorization"},
		{"Pebble challenge", http.MethodPost, "/chalZ/abc", "challenge"},
		{"Pebble certificate", http.MethodPost, "/certZ/abc", "get_certificate"},
		{"Pebble account", http.MethodPost, "/my-account/1", "account"},
		{"Pebble new account", http.MethodPost, "/sign-me-up", "new_account"},
		{"Pebble new order", http.MethodPost, "/order-plz", "new_order"},
		{"Pebble key change", http.MethodPost, "/rollover-account-key", "key_change"},
		{"Boulder order", http.MethodPost, "/acme/order/123/456", "get_order"},
		{"Boulder finalize", http.MethodPost, "/acme/finalize/123/456", "finalize_order"},
		{"Boulder authz", http.MethodPost, "/acme/authz-v3/789", "get_authorization"},
		{"Boulder challenge", http.MethodPost, "/acme/chall-v3/789/tok", "challenge"},
		{"Boulder certificate", http.MethodPost, "/acme/cert/03ab", "get_certificate"},
		{"Boulder revoke", http.MethodPost, "/acme/revoke-cert", "revoke_certificate"},
		{"Boulder account", http.MethodPost, "/acme/acct/42", "account"},
		{"step-ca directory", http.MethodGet, "/acme/prov/directory", "get_directory"},
		{"unknown", http.MethodPost, "/x/y/z", "other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Action(tt.method, tt.path); got != tt.want {
				t.Errorf("Action(%s, %s) = %q, want %q", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

// FuzzAction: whatever the path, the action is one of a fixed set, so
// that no part of a URL becomes a label value.
func FuzzAction(f *testing.F) {
	for _, s := range []string{"/my-order/1", "/acme/authz-v3/1", "", "/ÄCME/CERT", "/%2f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
			if a := Action(m, path); !slices.Contains(Actions, a) {
				t.Fatalf("Action(%s, %q) = %q, not one of Actions", m, path, a)
			}
		}
	})
}

// TestObserve: a client with Observe reports each request it makes to a
// test server, with the actions of the URLs the directory names learned
// from the directory, and "error" when no answer came.
func TestObserve(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dir" {
			w.Header().Set("Replay-Nonce", "nonce-"+r.URL.Path)
		}
		switch r.URL.Path {
		case "/dir":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"newNonce":"` + srv.URL + `/fresh","newAccount":"` + srv.URL + `/register","newOrder":"` + srv.URL + `/place"}`))
		case "/fresh":
			w.WriteHeader(http.StatusOK)
		case "/authZ/abc":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"pending","identifier":{"type":"dns","value":"a.example"},"challenges":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []string
	)
	observe := func(o Observation) {
		mu.Lock()
		defer mu.Unlock()
		if o.Duration < 0 {
			t.Errorf("negative duration %v", o.Duration)
		}
		got = append(got, strings.Join([]string{o.Scheme, o.Host, o.Action, o.Method, o.Status}, " "))
	}
	c, err := NewClient(Config{
		Server: srv.URL + "/dir", CABundle: pki.EncodeCertificatesPEM(srv.Certificate()),
		Key: key, AccountURL: srv.URL + "/acct/1", Observe: observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := c.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dir.OrderURL != srv.URL+"/place" {
		t.Errorf("the client read the directory as %+v", dir)
	}
	if _, err := c.GetAuthorization(context.Background(), srv.URL+"/authZ/abc"); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	want := []string{
		"https " + host + " get_directory GET 200",
		"https " + host + " new_nonce HEAD 200",
		"https " + host + " get_authorization POST 200",
	}
	mu.Lock()
	if !slices.Equal(got, want) {
		t.Errorf("observed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = nil
	mu.Unlock()

	srv.Close()
	if _, err := c.GetAuthorization(context.Background(), srv.URL+"/authZ/abc"); err == nil {
		t.Fatal("a closed server answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[0] != "https "+host+" get_authorization POST error" {
		t.Errorf("after the server closed: %q", got)
	}
}
