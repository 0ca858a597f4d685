package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// TestGencertSaysWhenTheCACutsItShort: a --duration past the CA's end
// gives a certificate that ends with the CA, and one line on stderr says so.
func TestGencertSaysWhenTheCACutsItShort(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca-csr.json"), caRequest)
	writeFile(t, filepath.Join(dir, "web-csr.json"), `{"CN":"web","hosts":["web.example"]}`)
	must(t, dir, "", "gencert", "-initca", "ca-csr.json")
	r := cp(t, dir, "", "gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "-profile", "server", "--duration", "200000h", "web-csr.json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	ca, web := readCertFile(t, filepath.Join(dir, "ca.pem")), readCertFile(t, filepath.Join(dir, "web.pem"))
	if !web.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("web.pem ends %s, the CA %s", web.NotAfter, ca.NotAfter)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "web.pem is valid until "+ca.NotAfter.UTC().Format(time.RFC3339)) ||
		!strings.Contains(r.stderr, "when its CA ca.pem ends") || !strings.Contains(r.stderr, "200000h") {
		t.Errorf("stderr = %q, want one line saying the CA cut --duration 200000h short", r.stderr)
	}
	// Within the CA's life: nothing on stderr.
	r = cp(t, dir, "", "gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "--duration", "24h", "--csr", "web.csr", "--bare", "day")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("24h: exit %d, stderr %q", r.code, r.stderr)
	}
}

func readCertFile(t *testing.T, path string) *x509.Certificate {
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

// TestInspectVerdicts: a tls.crt as certplane writes it (leaf and
// intermediate, no root) is complete up to a root that is not included;
// --ca verifies it; expired certificates and forged requests exit non-zero.
func TestInspectVerdicts(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	root := ca(t, nil, "root", now.Add(-24*time.Hour), 96*time.Hour)
	inter := ca(t, root, "intermediate", now.Add(-24*time.Hour), 48*time.Hour)
	other := ca(t, nil, "other", now, 48*time.Hour)
	leafKey, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "app"}, DNSNames: []string{"app.example"},
		Usages: []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth}, Duration: time.Hour}, leafKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	expired, err := inter.Issue(rand.Reader, now.Add(-3*time.Hour), &pki.Template{Subject: pkix.Name{CommonName: "old"}, Duration: time.Hour}, leafKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "tls.crt"), string(pki.EncodeCertificatesPEM(leaf, inter.Certificate)))
	writeFile(t, filepath.Join(dir, "root.pem"), string(pki.EncodeCertificatesPEM(root.Certificate)))
	writeFile(t, filepath.Join(dir, "other.pem"), string(pki.EncodeCertificatesPEM(other.Certificate)))
	writeFile(t, filepath.Join(dir, "old.pem"), string(pki.EncodeCertificatesPEM(expired)))
	csrPEM, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "jane"}, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "forged.csr"), breakSignature(t, csrPEM))

	out := must(t, dir, "", "inspect", "tls.crt")
	if !strings.Contains(out, "complete, in order, up to a root that is not included") || !strings.Contains(out, "CN=root (not included)") ||
		strings.Contains(out, "unknown authority") || strings.Contains(out, "invalid") {
		t.Errorf("inspect tls.crt:\n%s", out)
	}
	var report pki.Report
	if err := jsonUnmarshal(must(t, dir, "", "inspect", "-o", "json", "tls.crt"), &report); err != nil {
		t.Fatal(err)
	}
	if report.Chain == nil || report.Chain.MissingRoot != "CN=root" || report.Chain.Error != "" {
		t.Errorf("inspect -o json tls.crt: chain %+v", report.Chain)
	}
	if out := must(t, dir, "", "inspect", "--ca", "root.pem", "tls.crt"); !strings.Contains(out, "valid, in order") || !strings.Contains(out, "CN=root (a given root)") {
		t.Errorf("inspect --ca root.pem tls.crt:\n%s", out)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"another root", []string{"inspect", "--ca", "other.pem", "tls.crt"}, "tls.crt: the chain does not verify against the given root"},
		{"expired", []string{"inspect", "old.pem"}, "old.pem: the certificate (old) expired on "},
		{"forged request", []string{"inspect", "forged.csr"}, "forged.csr: the certificate request's signature does not verify"},
		{"--ca of a request", []string{"inspect", "--ca", "root.pem", "forged.csr"}, "forged.csr holds no certificate to verify against --ca root.pem"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := cp(t, dir, "", tt.args...)
			if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want a failure naming %q", r.code, r.stderr, tt.want)
			}
		})
	}
	// The report is still shown: the exit code is the verdict.
	if r := cp(t, dir, "", "inspect", "old.pem"); !strings.Contains(r.stdout, "CN=old") || !strings.Contains(r.stdout, "expired") {
		t.Errorf("inspect old.pem printed %q", r.stdout)
	}

	// A kubeconfig whose client certificate has expired.
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	keyPEM, err := pki.MarshalPrivateKeyPEM(leafKey, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "old.conf"), "apiVersion: v1\nkind: Config\ncurrent-context: old\n"+
		"clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: "+b64(pki.EncodeCertificatesPEM(root.Certificate))+"\n"+
		"contexts:\n- name: old\n  context:\n    cluster: c\n    user: old\n"+
		"users:\n- name: old\n  user:\n    client-certificate-data: "+b64(pki.EncodeCertificatesPEM(expired))+"\n    client-key-data: "+b64(keyPEM)+"\n")
	if r := cp(t, dir, "", "inspect", "old.conf"); r.code == 0 || !strings.Contains(r.stderr, `old.conf: user "old"'s client certificate (old) expired on`) {
		t.Errorf("expired kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
}

// ca makes a CA named cn, self-signed when parent is nil.
func ca(t *testing.T, parent *pki.CA, cn string, now time.Time, d time.Duration) *pki.CA {
	t.Helper()
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &pki.Template{Subject: pkix.Name{CommonName: cn}, IsCA: true, Duration: d}
	var cert *x509.Certificate
	if parent == nil {
		cert, err = pki.SelfSign(rand.Reader, now, tmpl, key)
	} else {
		cert, err = parent.Issue(rand.Reader, now, tmpl, key.Public())
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.NewCA(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPKIInitRerun: a second pki init counts every file, refuses other
// SANs as kubeadm does, and validities under an hour need
// --allow-short-validity; renew twice in a row keeps both backups.
func TestPKIInitRerun(t *testing.T) {
	dir := t.TempDir()
	base := []string{"pki", "init", "--dir", "tree", "--node-name", "node-a", "--key-algorithm", "ecdsa-p256", "--cert-sans", "api.example.com"}
	if out := must(t, dir, "", base...); !strings.HasPrefix(out, "created 27 files, checked 0 in tree\n") {
		t.Errorf("first init: %q", out)
	}
	if out := must(t, dir, "", base...); out != "created 0 files, checked 27 in tree\n" {
		t.Errorf("second init: %q, want every file checked", out)
	}
	for _, tt := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"another SAN", []string{"--cert-sans", "api2.example.com"}, "pki/apiserver.crt lacks the requested SAN api2.example.com"},
		{"another node", []string{"--node-name", "node-b"}, "pki/apiserver.crt lacks the requested SAN node-b"},
	} {
		r := cp(t, dir, "", append(base, tt.extra...)...)
		if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", tt.name, r.code, r.stderr, tt.want)
		}
	}
	short := must(t, dir, "", "pki", "init", "--dir", "short", "--node-name", "n", "--key-algorithm", "ecdsa-p256", "--validity", "30m", "--ca-validity", "50m", "--allow-short-validity")
	if !strings.HasPrefix(short, "created 27 files") {
		t.Errorf("short init: %q", short)
	}
	if c := readCertFile(t, filepath.Join(dir, "short", "pki", "apiserver.crt")); c.NotAfter.Sub(c.NotBefore) > 50*time.Minute {
		t.Errorf("short init made a certificate valid %s", c.NotAfter.Sub(c.NotBefore))
	}

	first := must(t, dir, "", "pki", "renew", "apiserver", "--dir", "tree")
	second := must(t, dir, "", "pki", "renew", "apiserver", "--dir", "tree")
	if first == second {
		t.Errorf("two renewals kept their files in the same place:\n%s", first)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "tree", "backup"))
	if err != nil || len(entries) != 2 {
		t.Errorf("backups %v %v, want two", entries, err)
	}
}

