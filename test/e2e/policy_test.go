package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// policyCluster is what TestPolicies runs in, all made by the cluster
// admin: namespace team with a CA and three Issuers on it (ca, validated,
// strict), each selected by one policy; ClusterIssuers corp-ca and dev-ca on
// a CA in cert-manager, for the wildcard selectors; and the RBAC of the
// requesters. alice may create Certificates, CertificateRequests and CSRs,
// reference Issuer ca, and use the policies team-leaves, team-cel and
// team-strict; bob may create Certificates but use no policy; the pods'
// ServiceAccount team/web may use team-leaves and team-pods.
const policyCluster = `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps-1}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps-2}
---
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Namespace
metadata: {name: cert-manager}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: team-ca, namespace: team}
spec:
  isCA: true
  commonName: team-ca
  secretName: team-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: team}
spec: {ca: {secretName: team-ca}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: validated, namespace: team}
spec: {ca: {secretName: team-ca}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: strict, namespace: team}
spec: {ca: {secretName: team-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: corp-root, namespace: cert-manager}
spec:
  isCA: true
  commonName: corp-root
  secretName: corp-root
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer, group: cert-manager.io}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: corp-ca}
spec: {ca: {secretName: corp-root}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: dev-ca}
spec: {ca: {secretName: corp-root}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: team-requester, namespace: team}
rules:
- apiGroups: [cert-manager.io]
  resources: [certificates, certificaterequests]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [cert-manager.io]
  resources: [signers]
  verbs: [reference]
  resourceNames: [ca]
- apiGroups: [policy.cert-manager.io]
  resources: [certificaterequestpolicies]
  verbs: [use]
  resourceNames: [team-leaves, team-cel, team-strict]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: team-requester}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: certificate-creator, namespace: team}
rules:
- apiGroups: [cert-manager.io]
  resources: [certificates]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: certificate-creator}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: policy-csr-requester}
rules:
- apiGroups: [certificates.k8s.io]
  resources: [certificatesigningrequests]
  verbs: [get, list, watch, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: policy-csr-requester-alice}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: policy-csr-requester}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-identity, namespace: team}
rules:
- apiGroups: [policy.cert-manager.io]
  resources: [certificaterequestpolicies]
  verbs: [use]
  resourceNames: [team-leaves, team-pods]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-identity, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-identity}
subjects:
- {kind: ServiceAccount, name: web, namespace: team}
`

// teamLeaves is the policy: namespace team may get *.team.svc leaf
// certificates from Issuer ca.
const teamLeaves = `apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: team-leaves}
spec:
  allowed:
    dnsNames: {values: ["*.team.svc"]}
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  selector:
    issuerRef: {name: ca}
    namespace: {matchNames: [team]}
`

// policies are the other policies of TestPolicies: a CEL validation on
// Issuer validated, constraints on Issuer strict, and a wildcard selector
// for the ClusterIssuers whose names start with c, in the namespaces
// apps-*.
const policies = `apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: team-cel}
spec:
  allowed:
    dnsNames:
      validations:
      - rule: "self.endsWith('.' + cr.namespace + '.svc')"
        message: names must end in .<namespace>.svc
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  selector:
    issuerRef: {name: validated}
    namespace: {matchNames: [team]}
---
apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: team-strict}
spec:
  allowed:
    dnsNames: {values: ["*.team.svc"]}
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  constraints:
    maxDuration: 24h
    privateKey: {algorithm: ECDSA, minSize: 256}
  selector:
    issuerRef: {name: strict}
    namespace: {matchNames: [team]}
---
apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: apps-wild}
spec:
  allowed:
    dnsNames: {values: ["*.apps.example"]}
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  selector:
    issuerRef: {name: "c*", kind: ClusterIssuer}
    namespace: {matchNames: ["apps-*"]}
`

var (
	asAlice = []string{"--as", "alice"}
	asBob   = []string{"--as", "bob"}
)

// createAs creates the objects of yaml with kubectl as the user of the
// impersonation arguments as (none: the admin).
func createAs(t *testing.T, kubeconfig, yaml string, as ...string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "policy-manifest")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	f := filepath.Join(dir, "manifest.yaml")
	writeFile(t, f, yaml)
	if r := kubectl(t, kubeconfig, append([]string{"create", "-f", f}, as...)...); r.code != 0 {
		t.Fatalf("kubectl create %v: exit %d: %s\n%s", as, r.code, r.stderr, yaml)
	}
}

