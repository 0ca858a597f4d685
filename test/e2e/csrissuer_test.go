package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// issuersSetup is two CA issuers bootstrapped as cert-manager documents it:
// Issuer sandbox/ca over root-secret, and ClusterIssuer cluster-ca over a
// Secret in cert-manager, the default cluster resource namespace.
const issuersSetup = `apiVersion: v1
kind: Namespace
metadata:
  name: sandbox
---
apiVersion: v1
kind: Namespace
metadata:
  name: cert-manager
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
  name: sandbox-ca
  namespace: sandbox
spec:
  isCA: true
  commonName: sandbox-ca
  duration: 8760h
  secretName: root-secret
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned-issuer, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca
  namespace: sandbox
spec:
  ca:
    secretName: root-secret
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: cluster-ca
  namespace: cert-manager
spec:
  isCA: true
  commonName: cluster-ca
  duration: 8760h
  secretName: cluster-root
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned-issuer, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: cluster-ca
spec:
  ca:
    secretName: cluster-root
`

// issuerRequest is a CertificateSigningRequest for a cert-manager signer.
type issuerRequest struct {
	name, signer      string
	request           []byte
	usages            []string
	annotations       map[string]string
	expirationSeconds int
}

func (r issuerRequest) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: %s\n", r.name)
	if len(r.annotations) > 0 {
		keys := make([]string, 0, len(r.annotations))
		for k := range r.annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("  annotations:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s: %q\n", k, r.annotations[k])
		}
	}
	fmt.Fprintf(&b, "spec:\n  signerName: %s\n  request: %s\n", r.signer, base64.StdEncoding.EncodeToString(r.request))
	if r.expirationSeconds > 0 {
		fmt.Fprintf(&b, "  expirationSeconds: %d\n", r.expirationSeconds)
	}
	b.WriteString("  usages:\n")
	for _, u := range r.usages {
		fmt.Fprintf(&b, "  - %s\n", u)
	}
	return b.String()
}

// create applies the request as the user of kubeconfig.
func (r issuerRequest) create(t *testing.T, kubeconfig string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), r.name+".yaml")
	writeFile(t, f, r.yaml())
	mustKubectl(t, kubeconfig, "create", "-f", f)
}

