package acme

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"

	"github.com/certplane/certplane/pkg/pki"
)

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name       string
		n, code    int
		retryAfter string
		want       time.Duration
	}{
		{"bad nonce at once", 1, 400, "", time.Millisecond},
		{"server error backs off", 1, 503, "", 250 * time.Millisecond},
		{"server error backs off more", 3, 503, "", time.Second},
		{"backoff is capped", 5, 500, "", 4 * time.Second},
		{"retry-after honoured", 1, 429, "2", 2*time.Second + time.Millisecond},
		{"long retry-after gives up", 1, 429, "3600", 0},
		{"bad nonces get more tries", 20, 400, "", time.Millisecond},
		{"no more retries", 21, 400, "", 0},
		{"no more retries for server errors", 6, 503, "", 0},
	} {
		res := &http.Response{StatusCode: tt.code, Header: http.Header{}, Body: http.NoBody}
		if tt.retryAfter != "" {
			res.Header.Set("Retry-After", tt.retryAfter)
		}
		if got := retryAfter(tt.n, 5, res); got != tt.want {
			t.Errorf("%s: retryAfter = %v, want %v", tt.name, got, tt.want)
		}
		_ = res.Body.Close()
	}
}

func TestProblems(t *testing.T) {
	problem := &xacme.Error{StatusCode: 400, ProblemType: "urn:ietf:params:acme:error:rejectedIdentifier", Detail: "blocked",
		Subproblems: []xacme.Subproblem{{Type: "urn:ietf:params:acme:error:rejectedIdentifier", Detail: "no", Identifier: &xacme.AuthzID{Type: "dns", Value: "x.test"}}}}
	wrapped := fmt.Errorf("creating: %w", problem)
	if !ClientError(wrapped) || ClientError(&xacme.Error{StatusCode: 503}) || ClientError(errors.New("dial tcp: refused")) ||
		ClientError(&xacme.Error{StatusCode: 400, ProblemType: "urn:ietf:params:acme:error:badNonce"}) {
		t.Error("ClientError")
	}
	if got := ProblemType(wrapped); got != "rejectedIdentifier" {
		t.Errorf("ProblemType = %q", got)
	}
	if got := ProblemType(errors.New("x")); got != "" {
		t.Errorf("ProblemType of a plain error = %q", got)
	}
	want := "400 urn:ietf:params:acme:error:rejectedIdentifier: blocked; urn:ietf:params:acme:error:rejectedIdentifier (x.test): no"
	if got := Describe(wrapped); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestAccountKey(t *testing.T) {
	key, err := GenerateAccountKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := EncodeAccountKey(key)
	if !strings.HasPrefix(string(pemBytes), "-----BEGIN RSA PRIVATE KEY-----") {
		t.Errorf("account key is not PKCS#1 PEM")
	}
	back, err := ParseAccountKey(pemBytes)
	if err != nil || !back.Equal(key) {
		t.Fatalf("round trip: %v", err)
	}
	ec, err := pki.GenerateKey(rand.Reader, pki.KeySpec{Algorithm: pki.ECDSA})
	if err != nil {
		t.Fatal(err)
	}
	ecPEM, err := pki.MarshalPrivateKeyPEM(ec, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseAccountKey(ecPEM); !errors.Is(err, ErrNotRSA) {
		t.Errorf("ECDSA key: %v, want ErrNotRSA", err)
	}
	if _, err := ParseAccountKey([]byte("garbage")); err == nil || strings.Contains(err.Error(), "garbage") {
		t.Errorf("garbage: %v", err)
	}
	if got := Contact("Ops@Example.TEST"); len(got) != 1 || got[0] != "mailto:ops@example.test" {
		t.Errorf("Contact = %v", got)
	}
	if Contact("") != nil {
		t.Error("Contact of no email")
	}
}

func FuzzParseAccountKey(f *testing.F) {
	key, err := GenerateAccountKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(EncodeAccountKey(key))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseAccountKey(data)
		if (k == nil) == (err == nil) {
			t.Fatalf("key %v with error %v", k != nil, err)
		}
	})
}

func TestNewClient(t *testing.T) {
	if _, err := NewClient(Config{Server: "https://x/dir", CABundle: []byte("not PEM")}); err == nil {
		t.Error("a caBundle without certificates was accepted")
	}
	c, err := NewClient(Config{Server: "https://x/dir", AccountURL: "https://x/acct/1"})
	if err != nil || c.KID != "https://x/acct/1" || c.DirectoryURL != "https://x/dir" || c.UserAgent != "certplane" {
		t.Errorf("client: %+v %v", c, err)
	}
}
