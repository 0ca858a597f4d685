package certmanager

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/certplane/certplane/internal/vault"
)

func TestVaultRetryAfter(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{4, time.Minute},
		{50, time.Minute},
	}
	for _, tt := range tests {
		if got := VaultRetryAfter(tt.n); got != tt.want {
			t.Errorf("VaultRetryAfter(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestVaultFailuresResetOnSuccess(t *testing.T) {
	var f vaultFailures
	uid := types.UID("u")
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if got := f.next(uid, false); got != want {
			t.Fatalf("failure %d: recheck after %s, want %s", i+1, got, want)
		}
	}
	if got := f.next(uid, true); got != vaultRecheck {
		t.Errorf("after a success: recheck after %s, want %s", got, vaultRecheck)
	}
	if got := f.next(uid, false); got != 10*time.Second {
		t.Errorf("first failure after a success: %s, want 10s", got)
	}
	if got := f.next("other", false); got != 10*time.Second {
		t.Errorf("another issuer's first failure: %s, want 10s", got)
	}
}

func TestVaultRefused(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a name the role refuses", &vault.ResponseError{Method: "POST", Path: "/v1/pki/sign/web", StatusCode: 400, Errors: []string{"common name x not allowed by this role"}}, true},
		{"wrapped", fmt.Errorf("signing: %w", &vault.ResponseError{StatusCode: 400}), true},
		{"a refused AppRole login", &vault.ResponseError{Method: "POST", Path: "/v1/auth/approle/login", StatusCode: 400, Errors: []string{"invalid role or secret ID"}}, false},
		{"a refused token", &vault.ResponseError{StatusCode: 403, Errors: []string{"permission denied"}}, false},
		{"rate limited", &vault.ResponseError{StatusCode: 429}, false},
		{"sealed", &vault.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}, false},
		{"a server error", &vault.ResponseError{StatusCode: 500}, false},
		{"unreachable", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
	}
	for _, tt := range tests {
		if got := VaultRefused(tt.err); got != tt.want {
			t.Errorf("%s: VaultRefused = %v, want %v", tt.name, got, tt.want)
		}
	}
}