// policyCertificate is a Certificate in namespace ns from issuerRef, with
// an ECDSA key unless spec says otherwise; spec is YAML indented for spec.
func policyCertificate(ns, name, issuerRef, spec string) string {
	return fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %s, namespace: %s}
spec:
  secretName: %s-tls
  issuerRef: %s
%s`, name, ns, name, issuerRef, spec)
}

// waitDenied waits for the Certificate to be refused and returns its Ready
// condition as readyOf shows it.
func waitDenied(t *testing.T, kubeconfig, ns, name string) string {
	t.Helper()
	var got string
	waitFor(t, 60*time.Second, "Certificate "+ns+"/"+name+" to be Denied", func() bool {
		got = readyOf(t, kubeconfig, ns, name)
		return strings.HasPrefix(got, "False Denied: ")
	})
	return got
}

// assertNothingIssued checks that a refused Certificate got no Secret and
// its Issuing condition says why.
func assertNothingIssued(t *testing.T, kubeconfig, ns, name string) {
	t.Helper()
	if r := kubectl(t, kubeconfig, "get", "secret", name+"-tls", "-n", ns); r.code == 0 {
		t.Errorf("a Secret was written for the denied Certificate %s/%s", ns, name)
	}
	if got := certField(t, kubeconfig, ns, name, `{.status.conditions[?(@.type=="Issuing")].status} {.status.conditions[?(@.type=="Issuing")].reason}`); got != "False Denied" {
		t.Errorf("%s/%s Issuing = %q, want False Denied", ns, name, got)
	}
	if got := certField(t, kubeconfig, ns, name, "{.status.revision}"); got != "" {
		t.Errorf("%s/%s has revision %s: something was issued", ns, name, got)
	}
}

// policyRequest is a PEM PKCS#10 request for the DNS names, with an empty
// subject and a new P-256 key.
func policyRequest(t *testing.T, dnsNames ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: dnsNames}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// teamCRCondition is "status reason: message" of a team CertificateRequest's
// condition typ.
func teamCRCondition(t *testing.T, kubeconfig, name, typ string) string {
	t.Helper()
	c := `{.status.conditions[?(@.type=="` + typ + `")]`
	return mustKubectl(t, kubeconfig, "get", "certificaterequest", name, "-n", "team", "-o", "jsonpath="+c+`.status} `+c+`.reason}: `+c+`.message}`)
}

// csrConditionOf is "reason: message" of a CSR's condition typ.
func csrConditionOf(t *testing.T, kubeconfig, name, typ string) string {
	t.Helper()
	c := `{.status.conditions[?(@.type=="` + typ + `")]`
	return mustKubectl(t, kubeconfig, "get", "csr", name, "-o", "jsonpath="+c+`.reason}: `+c+`.message}`)
}

// waitPolicyReady waits for the policies' Ready=True, which the controller
// writes once they are in force.
func waitPolicyReady(t *testing.T, kubeconfig string, names ...string) {
	t.Helper()
	args := []string{"wait", "--for=condition=Ready", "--timeout=60s"}
	for _, n := range names {
		args = append(args, "certificaterequestpolicy/"+n)
	}
	mustKubectl(t, kubeconfig, args...)
}

// TestPolicies: approver-policy's CertificateRequestPolicies, bound to
// requesters with RBAC, decide what certplane issues on every path (in
// process Certificates, CertificateRequests, CSRs, PodCertificateRequests),
// as a user checks it with kubectl.
func TestPolicies(t *testing.T) {
	data, port := t.TempDir(), freePort(t)
	up := startUp(t, data, port)
	admin := filepath.Join(data, "admin.conf")
	mustApply(t, admin, policyCluster)
	mustApply(t, admin, teamLeaves+"---\n"+policies)
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team", "certificate/team-ca", "issuer/ca", "issuer/validated", "issuer/strict")
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "cert-manager", "certificate/corp-root")
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "clusterissuer/corp-ca", "clusterissuer/dev-ca")
	waitPolicyReady(t, admin, "team-leaves", "team-cel", "team-strict", "apps-wild")
	if got := mustKubectl(t, admin, "get", "certificaterequestpolicy", "team-leaves", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`); got == "" {
		t.Error("team-leaves' Ready condition has no reason")
	}
	// RBAC takes effect in the apiserver a moment after it is written;
	// nothing is requested before, so no SubjectAccessReview answer from
	// before it is cached.
	for _, who := range [][]string{asAlice, {"--as", "system:serviceaccount:team:web"}} {
		waitFor(t, 30*time.Second, fmt.Sprintf("%v's RBAC", who), func() bool {
			r := kubectl(t, admin, append([]string{"auth", "can-i", "use", "certificaterequestpolicies.policy.cert-manager.io/team-leaves", "-n", "team"}, who...)...)
			return strings.TrimSpace(r.stdout) == "yes"
		})
	}
	if r := kubectl(t, admin, append([]string{"auth", "can-i", "use", "certificaterequestpolicies.policy.cert-manager.io/team-leaves", "-n", "team"}, asBob...)...); strings.TrimSpace(r.stdout) != "no" {
		t.Fatalf("bob may use team-leaves: %q", r.stdout)
	}
	teamCA, err := pki.ParseCertificatesPEM(secretData(t, admin, "team", "team-ca", "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	teamCAFile := filepath.Join(t.TempDir(), "team-ca.pem")
	writeFile(t, teamCAFile, string(pki.EncodeCertificatesPEM(teamCA[0])))
	const wwwDenied = `No policy approved this request: [team-leaves: spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]: *.team.svc]`

	t.Run("the issue's attack is refused and allowed names issue", func(t *testing.T) {
		createAs(t, admin, policyCertificate("team", "web", "{name: ca}", "  dnsNames: [web.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		createAs(t, admin, policyCertificate("team", "www", "{name: ca}", "  dnsNames: [www.google.com]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		createAs(t, admin, policyCertificate("team", "sub-ca", "{name: ca}", "  isCA: true\n  dnsNames: [sub.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)

		waitCertificate(t, admin, "team", "web", 1)
		leaf := leafOf(t, admin, "team", "web-tls")
		if !slices.Equal(leaf.DNSNames, []string{"web.team.svc"}) || leaf.CheckSignatureFrom(teamCA[0]) != nil {
			t.Errorf("web-tls holds %v, signed by the team CA: %v", leaf.DNSNames, leaf.CheckSignatureFrom(teamCA[0]))
		}
		if got := certField(t, admin, "team", "web", `{.metadata.annotations.certplane\.io/requester}`); got != "alice" {
			t.Errorf("web's recorded requester is %q, want alice", got)
		}

		if got := waitDenied(t, admin, "team", "www"); got != "False Denied: "+wwwDenied {
			t.Errorf("www Ready = %q, want False Denied: %s", got, wwwDenied)
		}
		assertNothingIssued(t, admin, "team", "www")
		desc := mustKubectl(t, admin, "describe", "certificate", "www", "-n", "team")
		for _, want := range []string{"Reason:", "Denied", "Message:", wwwDenied} {
			if !strings.Contains(desc, want) {
				t.Errorf("kubectl describe certificate www lacks %q:\n%s", want, desc)
			}
		}

		got := waitDenied(t, admin, "team", "sub-ca")
		if !strings.HasPrefix(got, "False Denied: No policy approved this request: [team-leaves: ") || !strings.Contains(got, "spec.allowed.isCA: Invalid value: true") {
			t.Errorf("sub-ca Ready = %q, want Denied by team-leaves for isCA", got)
		}
		assertNothingIssued(t, admin, "team", "sub-ca")
	})

	t.Run("a policy the requester may not use does not apply", func(t *testing.T) {
		createAs(t, admin, policyCertificate("team", "bob-web", "{name: ca}", "  dnsNames: [bob.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asBob...)
		createAs(t, admin, policyCertificate("team", "bob-www", "{name: ca}", "  dnsNames: [www.google.com]\n  privateKey: {algorithm: ECDSA}\n"), asBob...)
		// team-leaves selects both and would allow bob-web, but bob is not
		// bound to it; what it allows stays hidden from him.
		const want = "False Denied: No policy approved this request: [team-leaves: not bound to the requester]"
		for _, name := range []string{"bob-web", "bob-www"} {
			if got := waitDenied(t, admin, "team", name); got != want {
				t.Errorf("%s Ready = %q, want %q", name, got, want)
			}
			assertNothingIssued(t, admin, "team", name)
		}
		if got := certField(t, admin, "team", "bob-web", `{.metadata.annotations.certplane\.io/requester}`); got != "bob" {
			t.Errorf("bob-web's recorded requester is %q, want bob", got)
		}

		// Nor can bob claim to be alice: the apiserver records who asked.
		createAs(t, admin, strings.Replace(policyCertificate("team", "bob-claims-alice", "{name: ca}", "  dnsNames: [claim.team.svc]\n  privateKey: {algorithm: ECDSA}\n"),
			"namespace: team}", "namespace: team, annotations: {certplane.io/requester: alice, certplane.io/requester-groups: system:masters}}", 1), asBob...)
		if got := waitDenied(t, admin, "team", "bob-claims-alice"); got != want {
			t.Errorf("bob-claims-alice Ready = %q, want %q", got, want)
		}
		assertNothingIssued(t, admin, "team", "bob-claims-alice")
		if got := certField(t, admin, "team", "bob-claims-alice", `{.metadata.annotations.certplane\.io/requester} {.metadata.annotations.certplane\.io/requester-groups}`); got != "bob system:authenticated" {
			t.Errorf("bob-claims-alice's recorded requester is %q, want bob system:authenticated", got)
		}
	})

	t.Run("a CEL validation", func(t *testing.T) {
		createAs(t, admin, policyCertificate("team", "db", "{name: validated}", "  dnsNames: [db.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		createAs(t, admin, policyCertificate("team", "db-other", "{name: validated}", "  dnsNames: [db.team.svc, db.other.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		waitCertificate(t, admin, "team", "db", 1)
		if l := leafOf(t, admin, "team", "db-tls"); !slices.Equal(l.DNSNames, []string{"db.team.svc"}) {
			t.Errorf("db-tls names %v", l.DNSNames)
		}
		const want = `False Denied: No policy approved this request: [team-cel: spec.allowed.dnsNames.validations[0]: Invalid value: "db.other.svc": names must end in .<namespace>.svc]`
		if got := waitDenied(t, admin, "team", "db-other"); got != want {
			t.Errorf("db-other Ready = %q, want %q", got, want)
		}
		assertNothingIssued(t, admin, "team", "db-other")
	})

	t.Run("maxDuration and privateKey constraints", func(t *testing.T) {
		createAs(t, admin, policyCertificate("team", "short", "{name: strict}", "  dnsNames: [short.team.svc]\n  duration: 12h\n  privateKey: {algorithm: ECDSA, size: 384}\n"), asAlice...)
		denied := map[string]struct{ spec, want string }{
			"long":      {"  dnsNames: [long.team.svc]\n  duration: 48h\n  privateKey: {algorithm: ECDSA}\n", `spec.constraints.maxDuration: Invalid value: "48h0m0s": 24h0m0s`},
			"unbounded": {"  dnsNames: [unbounded.team.svc]\n  privateKey: {algorithm: ECDSA}\n", `spec.constraints.maxDuration: Invalid value: "2160h0m0s": 24h0m0s`},
			"rsa":       {"  dnsNames: [rsa.team.svc]\n  duration: 12h\n  privateKey: {algorithm: RSA, size: 2048}\n", `spec.constraints.privateKey.algorithm: Invalid value: "RSA": ECDSA`},
		}
		for name, d := range denied {
			createAs(t, admin, policyCertificate("team", name, "{name: strict}", d.spec), asAlice...)
		}
		waitCertificate(t, admin, "team", "short", 1)
		l := leafOf(t, admin, "team", "short-tls")
		if v := l.NotAfter.Sub(l.NotBefore); v > 12*time.Hour+10*time.Minute {
			t.Errorf("short is valid for %s, more than its 12h", v)
		}
		if pub, ok := l.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P384() {
			t.Errorf("short's key is %T, want ECDSA P-384", l.PublicKey)
		}
		for name, d := range denied {
			if got := waitDenied(t, admin, "team", name); got != "False Denied: No policy approved this request: [team-strict: "+d.want+"]" {
				t.Errorf("%s Ready = %q, want Denied by team-strict: %s", name, got, d.want)
			}
			assertNothingIssued(t, admin, "team", name)
		}
	})

	t.Run("wildcard issuer and namespace selectors", func(t *testing.T) {
		clusterIssuer := "{name: %s, kind: ClusterIssuer, group: cert-manager.io}"
		for _, c := range []struct{ ns, name, issuer, dns string }{
			{"apps-1", "a1", "corp-ca", "a1.apps.example"},
			{"apps-2", "evil", "corp-ca", "evil.example"},
			// Not selected: namespace web is not apps-*, dev-ca is not c*.
			{"web", "evil", "corp-ca", "evil.example"},
			{"apps-1", "evil-dev", "dev-ca", "evil.example"},
		} {
			createAs(t, admin, policyCertificate(c.ns, c.name, fmt.Sprintf(clusterIssuer, c.issuer), "  dnsNames: ["+c.dns+"]\n  privateKey: {algorithm: ECDSA}\n"))
		}
		waitCertificate(t, admin, "apps-1", "a1", 1)
		const want = `False Denied: No policy approved this request: [apps-wild: spec.allowed.dnsNames.values: Invalid value: ["evil.example"]: *.apps.example]`
		if got := waitDenied(t, admin, "apps-2", "evil"); got != want {
			t.Errorf("apps-2/evil Ready = %q, want %q", got, want)
		}
		assertNothingIssued(t, admin, "apps-2", "evil")
		// Without --require-policy, what no policy selects is issued as
		// before.
		waitCertificate(t, admin, "web", "evil", 1)
		waitCertificate(t, admin, "apps-1", "evil-dev", 1)
	})

	t.Run("the same policy on every path", func(t *testing.T) {
		t.Run("CertificateRequest", func(t *testing.T) {
			for name, dns := range map[string]string{"cr-web": "web.team.svc", "cr-www": "www.google.com"} {
				createAs(t, admin, fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: %s, namespace: team}
spec:
  request: %s
  usages: [digital signature, key encipherment, server auth]
  issuerRef: {name: ca, kind: Issuer, group: cert-manager.io}
`, name, base64.StdEncoding.EncodeToString(policyRequest(t, dns))), asAlice...)
			}
			waitFor(t, 60*time.Second, "cr-web to be issued", func() bool {
				return strings.HasPrefix(teamCRCondition(t, admin, "cr-web", "Ready"), "True Issued")
			})
			if got := teamCRCondition(t, admin, "cr-web", "Approved"); got != `True policy.cert-manager.io: Approved by CertificateRequestPolicy: "team-leaves"` {
				t.Errorf("cr-web Approved = %q", got)
			}
			if got := mustKubectl(t, admin, "get", "certificaterequest", "cr-web", "-n", "team", "-o", "jsonpath={.spec.username}"); got != "alice" {
				t.Errorf("cr-web's requester is %q", got)
			}
			crt, err := base64.StdEncoding.DecodeString(mustKubectl(t, admin, "get", "certificaterequest", "cr-web", "-n", "team", "-o", "jsonpath={.status.certificate}"))
			if err != nil {
				t.Fatal(err)
			}
			if certs, err := pki.ParseCertificatesPEM(crt); err != nil || !slices.Equal(certs[0].DNSNames, []string{"web.team.svc"}) || certs[0].CheckSignatureFrom(teamCA[0]) != nil {
				t.Errorf("cr-web's certificate: %v", err)
			}

			var got string
			waitFor(t, 60*time.Second, "cr-www to be denied", func() bool {
				got = teamCRCondition(t, admin, "cr-www", "Denied")
				return strings.HasPrefix(got, "True")
			})
			if got != "True policy.cert-manager.io: "+wwwDenied {
				t.Errorf("cr-www Denied = %q, want True policy.cert-manager.io: %s", got, wwwDenied)
			}
			if c := teamCRCondition(t, admin, "cr-www", "Approved"); c != " : " {
				t.Errorf("cr-www also has Approved %q", c)
			}
			if c := mustKubectl(t, admin, "get", "certificaterequest", "cr-www", "-n", "team", "-o", "jsonpath={.status.certificate}"); c != "" {
				t.Error("the denied cr-www holds a certificate")
			}
			if desc := mustKubectl(t, admin, "describe", "certificaterequest", "cr-www", "-n", "team"); !strings.Contains(desc, wwwDenied) {
				t.Errorf("kubectl describe certificaterequest cr-www lacks the policy message:\n%s", desc)
			}
		})

		t.Run("CertificateSigningRequest", func(t *testing.T) {
			usages := []string{"digital signature", "key encipherment", "server auth"}
			for name, dns := range map[string]string{"policy-web": "web.team.svc", "policy-www": "www.google.com"} {
				r := issuerRequest{name: name, signer: "issuers.cert-manager.io/team.ca", request: policyRequest(t, dns), usages: usages}
				createAs(t, admin, r.yaml(), asAlice...)
			}
			waitIssued(t, admin, "policy-web")
			if got := csrConditionOf(t, admin, "policy-web", "Approved"); got != `CertificateRequestPolicy: Approved by CertificateRequestPolicy: "team-leaves"` {
				t.Errorf("policy-web Approved = %q", got)
			}
			dir := t.TempDir()
			if out := openssl(t, dir, "verify", "-CAfile", teamCAFile, fetchCertificate(t, admin, dir, "policy-web")); !strings.Contains(out, "OK") {
				t.Errorf("policy-web's certificate: %s", out)
			}
			waitFor(t, 60*time.Second, "policy-www to be denied", func() bool {
				return strings.Contains(mustKubectl(t, admin, "get", "csr", "policy-www", "-o", "jsonpath={.status.conditions[*].type}"), "Denied")
			})
			if got := csrConditionOf(t, admin, "policy-www", "Denied"); got != "CertificateRequestPolicy: "+wwwDenied {
				t.Errorf("policy-www Denied = %q, want CertificateRequestPolicy: %s", got, wwwDenied)
			}
			if conds, _, issued := csrStatus(t, admin, "policy-www"); conds != "Denied" || issued {
				t.Errorf("policy-www: conditions %q, issued %v", conds, issued)
			}
		})

		t.Run("PodCertificateRequest", func(t *testing.T) {
			// The pod's certificate carries its SPIFFE ID: team-leaves
			// allows no URIs.
			r := newPodCertRequest(t, "pod-refused", "team", "issuers.cert-manager.io/team.ca")
			r.create(t, admin)
			const want = `Denied PolicyDenied: No policy approved this request: [team-leaves: spec.allowed.uris: Invalid value: ["spiffe://cluster.local/ns/team/sa/web"]: no allowed values]`
			if got := waitPCRCondition(t, admin, "team", "pod-refused"); got != want {
				t.Errorf("pod-refused: %q, want %q", got, want)
			}
			if chain := pcrField(t, admin, "team", "pod-refused", "{.status.certificateChain}"); chain != "" {
				t.Error("a denied PodCertificateRequest holds a certificate")
			}

			// A policy for the team's pod identities lets the next one
			// through.
			mustApply(t, admin, `apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: team-pods}
spec:
  allowed:
    uris: {values: ["spiffe://cluster.local/ns/team/sa/*"]}
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  selector:
    issuerRef: {name: ca}
    namespace: {matchNames: [team]}
`)
			t.Cleanup(func() { kubectl(t, admin, "delete", "certificaterequestpolicy", "team-pods", "--wait") })
			waitPolicyReady(t, admin, "team-pods")
			ok := newPodCertRequest(t, "pod-allowed", "team", "issuers.cert-manager.io/team.ca")
			ok.create(t, admin)
			if got := waitPCRCondition(t, admin, "team", "pod-allowed"); !strings.HasPrefix(got, "Issued") {
				t.Fatalf("pod-allowed: %q, want Issued", got)
			}
			checkIssuedPodCertificate(t, admin, ok, teamCAFile)
		})
	})

	t.Run("a policy edit takes effect for the denied Certificate", func(t *testing.T) {
		mustApply(t, admin, strings.Replace(teamLeaves, `["*.team.svc"]`, `["*.team.svc", "www.google.com"]`, 1))
		waitCertificate(t, admin, "team", "www", 1)
		if l := leafOf(t, admin, "team", "www-tls"); !slices.Equal(l.DNSNames, []string{"www.google.com"}) || l.CheckSignatureFrom(teamCA[0]) != nil {
			t.Errorf("www-tls holds %v", l.DNSNames)
		}
		// bob is still not bound to it.
		if got := readyOf(t, admin, "team", "bob-www"); got != "False Denied: No policy approved this request: [team-leaves: not bound to the requester]" {
			t.Errorf("bob-www after the edit: %q", got)
		}
		assertNothingIssued(t, admin, "team", "bob-www")
		// A new request is decided by the edited policy.
		createAs(t, admin, policyCertificate("team", "www-again", "{name: ca}", "  dnsNames: [www.google.com, again.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		waitCertificate(t, admin, "team", "www-again", 1)
	})

	t.Run("a restart issues nothing the policies refuse", func(t *testing.T) {
		// The denied Certificates are looked at again when the controllers
		// start: the policies must be in force by then. At the time of
		// writing they are not always: the Certificate controller starts
		// beside the CertificateRequestPolicy reconciler, and the Gate
		// (internal/controller/policy/gate.go, Decide) answers "no policy
		// selects" while the registry is still empty or partly filled, so
		// policyDenies (certificate_controller.go) lets the issuance through
		// and this subtest fails in most runs.
		denied := [][2]string{{"team", "bob-web"}, {"team", "bob-www"}, {"team", "bob-claims-alice"}, {"team", "sub-ca"}, {"team", "db-other"}, {"team", "long"}, {"team", "rsa"}, {"team", "unbounded"}, {"apps-2", "evil"}}
		up.stop(t)
		up = startUp(t, data, port)
		// Certificates made after the restart are decided after those
		// listed at start.
		createAs(t, admin, policyCertificate("team", "after-restart", "{name: ca}", "  dnsNames: [after.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		createAs(t, admin, policyCertificate("team", "after-restart-bad", "{name: ca}", "  dnsNames: [login.microsoftonline.com]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
		waitCertificate(t, admin, "team", "after-restart", 1)
		if got := waitDenied(t, admin, "team", "after-restart-bad"); !strings.Contains(got, "[team-leaves: spec.allowed.dnsNames.values") {
			t.Errorf("after-restart-bad Ready = %q", got)
		}
		for _, c := range denied {
			if got := readyOf(t, admin, c[0], c[1]); !strings.HasPrefix(got, "False Denied: No policy approved this request: [") {
				t.Errorf("%s/%s after the restart: Ready %q, want still Denied", c[0], c[1], got)
			}
			if r := kubectl(t, admin, "get", "secret", c[1]+"-tls", "-n", c[0]); r.code == 0 {
				t.Errorf("%s/%s: a Secret was issued after the restart for a Certificate the policies refuse", c[0], c[1])
			}
		}
	})
}

// TestPolicyRequired: under `up --require-policy` nothing that no
// CertificateRequestPolicy selects is issued, on the Certificate,
// CertificateRequest and PodCertificateRequest paths; a policy that
// appears lets the waiting Certificate through.
func TestPolicyRequired(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t), "--require-policy")
	admin := filepath.Join(data, "admin.conf")
	mustApply(t, admin, `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
`)
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "clusterissuer/selfsigned")
	createAs(t, admin, policyCertificate("team", "lone", "{name: selfsigned, kind: ClusterIssuer}", "  dnsNames: [lone.team.svc]\n  privateKey: {algorithm: ECDSA}\n"))
	createAs(t, admin, `apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: lone-cr, namespace: team}
spec:
  request: `+base64.StdEncoding.EncodeToString(policyRequest(t, "cr.team.svc"))+`
  issuerRef: {name: selfsigned, kind: ClusterIssuer, group: cert-manager.io}
`)
	newPodCertRequest(t, "lone-pod", "team", "certplane.io/spiffe").create(t, admin)

	if got := waitDenied(t, admin, "team", "lone"); got != "False Denied: No CertificateRequestPolicy selects this request" {
		t.Errorf("lone Ready = %q", got)
	}
	assertNothingIssued(t, admin, "team", "lone")
	var got string
	waitFor(t, 60*time.Second, "lone-cr to be denied", func() bool {
		got = teamCRCondition(t, admin, "lone-cr", "Denied")
		return strings.HasPrefix(got, "True")
	})
	if got != "True policy.cert-manager.io: No CertificateRequestPolicy selects this request" {
		t.Errorf("lone-cr Denied = %q", got)
	}
	if got := waitPCRCondition(t, admin, "team", "lone-pod"); got != "Denied PolicyDenied: No CertificateRequestPolicy selects this request" {
		t.Errorf("lone-pod: %q", got)
	}

	// A policy that selects lone, and that the admin who made it may use,
	// lets it through.
	mustApply(t, admin, `apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: team-selfsigned}
spec:
  allowed:
    dnsNames: {values: ["*.team.svc"]}
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  selector:
    issuerRef: {name: selfsigned, kind: ClusterIssuer}
    namespace: {matchNames: [team]}
`)
	waitCertificate(t, admin, "team", "lone", 1)
	if l := leafOf(t, admin, "team", "lone-tls"); !slices.Equal(l.DNSNames, []string{"lone.team.svc"}) {
		t.Errorf("lone-tls names %v", l.DNSNames)
	}
}
