package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bootstrapChain is cert-manager's "bootstrapping CA issuers" pattern, the
// chain of seed 000, plus a service certificate using most of the spec.
const bootstrapChain = `apiVersion: v1
kind: Namespace
metadata:
  name: sandbox
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned-issuer
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: my-selfsigned-ca
  namespace: sandbox
spec:
  isCA: true
  commonName: my-selfsigned-ca
  secretName: root-secret
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned-issuer
    kind: ClusterIssuer
    group: cert-manager.io
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: my-ca-issuer
  namespace: sandbox
spec:
  ca:
    secretName: root-secret
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: service-a
  namespace: sandbox
spec:
  secretName: service-a-tls
  secretTemplate:
    labels: {app: service-a}
  duration: 2160h
  renewBefore: 360h
  subject:
    organizations: [example]
  commonName: service-a.sandbox.svc
  dnsNames: [service-a, service-a.sandbox.svc, service-a.sandbox.svc.cluster.local]
  ipAddresses: [10.96.0.10]
  usages: [server auth, client auth]
  privateKey:
    algorithm: RSA
    encoding: PKCS8
    size: 2048
    rotationPolicy: Always
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef: {name: keystore-password, key: password}
  additionalOutputFormats:
  - type: CombinedPEM
  issuerRef:
    name: my-ca-issuer
    kind: Issuer
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-staging
spec:
  acme:
    email: admin@example.com
    server: https://acme-staging-v02.api.letsencrypt.org/directory
    privateKeySecretRef: {name: letsencrypt-staging-account}
    solvers:
    - http01:
        ingress: {ingressClassName: nginx}
    - selector: {dnsZones: [example.com]}
      dns01:
        cloudflare:
          apiTokenSecretRef: {name: cloudflare-api-token, key: api-token}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault
  namespace: sandbox
spec:
  vault:
    server: https://vault.example:8200
    path: pki/sign/example
    auth:
      kubernetes:
        role: cert-manager
        mountPath: /v1/auth/kubernetes
        serviceAccountRef: {name: vault-issuer}
`

