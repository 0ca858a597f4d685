package clusterpki

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/certplane/certplane/pkg/pki"
)

// KeyStore finds a CA's private key by its file base under pki/ ("ca",
// "etcd/ca", "front-proxy-ca"). It is the one way this package reaches a CA
// key, so that a key held in a hardware module fits without changing any
// caller: such a store returns a crypto.Signer whose key never leaves it.
type KeyStore interface {
	Signer(base string) (crypto.Signer, error)
}

// ErrNoKey means a CA's private key is not available: the CA is managed
// outside this tree.
var ErrNoKey = errors.New("CA key is absent")

// FileKeys reads CA keys from Dir/pki/<base>.key.
type FileKeys struct{ Dir string }

// Signer reads and parses the key file.
func (f FileKeys) Signer(base string) (crypto.Signer, error) {
	path := keyPath(f.Dir, base)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", rel(f.Dir, path), ErrNoKey)
	}
	if err != nil {
		return nil, err
	}
	key, err := pki.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel(f.Dir, path), err)
	}
	return key, nil
}
