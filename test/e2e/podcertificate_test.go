package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// podCertRequest is a PodCertificateRequest as kubelet makes one: an empty
// stub PKCS#10 request signed by the pod's new key.
type podCertRequest struct {
	name, namespace, signer string
	pod, podUID, sa, saUID  string
	node, nodeUID           string
	maxSeconds              int
	annotations             map[string]string
	key                     crypto.Signer
}

func newPodCertRequest(t *testing.T, name, namespace, signer string) *podCertRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &podCertRequest{name: name, namespace: namespace, signer: signer, pod: "web-0", podUID: "uid-pod-" + name, sa: "web", saUID: "uid-sa",
		node: "node-a", nodeUID: "uid-node", maxSeconds: 3600, key: key}
}

func (r *podCertRequest) yaml(t *testing.T) string {
	t.Helper()
	stub, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, r.key)
	if err != nil {
		t.Fatal(err)
	}
	ann := ""
	for k, v := range r.annotations {
		ann += fmt.Sprintf("\n    %s: %q", k, v)
	}
	if ann != "" {
		ann = "\n  unverifiedUserAnnotations:" + ann
	}
	return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: PodCertificateRequest
metadata: {name: %s, namespace: %s}
spec:
  signerName: %s
  podName: %s
  podUID: %s
  serviceAccountName: %s
  serviceAccountUID: %s
  nodeName: %s
  nodeUID: %s
  maxExpirationSeconds: %d
  stubPKCS10Request: %s%s
