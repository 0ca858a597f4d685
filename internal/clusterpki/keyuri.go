package clusterpki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/pkg/pki"
)

// A CA whose key lives in a hardware token (PKCS#11, RFC 7512) has no key
// file: the tree remembers the key's URI in pki/<base>.key-uri (mode 0600),
// beside the certificate, and opens it through an injected function, so
// that this package never loads a PKCS#11 module itself.

// keyURIPath is the file that remembers a CA's key URI.
func keyURIPath(dir, base string) string { return filepath.Join(dir, "pki", base+".key-uri") }

// ReadKeyURI returns the key URI the tree in dir remembers for the CA at
// base ("ca", "etcd/ca", "front-proxy-ca"), or "" when it remembers none.
// The URI may carry a pin-value: never print it; a PKCS#11 package's
// URI.String redacts it.
func ReadKeyURI(dir, base string) (string, error) {
	path := keyURIPath(dir, base)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	uri := strings.TrimSpace(string(data))
	if uri == "" || strings.ContainsAny(uri, "\r\n") {
		return "", fmt.Errorf("%s: want one key URI on one line", rel(dir, path))
	}
	return uri, nil
}

// CABase is the file base under pki/ of a CA by its kubeadm name (ca,
// etcd-ca, front-proxy-ca), and whether there is such a CA.
func CABase(name string) (string, bool) {
	for _, c := range cas {
		if c.name == name {
			return c.base, true
		}
	}
	return "", false
}

// CANames are the kubeadm names of the tree's CAs, in order.
func CANames() []string {
	names := make([]string, len(cas))
	for i, c := range cas {
		names[i] = c.name
	}
	return names
}

// TreeKeys finds the CA keys of the tree in Dir, each where the tree keeps
// it: a key file, pki/<base>.key, or a key in a hardware token named by the
// URI in pki/<base>.key-uri, opened with Open. A CA has one or the other,
// never both.
type TreeKeys struct {
	Dir string
	// Open opens a key URI. If nil, a CA whose key is in a token cannot
	// sign: Signer says so.
	Open func(uri string) (crypto.Signer, error)
}

// Signer returns the CA's key: parsed from its file, or opened in its
// token. A CA with neither is ErrNoKey (externally managed).
func (k TreeKeys) Signer(base string) (crypto.Signer, error) {
	uri, err := ReadKeyURI(k.Dir, base)
	if err != nil {
		return nil, err
	}
	if uri == "" {
		return FileKeys{Dir: k.Dir}.Signer(base)
	}
	if err := notBoth(k.Dir, base); err != nil {
		return nil, err
	}
	return openKeyURI(k.Dir, base, uri, k.Open)
}

// notBoth refuses a CA that has both a key file and a key URI.
func notBoth(dir, base string) error {
	if _, err := os.Lstat(keyPath(dir, base)); err == nil {
		return fmt.Errorf("both %s and %s exist: a CA's key is either a file or in a token, never both; move one away",
			rel(dir, keyPath(dir, base)), rel(dir, keyURIPath(dir, base)))
	}
	return nil
}

func openKeyURI(dir, base, uri string, open func(string) (crypto.Signer, error)) (crypto.Signer, error) {
	if open == nil {
		return nil, fmt.Errorf("%s names a key in a PKCS#11 token, and this command cannot open one", rel(dir, keyURIPath(dir, base)))
	}
	key, err := open(uri)
	if err != nil {
		// The opener's errors name the URI without its PIN.
		return nil, fmt.Errorf("the key of %s: %w", rel(dir, certPath(dir, base)), err)
	}
	return key, nil
}

// tokenCA sets up a CA whose key is in a token: given is the URI the
// caller names (Options.CAKeyURIs), remembered the one the tree keeps; at
// least one is set. It makes the CA's certificate for the token's key when
// there is none, checks the one there otherwise, and remembers the URI.
// It refuses a key file beside it and a URI other than the remembered one.
func (b *builder) tokenCA(c caSpec, given, remembered string) error {
	certFile, keyFile, uriFile := certPath(b.o.Dir, c.base), keyPath(b.o.Dir, c.base), keyURIPath(b.o.Dir, c.base)
	if _, err := os.Lstat(keyFile); err == nil {
		if remembered == "" {
			return fmt.Errorf("%s exists: the %s key is a file, so it cannot be the token key %s names; move %s away to use a key in a token",
				b.rel(keyFile), c.name, caKeyURIFlag(c.name), b.rel(keyFile))
		}
		return notBoth(b.o.Dir, c.base)
	}
	if given != "" && remembered != "" && given != remembered {
		return fmt.Errorf("%s names another key than %s: the tree keeps the key its CA was made for; move %s and %s away to start a new CA",
			b.rel(uriFile), caKeyURIFlag(c.name), b.rel(certFile), b.rel(uriFile))
	}
	uri := given
	if uri == "" {
		uri = remembered
	}
	cert, err := readCert(certFile)
	if err != nil {
		return fmt.Errorf("%s: %w", b.rel(certFile), err)
	}
	key, err := openKeyURI(b.o.Dir, c.base, uri, b.o.OpenKey)
	if err != nil {
		return err
	}
	if cert == nil {
		cert, err = pki.SelfSign(b.o.Rand, b.now, caTemplate(c, b.o.CAValidity), key)
		if err != nil {
			return fmt.Errorf("making %s with the token key: %w", b.rel(certFile), err)
		}
		b.add(certFile, pki.EncodeCertificatesPEM(cert), files.Public)
	} else {
		if err := b.checkTokenCA(c, cert, key); err != nil {
			return err
		}
		b.res.Checked = append(b.res.Checked, b.rel(certFile))
	}
	if remembered == "" {
		b.add(uriFile, []byte(uri+"\n"), files.Secret)
	} else {
		b.res.Checked = append(b.res.Checked, b.rel(uriFile))
	}
	b.cas[c.name] = &pki.CA{Certificate: cert, Key: key}
	return nil
}

func (b *builder) checkTokenCA(c caSpec, cert *x509.Certificate, key crypto.Signer) error {
	certFile := certPath(b.o.Dir, c.base)
	if !pki.KeyMatches(cert.PublicKey, key) {
		return fmt.Errorf("%s is not the certificate of the token key: its public key differs", b.rel(certFile))
	}
	if _, err := pki.NewCA(cert, key); err != nil {
		return fmt.Errorf("%s: %w", b.rel(certFile), err)
	}
	if err := checkValid(cert, b.now); err != nil {
		return fmt.Errorf("%s: %w", b.rel(certFile), err)
	}
	return nil
}

// caTemplate is a new CA certificate's, as kubeadm makes it.
func caTemplate(c caSpec, validity time.Duration) *pki.Template {
	return &pki.Template{
		Subject:  pkix.Name{CommonName: c.cn},
		DNSNames: []string{c.cn},
		IsCA:     true,
		Usages:   []pki.Usage{pki.UsageDigitalSignature, pki.UsageKeyEncipherment, pki.UsageCertSign},
		Duration: validity,
	}
}

// caKeyURIFlag names the pki init flag that gives a CA's key URI.
func caKeyURIFlag(name string) string {
	switch name {
	case "etcd-ca":
		return "--etcd-ca-key-uri"
	case "front-proxy-ca":
		return "--front-proxy-ca-key-uri"
	}
	return "--ca-key-uri"
}

// isFileStore reports whether keys reads key files under pki/, so that Init
// can say it checked them.
func isFileStore(keys KeyStore) bool {
	switch keys.(type) {
	case FileKeys, TreeKeys:
		return true
	}
	return false
}
