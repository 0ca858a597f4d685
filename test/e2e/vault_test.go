package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/app"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// vaultEnv is one `certplane up` beside one Vault (startVault), with
// Vault's kubernetes auth method reviewing tokens against that apiserver.
type vaultEnv struct {
	admin    string
	dir      string
	vault    *vaultServer
	deadline time.Time // the whole test's budget
}

// kubeList is objects as one kubectl-appliable List, in JSON (which is
// YAML).
func kubeList(t testing.TB, objects ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": objects})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (e *vaultEnv) apply(t testing.TB, name string, objects ...map[string]any) {
	t.Helper()
	f := filepath.Join(e.dir, name+".json")
	writeFile(t, f, kubeList(t, objects...))
	mustKubectl(t, e.admin, "apply", "-f", f)
}

// wait is waitFor with timeout cut to what is left of the test's budget.
func (e *vaultEnv) wait(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if left := time.Until(e.deadline); left < timeout {
		timeout = max(left, time.Second)
	}
	waitFor(t, timeout, what, cond)
}

// vaultIssuer is an Issuer (namespace sandbox) or ClusterIssuer with
// spec.vault: server, path, auth and the other fields of vault.
func vaultIssuer(kind, name, server, path string, auth map[string]any, vault map[string]any) map[string]any {
	spec := map[string]any{"server": server, "path": path, "auth": auth}
	for k, v := range vault {
		spec[k] = v
	}
	meta := map[string]any{"name": name}
	if kind == "Issuer" {
		meta["namespace"] = "sandbox"
	}
	return map[string]any{"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": meta, "spec": map[string]any{"vault": spec}}
}

func secretRef(name, key string) map[string]any { return map[string]any{"name": name, "key": key} }

