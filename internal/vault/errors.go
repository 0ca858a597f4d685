package vault

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors callers can test for with errors.Is. The messages of ErrSealed and
// ErrNotInitialized are cert-manager's, word for word, because they end up in
// Issuer conditions.
var (
	// ErrSealed is a sealed Vault: sys/health's 503, or a 503 answer
	// saying so to any request.
	ErrSealed = errors.New("Vault is sealed") //nolint:staticcheck // ST1005: cert-manager's exact message
	// ErrNotInitialized is sys/health's 501.
	ErrNotInitialized = errors.New("Vault is not initialized") //nolint:staticcheck // ST1005: cert-manager's exact message
	// ErrPermissionDenied is any 403 answer: a wrong, expired or revoked
	// token, a policy that does not allow the path, or a refused login.
	ErrPermissionDenied = errors.New("permission denied")
)

// ResponseError is an answer from Vault with a status other than 2xx. Its
// message is one line: "vault: <method> <path>: <status>: <errors>".
// A 403 is ErrPermissionDenied, and a 503 that says Vault is sealed is
// ErrSealed, for errors.Is.
type ResponseError struct {
	Method     string   // HTTP method, e.g. POST
	Path       string   // URL path, e.g. /v1/pki/sign/web
	StatusCode int      // HTTP status
	Errors     []string // Vault's "errors" list, each made one line
}

func (e *ResponseError) Error() string {
	msg := strings.Join(e.Errors, "; ")
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.StatusCode))
	}
	if msg == "" {
		msg = "no error message"
	}
	return fmt.Sprintf("vault: %s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// Is makes a 403 match ErrPermissionDenied and a sealed 503 match ErrSealed.
func (e *ResponseError) Is(target error) bool {
	switch target {
	case ErrPermissionDenied:
		return e.StatusCode == http.StatusForbidden
	case ErrSealed:
		if e.StatusCode != http.StatusServiceUnavailable {
			return false
		}
		for _, m := range e.Errors {
			if strings.Contains(strings.ToLower(m), "sealed") {
				return true
			}
		}
	}
	return false
}

// refusedError is CheckLogin's error for a token Vault refuses.
type refusedError struct{ resp *ResponseError }

func (e *refusedError) Error() string {
	return "Vault refused the token: permission denied"
}

func (e *refusedError) Unwrap() error { return e.resp }

// oneLine collapses runs of white space (Vault's multi-error texts hold
// newlines and tabs) into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// minRedact is the shortest secret redact looks for: shorter ones would
// mangle ordinary words and reveal next to nothing.
const minRedact = 6

// redact replaces each secret of at least minRedact bytes in s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= minRedact {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
