//go:build unix

package vault

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// vaultPKI is what configurePKI set up in a dev server.
type vaultPKI struct {
	root     *x509.Certificate // pki/ca/pem
	token    string            // a token with the pki-web policy, ttl 1h
	roleID   string            // approle "web"
	secretID string
}

// configurePKI mounts pki with an EC P-256 root, roles "web" (any name) and
// "strict" (example.com only), policy pki-web for both roles' sign and
// sign-verbatim, a token with that policy, and an AppRole "web" whose
// tokens have it for an hour.
func configurePKI(t testing.TB, v *devVault) *vaultPKI {
	t.Helper()
	api := v.api
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	write := func(path string, data map[string]any) *vaultapi.Secret {
		t.Helper()
		s, err := api.Logical().Write(path, data)
		must(path, err)
		return s
	}
	must("mount pki", api.Sys().Mount("pki", &vaultapi.MountInput{Type: "pki", Config: vaultapi.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	write("pki/root/generate/internal", map[string]any{"common_name": "certplane test root", "ttl": "87600h", "key_type": "ec", "key_bits": 256})
	write("pki/roles/web", map[string]any{"allow_any_name": true, "enforce_hostnames": false, "require_cn": false, "key_type": "any",
		"max_ttl": "720h", "allowed_uri_sans": "spiffe://*"})
	write("pki/roles/strict", map[string]any{"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "any", "max_ttl": "720h"})
	must("policy", api.Sys().PutPolicy("pki-web", `
path "pki/sign/web" { capabilities = ["create", "update"] }
path "pki/sign-verbatim/web" { capabilities = ["create", "update"] }
path "pki/sign/strict" { capabilities = ["create", "update"] }
`))
	tok := write("auth/token/create", map[string]any{"policies": []string{"pki-web"}, "ttl": "1h"})
	must("enable approle", api.Sys().EnableAuthWithOptions("approle", &vaultapi.EnableAuthOptions{Type: "approle"}))
	write("auth/approle/role/web", map[string]any{"token_policies": []string{"pki-web"}, "token_ttl": "1h", "token_max_ttl": "2h"})
	roleID, err := api.Logical().Read("auth/approle/role/web/role-id")
	must("role-id", err)
	secretID := write("auth/approle/role/web/secret-id", nil)

	resp, err := http.Get(v.addr + "/v1/pki/ca/pem")
	if v.caPEM != nil {
		resp, err = tlsGet(t, v, "/v1/pki/ca/pem")
	}
	must("pki/ca/pem", err)
	defer func() { _ = resp.Body.Close() }()
	pemBytes, _ := io.ReadAll(resp.Body)
	roots, err := pki.ParseCertificatesPEM(pemBytes)
	must("parsing pki/ca/pem", err)
	return &vaultPKI{
		root:     roots[0],
		token:    tok.Auth.ClientToken,
		roleID:   roleID.Data["role_id"].(string),
		secretID: secretID.Data["secret_id"].(string),
	}
}

func tlsGet(t testing.TB, v *devVault, path string) (*http.Response, error) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(v.caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfigWithRoots(pool)}}
	return hc.Get(v.addr + path)
}

// newCSR returns a P-256 CSR for cn and the hosts (DNS names, IP
// addresses, URIs).
func newCSR(t testing.TB, cn string, hosts ...string) []byte {
	t.Helper()
	req := &pki.Request{CommonName: cn}
	if err := req.AddHosts(hosts...); err != nil {
		t.Fatal(err)
	}
	csr, err := pki.CreateCSR(rand.Reader, req, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestVaultServer(t *testing.T) {
	v := startVault(t, false)
	p := configurePKI(t, v)
	ctx := context.Background()

	t.Run("token sign", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: p.token}})
		if err := c.CheckLogin(ctx); err != nil {
			t.Fatal(err)
		}
		exp, known := c.TokenExpiry()
		if !known || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
			t.Errorf("TokenExpiry() = %v, %v; want about an hour from now", exp, known)
		}
		before := c.Calls()
		start := time.Now()
		is, err := c.Sign(ctx, "pki/sign/web", SignRequest{
			CSR:               newCSR(t, "web.example.com", "web.example.com", "www.example.com", "10.1.2.3", "spiffe://cluster.local/ns/default/sa/web"),
			CommonName:        "web.example.com",
			AltNames:          []string{"web.example.com", "www.example.com"},
			IPSANs:            []string{"10.1.2.3"},
			URISANs:           []string{"spiffe://cluster.local/ns/default/sa/web"},
			TTL:               2 * time.Hour,
			ExcludeCNFromSANs: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sign took %v", time.Since(start))
		if got := c.Calls() - before; got != 1 {
			t.Errorf("Sign made %d HTTP requests, want 1", got)
		}
		if len(is.Chain) != 1 || is.CA == nil || !is.CA.Equal(p.root) {
			t.Fatalf("chain %s CA %v; want the leaf alone and the root as CA", names(is.Chain), is.CA)
		}
		if err := pki.VerifyChain(is.Chain, []*x509.Certificate{p.root}, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("chain does not verify against pki/ca/pem: %v", err)
		}
		leaf := is.Chain[0]
		if want := start.Add(2 * time.Hour); leaf.NotAfter.Before(want.Add(-time.Minute)) || leaf.NotAfter.After(want.Add(time.Minute)) {
			t.Errorf("NotAfter = %v, want about %v", leaf.NotAfter, want)
		}
		if leaf.Subject.CommonName != "web.example.com" || strings.Join(leaf.DNSNames, ",") != "web.example.com,www.example.com" ||
			len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.1.2.3" ||
			len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://cluster.local/ns/default/sa/web" {
			t.Errorf("leaf names: CN %q DNS %v IP %v URI %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses, leaf.URIs)
		}
		if is.Serial != serialString(leaf) {
			t.Errorf("Serial %q, leaf serial %q", is.Serial, serialString(leaf))
		}
	})

	t.Run("sign-verbatim", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: p.token}})
		is, err := c.Sign(ctx, "pki/sign-verbatim/web", SignRequest{CSR: newCSR(t, "verbatim.example.com", "verbatim.example.com"), TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if is.Chain[0].Subject.CommonName != "verbatim.example.com" {
			t.Errorf("CN %q", is.Chain[0].Subject.CommonName)
		}
	})

	t.Run("role refuses a name", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: p.token}})
		_, err := c.Sign(ctx, "pki/sign/strict", SignRequest{CSR: newCSR(t, "x.other.org"), CommonName: "x.other.org"})
		if err == nil || !strings.HasPrefix(err.Error(), "vault: POST /v1/pki/sign/strict: 400: ") ||
			!strings.Contains(err.Error(), "x.other.org not allowed by this role") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("role refusal: %v", err)
	})

	t.Run("wrong token", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: "hvs.not-a-token"}})
		_, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")})
		if !errors.Is(err, ErrPermissionDenied) || strings.Contains(err.Error(), "hvs.not-a-token") {
			t.Fatalf("Sign: %v, want ErrPermissionDenied", err)
		}
		err = c.CheckLogin(ctx)
		if !errors.Is(err, ErrPermissionDenied) || err.Error() != "Vault refused the token: permission denied" {
			t.Fatalf("CheckLogin: %v", err)
		}
		if c.Calls() != 2 {
			t.Errorf("Calls() = %d, want 2 (no retries with a static token)", c.Calls())
		}
	})

	t.Run("token without the policy", func(t *testing.T) {
		s, err := v.api.Logical().Write("auth/token/create", map[string]any{"policies": []string{"default"}, "ttl": "1h"})
		if err != nil {
			t.Fatal(err)
		}
		c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: s.Auth.ClientToken}})
		if err := c.CheckLogin(ctx); err != nil {
			t.Fatalf("CheckLogin: %v (lookup-self is in the default policy)", err)
		}
		_, err = c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")})
		if !errors.Is(err, ErrPermissionDenied) || !strings.HasPrefix(err.Error(), "vault: POST /v1/pki/sign/web: 403: ") {
			t.Fatalf("Sign: %v", err)
		}
	})

	t.Run("approle login and reuse", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: AppRole{RoleID: p.roleID, SecretID: p.secretID}})
		for range 2 {
			if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")}); err != nil {
				t.Fatal(err)
			}
		}
		if c.Calls() != 3 {
			t.Errorf("Calls() = %d, want 3 (1 login + 2 signs)", c.Calls())
		}
		if err := c.CheckLogin(ctx); err != nil || c.Calls() != 4 {
			t.Errorf("CheckLogin: %v, calls %d", err, c.Calls())
		}
	})

	t.Run("approle wrong secret", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: AppRole{RoleID: p.roleID, SecretID: "00000000-1111-2222-3333-444444444444"}})
		_, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")})
		if err == nil || !strings.HasPrefix(err.Error(), "vault: POST /v1/auth/approle/login: ") || strings.Contains(err.Error(), "4444") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("wrong secret ID: %v", err)
	})

	t.Run("approle login again after two thirds of the TTL", func(t *testing.T) {
		clock := &fakeClock{now: time.Now()}
		c := mustNew(t, Config{Server: v.addr, Auth: AppRole{RoleID: p.roleID, SecretID: p.secretID}, Now: clock.Now})
		sign := func() {
			t.Helper()
			if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")}); err != nil {
				t.Fatal(err)
			}
		}
		sign()
		clock.Add(39 * time.Minute)
		sign()
		if c.Calls() != 3 {
			t.Fatalf("Calls() = %d after 39 minutes, want 3", c.Calls())
		}
		clock.Add(time.Minute) // 40 of 60 minutes
		sign()
		if c.Calls() != 5 {
			t.Fatalf("Calls() = %d after 40 minutes, want 5 (a new login)", c.Calls())
		}
	})

	t.Run("approle token revoked: one login and one retry", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: AppRole{RoleID: p.roleID, SecretID: p.secretID}})
		if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.api.Logical().Write("sys/leases/revoke-prefix/auth/approle", nil); err != nil {
			t.Fatal(err)
		}
		before := c.Calls()
		if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")}); err != nil {
			t.Fatal(err)
		}
		if got := c.Calls() - before; got != 3 {
			t.Errorf("%d HTTP requests, want 3 (refused sign, login, sign)", got)
		}
	})

	t.Run("concurrent signs share one login", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Auth: AppRole{RoleID: p.roleID, SecretID: p.secretID}})
		const workers, each = 8, 4
		csr := newCSR(t, "a.example.com")
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					_, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: csr})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if c.Calls() != 1+workers*each {
			t.Errorf("Calls() = %d, want %d", c.Calls(), 1+workers*each)
		}
	})

	// An intermediate mount's answer holds the root only when the root was
	// part of what intermediate/set-signed was given; without it the
	// intermediate is the CA (as cert-manager's ca.crt would be).
	for _, tt := range []struct {
		mount    string
		withRoot bool
	}{{"pki_int", false}, {"pki_int_bundle", true}} {
		t.Run("intermediate mount "+tt.mount, func(t *testing.T) {
			api := v.api
			if err := api.Sys().Mount(tt.mount, &vaultapi.MountInput{Type: "pki", Config: vaultapi.MountConfigInput{MaxLeaseTTL: "8760h"}}); err != nil {
				t.Fatal(err)
			}
			csr, err := api.Logical().Write(tt.mount+"/intermediate/generate/internal", map[string]any{"common_name": "certplane test intermediate", "key_type": "ec", "key_bits": 256})
			if err != nil {
				t.Fatal(err)
			}
			signed, err := api.Logical().Write("pki/root/sign-intermediate", map[string]any{"csr": csr.Data["csr"], "ttl": "8760h", "format": "pem"})
			if err != nil {
				t.Fatal(err)
			}
			certificate := signed.Data["certificate"].(string)
			if tt.withRoot {
				certificate += "\n" + signed.Data["issuing_ca"].(string)
			}
			if _, err := api.Logical().Write(tt.mount+"/intermediate/set-signed", map[string]any{"certificate": certificate}); err != nil {
				t.Fatal(err)
			}
			if _, err := api.Logical().Write(tt.mount+"/roles/web", map[string]any{"allow_any_name": true, "key_type": "any", "max_ttl": "24h"}); err != nil {
				t.Fatal(err)
			}
			c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: v.rootToken}})
			is, err := c.Sign(ctx, tt.mount+"/sign/web", SignRequest{CSR: newCSR(t, "int.example.com", "int.example.com"), TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if len(is.Chain) != 2 || is.Chain[1].Subject.CommonName != "certplane test intermediate" {
				t.Fatalf("chain %s; want the leaf and the intermediate", names(is.Chain))
			}
			wantCA := is.Chain[1]
			if tt.withRoot {
				wantCA = p.root
			}
			if is.CA == nil || !is.CA.Equal(wantCA) {
				t.Fatalf("CA %v, want %s", is.CA.Subject, wantCA.Subject)
			}
			if err := pki.VerifyChain(is.Chain, []*x509.Certificate{p.root}, time.Now()); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("kubernetes login", func(t *testing.T) {
		testKubernetesLogin(t, v)
	})

	t.Run("VAULT_ environment ignored", func(t *testing.T) {
		t.Setenv("VAULT_TOKEN", v.rootToken)
		t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
		t.Setenv("VAULT_NAMESPACE", "elsewhere")
		t.Setenv("VAULT_CACERT", "/nonexistent")
		c := mustNew(t, Config{Server: v.addr, Auth: Token{Token: "hvs.wrong"}})
		if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")}); !errors.Is(err, ErrPermissionDenied) {
			t.Fatalf("Sign: %v; VAULT_TOKEN must not be used", err)
		}
		if err := c.Health(ctx); err != nil {
			t.Fatalf("Health: %v", err)
		}
	})

	// Last: it seals the server.
	t.Run("health and seal", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, Namespace: "ignored-by-oss", Auth: Token{Token: p.token}})
		if err := c.Health(ctx); err != nil {
			t.Fatal(err)
		}
		if err := v.api.Sys().Seal(); err != nil {
			t.Fatal(err)
		}
		if err := c.Health(ctx); !errors.Is(err, ErrSealed) || err.Error() != "Vault is sealed" {
			t.Fatalf("Health when sealed: %v", err)
		}
		_, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")})
		if !errors.Is(err, ErrSealed) {
			t.Errorf("Sign when sealed: %v, want ErrSealed", err)
		}
		t.Logf("sign when sealed: %v", err)
		if _, err := v.api.Sys().Unseal(v.unsealKey(t)); err != nil {
			t.Fatal(err)
		}
		if err := c.Health(ctx); err != nil {
			t.Fatalf("Health after unsealing: %v", err)
		}
	})
}

