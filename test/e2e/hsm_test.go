package e2e

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki"
)

// The HSM tests keep CA keys in SoftHSM2 tokens (docs/hsm.md). Each test
// has its own token directory, given to every process it runs (certplane,
// pkcs11-tool, softhsm2-util) through SOFTHSM2_CONF.

const (
	softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
	// Distinctive PINs: finding one in any output means it leaked.
	hsmPIN      = "e2e-PIN-6620"
	hsmWrongPIN = "e2e-bad-PIN-1177"
)

type softHSM struct {
	dir, pinFile string
}

// newSoftHSM makes a token directory with the tokens named, each with PIN
// hsmPIN, and points SOFTHSM2_CONF at it for the rest of the test.
func newSoftHSM(t *testing.T, tokens ...string) *softHSM {
	t.Helper()
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Skipf("%s is missing (%v): apt-get install softhsm2", softhsmModule, err)
	}
	requireDebianTool(t, "/usr/bin/softhsm2-util", "softhsm2")
	requireDebianTool(t, "/usr/bin/pkcs11-tool", "opensc")
	h := &softHSM{dir: t.TempDir()}
	tokenDir := filepath.Join(h.dir, "tokens")
	if err := os.Mkdir(tokenDir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(h.dir, "softhsm2.conf")
	writeFile(t, conf, "directories.tokendir = "+tokenDir+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n")
	t.Setenv("SOFTHSM2_CONF", conf)
	t.Setenv("CERTPLANE_PKCS11_MODULE", "")
	for _, token := range tokens {
		h.run(t, "softhsm2-util", "--init-token", "--free", "--label", token, "--pin", hsmPIN, "--so-pin", "so-PIN-5678")
	}
	h.pinFile = filepath.Join(h.dir, "pin")
	writeFile(t, h.pinFile, hsmPIN+"\n")
	return h
}

func (h *softHSM) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// uri names a key with the PIN in h.pinFile.
func (h *softHSM) uri(token, object string) string {
	return "pkcs11:token=" + token + ";object=" + object + "?module-path=" + softhsmModule + "&pin-source=file:" + h.pinFile
}

// keygen makes an ECDSA P-256 key pair in the token with OpenSC's
// pkcs11-tool, as an administrator would.
func (h *softHSM) keygen(t *testing.T, token, object, id string) {
	t.Helper()
	h.run(t, "pkcs11-tool", "--module", softhsmModule, "--token-label", token, "--login", "--pin", hsmPIN,
		"--keypairgen", "--key-type", "EC:prime256v1", "--id", id, "--label", object, "--usage-sign")
}

// noPIN fails the test if any text shows a test PIN.
func noPIN(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, hsmPIN) || strings.Contains(s, hsmWrongPIN) {
			t.Errorf("%s shows a PIN: %q", what, s)
		}
	}
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{64,}={0,2}`)

// privateKeysUnder finds every PEM private key in the files under dir, also
// inside base64 (kubeconfigs' client-key-data) and binary files (etcd's
// database): the files holding one of pub's, and how many keys it found.
func privateKeysUnder(t *testing.T, dir string, pub crypto.PublicKey) (matching []string, found int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		blobs := [][]byte{data}
		for _, run := range base64Run.FindAll(data, -1) {
			if dec, err := base64.StdEncoding.DecodeString(string(run)); err == nil {
				blobs = append(blobs, dec)
			}
		}
		for _, blob := range blobs {
			for rest := blob; ; {
				i := bytes.Index(rest, []byte("-----BEGIN "))
				if i < 0 {
					break
				}
				var block *pem.Block
				block, rest = pem.Decode(rest[i:])
				if block == nil {
					rest = rest[i+len("-----BEGIN "):]
					continue
				}
				if !strings.Contains(block.Type, "PRIVATE KEY") {
					continue
				}
				key, err := pki.ParsePrivateKeyPEM(pem.EncodeToMemory(block))
				if err != nil {
					continue
				}
				found++
				if pki.KeyMatches(pub, key) {
					rel, _ := filepath.Rel(dir, path)
					matching = append(matching, rel)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return matching, found
}

// csrThroughSigner has the kubernetes.io/kube-apiserver-client signer of
// `up` issue a certificate for cn, approved by admin, and checks it with
// openssl against the cluster CA.
func csrThroughSigner(t *testing.T, admin, dir, caFile, name string) {
	t.Helper()
	req := opensslRequest(t, dir, name, name)
	mustApply(t, admin, csrYAML(name, "kubernetes.io/kube-apiserver-client", req, "client auth"))
	mustKubectl(t, admin, "certificate", "approve", name)
	waitIssued(t, admin, name)
	cert := fetchCertificate(t, admin, dir, name)
	if out := openssl(t, dir, "verify", "-CAfile", caFile, cert); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify %s: %s", name, out)
	}
}

// TestHSMUp: the cluster CA's key made with pkcs11-tool in a token; pki
// init makes its certificate and remembers the URI; up runs on it: kubectl
// as super-admin, user add, a CSR issued and verified by openssl; no
// private key of that CA anywhere under the data directory; and up stopped
// and started again on the same directory signs again.
func TestHSMUp(t *testing.T) {
	h := newSoftHSM(t, "cluster")
	h.keygen(t, "cluster", "kube-ca", "01")
	uri := h.uri("cluster", "kube-ca")
	data := t.TempDir()
	port := freePort(t)
	config := filepath.Join(t.TempDir(), "pki.yaml")
	writeFile(t, config, "server: https://127.0.0.1:"+strconv.Itoa(port)+"\n")
	out := must(t, "", "", "pki", "init", "--dir", data, "--config", config, "--ca-key-uri", uri, "--key-algorithm", "ecdsa-p256")
	noPIN(t, "pki init", out)
	if _, err := os.Stat(filepath.Join(data, "pki", "ca.key")); !os.IsNotExist(err) {
		t.Fatalf("pki init wrote pki/ca.key (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(data, "pki", "ca.key-uri")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pki/ca.key-uri: %v %v, want mode 0600", fi, err)
	}
	caFile := filepath.Join(data, "pki", "ca.crt")
	caCert := readCertFile(t, caFile)
	out = must(t, "", "", "pki", "check-expiration", "--dir", data)
	if !regexp.MustCompile(`(?m)^ca\s.*\sno\s+yes\s*$`).MatchString(out) {
		t.Errorf("check-expiration does not mark the CA as HSM:\n%s", out)
	}

	u := startUp(t, data, port)
	noPIN(t, "up", u.output.String())
	if want := "signers: the kubernetes.io signers sign with the cluster CA's key in a PKCS#11 token, pkcs11:token=cluster;object=kube-ca?module-path=" + softhsmModule + "&pin-source=file:" + h.pinFile; !strings.Contains(u.output.String(), want) {
		t.Errorf("up does not say it signs in the token:\n%s", u.output.String())
	}
	super, admin := filepath.Join(data, "super-admin.conf"), filepath.Join(data, "admin.conf")
	if who := mustKubectl(t, super, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who != "kubernetes-super-admin" {
		t.Errorf("super-admin is %q", who)
	}
	mustKubectl(t, super, "get", "namespaces")

	dir := t.TempDir()
	alice := filepath.Join(dir, "alice.kubeconfig")
	must(t, dir, "", "user", "add", "alice", "--group", "dev", "--kubeconfig", admin, "--out", alice)
	if who := mustKubectl(t, alice, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"); who != `alice ["dev","system:authenticated"]` {
		t.Errorf("alice is %q", who)
	}
	csrThroughSigner(t, admin, dir, caFile, "bob")

	u.stop(t)
	matching, found := privateKeysUnder(t, data, caCert.PublicKey)
	if len(matching) > 0 {
		t.Errorf("the cluster CA's private key is in %v", matching)
	}
	if found < 10 {
		t.Errorf("the scan found only %d private keys under the data directory: it cannot be looking", found)
	}
	t.Logf("scanned %s: %d private keys, none of the cluster CA", data, found)
	// The scan finds a key that is there, in its file and in kubeconfigs.
	if m, _ := privateKeysUnder(t, data, readCertFile(t, filepath.Join(data, "pki", "apiserver.crt")).PublicKey); !slices.Equal(m, []string{"pki/apiserver.key"}) {
		t.Errorf("the scan finds the apiserver's key in %v", m)
	}
	adminCert, _ := kubeconfigClientCert(t, admin)
	if m, _ := privateKeysUnder(t, data, adminCert.PublicKey); !slices.Equal(m, []string{"admin.conf"}) {
		t.Errorf("the scan finds admin.conf's key in %v", m)
	}

	// Started again on the same directory, with the token still there.
	u = startUp(t, data, port)
	csrThroughSigner(t, admin, dir, caFile, "carol")
	u.stop(t)
	noPIN(t, "up's stderr", u.stderr.String())
}

// TestHSMUpRefuses: when the token refuses (the PIN file now holds a wrong
// PIN) or is gone, up exits non-zero with one line naming the URI without
// the PIN, starts nothing and writes nothing.
func TestHSMUpRefuses(t *testing.T) {
	h := newSoftHSM(t, "cluster")
	h.keygen(t, "cluster", "kube-ca", "01")
	data := t.TempDir()
	must(t, "", "", "pki", "init", "--dir", data, "--ca-key-uri", h.uri("cluster", "kube-ca"), "--key-algorithm", "ecdsa-p256")
	before := walkFiles(t, data)
	shown := "pkcs11:token=cluster;object=kube-ca?module-path=" + softhsmModule + "&pin-source=file:" + h.pinFile
	for _, tt := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"wrong PIN", func() { writeFile(t, h.pinFile, hsmWrongPIN+"\n") }, shown + ": login refused: wrong PIN"},
		{"token gone", func() {
			writeFile(t, h.pinFile, hsmPIN+"\n")
			h.run(t, "softhsm2-util", "--delete-token", "--token", "cluster")
		}, shown + `: no token labelled "cluster"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			r := cp(t, "", "", "up", "--data-dir", data, "--port", strconv.Itoa(freePort(t)), "--bin-dir", filepath.Dir(tool(t, "kube-apiserver")))
			noPIN(t, "up", r.stdout, r.stderr)
			if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("up: exit %d, stderr %q; want one line with %q", r.code, r.stderr, tt.want)
			}
			if after := walkFiles(t, data); !slices.Equal(before, after) {
				t.Errorf("up wrote %v", after)
			}
			assertNoProcessesFor(t, data)
		})
	}
}