// issuerCondition is "status reason: message" of an issuer's Ready
// condition; kind is "issuer" or "clusterissuer".
func (e *vaultEnv) issuerCondition(t testing.TB, kind, name string) string {
	t.Helper()
	args := []string{"get", kind, name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`}
	if kind == "issuer" {
		args = append(args, "-n", "sandbox")
	}
	return mustKubectl(t, e.admin, args...)
}

// waitIssuer waits until the issuer's Ready condition starts with prefix
// and returns it.
func (e *vaultEnv) waitIssuer(t testing.TB, kind, name, prefix string, timeout time.Duration) string {
	t.Helper()
	if left := time.Until(e.deadline); left < timeout {
		timeout = max(left, time.Second)
	}
	deadline := time.Now().Add(timeout)
	for {
		got := e.issuerCondition(t, kind, name)
		if strings.HasPrefix(got, prefix) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s %s to be Ready %q: it is %q", timeout, kind, name, prefix, got)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func vaultCertificate(name, issuer, kind string, spec map[string]any) map[string]any {
	s := map[string]any{
		"secretName": name + "-tls",
		"dnsNames":   []string{name + ".example.com"},
		"issuerRef":  map[string]any{"name": issuer, "kind": kind, "group": "cert-manager.io"},
		"privateKey": map[string]any{"algorithm": "ECDSA", "size": 256},
	}
	for k, v := range spec {
		s[k] = v
	}
	return map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
		"metadata": map[string]any{"name": name, "namespace": "sandbox"}, "spec": s}
}

// verifyVaultSecret checks the Secret of a Certificate issued through
// pki_int: tls.crt is the leaf (for tls.key and dnsName) and pki_int's CA,
// without the root, and verifies against Vault's root; ca.crt is the root.
// It returns the leaf.
func (e *vaultEnv) verifyVaultSecret(t *testing.T, secret, dnsName string) *x509.Certificate {
	t.Helper()
	leaf := leafOf(t, e.admin, "sandbox", secret)
	chain, err := pki.ParseCertificatesPEM(secretData(t, e.admin, "sandbox", secret, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	e.verifyVaultChain(t, secret, chain, dnsName)
	ca, err := pki.ParseCertificatesPEM(secretData(t, e.admin, "sandbox", secret, "ca.crt"))
	if err != nil || len(ca) != 1 || !ca[0].Equal(e.vault.Root) {
		t.Errorf("%s: ca.crt holds %d certificates (%v), want Vault's root alone", secret, len(ca), err)
	}
	return leaf
}

func (e *vaultEnv) verifyVaultChain(t *testing.T, what string, chain []*x509.Certificate, dnsName string) {
	t.Helper()
	if len(chain) != 2 || !chain[1].Equal(e.vault.Intermediate) {
		var subjects []string
		for _, c := range chain {
			subjects = append(subjects, c.Subject.CommonName)
		}
		t.Errorf("%s: chain %q, want the leaf and pki_int's CA (Vault's self-signed root dropped)", what, subjects)
	}
	if err := pki.VerifyChain(chain, []*x509.Certificate{e.vault.Root}, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("%s: does not verify against Vault's root: %v", what, err)
	}
	if err := chain[0].VerifyHostname(dnsName); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// TestVault: cert-manager's Vault issuer manifests against a real Vault
// (startVault) through `certplane up`. Each auth method issues a
// Certificate whose Secret holds the leaf and Vault's intermediate and
// verifies against Vault's root (ca.crt): a token over HTTP and over HTTPS
// (caBundle); AppRole over HTTPS (caBundleSecretRef); kubernetes with a
// service account token Secret, and with serviceAccountRef (TokenRequest,
// allowed by a Role for certplane's controller identity) for an Issuer
// (its default audience vault://<ns>/<name>) and a ClusterIssuer (an extra
// audience); a TLS client certificate over HTTPS and over the listener
// that requires one (with clientCertSecretRef/clientKeySecretRef). It also
// checks pki_int/sign-verbatim (the CSR's subject kept, unlike sign),
// spec.duration sent as the TTL, a role refusing a name (Vault's reason on
// the Certificate), issuers that cannot work (Ready=False VaultError): a
// wrong token (refused by lookup-self), a wrong AppRole secret ID, a
// serviceAccountRef without the Role, a wrong caBundle and a missing client
// certificate; a CertificateRequest; and an Issuer that turns not Ready
// when Vault is sealed and Ready again once it is unsealed. Its waits are
// cut to a budget of 15 minutes for the whole test.
func TestVault(t *testing.T) {
	v := startVault(t)
	data := t.TempDir()
	startUp(t, data, freePort(t))
	e := &vaultEnv{admin: filepath.Join(data, "admin.conf"), dir: t.TempDir(), vault: v, deadline: time.Now().Add(15 * time.Minute)}

	v.configureKubernetes(t, e.admin)
	v.kubernetesRole(t, "secret", "sandbox", "vault-secret", "")
	v.kubernetesRole(t, "sa", "sandbox", "vault-issuer", "vault://sandbox/kube-sa")
	v.kubernetesRole(t, "sa-cluster", "cert-manager", "vault-issuer", "certplane-extra")

	clientCert, clientKey := v.ClientCertificate(t, "certplane")
	otherCA := pkitest.CA(t, "not Vault's listener CA")
	ns := func(name string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}
	}
	secret := func(name, typ string, data map[string]string, annotations map[string]any) map[string]any {
		meta := map[string]any{"name": name, "namespace": "sandbox"}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		s := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": typ, "metadata": meta}
		if data != nil {
			s["stringData"] = data
		}
		return s
	}
	sa := func(namespace, name string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": name, "namespace": namespace}}
	}
	// cert-manager's documented RBAC for serviceAccountRef: the
	// controller may request tokens of that one service account.
	tokenRBAC := func(namespace string) []map[string]any {
		return []map[string]any{
			{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": map[string]any{"name": "vault-issuer-token", "namespace": namespace},
				"rules": []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"serviceaccounts/token"}, "resourceNames": []string{"vault-issuer"}, "verbs": []string{"create"}}}},
			{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "vault-issuer-token", "namespace": namespace},
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vault-issuer-token"},
				"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": app.ControllerUser}}},
		}
	}
	e.apply(t, "namespaces", ns("sandbox"), ns("cert-manager"))
	objects := []map[string]any{
		secret("vault-token", "Opaque", map[string]string{"token": v.Token + "\n"}, nil),
		secret("vault-bad-token", "Opaque", map[string]string{"token": "hvs.not-a-real-token"}, nil),
		secret("vault-approle", "Opaque", map[string]string{"secretId": v.SecretID, "wrong": "0f9b2c1e-0000-4000-8000-000000000000"}, nil),
		secret("vault-ca", "Opaque", map[string]string{"ca.crt": string(v.CABundle)}, nil),
		secret("vault-client", "kubernetes.io/tls", map[string]string{"tls.crt": string(clientCert), "tls.key": string(clientKey)}, nil),
		sa("sandbox", "vault-secret"), sa("sandbox", "vault-issuer"), sa("cert-manager", "vault-issuer"), sa("sandbox", "vault-norbac"),
		secret("vault-secret-token", "kubernetes.io/service-account-token", nil, map[string]any{"kubernetes.io/service-account.name": "vault-secret"}),
	}
	objects = append(objects, tokenRBAC("sandbox")...)
	objects = append(objects, tokenRBAC("cert-manager")...)
	e.apply(t, "secrets", objects...)
	e.wait(t, time.Minute, "the token of ServiceAccount vault-secret in Secret vault-secret-token", func() bool {
		return kubectl(t, e.admin, "get", "secret", "vault-secret-token", "-n", "sandbox", "-o", "jsonpath={.data.token}").stdout != ""
	})

	tokenAuth := map[string]any{"tokenSecretRef": secretRef("vault-token", "token")}
	caBundle := map[string]any{"caBundle": v.CABundle} // []byte: base64 in JSON
	clientTLS := map[string]any{"caBundle": v.CABundle, "clientCertSecretRef": secretRef("vault-client", "tls.crt"), "clientKeySecretRef": secretRef("vault-client", "tls.key")}
	const sign, verbatim, strict = "pki_int/sign/web", "pki_int/sign-verbatim/web", "pki_int/sign/strict"
	e.apply(t, "issuers",
		vaultIssuer("Issuer", "token", v.HTTPAddr, sign, tokenAuth, nil),
		vaultIssuer("Issuer", "token-tls", v.TLSAddr, sign, tokenAuth, caBundle),
		vaultIssuer("Issuer", "approle", v.TLSAddr, sign, map[string]any{"appRole": map[string]any{"path": "approle", "roleId": v.RoleID, "secretRef": secretRef("vault-approle", "secretId")}},
			map[string]any{"caBundleSecretRef": secretRef("vault-ca", "ca.crt")}),
		vaultIssuer("Issuer", "kube-secret", v.HTTPAddr, sign, map[string]any{"kubernetes": map[string]any{"role": "secret", "secretRef": secretRef("vault-secret-token", "token")}}, nil),
		vaultIssuer("Issuer", "kube-sa", v.HTTPAddr, sign, map[string]any{"kubernetes": map[string]any{"role": "sa", "serviceAccountRef": map[string]any{"name": "vault-issuer"}}}, nil),
		vaultIssuer("ClusterIssuer", "kube-sa-cluster", v.HTTPAddr, sign, map[string]any{"kubernetes": map[string]any{"role": "sa-cluster",
			"serviceAccountRef": map[string]any{"name": "vault-issuer", "audiences": []string{"certplane-extra"}}}}, nil),
		vaultIssuer("Issuer", "cert", v.TLSAddr, sign, map[string]any{"clientCertificate": map[string]any{"name": "certplane", "secretName": "vault-client"}}, caBundle),
		vaultIssuer("Issuer", "cert-mtls", v.MTLSAddr, sign, map[string]any{"clientCertificate": map[string]any{"name": "certplane", "secretName": "vault-client"}}, clientTLS),
		vaultIssuer("Issuer", "token-mtls", v.MTLSAddr, sign, tokenAuth, clientTLS),
		vaultIssuer("Issuer", "token-mtls-nocert", v.MTLSAddr, sign, tokenAuth, caBundle),
		vaultIssuer("Issuer", "verbatim", v.HTTPAddr, verbatim, tokenAuth, nil),
		vaultIssuer("Issuer", "strict", v.HTTPAddr, strict, tokenAuth, nil),
		vaultIssuer("Issuer", "bad-token", v.HTTPAddr, sign, map[string]any{"tokenSecretRef": secretRef("vault-bad-token", "token")}, nil),
		vaultIssuer("Issuer", "bad-approle", v.HTTPAddr, sign, map[string]any{"appRole": map[string]any{"path": "approle", "roleId": v.RoleID, "secretRef": secretRef("vault-approle", "wrong")}}, nil),
		// No Role lets certplane request tokens of vault-norbac.
		vaultIssuer("Issuer", "kube-sa-norbac", v.HTTPAddr, sign, map[string]any{"kubernetes": map[string]any{"role": "sa", "serviceAccountRef": map[string]any{"name": "vault-norbac"}}}, nil),
		vaultIssuer("Issuer", "bad-ca", v.TLSAddr, sign, tokenAuth, map[string]any{"caBundle": pki.EncodeCertificatesPEM(otherCA.Certificate)}),
	)

	t.Run("each auth method issues a Certificate chaining to Vault's root", func(t *testing.T) {
		cases := []struct{ name, kind, issuer string }{
			{"token", "Issuer", "token"},
			{"token-https", "Issuer", "token-tls"},
			{"approle", "Issuer", "approle"},
			{"kubernetes-secret", "Issuer", "kube-secret"},
			{"kubernetes-serviceaccount", "Issuer", "kube-sa"},
			{"kubernetes-serviceaccount-cluster", "ClusterIssuer", "kube-sa-cluster"},
			{"client-certificate", "Issuer", "cert"},
			{"client-certificate-mtls", "Issuer", "cert-mtls"},
			{"token-mtls", "Issuer", "token-mtls"},
		}
		var certs []map[string]any
		for _, c := range cases {
			certs = append(certs, vaultCertificate(c.name, c.issuer, c.kind, nil))
		}
		e.apply(t, "auth-certificates", certs...)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := e.waitIssuer(t, strings.ToLower(c.kind), c.issuer, "True", 90*time.Second); got != "True VaultVerified: Vault verified" {
					t.Errorf("%s %s: Ready %q", c.kind, c.issuer, got)
				}
				waitCertificate(t, e.admin, "sandbox", c.name, 1)
				e.verifyVaultSecret(t, c.name+"-tls", c.name+".example.com")
			})
		}
	})

	t.Run("sign and sign-verbatim", func(t *testing.T) {
		subject := map[string]any{"subject": map[string]any{"organizations": []string{"Certplane Verbatim"}}, "commonName": "subject.example.com"}
		e.apply(t, "paths", vaultCertificate("signed", "token", "Issuer", subject), vaultCertificate("verbatim", "verbatim", "Issuer", subject))
		waitCertificate(t, e.admin, "sandbox", "signed", 1)
		waitCertificate(t, e.admin, "sandbox", "verbatim", 1)
		signed := e.verifyVaultSecret(t, "signed-tls", "signed.example.com")
		kept := e.verifyVaultSecret(t, "verbatim-tls", "verbatim.example.com")
		if signed.Subject.CommonName != "subject.example.com" || len(signed.Subject.Organization) != 0 {
			t.Errorf("through pki_int/sign/web: subject %q, want CN subject.example.com and the role's (empty) organization", signed.Subject)
		}
		if kept.Subject.CommonName != "subject.example.com" || !slices.Equal(kept.Subject.Organization, []string{"Certplane Verbatim"}) {
			t.Errorf("through pki_int/sign-verbatim/web: subject %q, want the CSR's", kept.Subject)
		}
	})

	t.Run("duration is sent as the TTL", func(t *testing.T) {
		before := time.Now()
		e.apply(t, "duration", vaultCertificate("two-hours", "token", "Issuer", map[string]any{"duration": "2h"}))
		waitCertificate(t, e.admin, "sandbox", "two-hours", 1)
		leaf := e.verifyVaultSecret(t, "two-hours-tls", "two-hours.example.com")
		if leaf.NotAfter.Before(before.Add(2*time.Hour).Add(-time.Minute)) || leaf.NotAfter.After(time.Now().Add(2*time.Hour).Add(time.Minute)) {
			t.Errorf("NotAfter %s, want about %s (2h from issuance)", leaf.NotAfter.Format(time.RFC3339), before.Add(2*time.Hour).Format(time.RFC3339))
		}
		if got := certField(t, e.admin, "sandbox", "two-hours", "{.status.notAfter}"); got != leaf.NotAfter.UTC().Format(time.RFC3339) {
			t.Errorf("status.notAfter %q, leaf %s", got, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	})

	t.Run("a role refusing a name", func(t *testing.T) {
		e.waitIssuer(t, "issuer", "strict", "True VaultVerified", 90*time.Second)
		e.apply(t, "strict", vaultCertificate("allowed", "strict", "Issuer", nil),
			vaultCertificate("refused", "strict", "Issuer", map[string]any{"dnsNames": []string{"refused.example.org"}}))
		waitCertificate(t, e.admin, "sandbox", "allowed", 1)
		e.verifyVaultSecret(t, "allowed-tls", "allowed.example.com")
		issuing := `{.status.conditions[?(@.type=="Issuing")].status} {.status.conditions[?(@.type=="Issuing")].reason}: {.status.conditions[?(@.type=="Issuing")].message}`
		var got string
		e.wait(t, 90*time.Second, "Certificate refused to be Issuing=False", func() bool {
			got = certField(t, e.admin, "sandbox", "refused", issuing)
			return strings.HasPrefix(got, "False")
		})
		ready := readyOf(t, e.admin, "sandbox", "refused")
		t.Logf("Certificate refused: Issuing %s; Ready %s", got, ready)
		if !strings.Contains(got, "not allowed by this role") {
			t.Errorf("Issuing %q lacks Vault's reason (not allowed by this role); Ready %q", got, ready)
		}
		if !strings.HasPrefix(ready, "False") {
			t.Errorf("Ready %q, want False", ready)
		}
		if r := kubectl(t, e.admin, "get", "secret", "refused-tls", "-n", "sandbox"); r.code == 0 {
			t.Error("Secret refused-tls was written")
		}
	})

	t.Run("a CertificateRequest", func(t *testing.T) {
		createCR(t, e.admin, e.dir, "vault-cr", newCSR(t, e.dir, "vault-cr", "cr.example.com"),
			"  issuerRef: {name: token, kind: Issuer, group: cert-manager.io}\n  duration: 3h\n")
		waitCRReady(t, e.admin, "vault-cr", "True")
		if got := crCondition(t, e.admin, "vault-cr", "Approved"); !strings.HasPrefix(got, "True") {
			t.Errorf("Approved %q", got)
		}
		der, err := base64.StdEncoding.DecodeString(crField(t, e.admin, "vault-cr", "{.status.certificate}"))
		if err != nil {
			t.Fatal(err)
		}
		chain, err := pki.ParseCertificatesPEM(der)
		if err != nil {
			t.Fatal(err)
		}
		e.verifyVaultChain(t, "status.certificate", chain, "cr.example.com")
		if d := chain[0].NotAfter.Sub(chain[0].NotBefore); d < 3*time.Hour || d > 3*time.Hour+time.Minute {
			t.Errorf("validity %s, want 3h (and Vault's 30s backdating)", d)
		}
		caPEM, err := base64.StdEncoding.DecodeString(crField(t, e.admin, "vault-cr", "{.status.ca}"))
		if err != nil {
			t.Fatal(err)
		}
		if ca, err := pki.ParseCertificatesPEM(caPEM); err != nil || len(ca) != 1 || !ca[0].Equal(v.Root) {
			t.Errorf("status.ca: %d certificates (%v), want Vault's root", len(ca), err)
		}
	})

	t.Run("issuers that cannot work are not Ready", func(t *testing.T) {
		// A refused login is "Failed to initialize Vault client: ..." in
		// cert-manager (it logs in while making the client); certplane
		// checks logins after sys/health and says "Failed to verify the
		// Vault login: ..." (README, Differences from cert-manager).
		login := []string{"Failed to initialize Vault client: ", "Failed to verify the Vault login: "}
		for _, c := range []struct {
			issuer   string
			prefixes []string // the message starts with one of them
			anyOf    []string // and holds one of them
		}{
			{"bad-token", []string{"Failed to verify the Vault login: "}, []string{"permission denied"}},
			{"bad-approle", login, []string{"invalid role or secret ID"}},
			{"kube-sa-norbac", login, []string{`User "` + app.ControllerUser + `" cannot create resource "serviceaccounts/token"`}},
			// cert-manager's words for a TLS failure of sys/health.
			{"bad-ca", []string{"Failed to verify Vault is initialized and unsealed: error calling Vault /v1/sys/health: "}, []string{"x509: certificate signed by unknown authority"}},
			{"token-mtls-nocert", []string{"Failed to verify Vault is initialized and unsealed: error calling Vault /v1/sys/health: "}, []string{"certificate required", "bad certificate"}},
		} {
			t.Run(c.issuer, func(t *testing.T) {
				got := e.waitIssuer(t, "issuer", c.issuer, "False", 90*time.Second)
				t.Logf("Issuer %s: Ready %s", c.issuer, got)
				msg, ok := strings.CutPrefix(got, "False VaultError: ")
				if !ok || !slices.ContainsFunc(c.prefixes, func(p string) bool { return strings.HasPrefix(msg, p) }) ||
					!slices.ContainsFunc(c.anyOf, func(w string) bool { return strings.Contains(msg, w) }) {
					t.Errorf("Ready %q, want False VaultError starting with one of %q and holding one of %q", got, c.prefixes, c.anyOf)
				}
			})
		}
	})

	t.Run("sealing Vault makes the Issuer not Ready, unsealing Ready again", func(t *testing.T) {
		e.waitIssuer(t, "issuer", "token", "True VaultVerified", 90*time.Second)
		v.Seal(t)
		sealed := false
		t.Cleanup(func() {
			if sealed {
				v.Unseal(t)
			}
		})
		sealed = true
		sealedAt := time.Now()
		got := e.waitIssuer(t, "issuer", "token", "False", 150*time.Second)
		t.Logf("%.0fs after sealing: Ready %s", time.Since(sealedAt).Seconds(), got)
		if !strings.HasPrefix(got, "False VaultError: Failed to verify Vault is initialized and unsealed: ") || !strings.Contains(got, "sealed") {
			t.Errorf("sealed: Ready %q", got)
		}
		v.Unseal(t)
		sealed = false
		unsealedAt := time.Now()
		if got := e.waitIssuer(t, "issuer", "token", "True", 150*time.Second); got != "True VaultVerified: Vault verified" {
			t.Errorf("unsealed: Ready %q", got)
		}
		t.Logf("Ready again %.0fs after unsealing", time.Since(unsealedAt).Seconds())
		e.apply(t, "after-unseal", vaultCertificate("after-unseal", "token", "Issuer", nil))
		waitCertificate(t, e.admin, "sandbox", "after-unseal", 1)
		e.verifyVaultSecret(t, "after-unseal-tls", "after-unseal.example.com")
	})
}
