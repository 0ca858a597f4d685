package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// secretData reads one key of a Secret's data, decoded.
func secretData(t *testing.T, kubeconfig, ns, name, key string) []byte {
	t.Helper()
	enc := mustKubectl(t, kubeconfig, "get", "secret", name, "-n", ns, "-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("secret %s/%s %s: %v", ns, name, key, err)
	}
	return b
}

// certField reads a Certificate's field by JSONPath, "" when unset.
func certField(t *testing.T, kubeconfig, ns, name, path string) string {
	t.Helper()
	r := kubectl(t, kubeconfig, "get", "certificate", name, "-n", ns, "-o", "jsonpath="+path)
	if r.code != 0 {
		return ""
	}
	return r.stdout
}

func readyOf(t *testing.T, kubeconfig, ns, name string) string {
	t.Helper()
	return certField(t, kubeconfig, ns, name, `{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`)
}

func waitCertificate(t *testing.T, kubeconfig, ns, name string, revision int) {
	t.Helper()
	waitFor(t, 90*time.Second, fmt.Sprintf("Certificate %s/%s to be Ready at revision %d", ns, name, revision), func() bool {
		rev, _ := strconv.Atoi(certField(t, kubeconfig, ns, name, "{.status.revision}"))
		return rev >= revision && strings.HasPrefix(readyOf(t, kubeconfig, ns, name), "True")
	})
}