// walkFiles lists the files under dir, relative, sorted.
func walkFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			r, _ := filepath.Rel(dir, path)
			out = append(out, r)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestHSMCLI: genkey --key-uri makes a non-extractable key in the token;
// gencert --initca --ca-key URI makes its CA certificate and gencert
// --ca-key URI signs with it, RSA with PSS where asked, checked by openssl.
// A wrong PIN, a missing token, object or module fail in one line naming
// the URI without the PIN, and write nothing.
func TestHSMCLI(t *testing.T) {
	h := newSoftHSM(t, "pki")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca-csr.json"), `{"CN": "HSM Root", "names": [{"O": "certplane e2e"}], "key": {"algo": "rsa", "size": 3072}}`)
	writeFile(t, filepath.Join(dir, "server-csr.json"), `{"CN": "server.example", "hosts": ["server.example", "192.0.2.7"]}`)
	uri := h.uri("pki", "root")

	out := must(t, dir, "", "genkey", "--key-uri", uri, "ca-csr.json", "--bare", "root-key")
	noPIN(t, "genkey", out)
	if names := listDir(t, dir); !slices.Equal(names, []string{"ca-csr.json", "root-key.csr", "server-csr.json"}) {
		t.Errorf("genkey --key-uri wrote %v, want only root-key.csr", names)
	}
	openssl(t, dir, "req", "-in", "root-key.csr", "-noout", "-verify")
	objects := h.run(t, "pkcs11-tool", "--module", softhsmModule, "--token-label", "pki", "--login", "--pin", hsmPIN, "--list-objects", "--type", "privkey")
	if !strings.Contains(objects, "label:      root") || !strings.Contains(objects, "never extractable") || !strings.Contains(objects, "sensitive") {
		t.Errorf("the token's private key is not sensitive and never extractable:\n%s", objects)
	}

	must(t, dir, "", "gencert", "--initca", "ca-csr.json", "--bare", "root", "--ca-key", uri, "--rsa-pss")
	if _, err := os.Stat(filepath.Join(dir, "root-key.pem")); !os.IsNotExist(err) {
		t.Error("gencert --initca with a key URI wrote a key file")
	}
	must(t, dir, "", "gencert", "--ca", "root.pem", "--ca-key", uri, "--profile", "server", "--rsa-pss", "server-csr.json")
	out = openssl(t, dir, "verify", "-CAfile", "root.pem", "-purpose", "sslserver", "server.pem")
	if !strings.Contains(out, "server.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	text := openssl(t, dir, "x509", "-in", "server.pem", "-noout", "-text")
	if !strings.Contains(text, "Signature Algorithm: rsassaPss") || !strings.Contains(text, "Issuer: O = certplane e2e, CN = HSM Root") {
		t.Errorf("server.pem:\n%s", text)
	}
	caText := openssl(t, dir, "x509", "-in", "root.pem", "-noout", "-text")
	if !strings.Contains(caText, "Public-Key: (3072 bit)") || !strings.Contains(caText, "CA:TRUE") {
		t.Errorf("root.pem:\n%s", caText)
	}
	// The CA certificate is for the token's key: its public key is the CSR's.
	if a, b := openssl(t, dir, "x509", "-in", "root.pem", "-noout", "-pubkey"), openssl(t, dir, "req", "-in", "root-key.csr", "-noout", "-pubkey"); a != b {
		t.Error("root.pem and root-key.csr have different public keys")
	}

	// An ECDSA P-384 key for a leaf signed without PSS.
	writeFile(t, filepath.Join(dir, "ec-csr.json"), `{"CN": "EC Root", "key": {"algo": "ecdsa", "size": 384}}`)
	must(t, dir, "", "genkey", "--key-uri", h.uri("pki", "ec-root"), "ec-csr.json", "--bare", "ec-root-key")
	must(t, dir, "", "gencert", "--initca", "ec-csr.json", "--bare", "ec-root", "--ca-key", h.uri("pki", "ec-root"))
	must(t, dir, "", "gencert", "--ca", "ec-root.pem", "--ca-key", h.uri("pki", "ec-root"), "--profile", "client", "--bare", "client", "server-csr.json")
	if out := openssl(t, dir, "verify", "-CAfile", "ec-root.pem", "client.pem"); !strings.Contains(out, "client.pem: OK") {
		t.Errorf("openssl verify client.pem: %s", out)
	}

	good := uri
	for _, tt := range []struct {
		name, uri, want string
	}{
		{"wrong PIN", "pkcs11:token=pki;object=root?module-path=" + softhsmModule + "&pin-value=" + hsmWrongPIN,
			"pkcs11: pkcs11:token=pki;object=root?module-path=" + softhsmModule + "&pin-value=REDACTED: login refused: wrong PIN (CKR_PIN_INCORRECT)"},
		{"missing token", strings.Replace(good, "token=pki", "token=absent", 1), `: no token labelled "absent"`},
		{"missing object", strings.Replace(good, "object=root", "object=absent", 1), `: no key pair with label "absent"`},
		{"missing module", strings.Replace(good, softhsmModule, "/nonexistent/libpkcs11.so", 1), ": cannot load module /nonexistent/libpkcs11.so: no such file or directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := listDir(t, dir)
			data := filepath.Join(dir, "data")
			for _, args := range [][]string{
				{"gencert", "--ca", "root.pem", "--ca-key", tt.uri, "--bare", "x", "server-csr.json"},
				{"gencert", "--initca", "ca-csr.json", "--bare", "x", "--ca-key", tt.uri},
				{"pki", "init", "--dir", data, "--ca-key-uri", tt.uri, "--key-algorithm", "ecdsa-p256"},
			} {
				r := cp(t, dir, "", args...)
				noPIN(t, args[0], r.stdout, r.stderr)
				if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
					t.Errorf("%s: exit %d, stderr %q; want one line with %q", strings.Join(args[:2], " "), r.code, r.stderr, tt.want)
				}
				if after := listDir(t, dir); !slices.Equal(before, after) {
					t.Errorf("%s wrote files: %v", args[0], after)
				}
			}
		})
	}
}