`, r.name, r.namespace, r.signer, r.pod, r.podUID, r.sa, r.saUID, r.node, r.nodeUID, r.maxSeconds, base64.StdEncoding.EncodeToString(stub), ann)
}

func (r *podCertRequest) create(t *testing.T, kubeconfig string, as ...string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), r.name+".yaml")
	writeFile(t, f, r.yaml(t))
	mustKubectl(t, kubeconfig, append([]string{"create", "-f", f}, as...)...)
}

// pcrCondition is "type reason: message" of the request's one condition,
// once it has one.
func waitPCRCondition(t *testing.T, kubeconfig, namespace, name string) string {
	t.Helper()
	var got string
	waitFor(t, 60*time.Second, "PodCertificateRequest "+namespace+"/"+name+" to get a condition", func() bool {
		got = mustKubectl(t, kubeconfig, "get", "podcertificaterequest", name, "-n", namespace, "-o",
			"jsonpath={.status.conditions[0].type} {.status.conditions[0].reason}: {.status.conditions[0].message}")
		return strings.TrimSpace(got) != ":"
	})
	return got
}

func pcrField(t *testing.T, kubeconfig, namespace, name, path string) string {
	t.Helper()
	return mustKubectl(t, kubeconfig, "get", "podcertificaterequest", name, "-n", namespace, "-o", "jsonpath="+path)
}

// checkIssuedPodCertificate checks an issued request as kubelet and the pod
// would: the chain is for the request's key, verifies against the CA with
// openssl, carries the SPIFFE ID, and the status times are the leaf's and
// inside kube-apiserver's windows.
func checkIssuedPodCertificate(t *testing.T, kubeconfig string, r *podCertRequest, caFile string) *x509.Certificate {
	t.Helper()
	dir := t.TempDir()
	chainPEM := pcrField(t, kubeconfig, r.namespace, r.name, "{.status.certificateChain}")
	writeFile(t, filepath.Join(dir, "chain.pem"), chainPEM)
	chain, err := pki.ParseCertificatesPEM([]byte(chainPEM))
	if err != nil {
		t.Fatalf("certificateChain: %v", err)
	}
	leaf := chain[0]
	if !pki.KeyMatches(leaf.PublicKey, r.key) {
		t.Error("the leaf is not for the request's key")
	}
	wantID := fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", r.namespace, r.sa)
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != wantID || leaf.Subject.CommonName != "" || len(leaf.DNSNames) != 0 {
		t.Errorf("leaf names: URIs %v, CN %q, DNS %v; want only %s", leaf.URIs, leaf.Subject.CommonName, leaf.DNSNames, wantID)
	}
	text := openssl(t, dir, "x509", "-in", "chain.pem", "-noout", "-text")
	for _, want := range []string{"URI:" + wantID, "TLS Web Server Authentication, TLS Web Client Authentication", "Digital Signature"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q", want)
		}
	}
	untrusted := []string{}
	if len(chain) > 1 {
		writeFile(t, filepath.Join(dir, "untrusted.pem"), string(pki.EncodeCertificatesPEM(chain[1:]...)))
		untrusted = []string{"-untrusted", "untrusted.pem"}
	}
	leafOnly := string(pki.EncodeCertificatesPEM(leaf))
	writeFile(t, filepath.Join(dir, "leaf.pem"), leafOnly)
	if out := openssl(t, dir, append(append([]string{"verify", "-CAfile", caFile}, untrusted...), "-purpose", "sslclient", "leaf.pem")...); !strings.Contains(out, "leaf.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	times := pcrField(t, kubeconfig, r.namespace, r.name, "{.status.notBefore} {.status.notAfter} {.status.beginRefreshAt}")
	var nb, na, refresh time.Time
	for i, f := range strings.Fields(times) {
		v, err := time.Parse(time.RFC3339, f)
		if err != nil {
			t.Fatalf("status times %q: %v", times, err)
		}
		*[]*time.Time{&nb, &na, &refresh}[i] = v
	}
	if !nb.Equal(leaf.NotBefore) || !na.Equal(leaf.NotAfter) {
		t.Errorf("status notBefore/notAfter %s/%s, leaf %s/%s", nb, na, leaf.NotBefore, leaf.NotAfter)
	}
	if lifetime := na.Sub(nb); lifetime < time.Hour || lifetime > time.Duration(r.maxSeconds)*time.Second {
		t.Errorf("lifetime %s outside [1h, maxExpirationSeconds]", lifetime)
	}
	if refresh.Before(nb.Add(10*time.Minute)) || refresh.After(na.Add(-10*time.Minute)) {
		t.Errorf("beginRefreshAt %s outside [notBefore+10m, notAfter-10m]", refresh)
	}
	if skew := time.Since(nb); skew < 0 || skew > 5*time.Minute {
		t.Errorf("notBefore %s is %s from now: kube-apiserver wants it within 5 minutes", nb, skew)
	}
	return leaf
}

// TestPodCertificates: certplane signs PodCertificateRequests
// (certificates.k8s.io/v1) as certplane.io/spiffe and as every CA Issuer
// and ClusterIssuer, created as cluster-admin (as the v1.37 conformance
// test does) and as a node through NodeRestriction, without a kubelet.
func TestPodCertificates(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	spiffeCA := filepath.Join(data, "pki", "spiffe-ca.crt")
	mustKubectl(t, admin, "create", "namespace", "shop")
	mustKubectl(t, admin, "create", "namespace", "other")

	t.Run("SPIFFE SVID for a request made as cluster-admin", func(t *testing.T) {
		r := newPodCertRequest(t, "svid", "shop", "certplane.io/spiffe")
		r.create(t, admin)
		if got := waitPCRCondition(t, admin, "shop", "svid"); !strings.HasPrefix(got, "Issued Issued: issued by certplane.io/spiffe") {
			t.Fatalf("condition %q, want Issued", got)
		}
		checkIssuedPodCertificate(t, admin, r, spiffeCA)
	})

	t.Run("unknown user annotations are denied", func(t *testing.T) {
		r := newPodCertRequest(t, "annotated", "shop", "certplane.io/spiffe")
		r.annotations = map[string]string{"example.com/role": "admin"}
		r.create(t, admin)
		if got := waitPCRCondition(t, admin, "shop", "annotated"); got != "Denied InvalidUnverifiedUserAnnotations: signer certplane.io/spiffe does not know the user annotations example.com/role" {
			t.Errorf("condition %q", got)
		}
		if chain := pcrField(t, admin, "shop", "annotated", "{.status.certificateChain}"); chain != "" {
			t.Error("a denied request holds a certificate")
		}
	})

	t.Run("as a node for a pod bound to it", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "node.yaml"), `apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop}
