package localcp

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/pkg/pki"
)

// SPIFFECA returns the files of the CA that signs pods' SPIFFE
// certificates (signer certplane.io/spiffe): pki/spiffe-ca.crt and .key,
// made on first use, ECDSA P-256, valid ten years as kubeadm's CAs are.
// Existing files are kept as they are.
func (cp *ControlPlane) SPIFFECA() (certFile, keyFile string, err error) {
	certFile = filepath.Join(cp.PKIDir(), "spiffe-ca.crt")
	keyFile = filepath.Join(cp.PKIDir(), "spiffe-ca.key")
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		return certFile, keyFile, nil
	case !errors.Is(certErr, os.ErrNotExist) || !errors.Is(keyErr, os.ErrNotExist):
		return "", "", fmt.Errorf("%s and %s must both exist or both be missing", certFile, keyFile)
	}
	key, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		return "", "", err
	}
	cert, err := pki.SelfSign(rand.Reader, time.Now(), &pki.Template{
		Subject:  pkix.Name{CommonName: "certplane-spiffe-ca"},
		IsCA:     true,
		Usages:   []pki.Usage{pki.UsageDigitalSignature, pki.UsageCertSign},
		Duration: 87600 * time.Hour,
	}, key)
	if err != nil {
		return "", "", err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
	if err != nil {
		return "", "", err
	}
	if err := files.WriteAll(
		files.File{Path: certFile, Data: pki.EncodeCertificatesPEM(cert), Mode: files.Public},
		files.File{Path: keyFile, Data: keyPEM, Mode: files.Secret},
	); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