// leafOf parses tls.crt of a Secret and checks that tls.key belongs to it.
func leafOf(t *testing.T, kubeconfig, ns, secret string) *x509.Certificate {
	t.Helper()
	chain, err := pki.ParseCertificatesPEM(secretData(t, kubeconfig, ns, secret, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParsePrivateKeyPEM(secretData(t, kubeconfig, ns, secret, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !pki.KeyMatches(chain[0].PublicKey, key) {
		t.Fatalf("secret %s/%s holds a key that does not match its certificate", ns, secret)
	}
	return chain[0]
}

// TestCertificates: the seed 000 bootstrap chain, applied with kubectl,
// issues every Secret; services use them for mTLS; the Secrets follow the
// spec, come back when deleted, and renew without any restart.
func TestCertificates(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	chain := bootstrapChain + `---
apiVersion: v1
kind: Secret
metadata:
  name: keystore-password
  namespace: sandbox
stringData:
  password: s3cret-p12
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: service-b
  namespace: sandbox
spec:
  secretName: service-b-tls
  commonName: service-b.sandbox.svc
  dnsNames: [service-b.sandbox.svc]
  usages: [client auth, server auth]
  privateKey: {algorithm: ECDSA, rotationPolicy: Never}
  issuerRef: {name: my-ca-issuer, kind: Issuer}
`
	writeFile(t, filepath.Join(dir, "chain.yaml"), chain)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "chain.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "sandbox", "certificate/my-selfsigned-ca", "certificate/service-a", "certificate/service-b")

	// The CA Secret: self-signed, ca.crt is itself.
	caPEM := secretData(t, admin, "sandbox", "root-secret", "tls.crt")
	if got := secretData(t, admin, "sandbox", "root-secret", "ca.crt"); string(got) != string(caPEM) {
		t.Error("root-secret's ca.crt is not its own certificate")
	}
	if got := mustKubectl(t, admin, "get", "secret", "root-secret", "-n", "sandbox", "-o", `jsonpath={.metadata.annotations.cert-manager\.io/issuer-group}`); got != "cert-manager.io" {
		t.Errorf("root-secret's issuer-group = %q, want cert-manager.io as its issuerRef says", got)
	}
	caCert := leafOf(t, admin, "sandbox", "root-secret")
	if !caCert.IsCA || caCert.Subject.CommonName != "my-selfsigned-ca" {
		t.Errorf("root-secret holds %s (CA %v)", caCert.Subject, caCert.IsCA)
	}

	t.Run("service Secret as cert-manager writes it", func(t *testing.T) {
		for k, v := range map[string]string{
			"{.type}":                "kubernetes.io/tls",
			"{.metadata.labels.app}": "service-a",
			`{.metadata.annotations.cert-manager\.io/certificate-name}`: "service-a",
			`{.metadata.annotations.cert-manager\.io/issuer-name}`:      "my-ca-issuer",
			`{.metadata.annotations.cert-manager\.io/issuer-kind}`:      "Issuer",
			// service-a's issuerRef has no group: cert-manager writes it as written.
			`{.metadata.annotations.cert-manager\.io/issuer-group}`:          "",
			`{.metadata.annotations.cert-manager\.io/common-name}`:           "service-a.sandbox.svc",
			`{.metadata.annotations.cert-manager\.io/alt-names}`:             "service-a,service-a.sandbox.svc,service-a.sandbox.svc.cluster.local",
			`{.metadata.annotations.cert-manager\.io/ip-sans}`:               "10.96.0.10",
			`{.metadata.annotations.cert-manager\.io/subject-organizations}`: "example",
		} {
			if got := mustKubectl(t, admin, "get", "secret", "service-a-tls", "-n", "sandbox", "-o", "jsonpath="+k); got != v {
				t.Errorf("service-a-tls %s = %q, want %q", k, got, v)
			}
		}
		sdir := t.TempDir()
		for _, k := range []string{"tls.crt", "tls.key", "ca.crt", "keystore.p12", "truststore.p12", "tls-combined.pem"} {
			writeFile(t, filepath.Join(sdir, k), string(secretData(t, admin, "sandbox", "service-a-tls", k)))
		}
		if out := openssl(t, sdir, "verify", "-CAfile", "ca.crt", "tls.crt"); !strings.Contains(out, "tls.crt: OK") {
			t.Errorf("openssl verify: %s", out)
		}
		if certs, _ := pki.ParseCertificatesPEM(secretData(t, admin, "sandbox", "service-a-tls", "tls.crt")); len(certs) != 1 {
			t.Errorf("tls.crt holds %d certificates; a root CA issuer's leaf needs no chain and the root stays out", len(certs))
		}
		if string(secretData(t, admin, "sandbox", "service-a-tls", "ca.crt")) != string(caPEM) {
			t.Error("ca.crt is not the CA's certificate")
		}
		if !strings.HasPrefix(string(secretData(t, admin, "sandbox", "service-a-tls", "tls.key")), "-----BEGIN PRIVATE KEY-----") {
			t.Error("tls.key is not PKCS#8 as spec.privateKey.encoding asks")
		}
		text := openssl(t, sdir, "x509", "-in", "tls.crt", "-noout", "-text")
		for _, want := range []string{"Public-Key: (2048 bit)", "TLS Web Server Authentication, TLS Web Client Authentication", "IP Address:10.96.0.10", "Subject: O = example, CN = service-a.sandbox.svc"} {
			if !strings.Contains(text, want) {
				t.Errorf("openssl x509 -text lacks %q", want)
			}
		}
		// The PKCS#12 keystore opens with the password from its Secret.
		p12 := openssl(t, sdir, "pkcs12", "-in", "keystore.p12", "-passin", "pass:s3cret-p12", "-nokeys")
		if !strings.Contains(p12, "subject=O = example, CN = service-a.sandbox.svc") || !strings.Contains(p12, "issuer=CN = my-selfsigned-ca") {
			t.Errorf("openssl pkcs12:\n%s", p12)
		}
		// Status as cert-manager's.
		for _, f := range []string{"{.status.notBefore}", "{.status.notAfter}", "{.status.renewalTime}"} {
			if _, err := time.Parse(time.RFC3339, certField(t, admin, "sandbox", "service-a", f)); err != nil {
				t.Errorf("status %s: %v", f, err)
			}
		}
		if got := readyOf(t, admin, "sandbox", "service-a"); got != "True Ready: Certificate is up to date and has not expired" {
			t.Errorf("Ready = %q", got)
		}
		if got := certField(t, admin, "sandbox", "service-a", "{.status.revision}"); got != "1" {
			t.Errorf("revision = %q", got)
		}
		// Events are sent asynchronously: wait for the issuance's, then
		// check there is exactly one.
		var events string
		waitFor(t, 30*time.Second, "service-a's Issuing event", func() bool {
			events = mustKubectl(t, admin, "get", "events", "-n", "sandbox", "--field-selector", "involvedObject.name=service-a", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}")
			return strings.Contains(events, "Issuing")
		})
		if strings.Count(events, "Issuing") != 1 {
			t.Errorf("events of service-a: %q, want one Issuing", events)
		}
		if out := mustKubectl(t, admin, "get", "certificates", "-n", "sandbox"); !strings.Contains(out, "service-a          True    service-a-tls") {
			t.Errorf("kubectl get certificates:\n%s", out)
		}
	})

	t.Run("two services complete an mTLS handshake", func(t *testing.T) {
		sdir := t.TempDir()
		for _, s := range []string{"service-a", "service-b"} {
			for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
				writeFile(t, filepath.Join(sdir, s+"-"+k), string(secretData(t, admin, "sandbox", s+"-tls", k)))
			}
		}
		serverPair, err := tls.LoadX509KeyPair(filepath.Join(sdir, "service-a-tls.crt"), filepath.Join(sdir, "service-a-tls.key"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s", r.TLS.PeerCertificates[0].Subject.CommonName)
		}), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		port := ln.Addr().(*net.TCPAddr).Port
		url := fmt.Sprintf("https://service-a.sandbox.svc:%d/", port)
		resolve := fmt.Sprintf("service-a.sandbox.svc:%d:127.0.0.1", port)
		status, body := curl(t, "--resolve", resolve, "--cacert", filepath.Join(sdir, "service-b-ca.crt"),
			"--cert", filepath.Join(sdir, "service-b-tls.crt"), "--key", filepath.Join(sdir, "service-b-tls.key"), url)
		if status != "200" || body != "hello service-b.sandbox.svc" {
			t.Errorf("mTLS with service-b's Secret: %s %q", status, body)
		}
		if status, _ := curl(t, "--resolve", resolve, "--cacert", filepath.Join(sdir, "service-b-ca.crt"), url); status == "200" {
			t.Error("the server accepted a client without a certificate")
		}
	})

	t.Run("changing dnsNames reissues", func(t *testing.T) {
		before := leafOf(t, admin, "sandbox", "service-b-tls")
		mustKubectl(t, admin, "patch", "certificate", "service-b", "-n", "sandbox", "--type", "merge", "-p", `{"spec":{"dnsNames":["service-b.sandbox.svc","b.example"]}}`)
		waitCertificate(t, admin, "sandbox", "service-b", 2)
		after := leafOf(t, admin, "sandbox", "service-b-tls")
		if strings.Join(after.DNSNames, ",") != "service-b.sandbox.svc,b.example" || after.SerialNumber.Cmp(before.SerialNumber) == 0 {
			t.Errorf("after the patch: %v serial %x (was %x)", after.DNSNames, after.SerialNumber, before.SerialNumber)
		}
		if !pki.KeyMatches(after.PublicKey, mustKey(t, admin, "service-b-tls")) || !samePublicKey(before, after) {
			t.Error("rotationPolicy Never did not keep the private key")
		}
	})

	t.Run("a manual renewal, as cmctl renew requests it", func(t *testing.T) {
		rev, _ := strconv.Atoi(certField(t, admin, "sandbox", "service-b", "{.status.revision}"))
		before := leafOf(t, admin, "sandbox", "service-b-tls")
		now := time.Now().UTC().Format(time.RFC3339)
		mustKubectl(t, admin, "patch", "certificate", "service-b", "-n", "sandbox", "--subresource=status", "--type=json", "-p",
			`[{"op":"add","path":"/status/conditions/-","value":{"type":"Issuing","status":"True","reason":"ManuallyTriggered","message":"Certificate re-issuance manually triggered","lastTransitionTime":"`+now+`"}}]`)
		waitCertificate(t, admin, "sandbox", "service-b", rev+1)
		if after := leafOf(t, admin, "sandbox", "service-b-tls"); after.SerialNumber.Cmp(before.SerialNumber) == 0 {
			t.Error("the manual renewal did not issue a new certificate")
		}
		if got := certField(t, admin, "sandbox", "service-b", `{.status.conditions[?(@.type=="Issuing")].status}`); got != "" {
			t.Errorf("Issuing condition left behind: %q", got)
		}
	})

	t.Run("a deleted Secret comes back", func(t *testing.T) {
		before := leafOf(t, admin, "sandbox", "service-a-tls")
		mustKubectl(t, admin, "delete", "secret", "service-a-tls", "-n", "sandbox")
		waitCertificate(t, admin, "sandbox", "service-a", 2)
		after := leafOf(t, admin, "sandbox", "service-a-tls")
		if after.SerialNumber.Cmp(before.SerialNumber) == 0 || samePublicKey(before, after) {
			t.Error("the restored Secret holds the old certificate or key (rotationPolicy Always)")
		}
		if got := mustKubectl(t, admin, "get", "secret", "service-a-tls", "-n", "sandbox", "-o", "jsonpath={.metadata.labels.app}"); got != "service-a" {
			t.Errorf("restored Secret lost its template label: %q", got)
		}
	})

	t.Run("a Secret edited to hold a foreign key is reissued", func(t *testing.T) {
		foreign := base64.StdEncoding.EncodeToString(secretData(t, admin, "sandbox", "service-a-tls", "tls.key"))
		mustKubectl(t, admin, "patch", "secret", "service-b-tls", "-n", "sandbox", "--type", "merge", "-p", `{"data":{"tls.key":"`+foreign+`"}}`)
		waitCertificate(t, admin, "sandbox", "service-b", 4)
		leafOf(t, admin, "sandbox", "service-b-tls") // the pair matches again
	})

	t.Run("a missing Issuer, then the Issuer appears", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "late.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: late, namespace: sandbox}
spec:
  secretName: late-tls
  dnsNames: [late.example]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: late-issuer}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "late.yaml"))
		waitFor(t, 60*time.Second, "late to be not Ready", func() bool {
			return strings.HasPrefix(readyOf(t, admin, "sandbox", "late"), `False DoesNotExist: Issuing certificate as Secret does not exist; waiting for issuer "late-issuer": Issuer "late-issuer" not found`)
		})
		if r := kubectl(t, admin, "get", "secret", "late-tls", "-n", "sandbox"); r.code == 0 {
			t.Error("a Secret exists for a Certificate whose issuer does not")
		}
		writeFile(t, filepath.Join(dir, "late-issuer.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: late-issuer, namespace: sandbox}\nspec:\n  ca: {secretName: root-secret}\n")
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "late-issuer.yaml"))
		waitCertificate(t, admin, "sandbox", "late", 1)
		if l := leafOf(t, admin, "sandbox", "late-tls"); l.CheckSignatureFrom(caCert) != nil {
			t.Error("late-tls is not signed by the CA")
		}
	})

	t.Run("an Issuer whose Secret is not a CA is not Ready and issues nothing", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "leaf-issuer.yaml"), `apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: leaf-issuer, namespace: sandbox}
spec:
  ca: {secretName: service-a-tls}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: from-leaf, namespace: sandbox}
spec:
  secretName: from-leaf-tls
  dnsNames: [x.example]
  issuerRef: {name: leaf-issuer}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "leaf-issuer.yaml"))
		waitFor(t, 60*time.Second, "leaf-issuer to be Ready=False", func() bool {
			out := kubectl(t, admin, "get", "issuer", "leaf-issuer", "-n", "sandbox", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}`).stdout
			return out == "False ErrInvalidKeyPair"
		})
		waitFor(t, 60*time.Second, "from-leaf to say why", func() bool {
			return strings.Contains(readyOf(t, admin, "sandbox", "from-leaf"), "certificate is not a CA")
		})
		if r := kubectl(t, admin, "get", "secret", "from-leaf-tls", "-n", "sandbox"); r.code == 0 {
			t.Error("a non-CA issuer issued a Secret")
		}
	})

	t.Run("an external issuer answers a CertificateRequest", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "ext.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: ext, namespace: sandbox}
spec:
  secretName: ext-tls
  dnsNames: [ext.example]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: acme-corp, kind: CorpIssuer, group: issuers.example.com}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "ext.yaml"))
		// The external issuer's part, played by the test: approve (as an
		// admin may), sign, and report in the request's status.
		var csrPEM []byte
		waitFor(t, 60*time.Second, "CertificateRequest ext-1", func() bool {
			r := kubectl(t, admin, "get", "certificaterequest", "ext-1", "-n", "sandbox", "-o", "jsonpath={.spec.request}")
			if r.code != 0 || r.stdout == "" {
				return false
			}
			var err error
			csrPEM, err = base64.StdEncoding.DecodeString(r.stdout)
			return err == nil
		})
		if got := certField(t, admin, "sandbox", "ext", `{.status.conditions[?(@.type=="Issuing")].status} {.status.nextPrivateKeySecretName}`); !strings.HasPrefix(got, "True ext-") {
			t.Errorf("while the request is pending: Issuing and nextPrivateKeySecretName = %q", got)
		}
		csr, err := pki.ParseCSRPEM(csrPEM)
		if err != nil {
			t.Fatal(err)
		}
		extCA := pkitest.CA(t, "acme corp CA")
		leaf, err := extCA.Issue(rand.Reader, time.Now(), pki.TemplateFromCSR(csr, []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth}), csr.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Format(time.RFC3339)
		status := fmt.Sprintf(`{"status":{"certificate":%q,"ca":%q,"conditions":[{"type":"Approved","status":"True","reason":"test","message":"ok","lastTransitionTime":%q},{"type":"Ready","status":"True","reason":"Issued","message":"signed by acme corp","lastTransitionTime":%q}]}}`,
			base64.StdEncoding.EncodeToString(pki.EncodeCertificatesPEM(leaf)), base64.StdEncoding.EncodeToString(pki.EncodeCertificatesPEM(extCA.Certificate)), now, now)
		mustKubectl(t, admin, "patch", "certificaterequest", "ext-1", "-n", "sandbox", "--subresource=status", "--type=merge", "-p", status)
		waitCertificate(t, admin, "sandbox", "ext", 1)
		got := leafOf(t, admin, "sandbox", "ext-tls") // its key is the one kept for the request
		if got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			t.Error("ext-tls does not hold the external issuer's certificate")
		}
		if string(secretData(t, admin, "sandbox", "ext-tls", "ca.crt")) != string(pki.EncodeCertificatesPEM(extCA.Certificate)) {
			t.Error("ca.crt is not the request's status.ca")
		}
		waitFor(t, 30*time.Second, "the next-key Secret to be deleted", func() bool {
			return mustKubectl(t, admin, "get", "secrets", "-n", "sandbox", "-l", "cert-manager.io/next-private-key=true", "-o", "name") == ""
		})
	})

	t.Run("a missing keystore password waits, then issues", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "jks.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: java, namespace: sandbox}
spec:
  secretName: java-tls
  dnsNames: [java.example]
  privateKey: {algorithm: ECDSA}
  keystores:
    jks: {create: true, passwordSecretRef: {name: jks-password, key: password}}
  issuerRef: {name: my-ca-issuer}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "jks.yaml"))
		waitFor(t, 60*time.Second, "java to wait for its password", func() bool {
			return strings.HasPrefix(readyOf(t, admin, "sandbox", "java"), "False KeystorePasswordUnavailable: ") &&
				strings.Contains(readyOf(t, admin, "sandbox", "java"), `Secret "jks-password" not found`)
		})
		if got := certField(t, admin, "sandbox", "java", "{.status.failedIssuanceAttempts}"); got != "" {
			t.Errorf("a missing password counted as a failed issuance: %s", got)
		}
		mustKubectl(t, admin, "create", "secret", "generic", "jks-password", "-n", "sandbox", "--from-literal=password=changeit")
		waitCertificate(t, admin, "sandbox", "java", 1)
		if ks := secretData(t, admin, "sandbox", "java-tls", "keystore.jks"); len(ks) < 4 || ks[0] != 0xFE || ks[1] != 0xED || ks[2] != 0xFE || ks[3] != 0xED {
			t.Error("keystore.jks is not a Java keystore")
		}
	})

	t.Run("a Secret a user made with their own key is certified, keeping the key", func(t *testing.T) {
		kdir := t.TempDir()
		openssl(t, kdir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "own.key")
		mustKubectl(t, admin, "create", "secret", "generic", "byo-tls", "-n", "sandbox", "--from-file=tls.key="+filepath.Join(kdir, "own.key"))
		writeFile(t, filepath.Join(dir, "byo.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: byo, namespace: sandbox}
spec:
  secretName: byo-tls
  dnsNames: [byo.example]
  privateKey: {algorithm: ECDSA, rotationPolicy: Never}
  issuerRef: {name: my-ca-issuer}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "byo.yaml"))
		waitCertificate(t, admin, "sandbox", "byo", 1)
		leaf := leafOf(t, admin, "sandbox", "byo-tls")
		userPub := openssl(t, kdir, "pkey", "-in", "own.key", "-pubout")
		got, err := pki.MarshalPublicKeyPEM(leaf.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != strings.TrimSpace(userPub) {
			t.Error("the certificate is not for the user's key")
		}
		if typ := mustKubectl(t, admin, "get", "secret", "byo-tls", "-n", "sandbox", "-o", "jsonpath={.type}"); typ != "Opaque" {
			t.Errorf("the Secret's type changed to %q", typ)
		}
	})

	t.Run("a changed secretTemplate updates the Secret without reissuing", func(t *testing.T) {
		rev := certField(t, admin, "sandbox", "service-a", "{.status.revision}")
		serial := leafOf(t, admin, "sandbox", "service-a-tls").SerialNumber
		mustKubectl(t, admin, "patch", "certificate", "service-a", "-n", "sandbox", "--type", "merge", "-p", `{"spec":{"secretTemplate":{"labels":{"app":null,"tier":"web"}}}}`)
		waitFor(t, 60*time.Second, "the Secret's labels to follow the template", func() bool {
			return mustKubectl(t, admin, "get", "secret", "service-a-tls", "-n", "sandbox", "-o", "jsonpath={.metadata.labels.app}|{.metadata.labels.tier}") == "|web"
		})
		if got := certField(t, admin, "sandbox", "service-a", "{.status.revision}"); got != rev || leafOf(t, admin, "sandbox", "service-a-tls").SerialNumber.Cmp(serial) != 0 {
			t.Errorf("a template change reissued the certificate (revision %s, was %s)", got, rev)
		}
	})

	t.Run("a short-lived certificate renews by itself", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "short.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: short, namespace: sandbox}
spec:
  secretName: short-tls
  dnsNames: [short.example]
  duration: 1h
  renewBefore: 59m50s
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: my-ca-issuer}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "short.yaml"))
		waitCertificate(t, admin, "sandbox", "short", 1)
		first := leafOf(t, admin, "sandbox", "short-tls")
		renewal, err := time.Parse(time.RFC3339, certField(t, admin, "sandbox", "short", "{.status.renewalTime}"))
		if err != nil {
			t.Fatal(err)
		}
		if d := first.NotAfter.Sub(renewal); d < 59*time.Minute || d > 59*time.Minute+50*time.Second {
			t.Errorf("renewal %s before expiry, want 59m50s less at most a quarter of the time to renewal", d)
		}
		waitCertificate(t, admin, "sandbox", "short", 2)
		second := leafOf(t, admin, "sandbox", "short-tls")
		if second.SerialNumber.Cmp(first.SerialNumber) == 0 || !second.NotAfter.After(first.NotAfter) {
			t.Error("renewal did not replace the certificate")
		}
		if !time.Now().Before(first.NotAfter) {
			t.Error("renewed only after expiry")
		}
	})
}

func mustKey(t *testing.T, kubeconfig, secret string) crypto.Signer {
	t.Helper()
	k, err := pki.ParsePrivateKeyPEM(secretData(t, kubeconfig, "sandbox", secret, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func samePublicKey(a, b *x509.Certificate) bool {
	pa, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.PublicKey)
}
