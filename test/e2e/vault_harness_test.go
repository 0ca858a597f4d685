package e2e

// A real Vault server for the Vault issuer's end-to-end tests: bin/vault
// (BUSL-1.1, a test tool that `make tools` builds from hack/tools/vault and
// that certplane never links), started as a normal server (not -dev) with
// in-memory storage, so that it can be sealed and unsealed, and configured
// through its HTTP API as an operator would: a root and an intermediate PKI
// mount, roles, a policy, and the token, AppRole, TLS certificate and
// Kubernetes auth methods.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// vaultPolicy is the ACL policy "certplane" of the tokens the issuers use:
// signing through any role of pki_int, nothing else (beyond Vault's default
// policy, which allows auth/token/lookup-self).
const vaultPolicy = `path "pki_int/sign/*" { capabilities = ["create", "update"] }
path "pki_int/sign-verbatim/*" { capabilities = ["create", "update"] }
`

// vaultServer is a running, initialized, unsealed and configured Vault.
type vaultServer struct {
	// HTTPAddr is the plain-HTTP listener: "http://127.0.0.1:PORT".
	HTTPAddr string
	// TLSAddr is an HTTPS listener whose certificate, for 127.0.0.1 and
	// localhost, chains to CABundle; it asks for client certificates
	// (for the cert auth method) but does not require one.
	TLSAddr string
	// MTLSAddr is an HTTPS listener, with the same certificate, that
	// refuses clients without a certificate from ClientCA.
	MTLSAddr string
	// CABundle is the PEM of the CA of the HTTPS listeners' certificate.
	CABundle []byte
	// ClientCA issues client certificates: the mTLS listener trusts it,
	// and so does the cert auth role "certplane".
	ClientCA *pki.CA
	// RootToken and UnsealKey are what sys/init returned.
	RootToken, UnsealKey string
	// Root is mount pki's self-signed root; Intermediate is mount
	// pki_int's CA, signed by Root.
	Root, Intermediate *x509.Certificate
	// Token is a token with policy certplane, valid for a day.
	Token string
	// RoleID and SecretID log in to the AppRole role certplane at
	// auth/approle.
	RoleID, SecretID string

	pid    int
	dir    string
	daemon *daemon
	http   *http.Client // trusts CABundle, presents no certificate
}

// vaultBinary is $VAULT_BIN if set, else bin/vault (made by `make tools`).
func vaultBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VAULT_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("VAULT_BIN=%s: %v", p, err)
		}
		return p
	}
	return tool(t, "vault")
}

