package e2e

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// crIssuers is the chain the CertificateRequests are signed from: a
// selfSigned ClusterIssuer, a CA Certificate from it, and Issuer ca on that
// CA's Secret.
const crIssuers = `apiVersion: v1
kind: Namespace
metadata:
  name: sandbox
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: root
  namespace: sandbox
spec:
  isCA: true
  commonName: sandbox-root
  secretName: root-secret
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca
  namespace: sandbox
spec:
  ca: {secretName: root-secret}
`

// crCluster starts certplane up with extra flags, applies crIssuers and
// waits for the CA; it returns admin.conf and a scratch directory.
func crCluster(t *testing.T, extra ...string) (admin, dir string) {
	t.Helper()
	data := t.TempDir()
	startUp(t, data, freePort(t), extra...)
	admin = filepath.Join(data, "admin.conf")
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "issuers.yaml"), crIssuers)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
	if slices.Contains(extra, "--disable-certificaterequest-approver") {
		approveAsExternalApprover(t, admin, "root")
	}
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "sandbox", "certificate/root", "issuer/ca")
	return admin, dir
}

// approveAsExternalApprover plays the cluster's own approver (as
// approver-policy would be) for the first issuance of Certificate name in
// sandbox: with certplane's built-in approver off, even a built-in issuer's
// Certificate waits, unissued, behind a CertificateRequest until it is
// approved.
func approveAsExternalApprover(t *testing.T, admin, name string) {
	t.Helper()
	cr := name + "-1"
	waitFor(t, 60*time.Second, "CertificateRequest "+cr+" and Certificate "+name+" Issuing", func() bool {
		return kubectl(t, admin, "get", "certificaterequest", cr, "-n", "sandbox").code == 0 &&
			certField(t, admin, "sandbox", name, `{.status.conditions[?(@.type=="Issuing")].status}`) == "True"
	})
	secret := certField(t, admin, "sandbox", name, "{.spec.secretName}")
	if r := kubectl(t, admin, "get", "secret", secret, "-n", "sandbox"); r.code == 0 {
		t.Fatalf("Secret %s written before its CertificateRequest was approved", secret)
	}
	if got := readyOf(t, admin, "sandbox", name); strings.HasPrefix(got, "True") {
		t.Fatalf("Certificate %s Ready before approval: %s", name, got)
	}
	if got := crCondition(t, admin, cr, "Approved"); got != " : " {
		t.Fatalf("CertificateRequest %s has an Approved condition no approver set: %q", cr, got)
	}
	if r := setStatus(t, admin, cr, "merge", `{"status":{"conditions":[`+approval("Approved", "True", "ExternalApprover")+`]}}`); r.code != 0 {
		t.Fatalf("approving %s: exit %d, %s", cr, r.code, r.stderr)
	}
}

