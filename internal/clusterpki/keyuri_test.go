package clusterpki_test

import (
	"crypto"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

// token stands in for a PKCS#11 token: keys by URI, and a count of opens.
type token struct {
	keys  map[string]crypto.Signer
	opens int
}

var errNoSuchKey = errors.New("pkcs11: pkcs11:token=t;object=missing: no such key pair")

func newToken(t *testing.T, uris ...string) *token {
	t.Helper()
	tk := &token{keys: map[string]crypto.Signer{}}
	for _, u := range uris {
		k, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		tk.keys[u] = k
	}
	return tk
}

func (tk *token) open(uri string) (crypto.Signer, error) {
	tk.opens++
	if k, ok := tk.keys[uri]; ok {
		return k, nil
	}
	return nil, errNoSuchKey
}

const (
	caURI    = "pkcs11:token=t;object=ca?module-path=/m.so&pin-source=file:/pin"
	etcdURI  = "pkcs11:token=t;object=etcd-ca?module-path=/m.so&pin-source=file:/pin"
	proxyURI = "pkcs11:token=t;object=front-proxy-ca?module-path=/m.so&pin-source=file:/pin"
)

// walk lists every file under dir, relative, sorted.
func walk(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			r, _ := filepath.Rel(dir, path)
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

// TestInitWithKeyURIs makes the three CAs for keys in a token: no CA key
// file anywhere, the URIs remembered 0600, every leaf signed by the token
// key; a second Init finds and checks them without being told.
func TestInitWithKeyURIs(t *testing.T) {
	dir := t.TempDir()
	tk := newToken(t, caURI, etcdURI, proxyURI)
	o := options(dir)
	o.CAKeyURIs = map[string]string{"ca": caURI, "etcd-ca": etcdURI, "front-proxy-ca": proxyURI}
	o.OpenKey = tk.open
	res, err := clusterpki.Init(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pki/ca.key", "pki/etcd/ca.key", "pki/front-proxy-ca.key"} {
		if slices.Contains(res.Created, f) {
			t.Errorf("Init wrote %s", f)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s exists", f)
		}
	}
	for base, uri := range map[string]string{"ca": caURI, "etcd/ca": etcdURI, "front-proxy-ca": proxyURI} {
		got, err := clusterpki.ReadKeyURI(dir, base)
		if err != nil || got != uri {
			t.Errorf("ReadKeyURI(%s) = %q, %v; want %q", base, got, err, uri)
		}
		assertMode(t, filepath.Join(dir, "pki", base+".key-uri"), 0o600)
		cert := readCert(t, filepath.Join(dir, "pki", base+".crt"))
		if !pki.KeyMatches(cert.PublicKey, tk.keys[uri]) || !cert.IsCA {
			t.Errorf("%s.crt is not a CA certificate of the token key", base)
		}
	}
	ca := readCert(t, filepath.Join(dir, "pki", "ca.crt"))
	for _, leaf := range []string{"apiserver", "apiserver-kubelet-client"} {
		if err := readCert(t, filepath.Join(dir, "pki", leaf+".crt")).CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: %v", leaf, err)
		}
	}
	if err := readCert(t, filepath.Join(dir, "pki", "etcd", "server.crt")).CheckSignatureFrom(readCert(t, filepath.Join(dir, "pki", "etcd", "ca.crt"))); err != nil {
		t.Errorf("etcd/server: %v", err)
	}

	// Again, told nothing: the remembered URIs are opened and checked.
	o2 := options(dir)
	o2.OpenKey = tk.open
	res, err = clusterpki.Init(o2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 || !slices.Contains(res.Checked, "pki/ca.key-uri") {
		t.Errorf("second Init created %v, checked %v", res.Created, res.Checked)
	}

	// Without an opener, a CA in a token cannot sign, and says why.
	_, err = clusterpki.UserKubeconfig(options(dir), "jane", nil, 0)
	if err == nil || !strings.Contains(err.Error(), "pki/ca.key-uri names a key in a PKCS#11 token, and this command cannot open one") {
		t.Errorf("UserKubeconfig without an opener: %v", err)
	}
}

// TestInitWithKeyURIRefuses: a key file beside the URI, another URI than
// the remembered one, a token that cannot open the key, or a certificate of
// another key are errors, and nothing is written.
func TestInitWithKeyURIRefuses(t *testing.T) {
	tk := newToken(t, caURI, etcdURI)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		uris  map[string]string
		want  string
	}{
		{
			name: "key file exists",
			setup: func(t *testing.T, dir string) {
				if _, err := clusterpki.Init(options(dir)); err != nil {
					t.Fatal(err)
				}
			},
			uris: map[string]string{"ca": caURI},
			want: "pki/ca.key exists: the ca key is a file, so it cannot be the token key --ca-key-uri names",
		},
		{
			name: "key file beside a remembered URI",
			setup: func(t *testing.T, dir string) {
				o := options(dir)
				o.CAKeyURIs, o.OpenKey = map[string]string{"ca": caURI}, tk.open
				if _, err := clusterpki.Init(o); err != nil {
					t.Fatal(err)
				}
				writeKey(t, filepath.Join(dir, "pki", "ca.key"))
			},
			want: "both pki/ca.key and pki/ca.key-uri exist",
		},
		{
			name: "another URI",
			setup: func(t *testing.T, dir string) {
				o := options(dir)
				o.CAKeyURIs, o.OpenKey = map[string]string{"ca": caURI}, tk.open
				if _, err := clusterpki.Init(o); err != nil {
					t.Fatal(err)
				}
			},
			uris: map[string]string{"ca": etcdURI},
			want: "pki/ca.key-uri names another key than --ca-key-uri",
		},
		{
			name: "no such key",
			uris: map[string]string{"front-proxy-ca": "pkcs11:token=t;object=missing"},
			want: "the key of pki/front-proxy-ca.crt: pkcs11: pkcs11:token=t;object=missing: no such key pair",
		},
		{
			name: "certificate of another key",
			setup: func(t *testing.T, dir string) {
				if _, err := clusterpki.Init(options(dir)); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(dir, "pki", "ca.key")); err != nil {
					t.Fatal(err)
				}
			},
			uris: map[string]string{"ca": caURI},
			want: "pki/ca.crt is not the certificate of the token key",
		},
		{
			name: "unknown CA",
			uris: map[string]string{"root-ca": caURI},
			want: `no CA named "root-ca"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			before := walk(t, dir)
			o := options(dir)
			o.CAKeyURIs, o.OpenKey = tt.uris, tk.open
			_, err := clusterpki.Init(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Init: %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if after := walk(t, dir); !slices.Equal(before, after) {
				t.Errorf("files changed from %v to %v", before, after)
			}
		})
	}
}

func writeKey(t *testing.T, path string) {
	t.Helper()
	k, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	data, err := pki.MarshalPrivateKeyPEM(k, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTokenCAServesRenewAndKubeconfigs: check-expiration marks the CA as
// in a token (not externally managed) without opening it; renew and user
// kubeconfigs are signed by the token key.
func TestTokenCAServesRenewAndKubeconfigs(t *testing.T) {
	dir := t.TempDir()
	tk := newToken(t, caURI)
	o := options(dir)
	o.CAKeyURIs, o.OpenKey = map[string]string{"ca": caURI}, tk.open
	if _, err := clusterpki.Init(o); err != nil {
		t.Fatal(err)
	}
	opens := tk.opens
	r, err := clusterpki.CheckExpiration(dir, start, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tk.opens != opens {
		t.Error("check-expiration opened the token")
	}
	for _, e := range r.CertificateAuthorities {
		if e.HSM != (e.Name == "ca") || e.ExternallyManaged {
			t.Errorf("%s: HSM %v, externally managed %v", e.Name, e.HSM, e.ExternallyManaged)
		}
	}
	for _, e := range r.Certificates {
		if e.ExternallyManaged {
			t.Errorf("%s is marked externally managed", e.Name)
		}
	}

	ro := options(dir)
	ro.OpenKey = tk.open
	if _, err := clusterpki.Renew(ro, []string{"apiserver", "admin.conf"}); err != nil {
		t.Fatal(err)
	}
	ca := readCert(t, filepath.Join(dir, "pki", "ca.crt"))
	if err := readCert(t, filepath.Join(dir, "pki", "apiserver.crt")).CheckSignatureFrom(ca); err != nil {
		t.Errorf("renewed apiserver: %v", err)
	}
	if _, err := clusterpki.Renew(ro, []string{"ca"}); err == nil || !strings.Contains(err.Error(), "CAs are never renewed") {
		t.Errorf("renewing the token CA: %v", err)
	}
	data, err := clusterpki.UserKubeconfig(ro, "jane", []string{"dev"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeconfig.Parse(data, dir)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(kc.Users[0].Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs[0].CheckSignatureFrom(ca); err != nil {
		t.Errorf("jane's certificate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki", "ca.key")); !os.IsNotExist(err) {
		t.Error("pki/ca.key exists")
	}
}

// TestRecertifyTokenCA: with pki/ca.crt moved away, Init makes a new
// certificate for the same token key, and the leaves signed under the old
// one still check.
func TestRecertifyTokenCA(t *testing.T) {
	dir := t.TempDir()
	tk := newToken(t, caURI)
	o := options(dir)
	o.CAKeyURIs, o.OpenKey = map[string]string{"ca": caURI}, tk.open
	if _, err := clusterpki.Init(o); err != nil {
		t.Fatal(err)
	}
	old := readCert(t, filepath.Join(dir, "pki", "ca.crt"))
	if err := os.Rename(filepath.Join(dir, "pki", "ca.crt"), filepath.Join(dir, "old-ca.crt")); err != nil {
		t.Fatal(err)
	}
	o2 := options(dir)
	o2.OpenKey = tk.open
	o2.Now = func() time.Time { return start.Add(time.Hour) }
	res, err := clusterpki.Init(o2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Created, []string{"pki/ca.crt"}) {
		t.Errorf("created %v, want only pki/ca.crt", res.Created)
	}
	renewed := readCert(t, filepath.Join(dir, "pki", "ca.crt"))
	if renewed.Equal(old) || !publicKeyEqual(renewed.PublicKey, old.PublicKey) || !renewed.NotBefore.After(old.NotBefore) {
		t.Error("the new ca.crt is not a new certificate of the same key")
	}
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	p, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(b)
}
