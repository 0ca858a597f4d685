//go:build !cgo || nopkcs11

package pkcs11

import (
	"errors"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
)

func TestStub(t *testing.T) {
	const uri = "pkcs11:token=t;object=o?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234"
	const want = "pkcs11: this certplane was built without PKCS#11 support (cgo)"
	if _, err := Open(uri); !errors.Is(err, ErrNotSupported) || err.Error() != want {
		t.Errorf("Open: %v, want %q", err, want)
	}
	if _, err := Generate(uri, pki.ECDSAP256); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Generate: %v, want ErrNotSupported", err)
	}
	if err := Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
