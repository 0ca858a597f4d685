package cli

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/internal/pkcs11"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/cfssl"
)

// Keys in hardware tokens (docs/hsm.md): the commands name them by PKCS#11
// URI (RFC 7512) and open them through internal/pkcs11, the only package
// that loads a PKCS#11 module. Every other package gets pkcs11.Open as a
// function. A URI is shown only through pkcs11.URI.String, which redacts
// pin-value.

// checkKeyURI parses a key URI given to flag. When the URI carries the PIN
// itself and will be kept (in kept), it returns a warning to show once the
// command has succeeded.
func checkKeyURI(flag, uri, kept string) (warning string, err error) {
	u, err := pkcs11.ParseURI(uri)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	if u.PINValue != "" && kept != "" {
		warning = fmt.Sprintf("warning: %s carries the PIN (pin-value), which is kept in %s (mode 0600); pin-source=FILE keeps it out of the data directory", flag, kept)
	}
	return warning, nil
}

// showURI is a key URI as it may be shown: without its PIN.
func showURI(uri string) string {
	u, err := pkcs11.ParseURI(uri)
	if err != nil {
		return "(an invalid PKCS#11 URI)"
	}
	return u.String()
}

// clusterSigning is what signs the kubernetes.io signers in `up`: the
// cluster CA, its key a file or in a token, as the data directory keeps it.
func clusterSigning(dataDir string) (certificates.SigningFiles, string, error) {
	pkiDir := filepath.Join(dataDir, "pki")
	s := certificates.SigningFiles{CertFile: filepath.Join(pkiDir, "ca.crt"), OpenKey: pkcs11.Open}
	uri, err := clusterpki.ReadKeyURI(dataDir, "ca")
	if err != nil {
		return s, "", err
	}
	if uri == "" {
		s.KeyFile = filepath.Join(pkiDir, "ca.key")
		return s, "", nil
	}
	s.KeyURI = uri
	return s, showURI(uri), nil
}

// tokenCA pairs the CA certificate in certFile with the key uri names in
// a token.
func tokenCA(certFile string, cert *x509.Certificate, uri string) (*pki.CA, error) {
	if _, err := pkcs11.ParseURI(uri); err != nil {
		return nil, fmt.Errorf("--ca-key: %w", err)
	}
	key, err := pkcs11.Open(uri)
	if err != nil {
		return nil, err
	}
	ca, err := pki.NewCA(cert, key)
	switch {
	case errors.Is(err, pki.ErrKeyMismatch):
		return nil, &messageError{msg: fmt.Sprintf("the token key %s is not the key of the CA certificate in %s: the public keys differ", showURI(uri), certFile), err: err}
	case err != nil:
		return nil, inputError(certFile, err)
	}
	return ca, nil
}

// refuseExisting refuses, before a key is made or used, outputs that
// files.WriteAll would refuse afterwards.
func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("refusing to overwrite %s: %w", p, files.ErrExists)
		}
	}
	return nil
}

// signatureAlgorithm applies --rsa-pss to tmpl, signed by a key whose
// public key is pub.
func signatureAlgorithm(f gencertFlags, tmpl *pki.Template, pub crypto.PublicKey) error {
	if !f.rsaPSS {
		return nil
	}
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return errors.New("--rsa-pss needs an RSA CA key")
	}
	tmpl.SignatureAlgorithm = x509.SHA256WithRSAPSS
	return nil
}

// tokenKeyAndCSR makes the request's key in the token uri names and writes
// PREFIX.csr signed by it. Nothing is made when PREFIX.csr exists.
func tokenKeyAndCSR(o Options, req *cfssl.Request, uri, prefix string) error {
	if _, err := checkKeyURI("--key-uri", uri, ""); err != nil {
		return err
	}
	csrFile := prefix + ".csr"
	if err := refuseExisting(csrFile); err != nil {
		return err
	}
	key, err := pkcs11.Generate(uri, req.Key)
	if err != nil {
		return err
	}
	csrPEM, err := pki.CreateCSR(o.Rand, &req.Request, key)
	if err != nil {
		return err
	}
	if err := files.WriteAll(files.File{Path: csrFile, Data: csrPEM, Mode: files.Public}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Out, "made the key (%s) in the token: %s; wrote %s\n", req.Key.String(), showURI(uri), csrFile)
	return err
}