// testKubernetesLogin points Vault's kubernetes auth at a fake TokenReview
// API and logs in with a service account token made here (Vault reads its
// claims and asks the TokenReview API whether it is valid).
func testKubernetesLogin(t *testing.T, v *devVault) {
	if err := v.api.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		if strings.Contains(err.Error(), "unknown") || strings.Contains(err.Error(), "not found") {
			t.Skipf("this Vault build has no kubernetes auth: %v", err)
		}
		t.Fatal(err)
	}
	const ns, sa, uid = "default", "vault-issuer", "9d6b7b1c-1111-4222-8333-444455556666"
	var reviews sync.Map
	review := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Spec struct {
				Token     string   `json:"token"`
				Audiences []string `json:"audiences"`
			} `json:"spec"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		n, _ := reviews.LoadOrStore(r.URL.Path, new(int))
		*n.(*int)++
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
			"status": map[string]any{
				"authenticated": in.Spec.Token != "",
				"audiences":     in.Spec.Audiences, // as the API server does
				"user": map[string]any{
					"username": "system:serviceaccount:" + ns + ":" + sa,
					"uid":      uid,
					"groups":   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns},
				},
			},
		})
	}))
	t.Cleanup(review.Close)
	if _, err := v.api.Logical().Write("auth/kubernetes/config", map[string]any{
		"kubernetes_host":      review.URL,
		"disable_local_ca_jwt": true,
		"token_reviewer_jwt":   "reviewer-token",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.api.Logical().Write("auth/kubernetes/role/issuer", map[string]any{
		"bound_service_account_names":      sa,
		"bound_service_account_namespaces": ns,
		"token_policies":                   "pki-web",
		"token_ttl":                        "10m",
	}); err != nil {
		t.Fatal(err)
	}
	key := pkitest.Key(t)
	var jwts int
	c := mustNew(t, Config{Server: v.addr, Auth: Kubernetes{
		Path: "/v1/auth/kubernetes",
		Role: "issuer",
		JWT: func(context.Context) (string, error) {
			jwts++
			return serviceAccountJWT(t, key, ns, sa, uid), nil
		},
	}})
	if _, err := c.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: newCSR(t, "k8s.example.com")}); err != nil {
		t.Fatal(err)
	}
	if c.Calls() != 2 || jwts != 1 {
		t.Errorf("calls %d, JWTs %d; want 2 and 1", c.Calls(), jwts)
	}
	n, ok := reviews.Load("/apis/authentication.k8s.io/v1/tokenreviews")
	if !ok || *n.(*int) != 1 {
		t.Errorf("token reviews: %v", n)
	}
	exp, known := c.TokenExpiry()
	if !known || time.Until(exp) > 11*time.Minute || time.Until(exp) < 9*time.Minute {
		t.Errorf("TokenExpiry() = %v, %v; want 10 minutes from now", exp, known)
	}

	wrongRole := mustNew(t, Config{Server: v.addr, Auth: Kubernetes{Path: "auth/kubernetes", Role: "nope",
		JWT: func(context.Context) (string, error) { return serviceAccountJWT(t, key, ns, sa, uid), nil }}})
	_, err := wrongRole.Sign(context.Background(), "pki/sign/web", SignRequest{CSR: newCSR(t, "k8s.example.com")})
	if err == nil || !strings.HasPrefix(err.Error(), "vault: POST /v1/auth/kubernetes/login: ") || strings.Contains(err.Error(), "eyJ") {
		t.Fatalf("wrong role: %v", err)
	}
	t.Logf("wrong role: %v", err)
}

// serviceAccountJWT makes an ES256 token with a projected service account
// token's claims.
func serviceAccountJWT(t testing.TB, key crypto.Signer, ns, sa, uid string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now()
	signing := enc(map[string]any{"alg": "ES256", "kid": "test"}) + "." + enc(map[string]any{
		"iss": "https://kubernetes.default.svc.cluster.local",
		"sub": "system:serviceaccount:" + ns + ":" + sa,
		"aud": []string{"vault"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"serviceaccount": map[string]any{"name": sa, "uid": uid},
		},
	})
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestVaultServerTLS runs Vault with -dev-tls: the CA bundle and server
// name are checked, and Certificate auth logs in with a client certificate
// from a CA the cert auth role trusts.
func TestVaultServerTLS(t *testing.T) {
	v := startVault(t, true)
	p := configurePKI(t, v)
	ctx := context.Background()

	clientCA := pkitest.CA(t, "certplane client CA")
	if err := v.api.Sys().EnableAuthWithOptions("cert", &vaultapi.EnableAuthOptions{Type: "cert"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.api.Logical().Write("auth/cert/certs/issuer", map[string]any{
		"certificate":    string(pki.EncodeCertificatesPEM(clientCA.Certificate)),
		"token_policies": "pki-web",
		"token_ttl":      "1h",
	}); err != nil {
		t.Fatal(err)
	}
	cert := clientCert(t, clientCA, "certplane-issuer")

	t.Run("health over TLS with the CA bundle", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, Auth: Token{Token: p.token}})
		if err := c.Health(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("server name override", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, ServerName: "localhost", Auth: Token{Token: p.token}})
		if err := c.Health(ctx); err != nil {
			t.Fatal(err)
		}
		bad := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, ServerName: "not-vault.example", Auth: Token{Token: p.token}})
		if err := bad.Health(ctx); err == nil || !strings.Contains(err.Error(), "not-vault.example") {
			t.Fatalf("Health with a wrong server name: %v", err)
		}
	})

	t.Run("wrong CA bundle", func(t *testing.T) {
		other := pki.EncodeCertificatesPEM(pkitest.CA(t, "not vault's CA").Certificate)
		c := mustNew(t, Config{Server: v.addr, CABundle: other, Auth: Token{Token: p.token}})
		err := c.Health(ctx)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) || !strings.HasPrefix(err.Error(), "error calling Vault /v1/sys/health: ") {
			t.Fatalf("Health: %v, want an unknown authority error", err)
		}
		_, err = c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "a.example.com")})
		if !errors.As(err, &unknown) || !strings.HasPrefix(err.Error(), "vault: POST "+v.addr+"/v1/pki/sign/web: ") {
			t.Fatalf("Sign: %v", err)
		}
	})

	t.Run("certificate auth", func(t *testing.T) {
		c := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, Auth: Certificate{Name: "issuer", Cert: cert}})
		for range 2 {
			is, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "cert.example.com", "cert.example.com")})
			if err != nil {
				t.Fatal(err)
			}
			if !is.CA.Equal(p.root) {
				t.Fatal("CA is not the root")
			}
		}
		if c.Calls() != 3 {
			t.Errorf("Calls() = %d, want 3 (1 login + 2 signs)", c.Calls())
		}
		if err := c.CheckLogin(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("certificate auth default mount and path forms", func(t *testing.T) {
		for _, path := range []string{"", "/v1/auth/cert", "auth/cert/", "v1/auth/cert"} {
			c := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, Auth: Certificate{Path: path, Cert: cert}})
			if err := c.CheckLogin(ctx); err != nil {
				t.Errorf("path %q: %v", path, err)
			}
		}
	})

	t.Run("certificate auth with an untrusted certificate", func(t *testing.T) {
		stranger := clientCert(t, pkitest.CA(t, "stranger CA"), "stranger")
		c := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, Auth: Certificate{Name: "issuer", Cert: stranger}})
		err := c.CheckLogin(ctx)
		if err == nil || !strings.HasPrefix(err.Error(), "vault: POST /v1/auth/cert/login: ") || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("CheckLogin: %v", err)
		}
		t.Logf("untrusted client certificate: %v", err)
	})

	t.Run("mTLS client certificate on every request", func(t *testing.T) {
		// Vault asks for client certificates but does not require them;
		// presenting one must not break token auth.
		c := mustNew(t, Config{Server: v.addr, CABundle: v.caPEM, ClientCert: &cert, Auth: Token{Token: p.token}})
		if _, err := c.Sign(ctx, "pki/sign/web", SignRequest{CSR: newCSR(t, "m.example.com")}); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkVaultSign signs one CSR per iteration with a dev server: the
// figure is the client's HTTP round trip plus Vault's signing (EC P-256).
// calls/op must be 1: the login (AppRole) happens once, before the timer.
func BenchmarkVaultSign(b *testing.B) {
	v := startVault(b, false)
	p := configurePKI(b, v)
	c, err := New(Config{Server: v.addr, Auth: AppRole{RoleID: p.roleID, SecretID: p.secretID}})
	if err != nil {
		b.Fatal(err)
	}
	req := SignRequest{CSR: newCSR(b, "bench.example.com", "bench.example.com"), CommonName: "bench.example.com",
		AltNames: []string{"bench.example.com"}, TTL: time.Hour, ExcludeCNFromSANs: true}
	ctx := context.Background()
	if _, err := c.Sign(ctx, "pki/sign/web", req); err != nil {
		b.Fatal(err)
	}
	before := c.Calls()
	for b.Loop() {
		if _, err := c.Sign(ctx, "pki/sign/web", req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.Calls()-before)/float64(b.N), "calls/op")
}
