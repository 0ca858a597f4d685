package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// profileServer is an ACME server's directory, nonce and newOrder, enough
// to check what OrderWithProfile sends: it refuses the first nonce.
func profileServer(t *testing.T, key *rsa.PrivateKey, profiles string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var posts atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", fmt.Sprintf("nonce-%d", posts.Load()+1))
		switch r.URL.Path {
		case "/dir":
			fmt.Fprintf(w, `{"newNonce":"%[1]s/nonce","newAccount":"%[1]s/acct","newOrder":"%[1]s/order","meta":{"profiles":%[2]s}}`, srv.URL, profiles)
		case "/nonce":
		case "/order":
			n := posts.Add(1)
			var jws struct{ Protected, Payload, Signature string }
			if err := json.NewDecoder(r.Body).Decode(&jws); err != nil {
				t.Errorf("body: %v", err)
			}
			enc := base64.RawURLEncoding
			sig, _ := enc.DecodeString(jws.Signature)
			digest := sha256.Sum256([]byte(jws.Protected + "." + jws.Payload))
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
				t.Errorf("signature: %v", err)
			}
			prot, _ := enc.DecodeString(jws.Protected)
			payload, _ := enc.DecodeString(jws.Payload)
			if !strings.Contains(string(prot), `"kid":"https://acme.test/acct/1"`) || !strings.Contains(string(prot), `"url":"`+srv.URL+`/order"`) ||
				!strings.Contains(string(prot), `"alg":"RS256"`) {
				t.Errorf("protected header: %s", prot)
			}
			if string(payload) != `{"identifiers":[{"type":"dns","value":"a.test"}],"profile":"shortlived"}` {
				t.Errorf("payload: %s", payload)
			}
			if n == 1 {
				if !strings.Contains(string(prot), `"nonce":"nonce-1"`) {
					t.Errorf("first nonce: %s", prot)
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"}`)
				return
			}
			w.Header().Set("Location", srv.URL+"/order/7")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"status":"pending"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &posts
}

func TestOrderWithProfile(t *testing.T) {
	key, err := GenerateAccountKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ids := []xacme.AuthzID{{Type: "dns", Value: "a.test"}}
	client := func(srv *httptest.Server) *xacme.Client {
		return &xacme.Client{Key: key, KID: "https://acme.test/acct/1", DirectoryURL: srv.URL + "/dir", HTTPClient: srv.Client()}
	}

	srv, posts := profileServer(t, key, `{"classic":"90 days","shortlived":"6 days"}`)
	url, err := OrderWithProfile(context.Background(), client(srv), ids, "shortlived", time.Time{})
	if err != nil || url != srv.URL+"/order/7" || posts.Load() != 2 {
		t.Errorf("OrderWithProfile = %q, %v after %d posts; want the order URL after a badNonce retry", url, err, posts.Load())
	}
	if _, err := OrderWithProfile(context.Background(), client(srv), ids, "tlsserver", time.Time{}); !errors.Is(err, ErrProfileNotOffered) ||
		!strings.Contains(err.Error(), `"tlsserver" (it offers classic, shortlived)`) {
		t.Errorf("unknown profile: %v", err)
	}
	none, _ := profileServer(t, key, `null`)
	if _, err := OrderWithProfile(context.Background(), client(none), ids, "shortlived", time.Time{}); !errors.Is(err, ErrNoProfiles) {
		t.Errorf("server without profiles: %v", err)
	}
}

func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte(`{"newNonce":"x","meta":{"profiles":{"classic":"90 days"}}}`))
	f.Add([]byte(`{"meta":{"profiles":null}}`))
	f.Add([]byte(`{"meta":7}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseProfiles(bytes.NewReader(data))
		if err != nil && p != nil {
			t.Fatalf("profiles %v with error %v", p, err)
		}
	})
}