// TestKubeconfigNotFound: without a kubeconfig, the error names the file
// that was tried and how to give one, not client-go's KUBERNETES_MASTER.
func TestKubeconfigNotFound(t *testing.T) {
	home := t.TempDir()
	for _, tt := range []struct {
		name       string
		kubeconfig string // $KUBECONFIG
		args       []string
		want       string
	}{
		{"nothing at all", "", []string{"csr", "get"}, "no kubeconfig found at " + filepath.Join(home, ".kube", "config") + " (from the default, as $KUBECONFIG is not set): give one with --kubeconfig FILE or set KUBECONFIG"},
		{"empty $KUBECONFIG file", filepath.Join(home, "empty.conf"), []string{"user", "add", "jane", "--out", filepath.Join(home, "jane.conf")},
			"kubeconfig " + filepath.Join(home, "empty.conf") + " (from $KUBECONFIG) names no cluster"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, filepath.Join(home, "empty.conf"), "")
			cmd := exec.Command(certplane, tt.args...)
			cmd.Dir = home
			cmd.Env = append(envWithout("HOME", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"), "HOME="+home, "KUBECONFIG="+tt.kubeconfig)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("run: %v, want a failure", err)
			}
			if got := stderr.String(); !strings.Contains(got, tt.want) || strings.Contains(got, "KUBERNETES_MASTER") || strings.Count(got, "\n") != 1 {
				t.Errorf("stderr = %q, want %q", got, tt.want)
			}
		})
	}
}

func envWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if k == n {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}