// TestHSMCAIssuer: a CA Issuer whose Secret holds tls.crt and the URI of
// a key in a token (tls.key-uri, PIN from the Secret its annotation
// names) issues Certificates; Issuers with a wrong PIN, a missing token,
// object or module, or a module the controller may not load, are not
// Ready with a condition and an Event that name the URI without the PIN,
// and the controllers keep running.
func TestHSMCAIssuer(t *testing.T) {
	h := newSoftHSM(t, "issuers", "spare")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team-ca.json"), `{"CN": "team CA"}`)
	uri := h.uri("issuers", "team-ca")
	must(t, dir, "", "genkey", "--key-uri", uri, "team-ca.json", "--bare", "team-ca-key")
	must(t, dir, "", "gencert", "--initca", "team-ca.json", "--bare", "team-ca", "--ca-key", uri)
	caPEM := mustRead(t, filepath.Join(dir, "team-ca.pem"))

	data := t.TempDir()
	missingModule := "/nonexistent/libpkcs11.so"
	u := startUp(t, data, freePort(t), "--issuer-pkcs11-modules", softhsmModule+","+missingModule)
	admin := filepath.Join(data, "admin.conf")
	mustKubectl(t, admin, "create", "namespace", "team")
	mustKubectl(t, admin, "create", "secret", "generic", "team-ca-pin", "-n", "team", "--from-literal=pin="+hsmPIN)
	mustKubectl(t, admin, "create", "secret", "generic", "wrong-pin", "-n", "team", "--from-literal=pin="+hsmWrongPIN)

	secretURI := func(token, object, module string) string {
		return "pkcs11:token=" + token + ";object=" + object + "?module-path=" + module
	}
	issuer := func(name, keyURI, pinSecret string) string {
		return `apiVersion: v1
kind: Secret
metadata:
  name: ` + name + `
  namespace: team
  annotations:
    certplane.io/pkcs11-pin-secret: ` + pinSecret + `
type: Opaque
stringData:
  tls.key-uri: "` + keyURI + `"
  tls.crt: |
` + indent(caPEM, "    ") + `
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ` + name + `
  namespace: team
spec:
  ca:
    secretName: ` + name + `
`
	}
	mustApply(t, admin, issuer("hsm", secretURI("issuers", "team-ca", softhsmModule), "team-ca-pin"))
	waitFor(t, 60*time.Second, "issuer hsm to be ready", func() bool {
		return strings.HasPrefix(issuerCondition(t, admin, "hsm"), "True KeyPairVerified")
	})
	mustApply(t, admin, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
  namespace: team
spec:
  secretName: web-tls
  dnsNames: [web.team.example]
  issuerRef:
    name: hsm
`)
	waitCertificate(t, admin, "team", "web", 1)
	leaf := leafOf(t, admin, "team", "web-tls")
	writeFile(t, filepath.Join(dir, "web.pem"), string(secretData(t, admin, "team", "web-tls", "tls.crt")))
	if out := openssl(t, dir, "verify", "-CAfile", "team-ca.pem", "web.pem"); !strings.Contains(out, "web.pem: OK") {
		t.Errorf("openssl verify web.pem: %s", out)
	}
	if got, err := pki.ParseCertificatesPEM(secretData(t, admin, "team", "web-tls", "ca.crt")); err != nil || !got[0].Equal(readCertFile(t, filepath.Join(dir, "team-ca.pem"))) {
		t.Errorf("ca.crt is not the token CA: %v", err)
	}
	if leaf.DNSNames[0] != "web.team.example" {
		t.Errorf("leaf names %v", leaf.DNSNames)
	}

	for _, tt := range []struct {
		name, uri, pin, want string
	}{
		// The process is logged in to this token with the right PIN already.
		{"wrong-pin", secretURI("issuers", "team-ca", softhsmModule), "wrong-pin", secretURI("issuers", "team-ca", softhsmModule) + ": login refused"},
		// Nobody logged in to this one: the token itself refuses the PIN.
		{"wrong-pin-at-login", secretURI("spare", "team-ca", softhsmModule), "wrong-pin", secretURI("spare", "team-ca", softhsmModule) + ": login refused: wrong PIN (CKR_PIN_INCORRECT)"},
		{"missing-token", secretURI("absent", "team-ca", softhsmModule), "team-ca-pin", `: no token labelled "absent"`},
		{"missing-object", secretURI("issuers", "absent", softhsmModule), "team-ca-pin", `: no key pair with label "absent"`},
		{"missing-module", secretURI("issuers", "team-ca", missingModule), "team-ca-pin", ": cannot load module " + missingModule},
		{"module-not-allowed", secretURI("issuers", "team-ca", "/usr/lib/x86_64-linux-gnu/libc.so.6"), "team-ca-pin", "is not a PKCS#11 module the controller may load"},
		{"missing-pin-secret", secretURI("issuers", "team-ca", softhsmModule), "absent-pin", `the PIN Secret "absent-pin" (annotation certplane.io/pkcs11-pin-secret) was not found`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mustApply(t, admin, issuer(tt.name, tt.uri, tt.pin))
			var cond string
			waitFor(t, 60*time.Second, "issuer "+tt.name+" to be not ready", func() bool {
				cond = issuerCondition(t, admin, tt.name)
				return strings.HasPrefix(cond, "False")
			})
			t.Logf("Ready: %s", cond)
			if !strings.HasPrefix(cond, "False ErrGetKeyPair: Error getting keypair for CA issuer: tls.key-uri: ") || !strings.Contains(cond, tt.want) {
				t.Errorf("condition %q, want ErrGetKeyPair with %q", cond, tt.want)
			}
			var events string
			waitFor(t, 30*time.Second, "a warning event of issuer "+tt.name, func() bool {
				events = eventReasons(t, admin, "team", "Issuer", tt.name)
				return strings.Contains(events, "ErrGetKeyPair: ")
			})
			noPIN(t, "issuer "+tt.name, cond, events, mustKubectl(t, admin, "get", "issuer", tt.name, "-n", "team", "-o", "yaml"))
		})
	}
	select {
	case <-u.done:
		t.Fatalf("certplane up exited: %v\n%s", u.err, u.stderr.String())
	default:
	}
	// The working issuer still issues after the failing ones were tried.
	mustApply(t, admin, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: api
  namespace: team
spec:
  secretName: api-tls
  dnsNames: [api.team.example]
  issuerRef:
    name: hsm
`)
	waitCertificate(t, admin, "team", "api", 1)
	u.stop(t)
	noPIN(t, "up", u.output.String(), u.stderr.String())
	logs, err := os.ReadFile(filepath.Join(data, "logs", "controllers.log"))
	if err != nil {
		t.Fatal(err)
	}
	noPIN(t, "controllers.log", string(logs))
}