spec:
  nodeName: node-a
  serviceAccountName: web
  automountServiceAccountToken: false
  volumes:
  - name: svid
    projected:
      sources:
      - podCertificate: {signerName: certplane.io/spiffe, keyType: ECDSAP256, credentialBundlePath: credentialbundle.pem}
  containers:
  - name: web
    image: registry.example/web
    volumeMounts: [{name: svid, mountPath: /var/run/svid}]
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "node.yaml"))
		uid := func(kind, ns, name string) string {
			args := []string{"get", kind, name, "-o", "jsonpath={.metadata.uid}"}
			if ns != "" {
				args = append(args, "-n", ns)
			}
			return mustKubectl(t, admin, args...)
		}
		r := newPodCertRequest(t, "from-node", "shop", "certplane.io/spiffe")
		r.podUID, r.saUID, r.nodeUID = uid("pod", "shop", "web-0"), uid("serviceaccount", "shop", "web"), uid("node", "", "node-a")
		asNode := []string{"--as", "system:node:node-a", "--as-group", "system:nodes", "--as-group", "system:authenticated"}
		// NodeRestriction refuses a node that claims another node's pod.
		other := newPodCertRequest(t, "wrong-node", "shop", "certplane.io/spiffe")
		other.podUID, other.saUID, other.nodeUID, other.node = r.podUID, r.saUID, r.nodeUID, "node-b"
		f := filepath.Join(dir, "wrong.yaml")
		writeFile(t, f, other.yaml(t))
		if res := kubectl(t, admin, append([]string{"create", "-f", f}, asNode...)...); res.code == 0 {
			t.Error("node-a created a request in node-b's name")
		}
		r.create(t, admin, asNode...)
		if got := waitPCRCondition(t, admin, "shop", "from-node"); !strings.HasPrefix(got, "Issued") {
			t.Fatalf("condition %q, want Issued", got)
		}
		checkIssuedPodCertificate(t, admin, r, spiffeCA)
		if got := mustKubectl(t, admin, append([]string{"get", "podcertificaterequest", "from-node", "-n", "shop", "-o", "jsonpath={.status.conditions[0].type}"}, asNode...)...); got != "Issued" {
			t.Errorf("the node reads its request's condition as %q", got)
		}
	})

	t.Run("CA Issuers and ClusterIssuers sign for their own namespace", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "issuers.yaml"), `apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: other-ca, namespace: other}
spec:
  isCA: true
  commonName: other-ca
  secretName: other-ca
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: other}
spec: {ca: {secretName: other-ca}}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
		mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "other", "issuer/ca")
		caFile := filepath.Join(dir, "other-ca.pem")
		writeFile(t, caFile, string(secretData(t, admin, "other", "other-ca", "ca.crt")))

		r := newPodCertRequest(t, "from-issuer", "other", "issuers.cert-manager.io/other.ca")
		r.create(t, admin)
		if got := waitPCRCondition(t, admin, "other", "from-issuer"); !strings.HasPrefix(got, "Issued") {
			t.Fatalf("condition %q, want Issued", got)
		}
		checkIssuedPodCertificate(t, admin, r, caFile)

		stranger := newPodCertRequest(t, "stranger", "shop", "issuers.cert-manager.io/other.ca")
		stranger.create(t, admin)
		if got := waitPCRCondition(t, admin, "shop", "stranger"); got != "Denied NamespaceMismatch: signer issuers.cert-manager.io/other.ca serves only namespace other, not shop" {
			t.Errorf("another namespace's Issuer: %q", got)
		}
	})

	t.Run("an Issuer whose CA has expired fails the request", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-48 * time.Hour)
		cert, err := pki.SelfSign(rand.Reader, past, &pki.Template{Subject: pkix.Name{CommonName: "expired-ca"}, IsCA: true, Duration: 24 * time.Hour}, key)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "tls.crt"), string(pki.EncodeCertificatesPEM(cert)))
		if err := os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		mustKubectl(t, admin, "create", "secret", "tls", "expired-ca", "-n", "other", "--cert", filepath.Join(dir, "tls.crt"), "--key", filepath.Join(dir, "tls.key"))
		writeFile(t, filepath.Join(dir, "issuer.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: expired, namespace: other}\nspec: {ca: {secretName: expired-ca}}\n")
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuer.yaml"))
		r := newPodCertRequest(t, "from-expired", "other", "issuers.cert-manager.io/other.expired")
		r.create(t, admin)
		if got := waitPCRCondition(t, admin, "other", "from-expired"); !strings.HasPrefix(got, "Failed IssuerNotReady: Issuer \"other/expired\" is not ready") || !strings.Contains(got, "CA certificate is valid from") {
			t.Errorf("condition %q, want Failed naming the expired CA", got)
		}
	})
}
