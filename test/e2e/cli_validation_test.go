package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCLIRefusesInvalidHosts: genkey and gencert hosts (cfssl JSON and
// -hostname) and pki init --cert-sans refuse names that are neither IP
// addresses nor DNS names, as kubeadm does for certSANs: one line naming
// the value, a non-zero exit, nothing written.
func TestCLIRefusesInvalidHosts(t *testing.T) {
	setup := t.TempDir()
	writeFile(t, filepath.Join(setup, "ca-csr.json"), caRequest)
	must(t, setup, "", "gencert", "-initca", "ca-csr.json")
	caPEM, _ := os.ReadFile(filepath.Join(setup, "ca.pem"))
	caKey, _ := os.ReadFile(filepath.Join(setup, "ca-key.pem"))
	csrPEM, _ := os.ReadFile(filepath.Join(setup, "ca.csr"))
	ca := map[string]string{"ca.pem": string(caPEM), "ca-key.pem": string(caKey)}
	with := func(m map[string]string, name, data string) map[string]string {
		out := map[string]string{name: data}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	request := func(hosts string) string { return `{"CN":"web","hosts":["web.example.com",` + hosts + `]}` }
	const (
		space   = `"bad host!!" is not an IP address or a valid DNS name: label "bad host!!" has ' ', which is not an ASCII letter, digit or '-'`
		hyphen  = `"-x-.com" is not an IP address or a valid DNS name: label "-x-" starts or ends with '-'`
		empty   = `"a..b" is not an IP address or a valid DNS name: it has an empty label`
		badIPv4 = `"999.1.1.1" is not an IP address or a valid DNS name: its last label "1" is all digits`
	)
	tests := []struct {
		name  string
		files map[string]string
		stdin string
		args  []string
		want  string
	}{
		{"genkey host with a space", map[string]string{"r.json": request(`"bad host!!"`)}, "", []string{"genkey", "r.json"}, "r.json: hosts: " + space},
		{"genkey host with a leading hyphen", map[string]string{"r.json": request(`"-x-.com"`)}, "", []string{"genkey", "r.json"}, "r.json: hosts: " + hyphen},
		{"genkey host with an empty label", map[string]string{"r.json": request(`"a..b"`)}, "", []string{"genkey", "r.json"}, "r.json: hosts: " + empty},
		{"genkey bad IPv4 address", map[string]string{"r.json": request(`"999.1.1.1"`)}, "", []string{"genkey", "r.json"}, "r.json: hosts: " + badIPv4},
		{"genkey from stdin", nil, request(`"a..b"`), []string{"genkey", "-", "-bare", "web"}, "hosts: " + empty},
		{"gencert -initca", map[string]string{"r.json": request(`"bad host!!"`)}, "", []string{"gencert", "-initca", "r.json"}, "r.json: hosts: " + space},
		{"gencert with a CA", with(ca, "r.json", request(`"-x-.com"`)), "", []string{"gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "r.json"}, "r.json: hosts: " + hyphen},
		{"gencert -hostname", with(ca, "r.json", `{"CN":"web"}`), "", []string{"gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "-hostname", "web.example.com,999.1.1.1", "r.json"}, badIPv4},
		{"gencert --csr --hostname", with(ca, "x.csr", string(csrPEM)), "", []string{"gencert", "--ca", "ca.pem", "--ca-key", "ca-key.pem", "--csr", "x.csr", "--hostname", "a..b"}, empty},
		{"pki init --cert-sans", nil, "", []string{"pki", "init", "--dir", "tree", "--node-name", "node-a", "--cert-sans", "api.example.com,bad host!!"}, "cert SAN " + space},
		{"pki init --cert-sans bad IPv4", nil, "", []string{"pki", "init", "--dir", "tree", "--node-name", "node-a", "--cert-sans", "999.1.1.1"}, "cert SAN " + badIPv4},
		{"pki init certSANs in --config", map[string]string{"c.yaml": "certSANs: [api.example.com, -x-.com]\n"}, "", []string{"pki", "init", "--dir", "tree", "--node-name", "node-a", "--config", "c.yaml"}, "cert SAN " + hyphen},
		{"pki init --node-name", nil, "", []string{"pki", "init", "--dir", "tree", "--node-name", "node_a"}, `node name "node_a" is not a valid DNS name`},
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
			if lines := strings.Count(r.stderr, "\n"); lines != 1 || !strings.HasPrefix(r.stderr, "certplane: ") {
				t.Errorf("stderr = %q, want one line starting with certplane:", r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to say %q", r.stderr, tt.want)
			}
			if p := libraryPrefix.FindString(r.stderr); p != "" {
				t.Errorf("stderr = %q, which shows the library prefix %q", r.stderr, p)
			}
			if after := listDir(t, dir); !slices.Equal(before, after) {
				t.Errorf("files before %v, after %v: a failed command wrote something", before, after)
			}
		})
	}
}

// TestCLIAcceptsValidHosts: wildcards, IPv6 addresses and names of either
// case are still accepted, by cfssl hosts and by pki init --cert-sans.
func TestCLIAcceptsValidHosts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca-csr.json"), caRequest)
	writeFile(t, filepath.Join(dir, "web-csr.json"), `{"CN":"web","hosts":["*.apps.example.com","Web.Example.com","2001:db8::1","192.0.2.24"]}`)
	must(t, dir, "", "gencert", "-initca", "ca-csr.json")
	must(t, dir, "", "gencert", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "-profile", "server", "web-csr.json")
	leaf := readPEMCert(t, filepath.Join(dir, "web.pem"))
	if !slices.Equal(leaf.DNSNames, []string{"*.apps.example.com", "Web.Example.com"}) || len(leaf.IPAddresses) != 2 {
		t.Errorf("web.pem SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	must(t, dir, "", "pki", "init", "--dir", "tree", "--node-name", "node-a", "--key-algorithm", "ecdsa-p256", "--cert-sans", "*.api.example.com,2001:db8::2")
	api := readPEMCert(t, filepath.Join(dir, "tree", "pki", "apiserver.crt"))
	if err := api.VerifyHostname("x.api.example.com"); err != nil {
		t.Error(err)
	}
	if err := api.VerifyHostname("2001:db8::2"); err != nil {
		t.Error(err)
	}
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
