package acmepolicy_test

import (
	"net/url"
	"strings"
	"testing"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/acmepolicy"
)

// FuzzCheckServer: any spec.acme.server is accepted as an http(s) URL
// with a host or refused with a reason, and the message never holds the
// password of a URL's user information.
func FuzzCheckServer(f *testing.F) {
	for _, s := range []string{"https://acme-v02.api.letsencrypt.org/directory", "https://acme-v01.api.letsencrypt.org/directory",
		"ftp://u:pw@host/x", "https://u:pw@[::1]:14000/dir", "not a url", "http://[::1", "https://%zz", "https:///nohost", ""} {
		f.Add(s, "hunter2secret")
	}
	f.Fuzz(func(t *testing.T, server, password string) {
		reason, message, ok := acmepolicy.CheckServer(server)
		if ok != (reason == "") || ok != (message == "") {
			t.Fatalf("CheckServer(%q) = %q, %q, %v", server, reason, message, ok)
		}
		// The same URL with a password of its own: the password must
		// not be in the message.
		secret := "S3cr3t" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, password)
		scheme, rest, found := strings.Cut(server, "://")
		if !found {
			return
		}
		withPW := scheme + "://user:" + secret + "@" + rest
		if u, err := url.Parse(withPW); err != nil || u.User == nil {
			return // no password as a URL parser sees it: the text is the user's own
		} else if pw, _ := u.User.Password(); pw != secret {
			return
		}
		if _, message, _ := acmepolicy.CheckServer(withPW); strings.Contains(message, secret) {
			t.Fatalf("CheckServer(%q) message holds the password: %s", withPW, message)
		}
	})
}

// FuzzAccountCurrent: any account URL in status and server in spec give
// an answer, and an account URL with no host is forgotten.
func FuzzAccountCurrent(f *testing.F) {
	f.Add("https://acme.example/acct/1", "https://acme.example/dir", "a@example.com", "a@example.com", "h", "h", true)
	f.Add("/acct/1", "https://acme.example/dir", "", "", "", "", true)
	f.Add("https://other.example/acct/1", "%zz", "A@X", "a@x", "h", "g", false)
	f.Fuzz(func(t *testing.T, uri, server, email, lastEmail, hash, lastHash string, ready bool) {
		status := &cmv1.IssuerStatus{ACME: &cmv1.ACMEIssuerStatus{URI: uri, LastRegisteredEmail: lastEmail, LastPrivateKeyHash: lastHash}}
		current, clear := acmepolicy.AccountCurrent(status, ready, &cmv1.ACMEIssuer{Server: server, Email: email}, hash)
		if current && (clear || !ready || hash != lastHash) {
			t.Fatalf("current with clear %v, ready %v, hash %q vs %q", clear, ready, hash, lastHash)
		}
	})
}
