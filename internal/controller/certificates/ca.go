package certificates

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// FileCA is a CA read from a certificate and a key file, read again
// whenever either file changes, so that a rotated CA is picked up without
// a restart.
type FileCA struct {
	CertFile, KeyFile string

	mu       sync.Mutex
	ca       *pki.CA
	certStat fileStamp
	keyStat  fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// CA returns the CA, reading the files again if they changed.
func (f *FileCA) CA() (*pki.CA, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs, err := stamp(f.CertFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	ks, err := stamp(f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	if f.ca != nil && cs == f.certStat && ks == f.keyStat {
		return f.ca, nil
	}
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	keyPEM, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	ca, err := pki.ParseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("signing CA %s: %w", f.CertFile, err)
	}
	f.ca, f.certStat, f.keyStat = ca, cs, ks
	return ca, nil
}

// KeyURICA is a CA whose certificate is read from a file, read again
// whenever it changes, and whose key is in a PKCS#11 token, named by a URI
// and opened once, with Open, the first time it is needed.
type KeyURICA struct {
	CertFile, KeyURI string
	// Open opens KeyURI. Without it the CA cannot sign.
	Open func(uri string) (crypto.Signer, error)

	mu       sync.Mutex
	ca       *pki.CA
	certStat fileStamp
	key      crypto.Signer
}

// CA returns the CA, reading the certificate again if it changed. An
// error opening the key names the URI without its PIN.
func (k *KeyURICA) CA() (*pki.CA, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, err := stamp(k.CertFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	if k.ca != nil && cs == k.certStat {
		return k.ca, nil
	}
	certPEM, err := os.ReadFile(k.CertFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("signing CA %s: %w", k.CertFile, err)
	}
	if k.key == nil {
		if k.Open == nil {
			return nil, fmt.Errorf("signing CA %s: its key is in a PKCS#11 token, and this certplane cannot open one", k.CertFile)
		}
		key, err := k.Open(k.KeyURI)
		if err != nil {
			return nil, fmt.Errorf("signing CA %s: %w", k.CertFile, err)
		}
		k.key = key
	}
	ca, err := pki.NewCA(certs[0], k.key)
	if err != nil {
		return nil, fmt.Errorf("signing CA %s: %w", k.CertFile, err)
	}
	k.ca, k.certStat = ca, cs
	return ca, nil
}

// SigningFiles are kube-controller-manager's --cluster-signing-* flags, and
// certplane's key URIs that may stand in for their key files.
type SigningFiles struct {
	CertFile, KeyFile string
	// KeyURI names CertFile's key in a PKCS#11 token, in place of KeyFile.
	KeyURI string
	// PerSigner maps a signer name to its {cert, key} files.
	PerSigner map[string][2]string
	// PerSignerKeyURI maps a signer name to the key URI of its PerSigner
	// certificate, in place of its key file.
	PerSignerKeyURI map[string]string
	// OpenKey opens key URIs; needed when one is given.
	OpenKey func(uri string) (crypto.Signer, error)
}

// CAs turns the flags into a CA per signer with kube-controller-manager's
// pairing rules: cert and key go together (the key a file or a URI, not
// both); the general pair serves all four signers and cannot be mixed with
// per-signer pairs; with per-signer pairs, only the signers named run. Each
// CA is loaded once here, so that a missing or broken file, or a key that
// cannot be opened, is a start-up error.
func (s SigningFiles) CAs() (map[string]CASource, error) {
	if s.KeyFile != "" && s.KeyURI != "" {
		return nil, errors.New("give --cluster-signing-key-file or --cluster-signing-key-uri, not both")
	}
	if (s.CertFile == "") != (s.KeyFile == "" && s.KeyURI == "") {
		return nil, errors.New("--cluster-signing-cert-file and --cluster-signing-key-file (or --cluster-signing-key-uri) go together")
	}
	per := 0
	for signer, pair := range s.PerSigner {
		uri := s.PerSignerKeyURI[signer]
		if pair[1] != "" && uri != "" {
			return nil, fmt.Errorf("signer %s: give its key file or its key URI, not both", signer)
		}
		if (pair[0] == "") != (pair[1] == "" && uri == "") {
			return nil, fmt.Errorf("the cert and key files of signer %s go together", signer)
		}
		if pair[0] != "" {
			per++
		}
	}
	for signer, uri := range s.PerSignerKeyURI {
		if uri != "" && s.PerSigner[signer][0] == "" {
			return nil, fmt.Errorf("the key URI of signer %s needs its cert file", signer)
		}
	}
	if s.CertFile != "" && per > 0 {
		return nil, errors.New("cannot give --cluster-signing-cert-file/--cluster-signing-key-file and per-signer --cluster-signing-*-file flags at the same time")
	}
	source := func(cert, key, uri string) CASource {
		if uri != "" {
			return &KeyURICA{CertFile: cert, KeyURI: uri, Open: s.OpenKey}
		}
		return &FileCA{CertFile: cert, KeyFile: key}
	}
	cas := map[string]CASource{}
	var general CASource // one CA, read and reloaded once, for every signer
	if s.CertFile != "" {
		general = source(s.CertFile, s.KeyFile, s.KeyURI)
	}
	for _, signer := range csrpolicy.KubernetesSigners {
		switch {
		case general != nil:
			cas[signer] = general
		case s.PerSigner[signer][0] != "":
			cas[signer] = source(s.PerSigner[signer][0], s.PerSigner[signer][1], s.PerSignerKeyURI[signer])
		}
	}
	for signer, ca := range cas {
		if _, err := ca.CA(); err != nil {
			return nil, fmt.Errorf("signer %s: %w", signer, err)
		}
	}
	return cas, nil
}
