package pki

import "errors"

// Errors callers can test for with errors.Is.
var (
	// ErrNoPEM means the input held no PEM block of the expected type.
	ErrNoPEM = errors.New("pki: no PEM data found")
	// ErrWeakKey means an RSA key is shorter than MinRSABits.
	ErrWeakKey = errors.New("pki: RSA key too short")
	// ErrUnsupportedKey means a key algorithm or size certplane does not handle.
	ErrUnsupportedKey = errors.New("pki: unsupported key")
	// ErrEncryptedKey means a private key is protected by a passphrase.
	ErrEncryptedKey = errors.New("pki: private key is encrypted")
	// ErrBadSignature means a request's signature does not verify, so its
	// sender has not proved possession of the private key.
	ErrBadSignature = errors.New("pki: signature does not verify")
	// ErrUnknownUsage means a key usage name is not one of the Kubernetes names.
	ErrUnknownUsage = errors.New("pki: unknown key usage")
	// ErrCAExpired means the signing CA is outside its validity period.
	ErrCAExpired = errors.New("pki: CA certificate is not valid now")
	// ErrNotCA means the signing certificate may not issue certificates.
	ErrNotCA = errors.New("pki: certificate is not a CA")
	// ErrKeyMismatch means a private key does not belong to a certificate.
	ErrKeyMismatch = errors.New("pki: private key does not match certificate")
	// ErrInvalidTemplate means a certificate template cannot be issued.
	ErrInvalidTemplate = errors.New("pki: invalid certificate template")
	// ErrChain means certificates do not form a chain.
	ErrChain = errors.New("pki: certificates do not form a chain")
)