// startVault runs `vault server` on three free loopback ports (plain HTTP,
// HTTPS, HTTPS requiring a client certificate) with in-memory storage,
// initializes it through sys/init with one key share, unseals it and
// configures it:
//
//   - mount pki (max_lease_ttl 87600h) with an EC root, mount pki_int with
//     an intermediate signed by it (imported with the root, so that Vault's
//     ca_chain holds both);
//   - pki_int roles web (any name, IP and URI SANs, any key type, max_ttl
//     720h) and strict (example.com and its subdomains only);
//   - policy certplane (vaultPolicy), a token with it (Token), AppRole
//     role certplane (RoleID, SecretID), and the cert auth role certplane
//     trusting ClientCA.
//
// Kubernetes auth needs an apiserver: see configureKubernetes. Vault is
// stopped in t.Cleanup, and its log shown if the test failed.
func startVault(t testing.TB) *vaultServer {
	t.Helper()
	bin := vaultBinary(t)
	dir := t.TempDir()

	// The listeners' certificate and the client CA.
	certFile, keyFile, clientCAFile := filepath.Join(dir, "listener.crt"), filepath.Join(dir, "listener.key"), filepath.Join(dir, "client-ca.crt")
	listenerCA := loopbackListenerCert(t, "Vault", certFile, keyFile)
	clientCA := pkitest.CA(t, "certplane e2e Vault client CA")
	writeFile(t, clientCAFile, string(pki.EncodeCertificatesPEM(clientCA.Certificate)))

	// Each TCP listener has a cluster listener too, by default on the next
	// port, which may be taken: all six ports are chosen free.
	ports := distinctFreePorts(t, 6)
	addr := func(i int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i])) }
	config := fmt.Sprintf(`storage "inmem" {}
disable_mlock = true
ui = false
api_addr = "http://%[1]s"
log_level = "info"

listener "tcp" {
  address         = %[1]q
  cluster_address = %[7]q
  tls_disable     = true
}

listener "tcp" {
  address         = %[2]q
  cluster_address = %[8]q
  tls_cert_file   = %[4]q
  tls_key_file    = %[5]q
}

listener "tcp" {
  address                            = %[3]q
  cluster_address                    = %[9]q
  tls_cert_file                      = %[4]q
  tls_key_file                       = %[5]q
  tls_require_and_verify_client_cert = true
  tls_client_ca_file                 = %[6]q
}
`, addr(0), addr(1), addr(2), certFile, keyFile, clientCAFile, addr(3), addr(4), addr(5))
	configFile := filepath.Join(dir, "vault.hcl")
	writeFile(t, configFile, config)

	// VAULT_* settings of the caller's environment are not Vault's
	// business here.
	d := startDaemon(t, "vault", dir, []string{"VAULT_ADDR=", "VAULT_TOKEN=", "VAULT_NAMESPACE="}, bin, "server", "-config="+configFile)
	pool := x509.NewCertPool()
	pool.AddCert(listenerCA.Certificate)
	v := &vaultServer{
		HTTPAddr: "http://" + addr(0),
		TLSAddr:  "https://" + addr(1),
		MTLSAddr: "https://" + addr(2),
		CABundle: pki.EncodeCertificatesPEM(listenerCA.Certificate),
		ClientCA: clientCA,
		pid:      d.cmd.Process.Pid,
		dir:      dir,
		daemon:   d,
		http: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		},
	}
	t.Cleanup(v.http.CloseIdleConnections)
	d.waitReady(t, "Vault to answer sys/health (501: not initialized)", func() bool {
		return v.health(t) == http.StatusNotImplemented
	})

	var initResp struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	v.mustCall(t, http.MethodPut, "sys/init", "", map[string]any{"secret_shares": 1, "secret_threshold": 1}, &initResp)
	if len(initResp.Keys) != 1 || initResp.RootToken == "" {
		t.Fatalf("sys/init returned %d keys and root token %t", len(initResp.Keys), initResp.RootToken != "")
	}
	v.UnsealKey, v.RootToken = initResp.Keys[0], initResp.RootToken
	v.Unseal(t)
	v.configure(t)
	return v
}

// call sends method /v1/path to the plain-HTTP listener with token (if not
// empty) and body as JSON (if not nil), and returns the status and body.
func (v *vaultServer) call(t testing.TB, method, path, token string, body any) (int, []byte) {
	t.Helper()
	return v.callAt(t, v.http, v.HTTPAddr, method, path, token, body)
}

func (v *vaultServer) callAt(t testing.TB, client *http.Client, base, method, path, token string, body any) (int, []byte) {
	t.Helper()
	status, data, err := vaultRequest(client, base, method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s/v1/%s: %v", method, base, path, err)
	}
	return status, data
}

func vaultRequest(client *http.Client, base, method, path, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+"/v1/"+path, r)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// mustCall is call that fails the test unless Vault answers 200 or 204,
// and decodes a 200's body into out (if not nil).
func (v *vaultServer) mustCall(t testing.TB, method, path, token string, body, out any) {
	t.Helper()
	status, data := v.call(t, method, path, token, body)
	if status != http.StatusOK && status != http.StatusNoContent {
		t.Fatalf("%s /v1/%s: %d %s", method, path, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s /v1/%s: decoding %q: %v", method, path, data, err)
		}
	}
}

// write POSTs body to path with the root token and returns the response's
// data (nil for a 204).
func (v *vaultServer) write(t testing.TB, path string, body any) map[string]any {
	t.Helper()
	var out struct {
		Data map[string]any `json:"data"`
	}
	status, data := v.call(t, http.MethodPost, path, v.RootToken, body)
	switch status {
	case http.StatusNoContent:
		return nil
	case http.StatusOK:
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("POST /v1/%s: decoding %q: %v", path, data, err)
		}
		return out.Data
	}
	t.Fatalf("POST /v1/%s: %d %s", path, status, data)
	return nil
}

// health is the status of the unauthenticated GET /v1/sys/health on the
// plain-HTTP listener (200 active, 501 not initialized, 503 sealed), or 0
// when nothing answers.
func (v *vaultServer) health(t testing.TB) int {
	t.Helper()
	status, _, err := vaultRequest(v.http, v.HTTPAddr, http.MethodGet, "sys/health", "", nil)
	if err != nil {
		return 0
	}
	return status
}

