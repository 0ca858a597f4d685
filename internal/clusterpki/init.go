package clusterpki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

// Result says what Init did: the files it created and the ones it found
// in place and checked (certificates, keys and kubeconfigs alike), as paths
// relative to the tree's directory.
type Result struct {
	Created []string
	Checked []string
}

// Init fills in what is missing from the tree and checks what is there. It
// never overwrites a file: a certificate signed by the wrong CA, a key that
// does not match its certificate, an expired certificate, half of a pair,
// a certificate that lacks a SAN the options ask for, or a kubeconfig for
// another identity (kubelet.conf of another node) is an error naming the
// file, and then nothing is written. As kubeadm does, an existing
// certificate must have at least the SANs asked for; it may have more.
func Init(opts Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &builder{o: o, now: o.Now(), res: &Result{}, cas: map[string]*pki.CA{}}
	for _, c := range cas {
		if err := b.ca(c); err != nil {
			return nil, err
		}
	}
	for _, s := range certs {
		if err := b.leaf(s); err != nil {
			return nil, err
		}
	}
	if err := b.serviceAccountKeys(); err != nil {
		return nil, err
	}
	for _, c := range confs {
		if err := b.kubeconfig(c); err != nil {
			return nil, err
		}
	}
	if err := files.WriteAll(b.out...); err != nil {
		return nil, err
	}
	for _, f := range b.out {
		b.res.Created = append(b.res.Created, rel(o.Dir, f.Path))
	}
	return b.res, nil
}

type builder struct {
	o   Options
	now time.Time
	res *Result
	out []files.File
	// cas are the tree's CAs by name; an externally managed CA has no Key.
	cas map[string]*pki.CA
}

func (b *builder) rel(path string) string { return rel(b.o.Dir, path) }

func (b *builder) ca(c caSpec) error {
	remembered, err := ReadKeyURI(b.o.Dir, c.base)
	if err != nil {
		return err
	}
	if given := b.o.CAKeyURIs[c.name]; given != "" || remembered != "" {
		return b.tokenCA(c, given, remembered)
	}
	certFile := certPath(b.o.Dir, c.base)
	cert, err := readCert(certFile)
	if err != nil {
		return fmt.Errorf("%s: %w", b.rel(certFile), err)
	}
	key, keyErr := b.o.CAKeys.Signer(c.base)
	switch {
	case cert == nil && errors.Is(keyErr, ErrNoKey):
		return b.newCA(c)
	case cert == nil:
		return fmt.Errorf("%s exists but %s is missing", b.rel(keyPath(b.o.Dir, c.base)), b.rel(certFile))
	case errors.Is(keyErr, ErrNoKey):
		// An externally managed CA: it can check, not sign.
		if err := checkValid(cert, b.now); err != nil {
			return fmt.Errorf("%s: %w", b.rel(certFile), err)
		}
		b.cas[c.name] = &pki.CA{Certificate: cert}
	case keyErr != nil:
		return keyErr
	default:
		ca, err := pki.NewCA(cert, key)
		if err != nil {
			return fmt.Errorf("%s: %w", b.rel(certFile), err)
		}
		if err := checkValid(cert, b.now); err != nil {
			return fmt.Errorf("%s: %w", b.rel(certFile), err)
		}
		b.cas[c.name] = ca
	}
	b.res.Checked = append(b.res.Checked, b.rel(certFile))
	if isFileStore(b.o.CAKeys) && b.cas[c.name].Key != nil {
		b.res.Checked = append(b.res.Checked, b.rel(keyPath(b.o.Dir, c.base)))
	}
	return nil
}

func (b *builder) newCA(c caSpec) error {
	key, keyPEM, err := b.newKey()
	if err != nil {
		return err
	}
	cert, err := pki.SelfSign(b.o.Rand, b.now, caTemplate(c, b.o.CAValidity), key)
	if err != nil {
		return err
	}
	b.cas[c.name] = &pki.CA{Certificate: cert, Key: key}
	b.add(certPath(b.o.Dir, c.base), pki.EncodeCertificatesPEM(cert), files.Public)
	b.add(keyPath(b.o.Dir, c.base), keyPEM, files.Secret)
	return nil
}