// issuerCondition is an Issuer's Ready condition as "status reason: message".
func issuerCondition(t *testing.T, kubeconfig, name string) string {
	t.Helper()
	return mustKubectl(t, kubeconfig, "get", "issuer", name, "-n", "team", "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`)
}

// kubeconfigClientCert reads the client certificate a kubeconfig embeds.
func kubeconfigClientCert(t *testing.T, path string) (*x509.Certificate, error) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		certs, err := pki.ParseCertificatesPEM(a.ClientCertificateData)
		if err != nil {
			t.Fatal(err)
		}
		return certs[0], nil
	}
	t.Fatalf("%s has no user", path)
	return nil, nil
}

// TestHSMController: certplane controller signs the kubernetes.io signers
// with --cluster-signing-key-uri, and the certplane.io/spiffe pod
// certificate signer with --spiffe-signing-key-uri, keys in a token; with
// a wrong PIN for either it does not start, and says why in one line; a
// SPIFFE key file and key URI together are refused in one line before it
// connects.
func TestHSMController(t *testing.T) {
	h := newSoftHSM(t, "signer")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.json"), `{"CN": "signer CA", "key": {"algo": "ecdsa", "size": 256}}`)
	uri := h.uri("signer", "csr-ca")
	must(t, dir, "", "genkey", "--key-uri", uri, "ca.json", "--bare", "ca-key")
	must(t, dir, "", "gencert", "--initca", "ca.json", "--bare", "ca", "--ca-key", uri)
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, filepath.Join(dir, "spiffe.json"), `{"CN": "spiffe CA", "key": {"algo": "ecdsa", "size": 256}}`)
	spiffeURI := h.uri("signer", "spiffe-ca")
	must(t, dir, "", "genkey", "--key-uri", spiffeURI, "spiffe.json", "--bare", "spiffe-key")
	must(t, dir, "", "gencert", "--initca", "spiffe.json", "--bare", "spiffe", "--ca-key", spiffeURI)
	spiffeFile := filepath.Join(dir, "spiffe.pem")
	if matching, _ := privateKeysUnder(t, dir, readCertFile(t, spiffeFile).PublicKey); len(matching) != 0 {
		t.Errorf("the SPIFFE CA's private key is in %v, not only in the token", matching)
	}

	r := cp(t, dir, "", "controller", "--kubeconfig", filepath.Join(dir, "absent.conf"), "--leader-elect=false",
		"--spiffe-signing-cert-file", spiffeFile, "--spiffe-signing-key-file", filepath.Join(dir, "ca.json"), "--spiffe-signing-key-uri", spiffeURI)
	noPIN(t, "controller", r.stdout, r.stderr)
	if want := "give --spiffe-signing-key-file or --spiffe-signing-key-uri, not both"; r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("controller with a SPIFFE key file and key URI: exit %d, stderr %q; want one line with %q", r.code, r.stderr, want)
	}

	plane := startControlPlane(t)
	admin := plane.Kubeconfig("admin.conf")
	wrong := "pkcs11:token=signer;object=csr-ca?module-path=" + softhsmModule + "&pin-value=" + hsmWrongPIN
	r = cp(t, dir, "", "controller", "--kubeconfig", admin, "--enable-kubernetes-signers", "--leader-elect=false",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "", "--cluster-signing-cert-file", caFile, "--cluster-signing-key-uri", wrong)
	noPIN(t, "controller", r.stdout, r.stderr)
	if want := "pkcs11:token=signer;object=csr-ca?module-path=" + softhsmModule + "&pin-value=REDACTED: login refused: wrong PIN"; r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("controller with a wrong PIN: exit %d, stderr %q; want one line with %q", r.code, r.stderr, want)
	}

	wrongSPIFFE := "pkcs11:token=signer;object=spiffe-ca?module-path=" + softhsmModule + "&pin-value=" + hsmWrongPIN
	r = cp(t, dir, "", "controller", "--kubeconfig", admin, "--leader-elect=false", "--metrics-bind-address", "0", "--health-probe-bind-address", "",
		"--spiffe-signing-cert-file", spiffeFile, "--spiffe-signing-key-uri", wrongSPIFFE)
	noPIN(t, "controller", r.stdout, r.stderr)
	if want := "pkcs11:token=signer;object=spiffe-ca?module-path=" + softhsmModule + "&pin-value=REDACTED: login refused: wrong PIN"; r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("controller with a wrong SPIFFE key PIN: exit %d, stderr %q; want one line with %q", r.code, r.stderr, want)
	}

	startController(t, admin, caFile, "", freePort(t), freePort(t), "--cluster-signing-key-uri", uri,
		"--spiffe-signing-cert-file", spiffeFile, "--spiffe-signing-key-uri", spiffeURI)
	csrThroughSigner(t, admin, dir, caFile, "dave")

	// The SPIFFE signer signs with the token's key: the chain verifies
	// against the CA certificate made for that key, and not against the
	// cluster CA.
	mustKubectl(t, admin, "create", "namespace", "shop")
	pcr := newPodCertRequest(t, "svid", "shop", "certplane.io/spiffe")
	pcr.create(t, admin)
	if got := waitPCRCondition(t, admin, "shop", "svid"); !strings.HasPrefix(got, "Issued Issued: issued by certplane.io/spiffe") {
		t.Fatalf("condition %q, want Issued", got)
	}
	leaf := checkIssuedPodCertificate(t, admin, pcr, spiffeFile)
	if err := leaf.CheckSignatureFrom(readCertFile(t, spiffeFile)); err != nil {
		t.Errorf("the SVID is not signed by the SPIFFE CA's token key: %v", err)
	}
	if leaf.CheckSignatureFrom(readCertFile(t, caFile)) == nil {
		t.Error("the SVID is signed by the cluster signing CA")
	}
}
