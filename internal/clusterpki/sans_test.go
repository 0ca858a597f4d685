package clusterpki_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/pkg/pki"
)

// TestInitRefusesInvalidSANs checks that names kubeadm would refuse as SANs
// stop Init before it writes anything, with one line naming the name.
func TestInitRefusesInvalidSANs(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(o *clusterpki.Options)
		wantErr string
	}{
		{"space", func(o *clusterpki.Options) { o.CertSANs = []string{"api.example.com", "bad host!!"} },
			`cert SAN "bad host!!" is not an IP address or a valid DNS name: label "bad host!!" has ' ', which is not an ASCII letter, digit or '-'`},
		{"leading hyphen", func(o *clusterpki.Options) { o.CertSANs = []string{"-x-.com"} },
			`cert SAN "-x-.com" is not an IP address or a valid DNS name: label "-x-" starts or ends with '-'`},
		{"empty label", func(o *clusterpki.Options) { o.CertSANs = []string{"a..b"} },
			`cert SAN "a..b" is not an IP address or a valid DNS name: it has an empty label`},
		{"bad IPv4", func(o *clusterpki.Options) { o.CertSANs = []string{"999.1.1.1"} },
			`cert SAN "999.1.1.1" is not an IP address or a valid DNS name: its last label "1" is all digits`},
		{"node name", func(o *clusterpki.Options) { o.NodeName = "node_a" },
			`node name "node_a" is not a valid DNS name: label "node_a" has '_', which is not an ASCII letter, digit or '-'`},
		{"wildcard node name", func(o *clusterpki.Options) { o.NodeName = "*.nodes" },
			`node name "*.nodes" is not a valid DNS name: it may not be a wildcard`},
		{"DNS domain", func(o *clusterpki.Options) { o.DNSDomain = "cluster..local" },
			`DNS domain "cluster..local" is not a valid DNS name: it has an empty label`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := options(dir)
			tt.edit(&o)
			_, err := clusterpki.Init(o)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Init: %v, want %s", err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("Init wrote %d entries into %s", len(entries), dir)
			}
		})
	}
}

// TestInitAcceptsWildcardSAN checks that a wildcard SAN and IPv6 addresses
// pass, as kubeadm accepts them.
func TestInitAcceptsWildcardSAN(t *testing.T) {
	dir := t.TempDir()
	o := options(dir)
	o.CertSANs = []string{"*.apps.example.com", "2001:db8::1", "API.example.com"}
	if _, err := clusterpki.Init(o); err != nil {
		t.Fatal(err)
	}
	c := readCert(t, filepath.Join(dir, "pki", "apiserver.crt"))
	if err := c.VerifyHostname("web.apps.example.com"); err != nil {
		t.Error(err)
	}
	for _, d := range c.DNSNames {
		if err := pki.ValidateDNSName(d); err != nil {
			t.Error(err)
		}
	}
}
