package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

const (
	softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
	// Distinctive PINs: finding one in any output means it leaked.
	testPIN  = "cli-PIN-7341"
	wrongPIN = "bad-PIN-0093"
)

// softHSM gives the test its own SoftHSM2 token directory with one token,
// through SOFTHSM2_CONF (read when the module is initialized: every
// command run here finalizes it again). It returns the directory and a
// function making key URIs, with pin-source a file holding the PIN.
func softHSM(t *testing.T, token string) (dir string, uri func(object string) string) {
	t.Helper()
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Skipf("SoftHSM2 is not installed (%v): apt-get install softhsm2", err)
	}
	dir = t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	t.Setenv("CERTPLANE_PKCS11_MODULE", "")
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", token, "--pin", testPIN, "--so-pin", "so-5678").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(testPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, func(object string) string {
		return "pkcs11:token=" + token + ";object=" + object + "?module-path=" + softhsmModule + "&pin-source=file:" + pinFile
	}
}

// run runs certplane in process, in dir, as main does.
func run(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Chdir(wd) }()
	var out, errOut bytes.Buffer
	err = Execute(context.Background(), Options{Out: &out, ErrOut: &errOut}, args)
	for _, s := range []string{out.String(), errOut.String(), errString(err)} {
		if strings.Contains(s, testPIN) || strings.Contains(s, wrongPIN) {
			t.Errorf("certplane %s shows a PIN: %q", strings.Join(args, " "), s)
		}
	}
	return out.String(), errOut.String(), err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, _, err := run(t, dir, args...)
	if err != nil {
		t.Fatalf("certplane %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// TestHSMClusterPKI: a cluster CA made for a key generated in SoftHSM2,
// with no key file; the tree is checked, renewed and gives kubeconfigs
// through the remembered URI, and check-expiration marks it.
func TestHSMClusterPKI(t *testing.T) {
	dir, uri := softHSM(t, "cluster")
	writeJSON := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON("ca.json", `{"CN": "kubernetes", "key": {"algo": "ecdsa", "size": 384}}`)
	out := mustRun(t, dir, "genkey", "--key-uri", uri("kube-ca"), "ca.json", "--bare", "kube-ca")
	if !strings.Contains(out, "made the key (ecdsa-p384) in the token") {
		t.Errorf("genkey: %q", out)
	}
	if _, _, err := run(t, dir, "genkey", "--key-uri", uri("kube-ca"), "ca.json", "--bare", "again"); err == nil || !strings.Contains(err.Error(), `a key with label "kube-ca" exists`) {
		t.Errorf("a second key with the same label: %v", err)
	}

	data := filepath.Join(dir, "data")
	mustRun(t, dir, "pki", "init", "--dir", data, "--ca-key-uri", uri("kube-ca"), "--key-algorithm", "ecdsa-p256", "--node-name", "n1")
	if _, err := os.Stat(filepath.Join(data, "pki", "ca.key")); !os.IsNotExist(err) {
		t.Fatal("pki init wrote pki/ca.key")
	}
	csr := readCSR(t, filepath.Join(dir, "kube-ca.csr"))
	ca := readCert(t, filepath.Join(data, "pki", "ca.crt"))
	if !publicKeysEqual(ca.PublicKey, csr.PublicKey) {
		t.Fatal("ca.crt is not for the token's key")
	}
	if err := readCert(t, filepath.Join(data, "pki", "apiserver.crt")).CheckSignatureFrom(ca); err != nil {
		t.Errorf("apiserver.crt: %v", err)
	}
	out = mustRun(t, dir, "pki", "check-expiration", "--dir", data)
	if !regexpLine(out, "ca", "no", "yes") || !regexpLine(out, "etcd-ca", "no", "no") {
		t.Errorf("check-expiration does not mark the CA in the token:\n%s", out)
	}
	out = mustRun(t, dir, "pki", "init", "--dir", data, "--node-name", "n1")
	if !strings.Contains(out, "created 0 files") {
		t.Errorf("second init: %q", out)
	}
	mustRun(t, dir, "pki", "renew", "apiserver", "admin.conf", "--dir", data)
	if err := readCert(t, filepath.Join(data, "pki", "apiserver.crt")).CheckSignatureFrom(ca); err != nil {
		t.Errorf("renewed apiserver.crt: %v", err)
	}
	mustRun(t, dir, "pki", "kubeconfig", "--dir", data, "--user", "jane", "--out", "jane.conf")
	kcData, err := os.ReadFile(filepath.Join(dir, "jane.conf"))
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeconfig.Parse(kcData, dir)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(kc.Users[0].Certificate)
	if err != nil || certs[0].CheckSignatureFrom(ca) != nil {
		t.Errorf("jane's certificate is not signed by the token CA: %v", err)
	}
	if _, _, err := run(t, dir, "pki", "renew", "ca", "--dir", data); err == nil || !strings.Contains(err.Error(), "CAs are never renewed") {
		t.Errorf("renew ca: %v", err)
	}
}

// TestHSMErrorsWriteNothing: a wrong PIN, a missing token, a missing key
// and a missing module each fail with one line naming the URI without
// the PIN, and nothing is written.
func TestHSMErrorsWriteNothing(t *testing.T) {
	dir, uri := softHSM(t, "cluster")
	if err := os.WriteFile(filepath.Join(dir, "ca.json"), []byte(`{"CN": "kubernetes"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "genkey", "--key-uri", uri("kube-ca"), "ca.json", "--bare", "kube-ca")
	good := uri("kube-ca")
	tests := []struct {
		name, uri, want string
	}{
		{"wrong PIN", "pkcs11:token=cluster;object=kube-ca?module-path=" + softhsmModule + "&pin-value=" + wrongPIN,
			"pkcs11:token=cluster;object=kube-ca?module-path=" + softhsmModule + "&pin-value=REDACTED: login refused: wrong PIN"},
		{"missing token", strings.Replace(good, "token=cluster", "token=elsewhere", 1), `no token labelled "elsewhere"`},
		{"missing key", strings.Replace(good, "object=kube-ca", "object=nope", 1), `no key pair with label "nope"`},
		{"missing module", strings.Replace(good, softhsmModule, "/nonexistent/libpkcs11.so", 1), "cannot load module /nonexistent/libpkcs11.so"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listFiles(t, dir)
			data := filepath.Join(dir, "data-"+strings.ReplaceAll(tt.name, " ", "-"))
			for _, args := range [][]string{
				{"pki", "init", "--dir", data, "--ca-key-uri", tt.uri, "--key-algorithm", "ecdsa-p256"},
				{"gencert", "--initca", "ca.json", "--bare", "x", "--ca-key", tt.uri},
			} {
				_, stderr, err := run(t, dir, args...)
				if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || stderr != "" {
					t.Errorf("%s: error %v, stderr %q; want one line with %q", args[0], err, stderr, tt.want)
				}
				if after := listFiles(t, dir); !slices.Equal(before, after) {
					t.Errorf("%s wrote %v", args[0], after)
				}
			}
		})
	}
}

// TestHSMKeyTypes: each key type a token makes signs a CA and its leaves,
// RSA also with RSA-PSS when asked.
func TestHSMKeyTypes(t *testing.T) {
	dir, uri := softHSM(t, "types")
	for _, tt := range []struct {
		algo string
		size int
		pss  bool
	}{{"ecdsa", 256, false}, {"ecdsa", 384, false}, {"rsa", 2048, true}, {"rsa", 3072, false}, {"rsa", 4096, true}} {
		name := tt.algo + "-" + itoa(tt.size)
		t.Run(name, func(t *testing.T) {
			req := `{"CN": "` + name + `", "key": {"algo": "` + tt.algo + `", "size": ` + itoa(tt.size) + `}}`
			if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(req), 0o644); err != nil {
				t.Fatal(err)
			}
			mustRun(t, dir, "genkey", "--key-uri", uri(name), name+".json", "--bare", name+"-key")
			args := []string{"gencert", "--initca", name + ".json", "--bare", name + "-ca", "--ca-key", uri(name)}
			leafArgs := []string{"gencert", "--ca", name + "-ca.pem", "--ca-key", uri(name), "--bare", name + "-leaf", "--hostname", "leaf.example", "leaf.json"}
			if tt.pss {
				args, leafArgs = append(args, "--rsa-pss"), append(leafArgs, "--rsa-pss")
			}
			mustRun(t, dir, args...)
			if err := os.WriteFile(filepath.Join(dir, "leaf.json"), []byte(`{"CN": "leaf"}`), 0o644); err != nil {
				t.Fatal(err)
			}
			mustRun(t, dir, leafArgs...)
			ca := readCert(t, filepath.Join(dir, name+"-ca.pem"))
			leaf := readCert(t, filepath.Join(dir, name+"-leaf.pem"))
			if err := leaf.CheckSignatureFrom(ca); err != nil {
				t.Fatal(err)
			}
			if alg, bits := pki.KeyDescription(ca.PublicKey); !strings.EqualFold(alg, tt.algo) || bits != tt.size {
				t.Errorf("CA key %s %d", alg, bits)
			}
			if tt.pss && (leaf.SignatureAlgorithm != x509.SHA256WithRSAPSS || ca.SignatureAlgorithm != x509.SHA256WithRSAPSS) {
				t.Errorf("signed with %v and %v, want RSA-PSS", ca.SignatureAlgorithm, leaf.SignatureAlgorithm)
			}
		})
	}
	if _, _, err := run(t, dir, "gencert", "--initca", "ecdsa-256.json", "--bare", "pss", "--ca-key", uri("ecdsa-256"), "--rsa-pss"); err == nil || !strings.Contains(err.Error(), "--rsa-pss needs an RSA CA key") {
		t.Errorf("--rsa-pss with an ECDSA key: %v", err)
	}
}

func readCSR(t *testing.T, path string) *x509.CertificateRequest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSRPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	p, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(b)
}

// regexpLine reports whether out has a line of the fields, separated by
// white space, after the first two columns' date and residual time.
func regexpLine(out, name, external, hsm string) bool {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+.*\s` + external + `\s+` + hsm + `\s*$`)
	return re.MatchString(out)
}

// listFiles lists every file under dir, relative, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if r, _ := filepath.Rel(dir, path); r != "tokens" && !strings.HasPrefix(r, "tokens"+string(filepath.Separator)) {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
