package e2e

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// The cfssl request of the kubelet-serving example (seed 004).
const kubeletServingRequest = `{
  "hosts": [
    "my-svc.my-namespace.svc.cluster.local",
    "my-pod.my-namespace.pod.cluster.local",
    "192.0.2.24",
    "10.0.34.2"
  ],
  "CN": "system:node:my-pod.my-namespace.pod.cluster.local",
  "key": {
    "algo": "ecdsa",
    "size": 256
  },
  "names": [
    {
      "O": "system:nodes"
    }
  ]
}`

const caRequest = `{"CN": "certplane test CA", "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "certplane", "C": "KR"}]}`

func TestVersion(t *testing.T) {
	out := must(t, t.TempDir(), "", "version")
	if !strings.HasPrefix(out, "certplane v") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit ") {
		t.Errorf("version printed %q, want version, commit and Go version", out)
	}
}

// TestGenkeySeed runs the seed's "cat <<EOF | cfssl genkey - | cfssljson -bare
// server" as certplane, and openssl checks the result.
func TestGenkeySeed(t *testing.T) {
	dir := t.TempDir()
	out := must(t, dir, kubeletServingRequest, "genkey", "-", "-bare", "server")
	if !strings.Contains(out, "server-key.pem") || !strings.Contains(out, "server.csr") {
		t.Errorf("genkey printed %q", out)
	}
	fi, err := os.Stat(filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("server-key.pem mode %v, want 0600", fi.Mode().Perm())
	}
	text := openssl(t, dir, "req", "-in", "server.csr", "-noout", "-verify", "-text")
	for _, want := range []string{
		"verify OK", "CN = system:node:my-pod.my-namespace.pod.cluster.local", "O = system:nodes",
		"DNS:my-svc.my-namespace.svc.cluster.local", "DNS:my-pod.my-namespace.pod.cluster.local",
		"IP Address:192.0.2.24", "IP Address:10.0.34.2", "id-ecPublicKey", "prime256v1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl req -text lacks %q:\n%s", want, text)
		}
	}
	// openssl reads the key, and it is the CSR's key.
	keyPub := openssl(t, dir, "pkey", "-in", "server-key.pem", "-pubout")
	csrPub := openssl(t, dir, "req", "-in", "server.csr", "-noout", "-pubkey")
	if keyPub != csrPub {
		t.Error("the CSR carries another key than server-key.pem")
	}
}

func TestGencertChainVerifiesWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca-csr.json"), caRequest)
	writeFile(t, filepath.Join(dir, "server-csr.json"), kubeletServingRequest)
	must(t, dir, "", "gencert", "-initca", "ca-csr.json")
	must(t, dir, "", "gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "-profile", "server", "server-csr.json")
	for _, f := range []string{"ca.pem", "ca-key.pem", "ca.csr", "server.pem", "server-key.pem", "server.csr"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if out := openssl(t, dir, "verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "server.pem"); !strings.Contains(out, "server.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	text := openssl(t, dir, "x509", "-in", "server.pem", "-noout", "-text")
	for _, want := range []string{"TLS Web Server Authentication", "Digital Signature", "DNS:my-pod.my-namespace.pod.cluster.local", "IP Address:10.0.34.2", "CA:FALSE"} {
		if !strings.Contains(text, want) {
			t.Errorf("server.pem lacks %q", want)
		}
	}
	if strings.Contains(text, "TLS Web Client Authentication") {
		t.Error("server profile carries client auth")
	}
	caText := openssl(t, dir, "x509", "-in", "ca.pem", "-noout", "-text")
	if !strings.Contains(caText, "CA:TRUE") || !strings.Contains(caText, "Certificate Sign") {
		t.Errorf("ca.pem is not a CA:\n%s", caText)
	}
}

// TestSignsOpenSSLJane signs the request of the seed 001 example, made by
// openssl, with a CA that openssl made too.
func TestSignsOpenSSLJane(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "genrsa", "-out", "jane.key", "2048")
	openssl(t, dir, "req", "-new", "-key", "jane.key", "-subj", "/CN=jane", "-out", "jane.csr")
	openssl(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj", "/CN=openssl-ca",
		"-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.crt")
	must(t, dir, "", "gencert", "--ca", "ca.crt", "--ca-key", "ca.key", "--profile", "client", "--csr", "jane.csr", "--duration", "24h")
	if out := openssl(t, dir, "verify", "-CAfile", "ca.crt", "-purpose", "sslclient", "jane.pem"); !strings.Contains(out, "jane.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	var report pki.Report
	if err := json.Unmarshal([]byte(must(t, dir, "", "inspect", "-o", "json", "jane.pem")), &report); err != nil {
		t.Fatal(err)
	}
	c := report.Certificates[0]
	if c.CommonName != "jane" || c.Issuer != "CN=openssl-ca" || c.KeyAlgorithm != "RSA" ||
		!slices.Equal(c.Usages, []pki.Usage{"digital signature", "key encipherment", "client auth"}) {
		t.Errorf("jane.pem: %+v", c)
	}
	if left := time.Duration(c.SecondsLeft) * time.Second; left < 23*time.Hour || left > 24*time.Hour {
		t.Errorf("jane.pem valid for %s more, want about 24h", left)
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca-csr.json"), caRequest)
	writeFile(t, filepath.Join(dir, "jane-csr.json"), `{"CN":"jane","names":[{"O":"dev"}],"key":{"algo":"rsa","size":2048}}`)
	must(t, dir, "", "gencert", "-initca", "ca-csr.json")
	must(t, dir, "", "gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "-profile", "client", "jane-csr.json")

	text := must(t, dir, "", "inspect", "jane.pem")
	for _, want := range []string{"CN=jane,O=dev", "CN=certplane test CA,O=certplane,C=KR", "client auth", "RSA 2048", "364d 23h left", "SHA-256:"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect jane.pem lacks %q:\n%s", want, text)
		}
	}
	keyText := must(t, dir, "", "inspect", "jane-key.pem")
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "jane-key.pem"))
	if !strings.Contains(keyText, "Private key") || !strings.Contains(keyText, "RSA 2048") {
		t.Errorf("inspect jane-key.pem = %q", keyText)
	}
	assertNoKeyMaterial(t, keyText, keyPEM)
	if csrText := must(t, dir, "", "inspect", "jane.csr"); !strings.Contains(csrText, "Certificate request") || !strings.Contains(csrText, "valid") {
		t.Errorf("inspect jane.csr = %q", csrText)
	}

	// A bundle, read from standard input.
	leaf, _ := os.ReadFile(filepath.Join(dir, "jane.pem"))
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if out := must(t, dir, string(leaf)+string(ca), "inspect", "-"); !strings.Contains(out, "valid, in order") {
		t.Errorf("bundle: %s", out)
	}

	// A kubeconfig with embedded data, as kubeadm writes admin.conf.
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	kubeconfig := "apiVersion: v1\nkind: Config\ncurrent-context: jane@kubernetes\n" +
		"clusters:\n- name: kubernetes\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: " + b64(ca) + "\n" +
		"contexts:\n- name: jane@kubernetes\n  context:\n    cluster: kubernetes\n    user: jane\n" +
		"users:\n- name: jane\n  user:\n    client-certificate-data: " + b64(leaf) + "\n    client-key-data: " + b64(keyPEM) + "\n"
	writeFile(t, filepath.Join(dir, "jane.kubeconfig"), kubeconfig)
	kc := must(t, dir, "", "inspect", "jane.kubeconfig")
	for _, want := range []string{`User "jane" (current context jane@kubernetes)`, "CN=jane,O=dev", "matches the certificate", `Cluster "kubernetes" (https://127.0.0.1:6443)`, "CN=certplane test CA"} {
		if !strings.Contains(kc, want) {
			t.Errorf("inspect kubeconfig lacks %q:\n%s", want, kc)
		}
	}
	assertNoKeyMaterial(t, kc, keyPEM)
	kcJSON := must(t, dir, "", "inspect", "-o", "json", "jane.kubeconfig")
	if !strings.Contains(kcJSON, `"keyMatches": true`) || !strings.Contains(kcJSON, `"commonName": "jane"`) {
		t.Errorf("inspect -o json kubeconfig:\n%s", kcJSON)
	}
	assertNoKeyMaterial(t, kcJSON, keyPEM)
}

// assertNoKeyMaterial fails if out holds any 16-character run of the key's
// base64 body or of its base64 encoding as embedded in a kubeconfig.
func assertNoKeyMaterial(t *testing.T, out string, keyPEM []byte) {
	t.Helper()
	body := strings.Join(strings.Split(string(keyPEM), "\n")[1:4], "")
	embedded := base64.StdEncoding.EncodeToString(keyPEM)
	for _, s := range []string{body, embedded} {
		for i := 0; i+16 <= len(s); i += 8 {
			if strings.Contains(out, s[i:i+16]) {
				t.Fatalf("output contains key material")
			}
		}
	}
}

// TestBadInput: every bad input gets one line on stderr, a non-zero exit
// code, and no file written.
func TestBadInput(t *testing.T) {
	setup := t.TempDir()
	writeFile(t, filepath.Join(setup, "ca-csr.json"), caRequest)
	must(t, setup, "", "gencert", "-initca", "ca-csr.json")
	caPEM, _ := os.ReadFile(filepath.Join(setup, "ca.pem"))
	caKey, _ := os.ReadFile(filepath.Join(setup, "ca-key.pem"))
	csrPEM, _ := os.ReadFile(filepath.Join(setup, "ca.csr"))
	expiredCA, expiredKey := expiredCA(t)
	openssl(t, setup, "genrsa", "-out", "weak.key", "1024")
	openssl(t, setup, "req", "-new", "-key", "weak.key", "-subj", "/CN=weak", "-out", "weak.csr")
	weakCSR, _ := os.ReadFile(filepath.Join(setup, "weak.csr"))
	brokenCSR := breakSignature(t, csrPEM)

	tests := []struct {
		name  string
		files map[string]string
		stdin string
		args  []string
		want  string // a part of the error line
	}{
		{"empty request", map[string]string{"r.json": ""}, "", []string{"genkey", "r.json"}, "r.json is empty"},
		{"garbage request", map[string]string{"r.json": "garbage"}, "", []string{"genkey", "r.json"}, "r.json: the request is not valid JSON"},
		{"request of the wrong shape", map[string]string{"r.json": `{"CN": 5, "hosts": "a.example"}`}, "", []string{"genkey", "r.json"}, `r.json: "CN" must be a string, not a number`},
		{"request that is a list", map[string]string{"r.json": `[{"CN": "a"}]`}, "", []string{"genkey", "r.json"}, "r.json: the request must be a JSON object, not a list"},
		{"rsa 1024 request", map[string]string{"r.json": `{"CN":"a","key":{"algo":"rsa","size":1024}}`}, "", []string{"genkey", "r.json"}, "RSA key too short"},
		{"missing request", nil, "", []string{"genkey", "nope.json"}, "no such file"},
		{"stdin without --bare", nil, caRequest, []string{"genkey", "-"}, "--bare"},
		{"empty inspect", map[string]string{"x.pem": ""}, "", []string{"inspect", "x.pem"}, "x.pem is empty"},
		{"garbage inspect", map[string]string{"x.pem": "garbage\n"}, "", []string{"inspect", "x.pem"}, "no certificate, certificate request, key or kubeconfig found"},
		{"truncated PEM inspect", map[string]string{"x.pem": string(caPEM[:len(caPEM)/2])}, "", []string{"inspect", "x.pem"}, "no certificate"},
		{"truncated CSR", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": string(csrPEM[:len(csrPEM)/2])},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "x.csr holds a damaged or truncated PEM block, not a readable certificate request"},
		{"certificate as --csr", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "ca.pem"}, "ca.pem holds a certificate, not a certificate request"},
		{"key as --ca", map[string]string{"ca-key.pem": string(caKey), "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca-key.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "ca-key.pem holds a private key, not a certificate"},
		{"zero duration", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr", "--duration", "0s"}, "--duration 0s: want a positive validity"},
		{"negative duration", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr", "--duration", "-1h"}, "want a positive validity"},
		{"zero CA duration", map[string]string{"r.json": caRequest}, "", []string{"gencert", "-initca", "r.json", "--duration", "0s"}, "--duration 0s: want a positive validity"},
		{"broken CSR signature", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": brokenCSR},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "signature does not verify"},
		{"rsa 1024 CSR", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": string(weakCSR)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "RSA key too short: 1024 bits"},
		{"unknown usage", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr", "--usages", "digital signature,serverauth"}, `unknown key usage "serverauth"`},
		{"unknown profile", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey), "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr", "--profile", "admin"}, `unknown profile "admin"`},
		{"expired CA", map[string]string{"ca.pem": expiredCA, "ca-key.pem": expiredKey, "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "CA certificate is not valid now"},
		{"CA key of another CA", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": expiredKey, "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "private key does not match"},
		{"garbage CA key", map[string]string{"ca.pem": string(caPEM), "ca-key.pem": "garbage", "x.csr": string(csrPEM)},
			"", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr"}, "ca-key.pem holds no PEM data: want a private key"},
		{"unwritable output directory", map[string]string{"blocker": "", "r.json": caRequest}, "", []string{"gencert", "-initca", "r.json", "-bare", "blocker/ca"}, "blocker"},
		{"existing key kept", map[string]string{"r.json": caRequest, "r-key.pem": "precious"}, "", []string{"genkey", "r.json"}, "refusing to overwrite r-key.pem"},
		{"kubeconfig with a broken client certificate", map[string]string{"k.conf": "apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    client-certificate-data: bm90IGEgY2VydA==\n"},
			"", []string{"inspect", "k.conf"}, `k.conf: user "x"'s client-certificate holds no PEM data: want a certificate`},
		{"short pki validity", nil, "", []string{"pki", "init", "--dir", "tree", "--node-name", "n", "--validity", "30m"}, "--validity 30m0s is under an hour"},
		{"short pki CA validity", nil, "", []string{"pki", "init", "--dir", "tree", "--node-name", "n", "--ca-validity", "59m"}, "--allow-short-validity"},
		{"empty kubeconfig", map[string]string{"empty.conf": ""}, "", []string{"csr", "get", "--kubeconfig", "empty.conf"}, "kubeconfig empty.conf (from --kubeconfig) names no cluster"},
		{"missing kubeconfig", nil, "", []string{"csr", "get", "--kubeconfig", "nope.conf"}, "kubeconfig nope.conf (from --kubeconfig) does not exist: give one with --kubeconfig FILE or set KUBECONFIG"},
		{"neither CA nor initca", map[string]string{"r.json": caRequest}, "", []string{"gencert", "r.json"}, "--initca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, filepath.Join(dir, name), data)
			}
			before := listDir(t, dir)
			r := cp(t, dir, tt.stdin, tt.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stdout %q", r.stdout)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if lines := strings.Count(r.stderr, "\n"); lines != 1 || !strings.HasPrefix(r.stderr, "certplane: ") {
				t.Errorf("stderr = %q, want one line starting with certplane:", r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to mention %q", r.stderr, tt.want)
			}
			// One sentence in the user's terms: no Go types, no library
			// prefixes stacked behind the file name, no parser internals.
			for _, bad := range []string{"Go value", "Go struct", "asn1", "KUBERNETES_MASTER"} {
				if strings.Contains(r.stderr, bad) {
					t.Errorf("stderr = %q, which shows %q", r.stderr, bad)
				}
			}
			if p := libraryPrefix.FindString(r.stderr); p != "" {
				t.Errorf("stderr = %q, which shows the library prefix %q", r.stderr, p)
			}
			if after := listDir(t, dir); !slices.Equal(before, after) {
				t.Errorf("files before %v, after %v: a failed command wrote something", before, after)
			}
			if tt.files["r-key.pem"] != "" {
				if data, _ := os.ReadFile(filepath.Join(dir, "r-key.pem")); string(data) != "precious" {
					t.Error("existing key overwritten")
				}
			}
		})
	}
}

func expiredCA(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.SelfSign(rand.Reader, time.Now().Add(-48*time.Hour), &pki.Template{
		Subject: pkix.Name{CommonName: "expired-ca"}, IsCA: true, Duration: 24 * time.Hour,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	return string(pki.EncodeCertificatesPEM(cert)), string(k)
}

// libraryPrefix is a Go package's error prefix after certplane's own or a
// colon: what a user should not have to read.
var libraryPrefix = regexp.MustCompile(`(certplane|:) (pki|cfssl|x509|json|asn1): `)

var pemBody = regexp.MustCompile(`(?s)-----BEGIN CERTIFICATE REQUEST-----\n(.*)\n-----END CERTIFICATE REQUEST-----`)

// breakSignature flips a bit near the end of a CSR: inside its signature.
func breakSignature(t *testing.T, csrPEM []byte) string {
	t.Helper()
	m := pemBody.FindSubmatch(csrPEM)
	der, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(m[1]), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	der[len(der)-3] ^= 0x01
	return "-----BEGIN CERTIFICATE REQUEST-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END CERTIFICATE REQUEST-----\n"
}
