package vault

import (
	"strings"
	"testing"
)

func TestPaths(t *testing.T) {
	tests := []struct {
		name    string
		fn      func(string) (string, error)
		in      string
		want    string
		wantErr string
	}{
		{"api", apiPath, "pki/sign/web", "/v1/pki/sign/web", ""},
		{"api leading slash", apiPath, "/pki_int/issuer/default/sign/web", "/v1/pki_int/issuer/default/sign/web", ""},
		{"api verbatim", apiPath, "pki/sign-verbatim/web", "/v1/pki/sign-verbatim/web", ""},
		{"api empty", apiPath, "", "", "empty API path"},
		{"api slash only", apiPath, "/", "", "empty API path"},
		{"api dotdot", apiPath, "pki/../sys/seal", "", `".." segments`},
		{"api query", apiPath, "pki/sign/web?x=1", "", "does not belong"},
		{"api newline", apiPath, "pki/sign/web\n", "", "does not belong"},
		{"api dots in names are fine", apiPath, "pki.v2/sign/web..x", "/v1/pki.v2/sign/web..x", ""},

		{"approle default", appRoleLoginPath, "", "/v1/auth/approle/login", ""},
		{"approle mount", appRoleLoginPath, "approle-prod", "/v1/auth/approle-prod/login", ""},
		{"approle slashes", appRoleLoginPath, "/team/approle/", "/v1/auth/team/approle/login", ""},
		{"approle dotdot", appRoleLoginPath, "../sys", "", `".." segments`},

		{"kubernetes default", kube, "", "/v1/auth/kubernetes/login", ""},
		{"kubernetes cert-manager form", kube, "/v1/auth/kubernetes-east", "/v1/auth/kubernetes-east/login", ""},
		{"kubernetes trailing slash", kube, "/v1/auth/kubernetes-east/", "/v1/auth/kubernetes-east/login", ""},
		{"kubernetes without /v1/", kube, "auth/k8s", "/v1/auth/k8s/login", ""},
		{"kubernetes without v1, leading slash", kube, "/auth/k8s", "/v1/auth/k8s/login", ""},
		{"kubernetes v1/ without slash", kube, "v1/auth/k8s", "/v1/auth/k8s/login", ""},
		{"kubernetes only /v1/", kube, "/v1/", "", "no mount"},
		{"kubernetes dotdot", kube, "/v1/auth/../../x", "", `".." segments`},

		{"cert default", cert, "", "/v1/auth/cert/login", ""},
		{"cert custom", cert, "/v1/auth/tls", "/v1/auth/tls/login", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.fn(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func kube(p string) (string, error) { return mountLoginPath(p, "/v1/auth/kubernetes") }
func cert(p string) (string, error) { return mountLoginPath(p, "/v1/auth/cert") }

func TestParseServer(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"https://vault.example:8200", "https://vault.example:8200", ""},
		{"https://vault.example:8200/", "https://vault.example:8200", ""},
		{"http://127.0.0.1:8200", "http://127.0.0.1:8200", ""},
		{"https://proxy.example/vault/", "https://proxy.example/vault", ""},
		{"", "", "no server address"},
		{"vault.example:8200", "", "want an http or https URL"},
		{"ftp://vault.example", "", "want an http or https URL"},
		{"https://", "", "want scheme://host"},
		{"https://user:pw@vault.example", "", "want scheme://host"},
		{"https://user:pw@vault example", "", "server address"},
		{"https://vault.example?x=1", "", "want scheme://host"},
	}
	for _, tt := range tests {
		u, err := parseServer(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseServer(%q) = %v, %v; want an error with %q", tt.in, u, err, tt.wantErr)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("parseServer(%q) = %v, %v; want %q", tt.in, u, err, tt.want)
		}
	}
}

func TestParseServerHidesPassword(t *testing.T) {
	for _, s := range []string{"https://user:s3cret@vault.example", "https://user:s3cret@vault example/%zz", "ftp://user:s3cret@x"} {
		_, err := parseServer(s)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("parseServer(%q) = %v; want an error without the password", s, err)
		}
	}
}
