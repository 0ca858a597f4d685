package issuerpolicy_test

import (
	"slices"
	"strings"
	"testing"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
)

func TestCheckVault(t *testing.T) {
	sel := func(name, key string) *cmv1.SecretKeySelector {
		return &cmv1.SecretKeySelector{LocalObjectReference: cmv1.LocalObjectReference{Name: name}, Key: key}
	}
	base := func(a cmv1.VaultAuth) *cmv1.VaultIssuer {
		return &cmv1.VaultIssuer{Server: "https://vault:8200", Path: "pki/sign/web", Auth: a}
	}
	token := cmv1.VaultAuth{TokenSecretRef: sel("vault-token", "")}
	withPath := func(p string) *cmv1.VaultIssuer { v := base(token); v.Path = p; return v }
	tests := []struct {
		name string
		v    *cmv1.VaultIssuer
		want string // "" means valid
	}{
		{"nil", nil, "Vault config cannot be empty"},
		{"no server", &cmv1.VaultIssuer{Path: "pki/sign/web", Auth: token}, "Vault server and path are required fields"},
		{"no path", &cmv1.VaultIssuer{Server: "https://v", Auth: token}, "Vault server and path are required fields"},
		{"dot-dot path", withPath("pki/../sys/seal"), "must not contain '..' path segments"},
		{"dots in a name are fine", withPath("pki/sign/a..b"), ""},
		{"no auth", base(cmv1.VaultAuth{}), "Vault tokenSecretRef, appRole, clientCertificate, kubernetes, or aws is required"},
		{"two auths", base(cmv1.VaultAuth{TokenSecretRef: sel("t", ""), AppRole: &cmv1.VaultAppRole{}}), "Multiple auth methods cannot be set on the same Vault issuer"},
		{"token", base(token), ""},
		{"token without name", base(cmv1.VaultAuth{TokenSecretRef: sel("", "token")}), "Vault Token auth requires tokenSecretRef.name"},
		{"approle", base(cmv1.VaultAuth{AppRole: &cmv1.VaultAppRole{Path: "approle", RoleId: "r", SecretRef: *sel("s", "secretId")}}), ""},
		{"approle without role id", base(cmv1.VaultAuth{AppRole: &cmv1.VaultAppRole{Path: "approle", SecretRef: *sel("s", "secretId")}}), "Vault AppRole auth requires both roleId and tokenSecretRef.name"},
		{"approle without key", base(cmv1.VaultAuth{AppRole: &cmv1.VaultAppRole{Path: "approle", RoleId: "r", SecretRef: *sel("s", "")}}), "Vault AppRole auth requires secretRef.key"},
		{"kubernetes secret", base(cmv1.VaultAuth{Kubernetes: &cmv1.VaultKubernetesAuth{Role: "r", SecretRef: *sel("sa-token", "")}}), ""},
		{"kubernetes service account", base(cmv1.VaultAuth{Kubernetes: &cmv1.VaultKubernetesAuth{Role: "r", ServiceAccountRef: &cmv1.ServiceAccountRef{Name: "vault"}}}), ""},
		{"kubernetes without role", base(cmv1.VaultAuth{Kubernetes: &cmv1.VaultKubernetesAuth{SecretRef: *sel("sa-token", "")}}), "Vault Kubernetes auth requires a role to be set"},
		{"kubernetes with neither", base(cmv1.VaultAuth{Kubernetes: &cmv1.VaultKubernetesAuth{Role: "r"}}), "requires either secretRef.name or serviceAccountRef.name"},
		{"kubernetes with both", base(cmv1.VaultAuth{Kubernetes: &cmv1.VaultKubernetesAuth{Role: "r", SecretRef: *sel("s", ""), ServiceAccountRef: &cmv1.ServiceAccountRef{Name: "v"}}}), "cannot be used with both"},
		{"kubernetes dot-dot mount", base(cmv1.VaultAuth{Kubernetes: &cmv1.VaultKubernetesAuth{Path: "/v1/auth/../sys", Role: "r", SecretRef: *sel("s", "")}}), "must not contain '..'"},
		{"certificate", base(cmv1.VaultAuth{ClientCertificate: &cmv1.VaultClientCertificateAuth{SecretName: "client"}}), ""},
		{"certificate without any certificate", base(cmv1.VaultAuth{ClientCertificate: &cmv1.VaultClientCertificateAuth{}}), "requires secretName"},
		{"aws", base(cmv1.VaultAuth{AWS: &cmv1.VaultAWSAuth{Role: "r"}}), "not supported by certplane yet"},
		{"client cert without key", func() *cmv1.VaultIssuer { v := base(token); v.ClientCertSecretRef = sel("c", ""); return v }(), "must be set together"},
		{"both bundles", func() *cmv1.VaultIssuer {
			v := base(token)
			v.CABundle = []byte("x")
			v.CABundleSecretRef = sel("b", "")
			return v
		}(), "cannot be used together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := issuerpolicy.CheckVault(tt.v)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckVault: %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckVault: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestVaultAudiences(t *testing.T) {
	tests := []struct {
		name    string
		cluster bool
		extra   []string
		want    []string
	}{
		{"issuer", false, nil, []string{"https://vault:8200", "vault://team/vault"}},
		{"cluster issuer", true, nil, []string{"https://vault:8200", "vault://vault"}},
		{"extra, duplicates dropped", false, []string{"vault", "https://vault:8200", "", "vault"}, []string{"https://vault:8200", "vault://team/vault", "vault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := issuerpolicy.VaultAudiences("https://vault:8200", "team", "vault", tt.cluster, tt.extra)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