// newCSR makes an ECDSA key and a CSR for CN with openssl, and returns the
// CSR base64-encoded, as spec.request holds it.
func newCSR(t *testing.T, dir, name, cn string) string {
	t.Helper()
	openssl(t, dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", name+".key", "-subj", "/CN="+cn, "-addext", "subjectAltName=DNS:"+cn, "-out", name+".csr")
	b, err := os.ReadFile(filepath.Join(dir, name+".csr"))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// createCR applies a CertificateRequest in sandbox; spec is YAML for the
// fields beside spec.request, indented for spec.
func createCR(t *testing.T, admin, dir, name, request, spec string) {
	t.Helper()
	f := filepath.Join(dir, "cr-"+name+".yaml")
	writeFile(t, f, `apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: `+name+`
  namespace: sandbox
spec:
  request: `+request+`
`+spec)
	mustKubectl(t, admin, "create", "-f", f)
}

// crField reads a CertificateRequest's field by JSONPath.
func crField(t *testing.T, kubeconfig, name, path string) string {
	t.Helper()
	return mustKubectl(t, kubeconfig, "get", "certificaterequest", name, "-n", "sandbox", "-o", "jsonpath="+path)
}

// crCondition is "status reason: message" of the condition typ.
func crCondition(t *testing.T, kubeconfig, name, typ string) string {
	t.Helper()
	c := `{.status.conditions[?(@.type=="` + typ + `")]`
	return crField(t, kubeconfig, name, c+`.status} `+c+`.reason}: `+c+`.message}`)
}

func waitCRReady(t *testing.T, kubeconfig, name, prefix string) {
	t.Helper()
	waitFor(t, 60*time.Second, "CertificateRequest "+name+" Ready "+prefix, func() bool {
		return strings.HasPrefix(crCondition(t, kubeconfig, name, "Ready"), prefix)
	})
}

// setStatus patches a CertificateRequest's status as kubeconfig's user.
func setStatus(t *testing.T, kubeconfig, name, typ, patch string) result {
	t.Helper()
	return kubectl(t, kubeconfig, "patch", "certificaterequest", name, "-n", "sandbox", "--subresource=status", "--type="+typ, "-p", patch)
}

func approval(typ, status, reason string) string {
	return `{"type":"` + typ + `","status":"` + status + `","reason":"` + reason + `","message":"set by hand"}`
}

// TestCertificateRequests: user-made cert-manager.io CertificateRequests
// are approved by certplane's built-in approver and signed by the ca and
// selfSigned issuers as cert-manager signs them; who may approve or deny
// is decided in the apiserver by the shipped ValidatingAdmissionPolicy.
func TestCertificateRequests(t *testing.T) {
	t.Run("built-in approver", func(t *testing.T) {
		t.Parallel()
		admin, dir := crCluster(t)

		t.Run("user request is approved and issued by the ca Issuer", func(t *testing.T) {
			createCR(t, admin, dir, "app", newCSR(t, dir, "app", "app.sandbox.svc"), `  duration: 24h
  usages: [digital signature, server auth]
  issuerRef: {name: ca}
`)
			waitCRReady(t, admin, "app", "True")
			if got, want := crCondition(t, admin, "app", "Ready"), "True Issued: Certificate fetched from issuer successfully"; got != want {
				t.Errorf("Ready = %q, want %q", got, want)
			}
			if got, want := crCondition(t, admin, "app", "Approved"), "True cert-manager.io: Certificate request has been approved by cert-manager.io"; got != want {
				t.Errorf("Approved = %q, want %q", got, want)
			}
			crt, _ := base64.StdEncoding.DecodeString(crField(t, admin, "app", "{.status.certificate}"))
			ca, _ := base64.StdEncoding.DecodeString(crField(t, admin, "app", "{.status.ca}"))
			writeFile(t, filepath.Join(dir, "app.crt"), string(crt))
			writeFile(t, filepath.Join(dir, "ca.crt"), string(ca))
			if out := openssl(t, dir, "verify", "-CAfile", "ca.crt", "app.crt"); !strings.Contains(out, "app.crt: OK") {
				t.Errorf("openssl verify: %s", out)
			}
			// The certificate is for the requester's key and says what the
			// request and the spec asked for.
			if a, b := openssl(t, dir, "x509", "-in", "app.crt", "-noout", "-pubkey"), openssl(t, dir, "pkey", "-in", "app.key", "-pubout"); a != b {
				t.Errorf("certificate public key\n%s\nis not the requester's\n%s", a, b)
			}
			certs, err := pki.ParseCertificatesPEM(crt)
			if err != nil {
				t.Fatal(err)
			}
			leaf := certs[0]
			if leaf.Subject.CommonName != "app.sandbox.svc" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "app.sandbox.svc" || leaf.IsCA {
				t.Errorf("leaf %s SANs %v CA %v", leaf.Subject, leaf.DNSNames, leaf.IsCA)
			}
			if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 24*time.Hour || d > 24*time.Hour+10*time.Minute {
				t.Errorf("validity %s, want 24h (and the backdate)", d)
			}
			if names := pki.UsageNames(leaf.KeyUsage, leaf.ExtKeyUsage); strings.Join(usageStrings(names), ",") != "digital signature,server auth" {
				t.Errorf("usages %v, want digital signature and server auth", names)
			}
			if got := crField(t, admin, "app", "{.status.failureTime}"); got != "" {
				t.Errorf("failureTime %q on an issued request", got)
			}
		})

		t.Run("the requester's identity is recorded, whatever the spec claimed", func(t *testing.T) {
			createCR(t, admin, dir, "who", newCSR(t, dir, "who", "who.sandbox.svc"), `  username: somebody-else
  groups: [system:masters]
  uid: forged
  extra: {scopes: [everything]}
  issuerRef: {name: ca}
`)
			if got := crField(t, admin, "who", "{.spec.username} {.spec.uid}|{.spec.groups}|{.spec.extra}"); got != `kubernetes-admin |["kubeadm:cluster-admins","system:authenticated"]|` {
				t.Errorf("spec identity = %q, want admin.conf's user and groups", got)
			}
		})

		t.Run("selfSigned signs with the annotated key", func(t *testing.T) {
			request := newCSR(t, dir, "self", "self-ca")
			key, err := os.ReadFile(filepath.Join(dir, "self.key"))
			if err != nil {
				t.Fatal(err)
			}
			mustKubectl(t, admin, "create", "secret", "generic", "self-key", "-n", "sandbox", "--from-file=tls.key="+filepath.Join(dir, "self.key"))
			f := filepath.Join(dir, "cr-self.yaml")
			writeFile(t, f, `apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: self
  namespace: sandbox
  annotations: {cert-manager.io/private-key-secret-name: self-key}
spec:
  request: `+request+`
  isCA: true
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
`)
			mustKubectl(t, admin, "create", "-f", f)
			waitCRReady(t, admin, "self", "True Issued")
			crt, _ := base64.StdEncoding.DecodeString(crField(t, admin, "self", "{.status.certificate}"))
			if ca, _ := base64.StdEncoding.DecodeString(crField(t, admin, "self", "{.status.ca}")); string(ca) != string(crt) {
				t.Error("status.ca of a selfSigned request is not the certificate itself")
			}
			certs, err := pki.ParseCertificatesPEM(crt)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := pki.ParsePrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			if c := certs[0]; !c.IsCA || !pki.IsSelfSigned(c) || !pki.KeyMatches(c.PublicKey, signer) {
				t.Errorf("certificate %s: CA %v, self-signed %v; want a self-signed CA for the Secret's key", c.Subject, c.IsCA, pki.IsSelfSigned(c))
			}
		})

		t.Run("invalid request fails with InvalidRequest", func(t *testing.T) {
			createCR(t, admin, dir, "garbage", base64.StdEncoding.EncodeToString([]byte("not a certificate request")), "  issuerRef: {name: ca}\n")
			// A well-formed request whose signature does not verify: no
			// proof that the requester holds the key.
			csrPEM, _ := base64.StdEncoding.DecodeString(newCSR(t, dir, "forged", "forged.sandbox.svc"))
			block, _ := pem.Decode(csrPEM)
			block.Bytes[len(block.Bytes)-1] ^= 0xff
			createCR(t, admin, dir, "forged", base64.StdEncoding.EncodeToString(pem.EncodeToMemory(block)), "  issuerRef: {name: ca}\n")
			// A PEM block whose DER does not parse: one sentence, not the
			// ASN.1 parser's internals.
			block.Bytes = block.Bytes[:len(block.Bytes)/2]
			createCR(t, admin, dir, "malformed", base64.StdEncoding.EncodeToString(pem.EncodeToMemory(block)), "  issuerRef: {name: ca}\n")
			for name, want := range map[string]string{
				"garbage":   "it is not PEM-encoded: want a certificate request in PEM",
				"forged":    "its signature does not verify",
				"malformed": "it is not a valid certificate request: its DER does not parse",
			} {
				waitCRReady(t, admin, name, "False Failed")
				if got := crCondition(t, admin, name, "Ready"); !strings.Contains(got, "Failed to decode CSR in spec.request") || !strings.Contains(got, want) {
					t.Errorf("%s: Ready = %q, want the decoding error naming %q", name, got, want)
				}
				if got := crCondition(t, admin, name, "Ready"); strings.Contains(got, "asn1") || strings.Contains(got, "pki: ") {
					t.Errorf("%s: Ready = %q, which shows library internals", name, got)
				}
				if got := crCondition(t, admin, name, "InvalidRequest"); !strings.HasPrefix(got, "True") {
					t.Errorf("%s: InvalidRequest = %q, want True", name, got)
				}
				if crField(t, admin, name, "{.status.failureTime}") == "" || crField(t, admin, name, "{.status.certificate}") != "" {
					t.Errorf("%s: want a failureTime and no certificate", name)
				}
			}
		})

		t.Run("missing issuer is pending until it exists", func(t *testing.T) {
			createCR(t, admin, dir, "orphan", newCSR(t, dir, "orphan", "orphan.sandbox.svc"), "  issuerRef: {name: later}\n")
			waitCRReady(t, admin, "orphan", "False")
			if got, want := crCondition(t, admin, "orphan", "Ready"), `False Pending: Referenced Issuer "later" not found`; got != want {
				t.Errorf("Ready = %q, want %q", got, want)
			}
			if crField(t, admin, "orphan", "{.status.failureTime}") != "" || crField(t, admin, "orphan", "{.status.certificate}") != "" {
				t.Error("a pending request has a failureTime or a certificate")
			}
			writeFile(t, filepath.Join(dir, "later.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: later, namespace: sandbox}\nspec:\n  ca: {secretName: root-secret}\n")
			mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "later.yaml"))
			waitCRReady(t, admin, "orphan", "True Issued")
		})

		t.Run("external issuer needs its approve permission", func(t *testing.T) {
			// certplane's role grants approve on the cert-manager.io
			// signers only: the policy refuses its approval of another
			// group's request, as cert-manager's webhook does.
			createCR(t, admin, dir, "ext", newCSR(t, dir, "ext", "ext.sandbox.svc"), "  issuerRef: {name: step, kind: StepIssuer, group: certmanager.step.sm}\n")
			waitFor(t, 60*time.Second, "the approver's ApprovalRefused event", func() bool {
				return strings.Contains(mustKubectl(t, admin, "get", "events", "-n", "sandbox", "--field-selector", "involvedObject.name=ext,reason=ApprovalRefused", "-o", "name"), "event")
			})
			if got := crField(t, admin, "ext", "{.status.conditions}"); got != "" {
				t.Errorf("external request has conditions %s, want none", got)
			}
			note := mustKubectl(t, admin, "get", "events", "-n", "sandbox", "--field-selector", "involvedObject.name=ext,reason=ApprovalRefused", "-o", "jsonpath={.items[0].message}")
			if !strings.Contains(note, "stepissuers.certmanager.step.sm/sandbox.step") {
				t.Errorf("event %q does not name the signer", note)
			}
		})
	})

	t.Run("approval permissions", func(t *testing.T) {
		t.Parallel()
		admin, dir := crCluster(t, "--disable-certificaterequest-approver")
		data := filepath.Dir(admin)
		bob := filepath.Join(t.TempDir(), "bob.conf")
		must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", "bob", "--out", bob, "--key-algorithm", "ecdsa-p256")
		writeFile(t, filepath.Join(dir, "bob.yaml"), `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: certificaterequest-status, namespace: sandbox}
rules:
- apiGroups: [cert-manager.io]
  resources: [certificaterequests, certificaterequests/status]
  verbs: [get, list, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob, namespace: sandbox}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: certificaterequest-status}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "bob.yaml"))
		for _, name := range []string{"held", "to-deny", "approved"} {
			createCR(t, admin, dir, name, newCSR(t, dir, name, name+".sandbox.svc"), "  issuerRef: {name: ca}\n")
		}
		createCR(t, admin, dir, "cluster", newCSR(t, dir, "cluster", "cluster.sandbox.svc"), "  issuerRef: {name: selfsigned, kind: ClusterIssuer}\n")
		deny := `{"status":{"conditions":[` + approval("Denied", "True", "Bob") + `]}}`

		t.Run("denying needs approve on the issuer's signer", func(t *testing.T) {
			// The policy is active once a server-side dry run is refused;
			// the refusal itself changes nothing.
			waitFor(t, 30*time.Second, "the approval policy to refuse bob", func() bool {
				return kubectl(t, bob, "patch", "certificaterequest", "to-deny", "-n", "sandbox", "--subresource=status", "--type=merge", "-p", deny, "--dry-run=server").code != 0
			})
			r := setStatus(t, bob, "to-deny", "merge", deny)
			want := "user bob may not set Denied on CertificateRequests for issuers.cert-manager.io/sandbox.ca: needs verb approve on signers.cert-manager.io"
			if r.code == 0 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("bob's Denied: exit %d, stderr %q; want a refusal saying %q", r.code, r.stderr, want)
			}
			if got := crField(t, admin, "to-deny", "{.status.conditions}"); got != "" {
				t.Errorf("refused patch left conditions %s", got)
			}
		})

		t.Run("with approve on issuers.cert-manager.io/sandbox.ca bob's denial stands", func(t *testing.T) {
			writeFile(t, filepath.Join(dir, "bob-approve.yaml"), `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: approve-sandbox-ca}
rules:
- apiGroups: [cert-manager.io]
  resources: [signers]
  resourceNames: [issuers.cert-manager.io/sandbox.ca]
  verbs: [approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-approve-sandbox-ca}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: approve-sandbox-ca}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
`)
			mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "bob-approve.yaml"))
			last := ""
			waitFor(t, 30*time.Second, "bob's Denied to be accepted", func() bool {
				r := setStatus(t, bob, "to-deny", "merge", deny)
				if r.code != 0 && r.stderr != last {
					last = r.stderr
					t.Logf("bob's Denied refused: %s", r.stderr)
				}
				return r.code == 0
			})
			// A denied request is never signed.
			waitCRReady(t, admin, "to-deny", "False Denied")
			if got, want := crCondition(t, admin, "to-deny", "Ready"), "False Denied: The CertificateRequest was denied by an approval controller"; got != want {
				t.Errorf("Ready = %q, want %q", got, want)
			}
			if crField(t, admin, "to-deny", "{.status.failureTime}") == "" || crField(t, admin, "to-deny", "{.status.certificate}") != "" {
				t.Error("a denied request lacks a failureTime or has a certificate")
			}
			// Nor does approving it afterwards change that, even for an
			// admin.
			r := setStatus(t, admin, "to-deny", "json", `[{"op":"add","path":"/status/conditions/-","value":`+approval("Approved", "True", "Admin")+`}]`)
			if r.code == 0 || !strings.Contains(r.stderr, "cannot be both Approved and Denied") {
				t.Errorf("Approved next to Denied: exit %d, %s", r.code, r.stderr)
			}
		})

		t.Run("approval conditions are True only and final once set", func(t *testing.T) {
			r := setStatus(t, bob, "held", "merge", `{"status":{"conditions":[`+approval("Approved", "False", "Bob")+`]}}`)
			if r.code == 0 || !strings.Contains(r.stderr, "can only have status True") {
				t.Errorf("Approved=False: exit %d, %s", r.code, r.stderr)
			}
			if r := setStatus(t, bob, "approved", "merge", `{"status":{"conditions":[`+approval("Approved", "True", "Bob")+`]}}`); r.code != 0 {
				t.Fatalf("bob's Approved: exit %d, %s", r.code, r.stderr)
			}
			waitCRReady(t, admin, "approved", "True Issued")
			// Replacing Approved with Denied, adding Denied beside it,
			// rewording it or removing it: all refused, for bob and admin.
			const (
				final = "the Approved condition of a CertificateRequest cannot be changed or removed once set"
				both  = "a CertificateRequest cannot be both Approved and Denied"
			)
			for _, tt := range []struct{ name, patch, want string }{
				{"replace with Denied", `[{"op":"test","path":"/status/conditions/0/type","value":"Approved"},{"op":"replace","path":"/status/conditions/0","value":` + approval("Denied", "True", "Bob") + `}]`, final},
				{"add Denied", `[{"op":"add","path":"/status/conditions/-","value":` + approval("Denied", "True", "Bob") + `}]`, both},
				{"reword", `[{"op":"test","path":"/status/conditions/0/type","value":"Approved"},{"op":"replace","path":"/status/conditions/0/message","value":"changed"}]`, final},
				{"remove", `[{"op":"test","path":"/status/conditions/0/type","value":"Approved"},{"op":"remove","path":"/status/conditions/0"}]`, final},
			} {
				for user, kubeconfig := range map[string]string{"bob": bob, "admin": admin} {
					r := setStatus(t, kubeconfig, "approved", "json", tt.patch)
					if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
						t.Errorf("%s by %s: exit %d, %s; want %q", tt.name, user, r.code, r.stderr, tt.want)
					}
				}
			}
			if got := crCondition(t, admin, "approved", "Approved"); got != "True Bob: set by hand" {
				t.Errorf("Approved is now %q", got)
			}
		})

		t.Run("ClusterIssuer requests need clusterissuers.cert-manager.io signers", func(t *testing.T) {
			approve := `{"status":{"conditions":[` + approval("Approved", "True", "Bob") + `]}}`
			r := setStatus(t, bob, "cluster", "merge", approve)
			want := "user bob may not set Approved on CertificateRequests for clusterissuers.cert-manager.io/selfsigned: needs verb approve on signers.cert-manager.io"
			if r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Fatalf("bob's Approved: exit %d, %q; want %q", r.code, r.stderr, want)
			}
			// The wildcard name grants every ClusterIssuer.
			writeFile(t, filepath.Join(dir, "bob-clusterissuers.yaml"), `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: approve-all-clusterissuers}
rules:
- apiGroups: [cert-manager.io]
  resources: [signers]
  resourceNames: ["clusterissuers.cert-manager.io/*"]
  verbs: [approve]
`)
			mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "bob-clusterissuers.yaml"))
			mustKubectl(t, admin, "create", "clusterrolebinding", "bob-approve-all-clusterissuers", "--clusterrole=approve-all-clusterissuers", "--user=bob")
			waitFor(t, 30*time.Second, "bob's Approved to be accepted", func() bool {
				return setStatus(t, bob, "cluster", "merge", approve).code == 0
			})
			// A selfSigned request without the key annotation cannot be
			// signed.
			waitCRReady(t, admin, "cluster", "False Failed")
			if got := crCondition(t, admin, "cluster", "Ready"); !strings.Contains(got, "cert-manager.io/private-key-secret-name") {
				t.Errorf("Ready = %q, want it to name the missing annotation", got)
			}
		})

		t.Run("spec is immutable", func(t *testing.T) {
			r := kubectl(t, admin, "patch", "certificaterequest", "held", "-n", "sandbox", "--type=merge", "-p", `{"spec":{"isCA":true}}`)
			if r.code == 0 || !strings.Contains(r.stderr, "the spec of a CertificateRequest cannot be changed after creation") {
				t.Errorf("spec change: exit %d, %s", r.code, r.stderr)
			}
		})

		t.Run("without the approver nothing is approved by itself", func(t *testing.T) {
			// Everything above took its time: held was never touched.
			if got := crField(t, admin, "held", "{.status.conditions}"); got != "" {
				t.Errorf("held has conditions %s with the approver disabled", got)
			}
		})
	})
}

func usageStrings(us []pki.Usage) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	return out
}