func (b *builder) leaf(s certSpec) error {
	ca := b.cas[s.ca]
	certFile, keyFile := certPath(b.o.Dir, s.base), keyPath(b.o.Dir, s.base)
	cert, key, err := readPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("%s: %w", b.rel(certFile), err)
	}
	switch {
	case cert == nil && key == nil:
		certPEM, keyPEM, err := b.issue(ca, s.ca, b.leafTemplate(s))
		if err != nil {
			return fmt.Errorf("creating %s: %w", b.rel(certFile), err)
		}
		b.add(certFile, certPEM, files.Public)
		b.add(keyFile, keyPEM, files.Secret)
		return nil
	case cert == nil:
		return fmt.Errorf("%s exists but %s is missing", b.rel(keyFile), b.rel(certFile))
	case key == nil:
		return fmt.Errorf("%s exists but %s is missing", b.rel(certFile), b.rel(keyFile))
	}
	if err := checkLeaf(cert, key, ca.Certificate, b.now); err != nil {
		return fmt.Errorf("%s: %w", b.rel(certFile), err)
	}
	if s.sans != nil {
		dns, ips := s.sans(&b.o)
		if missing := missingSANs(cert, dns, ips); len(missing) > 0 {
			return fmt.Errorf("%s lacks the requested SAN %s (it has %s): move %s and %s away and run pki init again to make them anew",
				b.rel(certFile), strings.Join(missing, ", "), strings.Join(sanList(cert), ", "), b.rel(certFile), b.rel(keyFile))
		}
	}
	b.res.Checked = append(b.res.Checked, b.rel(certFile), b.rel(keyFile))
	return nil
}

// missingSANs are the names and addresses cert is not valid for, checked
// as kubeadm checks an existing certificate: each requested SAN must
// verify as a host name of cert.
func missingSANs(cert *x509.Certificate, dns []string, ips []net.IP) []string {
	var missing []string
	for _, name := range dns {
		if cert.VerifyHostname(name) != nil {
			missing = append(missing, name)
		}
	}
	for _, ip := range ips {
		if cert.VerifyHostname(ip.String()) != nil {
			missing = append(missing, ip.String())
		}
	}
	return missing
}

func sanList(cert *x509.Certificate) []string {
	out := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func (b *builder) leafTemplate(s certSpec) *pki.Template {
	t := &pki.Template{
		Subject:  pkix.Name{CommonName: s.cn(&b.o), Organization: s.org},
		Usages:   leafUsages(s.eku),
		Duration: b.o.Validity,
	}
	if s.sans != nil {
		t.DNSNames, t.IPAddresses = s.sans(&b.o)
	}
	return t
}

// issue makes a new key and a certificate for it from the named CA.
func (b *builder) issue(ca *pki.CA, caName string, t *pki.Template) (certPEM, keyPEM []byte, err error) {
	if ca.Key == nil {
		return nil, nil, fmt.Errorf("%s: %w", b.rel(keyPath(b.o.Dir, caBase(caName))), ErrNoKey)
	}
	key, keyPEM, err := b.newKey()
	if err != nil {
		return nil, nil, err
	}
	cert, err := ca.Issue(b.o.Rand, b.now, t, key.Public())
	if err != nil {
		return nil, nil, err
	}
	return pki.EncodeCertificatesPEM(cert), keyPEM, nil
}

func (b *builder) serviceAccountKeys() error {
	keyFile, pubFile := filepath.Join(b.o.Dir, "pki", "sa.key"), filepath.Join(b.o.Dir, "pki", "sa.pub")
	keyData, keyErr := os.ReadFile(keyFile)
	pubData, pubErr := os.ReadFile(pubFile)
	switch {
	case errors.Is(keyErr, fs.ErrNotExist) && errors.Is(pubErr, fs.ErrNotExist):
		key, keyPEM, err := b.newKey()
		if err != nil {
			return err
		}
		pubPEM, err := pki.MarshalPublicKeyPEM(key.Public())
		if err != nil {
			return err
		}
		b.add(keyFile, keyPEM, files.Secret)
		b.add(pubFile, pubPEM, files.Secret)
		return nil
	case keyErr != nil:
		return fmt.Errorf("%s: %w", b.rel(keyFile), keyErr)
	case pubErr != nil:
		return fmt.Errorf("%s: %w", b.rel(pubFile), pubErr)
	}
	key, err := pki.ParsePrivateKeyPEM(keyData)
	if err != nil {
		return fmt.Errorf("%s: %w", b.rel(keyFile), err)
	}
	pub, err := pki.ParsePublicKeyPEM(pubData)
	if err != nil {
		return fmt.Errorf("%s: %w", b.rel(pubFile), err)
	}
	if !pki.KeyMatches(pub, key) {
		return fmt.Errorf("%s does not match %s", b.rel(pubFile), b.rel(keyFile))
	}
	b.res.Checked = append(b.res.Checked, b.rel(keyFile), b.rel(pubFile))
	return nil
}

func (b *builder) kubeconfig(c confSpec) error {
	path := filepath.Join(b.o.Dir, c.name)
	ca := b.cas["ca"]
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err := b.newKubeconfig(ca, c.cn(&b.o), c.org, b.o.Validity)
		if err != nil {
			return fmt.Errorf("creating %s: %w", c.name, err)
		}
		b.add(path, data, files.Secret)
		return nil
	}
	if err != nil {
		return err
	}
	cert, key, _, err := kubeconfigCredentials(data, b.o.Dir)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if err := checkLeaf(cert, key, ca.Certificate, b.now); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if cn, org := c.cn(&b.o), c.org; cert.Subject.CommonName != cn || !slices.Equal(cert.Subject.Organization, org) {
		return fmt.Errorf("%s is for %s, not %s: move it away and run pki init again to make it anew",
			c.name, describeSubject(cert.Subject.CommonName, cert.Subject.Organization), describeSubject(cn, org))
	}
	b.res.Checked = append(b.res.Checked, c.name)
	return nil
}