// Seal seals Vault with the root token (sys/seal) and waits until
// sys/health answers 503.
func (v *vaultServer) Seal(t testing.TB) {
	t.Helper()
	v.mustCall(t, http.MethodPut, "sys/seal", v.RootToken, nil, nil)
	v.daemon.waitReady(t, "Vault to be sealed (sys/health 503)", func() bool { return v.health(t) == http.StatusServiceUnavailable })
}

// Unseal gives Vault its unseal key (sys/unseal) and waits until it is
// active (sys/health 200).
func (v *vaultServer) Unseal(t testing.TB) {
	t.Helper()
	var resp struct {
		Sealed bool `json:"sealed"`
	}
	v.mustCall(t, http.MethodPut, "sys/unseal", "", map[string]any{"key": v.UnsealKey}, &resp)
	if resp.Sealed {
		t.Fatal("Vault is still sealed after sys/unseal with the one key share")
	}
	v.daemon.waitReady(t, "Vault to be unsealed and active (sys/health 200)", func() bool { return v.health(t) == http.StatusOK })
}

// configure sets up the PKI mounts, roles, policy and auth methods.
func (v *vaultServer) configure(t testing.TB) {
	t.Helper()
	v.write(t, "sys/mounts/pki", map[string]any{"type": "pki", "config": map[string]any{"max_lease_ttl": "87600h"}})
	root := v.write(t, "pki/root/generate/internal", map[string]any{
		"common_name": "certplane e2e Vault root", "ttl": "87600h", "key_type": "ec", "key_bits": 256,
	})
	v.Root = parseOneCertificate(t, "pki's root", root["certificate"])

	v.write(t, "sys/mounts/pki_int", map[string]any{"type": "pki", "config": map[string]any{"max_lease_ttl": "87600h"}})
	csr := v.write(t, "pki_int/intermediate/generate/internal", map[string]any{
		"common_name": "certplane e2e Vault intermediate", "key_type": "ec", "key_bits": 256,
	})
	// pem_bundle: the intermediate followed by the root, so that pki_int
	// knows the root too and puts it in every ca_chain it returns.
	signed := v.write(t, "pki/root/sign-intermediate", map[string]any{
		"csr": csr["csr"], "format": "pem_bundle", "ttl": "43800h", "use_csr_values": true,
	})
	bundle, _ := signed["certificate"].(string)
	v.write(t, "pki_int/intermediate/set-signed", map[string]any{"certificate": bundle})
	certs, err := pki.ParseCertificatesPEM([]byte(bundle))
	if err != nil || len(certs) == 0 {
		t.Fatalf("pki/root/sign-intermediate: %d certificates, %v", len(certs), err)
	}
	v.Intermediate = certs[0]
	if err := v.Intermediate.CheckSignatureFrom(v.Root); err != nil {
		t.Fatalf("pki_int's CA is not signed by pki's root: %v", err)
	}

	v.write(t, "pki_int/roles/web", map[string]any{
		"allow_any_name": true, "enforce_hostnames": false, "require_cn": false, "key_type": "any",
		"max_ttl": "720h", "allowed_uri_sans": "*", "allow_ip_sans": true,
	})
	v.write(t, "pki_int/roles/strict", map[string]any{
		"allowed_domains": "example.com", "allow_subdomains": true, "allow_bare_domains": false,
		"allow_ip_sans": false, "allow_localhost": false, "require_cn": false, "key_type": "any", "max_ttl": "720h",
	})
	v.write(t, "sys/policies/acl/certplane", map[string]any{"policy": vaultPolicy})

	var tok struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	v.mustCall(t, http.MethodPost, "auth/token/create", v.RootToken, map[string]any{"policies": []string{"certplane"}, "ttl": "24h"}, &tok)
	v.Token = tok.Auth.ClientToken

	v.write(t, "sys/auth/approle", map[string]any{"type": "approle"})
	v.write(t, "auth/approle/role/certplane", map[string]any{"token_policies": []string{"certplane"}, "token_ttl": "1h", "token_max_ttl": "24h"})
	var roleID struct {
		Data struct {
			RoleID string `json:"role_id"`
		} `json:"data"`
	}
	v.mustCall(t, http.MethodGet, "auth/approle/role/certplane/role-id", v.RootToken, nil, &roleID)
	v.RoleID = roleID.Data.RoleID
	secretID := v.write(t, "auth/approle/role/certplane/secret-id", map[string]any{})
	v.SecretID, _ = secretID["secret_id"].(string)
	if v.RoleID == "" || v.SecretID == "" {
		t.Fatal("AppRole role certplane has no role_id or secret_id")
	}

	v.write(t, "sys/auth/cert", map[string]any{"type": "cert"})
	v.write(t, "auth/cert/certs/certplane", map[string]any{
		"certificate": string(pki.EncodeCertificatesPEM(v.ClientCA.Certificate)), "token_policies": []string{"certplane"}, "token_ttl": "1h",
	})
}

