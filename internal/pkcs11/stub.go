//go:build !cgo || nopkcs11

package pkcs11

import (
	"crypto"

	"github.com/certplane/certplane/pkg/pki"
)

// Open would find the key pair the URI names; this certplane was built
// without cgo (or with -tags nopkcs11), so it returns ErrNotSupported.
func Open(uri string) (crypto.Signer, error) { return nil, ErrNotSupported }

// Generate would create a key pair in a token; this certplane was built
// without cgo (or with -tags nopkcs11), so it returns ErrNotSupported.
func Generate(uri string, spec pki.KeySpec) (crypto.Signer, error) {
	return nil, ErrNotSupported
}

// Close has nothing to close in a build without PKCS#11 support and
// returns nil, so that callers may always defer it.
func Close() error { return nil }
