package certificates

import (
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

// SigningFiles are kube-controller-manager's --cluster-signing-* flags.
type SigningFiles struct {
	CertFile, KeyFile string
	// PerSigner maps a signer name to its {cert, key} files.
	PerSigner map[string][2]string
}

// CAs turns the flags into a CA per signer with kube-controller-manager's
// pairing rules: cert and key go together; the general pair serves all four
// signers and cannot be mixed with per-signer pairs; with per-signer pairs,
// only the signers named run. Each CA is loaded once here, so that a
// missing or broken file is a start-up error.
func (s SigningFiles) CAs() (map[string]*FileCA, error) {
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, errors.New("--cluster-signing-cert-file and --cluster-signing-key-file go together")
	}
	per := 0
	for signer, pair := range s.PerSigner {
		if (pair[0] == "") != (pair[1] == "") {
			return nil, fmt.Errorf("the cert and key files of signer %s go together", signer)
		}
		if pair[0] != "" {
			per++
		}
	}
	if s.CertFile != "" && per > 0 {
		return nil, errors.New("cannot give --cluster-signing-cert-file/--cluster-signing-key-file and per-signer --cluster-signing-*-file flags at the same time")
	}
	cas := map[string]*FileCA{}
	var general *FileCA // one CA, read and reloaded once, for every signer
	if s.CertFile != "" {
		general = &FileCA{CertFile: s.CertFile, KeyFile: s.KeyFile}
	}
	for _, signer := range csrpolicy.KubernetesSigners {
		switch {
		case general != nil:
			cas[signer] = general
		case s.PerSigner[signer][0] != "":
			cas[signer] = &FileCA{CertFile: s.PerSigner[signer][0], KeyFile: s.PerSigner[signer][1]}
		}
	}
	for signer, ca := range cas {
		if _, err := ca.CA(); err != nil {
			return nil, fmt.Errorf("signer %s: %w", signer, err)
		}
	}
	return cas, nil
}