func parseOneCertificate(t testing.TB, what string, v any) *x509.Certificate {
	t.Helper()
	s, _ := v.(string)
	certs, err := pki.ParseCertificatesPEM([]byte(s))
	if err != nil || len(certs) != 1 {
		t.Fatalf("%s: %d certificates, %v", what, len(certs), err)
	}
	return certs[0]
}

// ClientCertificate issues a client certificate from ClientCA for cn and
// returns it and its key as PEM.
func (v *vaultServer) ClientCertificate(t testing.TB, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	cert, key := pkitest.Leaf(t, v.ClientCA, cn, []pki.Usage{pki.UsageDigitalSignature, pki.UsageClientAuth})
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCertificatesPEM(cert), keyPEM
}

// clientWith is an HTTP client that trusts CABundle and presents the
// client certificate certPEM with keyPEM.
func (v *vaultServer) clientWith(t testing.TB, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(v.CABundle)
	c := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}},
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// configureKubernetes enables the kubernetes auth method against the
// apiserver of kubeconfig (its server URL and CA): a ServiceAccount
// kube-system/vault-token-reviewer, bound to system:auth-delegator by the
// ClusterRoleBinding vault-token-reviewer, gives Vault the token it
// reviews logins with (a TokenRequest token valid for 6 hours).
func (v *vaultServer) configureKubernetes(t testing.TB, kubeconfig string) {
	t.Helper()
	server := mustKubectl(t, kubeconfig, "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	caData := mustKubectl(t, kubeconfig, "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")
	caPEM, err := base64.StdEncoding.DecodeString(caData)
	if err != nil || !strings.HasPrefix(server, "https://") {
		t.Fatalf("kubeconfig %s: server %q, CA data: %v", kubeconfig, server, err)
	}
	mustKubectl(t, kubeconfig, "create", "serviceaccount", "vault-token-reviewer", "-n", "kube-system")
	mustKubectl(t, kubeconfig, "create", "clusterrolebinding", "vault-token-reviewer", "--clusterrole=system:auth-delegator",
		"--serviceaccount=kube-system:vault-token-reviewer")
	jwt := strings.TrimSpace(mustKubectl(t, kubeconfig, "create", "token", "vault-token-reviewer", "-n", "kube-system", "--duration=6h"))
	v.write(t, "sys/auth/kubernetes", map[string]any{"type": "kubernetes"})
	v.write(t, "auth/kubernetes/config", map[string]any{
		"kubernetes_host":      server,
		"kubernetes_ca_cert":   string(caPEM),
		"token_reviewer_jwt":   jwt,
		"disable_local_ca_jwt": true,
	})
}

// kubernetesRole makes the kubernetes auth role name for the
// ServiceAccount namespace/sa, with policy certplane; if audience is not
// empty, a login's token must carry it.
func (v *vaultServer) kubernetesRole(t testing.TB, name, namespace, sa, audience string) {
	t.Helper()
	role := map[string]any{
		"bound_service_account_names":      []string{sa},
		"bound_service_account_namespaces": []string{namespace},
		"token_policies":                   []string{"certplane"},
		"token_ttl":                        "1h",
	}
	if audience != "" {
		role["audience"] = audience
	}
	v.write(t, "auth/kubernetes/role/"+name, role)
}

// enableAudit turns on a file audit device writing to a new file, and
// returns the file's path.
func (v *vaultServer) enableAudit(t testing.TB) string {
	t.Helper()
	path := filepath.Join(v.dir, "audit.log")
	v.write(t, "sys/audit/file", map[string]any{"type": "file", "options": map[string]any{"file_path": path}})
	return path
}

// auditRequests counts the requests of an audit log (entries of type
// "request"), in all and by path.
func auditRequests(t testing.TB, path string) (total int, byPath map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	byPath = map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Type    string `json:"type"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log %s: %v", path, err)
		}
		if e.Type == "request" {
			total++
			byPath[e.Request.Path]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total, byPath
}

// vaultSignResponse is the data of a pki sign call.
type vaultSignResponse struct {
	Data struct {
		Certificate string   `json:"certificate"`
		IssuingCA   string   `json:"issuing_ca"`
		CAChain     []string `json:"ca_chain"`
	} `json:"data"`
	Warnings []string `json:"warnings"`
}

// TestVaultHarness proves the harness without certplane: Vault is
// initialized and unsealed; a CSR signed through pki_int/sign/web with
// the policy's token gives a leaf, the intermediate and the root;
// pki_int/sign/strict refuses a name off example.com; the token may not
// sign through pki; AppRole, cert (over the HTTPS listener that asks for a
// client certificate) and kubernetes (against a local apiserver, with a
// TokenRequest token for the role's audience, refused without it) logins
// give tokens; the mTLS listener refuses a client without a certificate;
// and Vault seals (sys/health 503, signing refused) and unseals again.
func TestVaultHarness(t *testing.T) {
	v := startVault(t)
	if status := v.health(t); status != http.StatusOK {
		t.Fatalf("sys/health = %d, want 200", status)
	}

	key := pkitest.Key(t)
	csrFor := func(name string, uris ...string) string {
		tmpl := &pki.Template{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}
		for _, u := range uris {
			parsed, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			tmpl.URIs = append(tmpl.URIs, parsed)
		}
		csr, err := pki.CreateTemplateCSR(rand.Reader, tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		return string(csr)
	}
	csrPEM := csrFor("app.example.org", "spiffe://example.org/app")
	sign := func(t *testing.T, base string, client *http.Client, path, token string, body map[string]any) (int, vaultSignResponse, string) {
		t.Helper()
		var resp vaultSignResponse
		status, data := v.callAt(t, client, base, http.MethodPost, path, token, body)
		if status == http.StatusOK {
			if err := json.Unmarshal(data, &resp); err != nil {
				t.Fatal(err)
			}
		}
		return status, resp, string(data)
	}

	t.Run("sign through pki_int/sign/web", func(t *testing.T) {
		status, resp, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign/web", v.Token,
			map[string]any{"csr": csrPEM, "common_name": "app.example.org", "alt_names": "app.example.org", "uri_sans": "spiffe://example.org/app", "ttl": "2h0m0s"})
		if status != http.StatusOK {
			t.Fatalf("sign: %d %s", status, body)
		}
		leaf := parseOneCertificate(t, "certificate", resp.Data.Certificate)
		if !pki.KeyMatches(leaf.PublicKey, key) || leaf.Subject.CommonName != "app.example.org" || len(leaf.URIs) != 1 {
			t.Errorf("leaf: CN %q, URIs %v, key matches %t", leaf.Subject.CommonName, leaf.URIs, pki.KeyMatches(leaf.PublicKey, key))
		}
		if d := time.Until(leaf.NotAfter) - 2*time.Hour; d < -time.Minute || d > time.Minute {
			t.Errorf("leaf NotAfter %s, want about 2h from now", leaf.NotAfter)
		}
		if !parseOneCertificate(t, "issuing_ca", resp.Data.IssuingCA).Equal(v.Intermediate) {
			t.Error("issuing_ca is not pki_int's CA")
		}
		var chain []*x509.Certificate
		for _, c := range resp.Data.CAChain {
			chain = append(chain, parseOneCertificate(t, "ca_chain", c))
		}
		if len(chain) != 2 || !chain[0].Equal(v.Intermediate) || !chain[1].Equal(v.Root) {
			t.Errorf("ca_chain has %d certificates, want the intermediate and the root", len(chain))
		}
		if err := pki.VerifyChain([]*x509.Certificate{leaf, v.Intermediate}, []*x509.Certificate{v.Root}, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
			t.Error(err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		status, _, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign/strict", v.Token, map[string]any{"csr": csrPEM, "alt_names": "app.example.org"})
		if status != http.StatusBadRequest || !strings.Contains(body, "not allowed by this role") {
			t.Errorf("strict role and app.example.org: %d %s", status, body)
		}
		if status, _, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign/strict", v.Token, map[string]any{"csr": csrFor("a.example.com"), "common_name": "a.example.com", "alt_names": "a.example.com"}); status != http.StatusOK {
			t.Errorf("strict role and a.example.com: %d %s", status, body)
		}
		if status, _, body := sign(t, v.HTTPAddr, v.http, "pki/root/sign-self-issued", v.Token, map[string]any{"certificate": "x"}); status != http.StatusForbidden {
			t.Errorf("the certplane token on pki: %d %s, want 403", status, body)
		}
		if status, _, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign/web", "hvs.not-a-token", map[string]any{"csr": csrPEM}); status != http.StatusForbidden {
			t.Errorf("a wrong token: %d %s, want 403", status, body)
		}
	})

	login := func(t *testing.T, base string, client *http.Client, path string, body map[string]any) string {
		t.Helper()
		var resp struct {
			Auth struct {
				ClientToken string   `json:"client_token"`
				Policies    []string `json:"token_policies"`
			} `json:"auth"`
		}
		status, data := v.callAt(t, client, base, http.MethodPost, path, "", body)
		if status != http.StatusOK {
			t.Fatalf("POST %s/v1/%s: %d %s", base, path, status, data)
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(resp.Auth.Policies, ","), "certplane") {
			t.Errorf("%s: policies %v, want certplane", path, resp.Auth.Policies)
		}
		return resp.Auth.ClientToken
	}

	t.Run("AppRole login", func(t *testing.T) {
		tok := login(t, v.HTTPAddr, v.http, "auth/approle/login", map[string]any{"role_id": v.RoleID, "secret_id": v.SecretID})
		if status, _, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign-verbatim/web", tok, map[string]any{"csr": csrPEM}); status != http.StatusOK {
			t.Errorf("sign-verbatim with the AppRole token: %d %s", status, body)
		}
	})

	t.Run("cert login and the mTLS listener", func(t *testing.T) {
		certPEM, keyPEM := v.ClientCertificate(t, "certplane")
		withCert := v.clientWith(t, certPEM, keyPEM)
		login(t, v.TLSAddr, withCert, "auth/cert/login", map[string]any{"name": "certplane"})
		if status, data := v.callAt(t, v.http, v.TLSAddr, http.MethodPost, "auth/cert/login", "", map[string]any{"name": "certplane"}); status == http.StatusOK {
			t.Errorf("cert login without a client certificate: %d %s", status, data)
		}
		if status, data := v.callAt(t, withCert, v.MTLSAddr, http.MethodGet, "sys/health", "", nil); status != http.StatusOK {
			t.Errorf("mTLS listener with a client certificate: %d %s", status, data)
		}
		if _, _, err := vaultRequest(v.http, v.MTLSAddr, http.MethodGet, "sys/health", "", nil); err == nil {
			t.Error("the mTLS listener answered a client without a certificate")
		}
		other := pkitest.CA(t, "another client CA")
		c, k := pkitest.Leaf(t, other, "intruder", []pki.Usage{pki.UsageDigitalSignature, pki.UsageClientAuth})
		kPEM, err := pki.MarshalPrivateKeyPEM(k, pki.FormatDefault)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := vaultRequest(v.clientWith(t, pki.EncodeCertificatesPEM(c), kPEM), v.MTLSAddr, http.MethodGet, "sys/health", "", nil); err == nil {
			t.Error("the mTLS listener answered a client certificate from another CA")
		}
	})

	t.Run("kubernetes login", func(t *testing.T) {
		cp := startControlPlane(t)
		admin := cp.Kubeconfig("admin.conf")
		v.configureKubernetes(t, admin)
		v.kubernetesRole(t, "harness", "default", "harness", "vault://default/harness")
		mustKubectl(t, admin, "create", "serviceaccount", "harness", "-n", "default")
		jwt := strings.TrimSpace(mustKubectl(t, admin, "create", "token", "harness", "-n", "default", "--audience=https://elsewhere", "--audience=vault://default/harness"))
		login(t, v.HTTPAddr, v.http, "auth/kubernetes/login", map[string]any{"role": "harness", "jwt": jwt})
		wrong := strings.TrimSpace(mustKubectl(t, admin, "create", "token", "harness", "-n", "default", "--audience=vault://default/other"))
		if status, data := v.call(t, http.MethodPost, "auth/kubernetes/login", "", map[string]any{"role": "harness", "jwt": wrong}); status == http.StatusOK {
			t.Errorf("kubernetes login with a token for another audience: %d %s", status, data)
		}
	})

	t.Run("seal and unseal", func(t *testing.T) {
		v.Seal(t)
		if status, _, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign/web", v.Token, map[string]any{"csr": csrPEM}); status != http.StatusServiceUnavailable || !strings.Contains(body, "sealed") {
			t.Errorf("signing while sealed: %d %s", status, body)
		}
		v.Unseal(t)
		if status, _, body := sign(t, v.HTTPAddr, v.http, "pki_int/sign/web", v.Token, map[string]any{"csr": csrPEM}); status != http.StatusOK {
			t.Errorf("signing after unsealing: %d %s", status, body)
		}
	})
}