// TestCertManagerAPI: `certplane up` serves cert-manager.io/v1, and
// cert-manager's manifests apply unchanged.
func TestCertManagerAPI(t *testing.T) {
	data := t.TempDir()
	port := freePort(t)
	startUp(t, data, port)
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "chain.yaml"), bootstrapChain)

	out := mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "chain.yaml"))
	for _, want := range []string{"clusterissuer.cert-manager.io/selfsigned-issuer created", "certificate.cert-manager.io/my-selfsigned-ca created",
		"issuer.cert-manager.io/my-ca-issuer created", "certificate.cert-manager.io/service-a created", "issuer.cert-manager.io/vault created"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply lacks %q:\n%s", want, out)
		}
	}
	header := strings.Fields(strings.SplitN(mustKubectl(t, admin, "get", "certificates", "-n", "sandbox"), "\n", 2)[0])
	if strings.Join(header, " ") != "NAME READY SECRET AGE" {
		t.Errorf("kubectl get certificates columns %v", header)
	}
	if wide := mustKubectl(t, admin, "get", "cert", "-n", "sandbox", "-o", "wide"); !strings.Contains(wide, "ISSUER") || !strings.Contains(wide, "my-ca-issuer") {
		t.Errorf("kubectl get cert -o wide:\n%s", wide)
	}
	if got := mustKubectl(t, admin, "get", "certificate", "service-a", "-n", "sandbox", "-o", "jsonpath={.spec.keystores.pkcs12.profile} {.spec.privateKey.encoding} {.spec.duration}"); got != "Modern2023 PKCS8 2160h" {
		t.Errorf("service-a round trip: %q", got)
	}
	if got := mustKubectl(t, admin, "get", "issuer", "vault", "-n", "sandbox", "-o", "jsonpath={.spec.vault.auth.kubernetes.role}"); got != "cert-manager" {
		t.Errorf("vault auth was not kept: %q", got)
	}
	if got := mustKubectl(t, admin, "get", "clusterissuer", "letsencrypt-staging", "-o", "jsonpath={.spec.acme.solvers[1].dns01.cloudflare.apiTokenSecretRef.key}"); got != "api-token" {
		t.Errorf("acme solver was not kept: %q", got)
	}
	if out := mustKubectl(t, admin, "get", "clusterissuers"); !strings.Contains(out, "selfsigned-issuer") {
		t.Errorf("kubectl get clusterissuers:\n%s", out)
	}

	bad := strings.Replace(bootstrapChain[strings.Index(bootstrapChain, "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: service-a"):], "algorithm: RSA", "algorithm: DSA", 1)
	bad = bad[:strings.Index(bad, "---")]
	writeFile(t, filepath.Join(dir, "bad.yaml"), strings.Replace(bad, "name: service-a\n", "name: service-b\n", 1))
	r := kubectl(t, admin, "apply", "-f", filepath.Join(dir, "bad.yaml"))
	if r.code == 0 || !strings.Contains(r.stderr, "spec.privateKey.algorithm") || !strings.Contains(r.stderr, "Unsupported value") {
		t.Errorf("privateKey.algorithm DSA: exit %d %s", r.code, r.stderr)
	}
	if out := mustKubectl(t, admin, "explain", "certificate.spec.privateKey.rotationPolicy"); !strings.Contains(out, "Always") {
		t.Errorf("kubectl explain:\n%s", out)
	}

	// Issuer readiness, with cert-manager's reasons.
	ready := func(kind, ns, name string) string {
		args := []string{"get", kind, name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`}
		if ns != "" {
			args = append(args, "-n", ns)
		}
		return mustKubectl(t, admin, args...)
	}
	waitReady := func(kind, ns, name, want string) {
		t.Helper()
		var got string
		waitFor(t, 60*time.Second, kind+" "+name+" to be "+want, func() bool { got = ready(kind, ns, name); return strings.HasPrefix(got, want) })
	}
	waitReady("clusterissuer", "", "selfsigned-issuer", "True IsReady")
	writeFile(t, filepath.Join(dir, "manual-issuer.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: manual-ca-issuer\n  namespace: sandbox\nspec:\n  ca:\n    secretName: manual-ca\n")
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "manual-issuer.yaml"))
	waitReady("issuer", "sandbox", "manual-ca-issuer", `False ErrGetKeyPair: Error getting keypair for CA issuer: secret "manual-ca" not found`)
	// vault.example does not resolve: cert-manager's health check fails.
	waitReady("issuer", "sandbox", "vault", "False VaultError: Failed to verify Vault is initialized and unsealed: ")
	// Let's Encrypt cannot be reached from here: the account registration
	// fails, as cert-manager reports it.
	waitReady("clusterissuer", "", "letsencrypt-staging", "False Err")
	if got := ready("clusterissuer", "", "letsencrypt-staging"); !strings.Contains(got, "ACME account") {
		t.Errorf("letsencrypt-staging: %q", got)
	}

	// The CA Secret appears: the issuer recovers by itself.
	writeFile(t, filepath.Join(dir, "ca-csr.json"), `{"CN":"sandbox CA"}`)
	writeFile(t, filepath.Join(dir, "leaf-csr.json"), `{"CN":"not-a-ca"}`)
	must(t, dir, "", "gencert", "-initca", "ca-csr.json")
	must(t, dir, "", "gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "leaf-csr.json")
	mustKubectl(t, admin, "create", "secret", "tls", "manual-ca", "-n", "sandbox", "--cert", filepath.Join(dir, "ca.pem"), "--key", filepath.Join(dir, "ca-key.pem"))
	waitReady("issuer", "sandbox", "manual-ca-issuer", "True KeyPairVerified: Signing CA verified")

	// A Secret holding a certificate that is not a CA: not ready.
	mustKubectl(t, admin, "create", "secret", "tls", "leaf-secret", "-n", "sandbox", "--cert", filepath.Join(dir, "leaf.pem"), "--key", filepath.Join(dir, "leaf-key.pem"))
	writeFile(t, filepath.Join(dir, "leaf-issuer.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: leaf-issuer\n  namespace: sandbox\nspec:\n  ca:\n    secretName: leaf-secret\n")
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "leaf-issuer.yaml"))
	waitReady("issuer", "sandbox", "leaf-issuer", "False ErrInvalidKeyPair: Error getting keypair for CA issuer: pki: certificate is not a CA")
	if wide := mustKubectl(t, admin, "get", "issuers", "-n", "sandbox"); !strings.Contains(wide, "manual-ca-issuer   True") {
		t.Errorf("kubectl get issuers:\n%s", wide)
	}
}
