package app

import (
	"errors"

	"github.com/certplane/certplane/internal/controller/certificates"
)

// SPIFFECA checks the --spiffe-signing-* flags in s and returns the CA of
// the certplane.io/spiffe signer they name, not yet loaded: nil when none
// is given. The certificate file goes with a key file or, in a PKCS#11
// token, a key URI (opened with s.OpenKey), never both. It opens and reads
// nothing, so that commands can refuse wrong flags before they start.
func SPIFFECA(s certificates.SigningFiles) (certificates.CASource, error) {
	switch {
	case s.KeyFile != "" && s.KeyURI != "":
		return nil, errors.New("give --spiffe-signing-key-file or --spiffe-signing-key-uri, not both")
	case s.CertFile == "" && s.KeyFile == "" && s.KeyURI == "":
		return nil, nil
	case s.CertFile == "" || (s.KeyFile == "" && s.KeyURI == ""):
		return nil, errors.New("give both --spiffe-signing-cert-file and --spiffe-signing-key-file (or --spiffe-signing-key-uri)")
	case s.KeyURI != "":
		return &certificates.KeyURICA{CertFile: s.CertFile, KeyURI: s.KeyURI, Open: s.OpenKey}, nil
	}
	return &certificates.FileCA{CertFile: s.CertFile, KeyFile: s.KeyFile}, nil
}

// spiffe is o.SPIFFE, opening key URIs with o.OpenKey unless it has its own.
func (o Options) spiffe() certificates.SigningFiles {
	s := o.SPIFFE
	if s.OpenKey == nil {
		s.OpenKey = o.OpenKey
	}
	return s
}