// opensslRequest makes name.key (EC P-256) and name.csr for cn and the DNS
// names in dir with openssl, and returns the request.
func opensslRequest(t *testing.T, dir, name, cn string, dnsNames ...string) []byte {
	t.Helper()
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name+".key")
	args := []string{"req", "-new", "-key", name + ".key", "-subj", "/CN=" + cn, "-out", name + ".csr"}
	if len(dnsNames) > 0 {
		args = append(args, "-addext", "subjectAltName=DNS:"+strings.Join(dnsNames, ",DNS:"))
	}
	openssl(t, dir, args...)
	data, err := os.ReadFile(filepath.Join(dir, name+".csr"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// csrStatus is what kubectl shows of a request: its condition types, the
// Failed condition's reason and message, and whether it holds a certificate.
func csrStatus(t *testing.T, kubeconfig, name string) (conditions, failed string, issued bool) {
	t.Helper()
	out := mustKubectl(t, kubeconfig, "get", "csr", name, "-o",
		`jsonpath={.status.conditions[*].type}|{.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}|{.status.certificate}`)
	parts := strings.SplitN(out, "|", 3)
	if len(parts) != 3 {
		t.Fatalf("kubectl get csr %s: %q", name, out)
	}
	return parts[0], parts[1], parts[2] != ""
}

func waitFailed(t *testing.T, kubeconfig, name string) string {
	t.Helper()
	var failed string
	waitFor(t, 60*time.Second, "csr "+name+" to fail", func() bool {
		var conds string
		conds, failed, _ = csrStatus(t, kubeconfig, name)
		return strings.Contains(conds, "Failed")
	})
	return failed
}

// fetchCertificate writes status.certificate to dir/name.pem and parses it.
func fetchCertificate(t *testing.T, kubeconfig, dir, name string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(mustKubectl(t, kubeconfig, "get", "csr", name, "-o", "jsonpath={.status.certificate}"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	writeFile(t, path, string(b))
	return path
}

// csrEvents lists the reasons of a request's events, one a line.
func csrEvents(t *testing.T, kubeconfig, name string) string {
	t.Helper()
	return mustKubectl(t, kubeconfig, "get", "events", "-A", "--field-selector", "involvedObject.kind=CertificateSigningRequest,involvedObject.name="+name,
		"-o", `jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}`)
}

// TestCSRForCertManagerIssuer: certificates.k8s.io requests for the signers
// issuers.cert-manager.io/<ns>.<name> and clusterissuers.cert-manager.io/<name>
// are signed by those issuers once approved, as with cert-manager's
// ExperimentalCertificateSigningRequestControllers, with kubectl and openssl.
func TestCSRForCertManagerIssuer(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "issuers.yaml"), issuersSetup)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "sandbox", "certificate/sandbox-ca", "issuer/ca")
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "cert-manager", "certificate/cluster-ca")
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "clusterissuer/cluster-ca")
	sandboxCA := filepath.Join(dir, "sandbox-ca.pem")
	writeFile(t, sandboxCA, string(secretData(t, admin, "sandbox", "root-secret", "ca.crt")))
	clusterCA := filepath.Join(dir, "cluster-ca.pem")
	writeFile(t, clusterCA, string(secretData(t, admin, "cert-manager", "cluster-root", "ca.crt")))

	t.Run("namespaced Issuer signs once approved", func(t *testing.T) {
		dir := t.TempDir()
		later := issuerRequest{name: "web-later", signer: "issuers.cert-manager.io/sandbox.ca", request: opensslRequest(t, dir, "later", "later"), usages: []string{"digital signature", "server auth"}}
		later.create(t, admin)
		web := issuerRequest{
			name: "web", signer: "issuers.cert-manager.io/sandbox.ca", request: opensslRequest(t, dir, "web", "web.sandbox.svc", "web.sandbox.svc", "web"),
			usages: []string{"digital signature", "key encipherment", "server auth"}, expirationSeconds: 3600,
		}
		web.create(t, admin)
		if conds, _, issued := csrStatus(t, admin, "web"); conds != "" || issued {
			t.Fatalf("web before approval: conditions %q, issued %v", conds, issued)
		}
		mustKubectl(t, admin, "certificate", "approve", "web")
		waitIssued(t, admin, "web")
		// By now the signer has seen web-later too: unapproved, it stays
		// unsigned.
		if conds, _, issued := csrStatus(t, admin, "web-later"); conds != "" || issued {
			t.Errorf("web-later without approval: conditions %q, issued %v", conds, issued)
		}

		leaf := fetchCertificate(t, admin, dir, "web")
		if out := openssl(t, dir, "verify", "-CAfile", sandboxCA, leaf); !strings.Contains(out, "web.pem: OK") {
			t.Errorf("openssl verify against root-secret's ca.crt: %s", out)
		}
		text := openssl(t, dir, "x509", "-in", leaf, "-noout", "-text")
		for _, want := range []string{"Subject: CN = web.sandbox.svc", "Issuer: CN = sandbox-ca", "DNS:web.sandbox.svc, DNS:web", "Digital Signature, Key Encipherment", "TLS Web Server Authentication", "CA:FALSE"} {
			if !strings.Contains(text, want) {
				t.Errorf("issued certificate lacks %q:\n%s", want, text)
			}
		}
		if pub := openssl(t, dir, "pkey", "-in", "web.key", "-pubout"); !strings.Contains(openssl(t, dir, "x509", "-in", leaf, "-noout", "-pubkey"), pub) {
			t.Error("the certificate is not for the request's key")
		}
		certs, err := pki.ParseCertificatesPEM([]byte(mustRead(t, leaf)))
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 1 {
			t.Errorf("status.certificate holds %d certificates; the CA is self-signed, so only the leaf", len(certs))
		}
		if d := certs[0].NotAfter.Sub(certs[0].NotBefore); d < time.Hour || d > time.Hour+10*time.Minute {
			t.Errorf("validity %s, want the hour of expirationSeconds (and a backdate)", d)
		}
		if ev := csrEvents(t, admin, "web"); !strings.Contains(ev, "Normal Issued: ") || !strings.Contains(ev, `Issuer "sandbox/ca"`) {
			t.Errorf("events of web:\n%s", ev)
		}

		mustKubectl(t, admin, "certificate", "approve", "web-later")
		waitIssued(t, admin, "web-later")
		if d := validity(t, fetchCertificate(t, admin, dir, "web-later")); d < 2160*time.Hour || d > 2161*time.Hour {
			t.Errorf("validity of a request that asks for none: %s, want cert-manager's 90 days", d)
		}
	})

	t.Run("ClusterIssuer signs a CA for the annotated duration", func(t *testing.T) {
		dir := t.TempDir()
		sub := issuerRequest{
			name: "sub-ca", signer: "clusterissuers.cert-manager.io/cluster-ca", request: opensslRequest(t, dir, "sub", "sub-ca"),
			usages:      []string{"cert sign", "crl sign", "digital signature"},
			annotations: map[string]string{"experimental.cert-manager.io/request-duration": "48h", "experimental.cert-manager.io/request-is-ca": "true"},
		}
		sub.create(t, admin)
		mustKubectl(t, admin, "certificate", "approve", "sub-ca")
		waitIssued(t, admin, "sub-ca")
		leaf := fetchCertificate(t, admin, dir, "sub-ca")
		if out := openssl(t, dir, "verify", "-CAfile", clusterCA, leaf); !strings.Contains(out, "sub-ca.pem: OK") {
			t.Errorf("openssl verify against cluster-root's ca.crt: %s", out)
		}
		if r := runIn(t, dir, "", "openssl", "verify", "-CAfile", sandboxCA, leaf); r.code == 0 {
			t.Error("a ClusterIssuer's certificate verifies against another CA")
		}
		text := openssl(t, dir, "x509", "-in", leaf, "-noout", "-text")
		for _, want := range []string{"CA:TRUE", "Certificate Sign, CRL Sign", "Issuer: CN = cluster-ca"} {
			if !strings.Contains(text, want) {
				t.Errorf("issued certificate lacks %q:\n%s", want, text)
			}
		}
		if d := validity(t, leaf); d < 48*time.Hour || d > 48*time.Hour+10*time.Minute {
			t.Errorf("validity %s, want the annotated 48h", d)
		}
	})

	t.Run("selfSigned ClusterIssuer signs with the annotated key", func(t *testing.T) {
		dir := t.TempDir()
		request := opensslRequest(t, dir, "self", "self")
		mustKubectl(t, admin, "create", "secret", "generic", "self-key", "-n", "cert-manager", "--from-file=tls.key="+filepath.Join(dir, "self.key"))
		self := issuerRequest{
			name: "self", signer: "clusterissuers.cert-manager.io/selfsigned-issuer", request: request, usages: []string{"digital signature", "client auth"},
			annotations: map[string]string{"experimental.cert-manager.io/private-key-secret-name": "self-key"},
		}
		self.create(t, admin)
		mustKubectl(t, admin, "certificate", "approve", "self")
		waitIssued(t, admin, "self")
		leaf := fetchCertificate(t, admin, dir, "self")
		if out := openssl(t, dir, "verify", "-CAfile", leaf, leaf); !strings.Contains(out, "self.pem: OK") {
			t.Errorf("the certificate does not verify as its own root: %s", out)
		}
		if pub := openssl(t, dir, "pkey", "-in", "self.key", "-pubout"); !strings.Contains(openssl(t, dir, "x509", "-in", leaf, "-noout", "-pubkey"), pub) {
			t.Error("the certificate is not for the request's key")
		}

		bare := issuerRequest{name: "self-bare", signer: self.signer, request: opensslRequest(t, dir, "bare", "bare"), usages: self.usages}
		bare.create(t, admin)
		mustKubectl(t, admin, "certificate", "approve", "self-bare")
		if failed := waitFailed(t, admin, "self-bare"); !strings.HasPrefix(failed, "MissingAnnotation: ") || !strings.Contains(failed, "experimental.cert-manager.io/private-key-secret-name") {
			t.Errorf("selfSigned request without the key annotation: %q", failed)
		}
	})

	t.Run("reference on the Issuer is required", func(t *testing.T) {
		dir := t.TempDir()
		mustKubectl(t, admin, "create", "clusterrole", "csr-creator", "--verb=create,get,list,watch", "--resource=certificatesigningrequests")
		mustKubectl(t, admin, "create", "clusterrolebinding", "csr-creators", "--clusterrole=csr-creator", "--group=csr-creators")
		// bob may reference Issuer sandbox/ca by name, as cert-manager
		// documents; alice may reference nothing.
		writeFile(t, filepath.Join(dir, "referencer.yaml"), `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ca-referencer
  namespace: sandbox
rules:
- apiGroups: [cert-manager.io]
  resources: [signers]
  verbs: [reference]
  resourceNames: [ca]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bob-ca-referencer
  namespace: sandbox
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ca-referencer}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "referencer.yaml"))
		users := map[string]string{}
		for _, u := range []string{"alice", "bob"} {
			users[u] = filepath.Join(dir, u+".kubeconfig")
			must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", u, "--group", "csr-creators", "--out", users[u], "--key-algorithm", "ecdsa-p256")
			waitFor(t, 30*time.Second, u+"'s RBAC", func() bool { return kubectl(t, users[u], "get", "csr").code == 0 })
		}

		for _, u := range []string{"alice", "bob"} {
			r := issuerRequest{name: u + "-app", signer: "issuers.cert-manager.io/sandbox.ca", request: opensslRequest(t, dir, u, u+"-app"), usages: []string{"digital signature", "client auth"}}
			r.create(t, users[u])
			mustKubectl(t, admin, "certificate", "approve", r.name)
		}
		failed := waitFailed(t, admin, "alice-app")
		for _, want := range []string{"DeniedReference: ", `requester "alice"`, `Issuer "sandbox/ca"`, "reference"} {
			if !strings.Contains(failed, want) {
				t.Errorf("alice's request failed with %q, want it to contain %q", failed, want)
			}
		}
		if _, _, issued := csrStatus(t, admin, "alice-app"); issued {
			t.Error("alice's request got a certificate")
		}
		if ev := csrEvents(t, admin, "alice-app"); !strings.Contains(ev, "Warning DeniedReference: ") {
			t.Errorf("events of alice-app:\n%s", ev)
		}
		waitIssued(t, admin, "bob-app")
		if out := openssl(t, dir, "verify", "-CAfile", sandboxCA, fetchCertificate(t, admin, dir, "bob-app")); !strings.Contains(out, "OK") {
			t.Errorf("bob's certificate: %s", out)
		}
	})

	t.Run("an unknown issuer is waited for", func(t *testing.T) {
		dir := t.TempDir()
		r := issuerRequest{name: "wait-later", signer: "issuers.cert-manager.io/sandbox.later", request: opensslRequest(t, dir, "wait", "wait"), usages: []string{"digital signature", "server auth"}}
		r.create(t, admin)
		mustKubectl(t, admin, "certificate", "approve", r.name)
		waitFor(t, 60*time.Second, "a warning that Issuer sandbox/later does not exist", func() bool {
			return strings.Contains(csrEvents(t, admin, r.name), `Warning IssuerNotFound: waiting for Issuer "sandbox/later", which does not exist`)
		})
		if conds, failed, issued := csrStatus(t, admin, r.name); conds != "Approved" || issued {
			t.Errorf("waiting request: conditions %q (%s), issued %v", conds, failed, issued)
		}
		// The Issuer appears: the waiting request is signed without
		// waiting for its next retry.
		writeFile(t, filepath.Join(dir, "later.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: later\n  namespace: sandbox\nspec:\n  ca:\n    secretName: root-secret\n")
		created := time.Now()
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "later.yaml"))
		waitIssued(t, admin, r.name)
		if took := time.Since(created); took > 20*time.Second {
			t.Errorf("signed %s after the Issuer appeared", took.Round(time.Second))
		}
		if out := openssl(t, dir, "verify", "-CAfile", sandboxCA, fetchCertificate(t, admin, dir, r.name)); !strings.Contains(out, "OK") {
			t.Errorf("certificate of the late Issuer: %s", out)
		}
	})

	t.Run("bad requests fail with a reason", func(t *testing.T) {
		dir := t.TempDir()
		for _, tt := range []struct {
			r    issuerRequest
			want string
		}{
			// The apiserver allows only a lowercase DNS subdomain after the "/".
			{issuerRequest{name: "no-dot", signer: "issuers.cert-manager.io/nodot"}, "BadSignerName: signer name \"issuers.cert-manager.io/nodot\" does not name an Issuer: the form is issuers.cert-manager.io/<namespace>.<name>"},
			{issuerRequest{name: "too-short", signer: "issuers.cert-manager.io/sandbox.ca", annotations: map[string]string{"experimental.cert-manager.io/request-duration": "5m"}}, "BadRequest: requested duration 5m0s is shorter than the minimum of 10m0s"},
		} {
			tt.r.request = opensslRequest(t, dir, tt.r.name, tt.r.name)
			tt.r.usages = []string{"digital signature", "client auth"}
			tt.r.create(t, admin)
			mustKubectl(t, admin, "certificate", "approve", tt.r.name)
			if failed := waitFailed(t, admin, tt.r.name); failed != tt.want {
				t.Errorf("%s: Failed %q, want %q", tt.r.name, failed, tt.want)
			}
			if _, _, issued := csrStatus(t, admin, tt.r.name); issued {
				t.Errorf("%s: a failed request got a certificate", tt.r.name)
			}
		}
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validity is NotAfter - NotBefore of the first certificate in path.
func validity(t *testing.T, path string) time.Duration {
	t.Helper()
	certs, err := pki.ParseCertificatesPEM([]byte(mustRead(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].NotAfter.Sub(certs[0].NotBefore)
}