func describeSubject(cn string, org []string) string {
	if len(org) == 0 {
		return fmt.Sprintf("%q", cn)
	}
	return fmt.Sprintf("%q in %s", cn, strings.Join(org, ", "))
}

// newKubeconfig issues a client certificate from ca and embeds it, its key
// and the CA in a kubeconfig for the tree's server.
func (b *builder) newKubeconfig(ca *pki.CA, cn string, org []string, validity time.Duration) ([]byte, error) {
	certPEM, keyPEM, err := b.issue(ca, "ca", &pki.Template{
		Subject:  pkix.Name{CommonName: cn, Organization: org},
		Usages:   leafUsages(clientAuth),
		Duration: validity,
	})
	if err != nil {
		return nil, err
	}
	return kubeconfig.Spec{
		ClusterName: b.o.ClusterName,
		Server:      b.o.Server,
		CA:          pki.EncodeCertificatesPEM(ca.Certificate),
		User:        cn,
		Certificate: certPEM,
		Key:         keyPEM,
	}.Marshal()
}

func (b *builder) newKey() (crypto.Signer, []byte, error) {
	key, err := pki.GenerateKey(b.o.Rand, b.o.Key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		return nil, nil, err
	}
	return key, keyPEM, nil
}

func (b *builder) add(path string, data []byte, mode fs.FileMode) {
	b.out = append(b.out, files.File{Path: path, Data: data, Mode: mode})
}

func caBase(name string) string {
	for _, c := range cas {
		if c.name == name {
			return c.base
		}
	}
	return name
}

// readCert reads the first certificate of a PEM file; nil if the file does
// not exist.
func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// requireCert reads a certificate that must exist.
func requireCert(dir, path string) (*x509.Certificate, error) {
	cert, err := readCert(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel(dir, path), err)
	}
	if cert == nil {
		return nil, fmt.Errorf("%s is missing", rel(dir, path))
	}
	return cert, nil
}

// readPair reads a certificate and its key; either is nil if its file does
// not exist.
func readPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	cert, err := readCert(certFile)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return cert, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	key, err := pki.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Base(keyFile), err)
	}
	return cert, key, nil
}

// kubeconfigCredentials returns the client certificate and key of a
// kubeconfig's only user, and the kubeconfig.
func kubeconfigCredentials(data []byte, dir string) (*x509.Certificate, crypto.Signer, *kubeconfig.Config, error) {
	kc, err := kubeconfig.Parse(data, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(kc.Users) != 1 || len(kc.Users[0].Certificate) == 0 || len(kc.Users[0].Key) == 0 {
		return nil, nil, nil, errors.New("want one user with an embedded client certificate and key")
	}
	certs, err := pki.ParseCertificatesPEM(kc.Users[0].Certificate)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("client certificate: %w", err)
	}
	key, err := pki.ParsePrivateKeyPEM(kc.Users[0].Key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("client key: %w", err)
	}
	return certs[0], key, kc, nil
}

// checkLeaf checks that cert belongs to key, was signed by ca, and is valid
// at now.
func checkLeaf(cert *x509.Certificate, key crypto.Signer, ca *x509.Certificate, now time.Time) error {
	if !pki.KeyMatches(cert.PublicKey, key) {
		return pki.ErrKeyMismatch
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("not signed by the CA %q: %w", ca.Subject.CommonName, err)
	}
	return checkValid(cert, now)
}

func checkValid(cert *x509.Certificate, now time.Time) error {
	if now.After(cert.NotAfter) {
		return fmt.Errorf("expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
