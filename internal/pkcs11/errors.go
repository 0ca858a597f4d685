package pkcs11

import (
	"errors"
	"strings"
)

// Errors callers can test for with errors.Is. Every error Open and Generate
// return is one line starting "pkcs11: ", names the URI through URI.String
// (never the PIN) and, where it is one of these kinds, wraps the sentinel.
var (
	// ErrNotSupported means this binary was built without cgo (or with the
	// nopkcs11 tag), so it cannot load a PKCS#11 module.
	ErrNotSupported = errors.New("pkcs11: this certplane was built without PKCS#11 support (cgo)")
	// ErrInvalidURI means a string is not a PKCS#11 URI naming one key.
	ErrInvalidURI = errors.New("pkcs11: invalid URI")
	// ErrModule means the PKCS#11 module cannot be found or loaded.
	ErrModule = errors.New("pkcs11: cannot load module")
	// ErrNoToken means no token matches the URI.
	ErrNoToken = errors.New("pkcs11: no such token")
	// ErrPIN means there is no usable PIN or the token refused it.
	ErrPIN = errors.New("pkcs11: login refused")
	// ErrNoKey means no key pair on the token matches the URI, or several do.
	ErrNoKey = errors.New("pkcs11: no such key pair")
	// ErrKeyExists means Generate found a key with the URI's label or id.
	ErrKeyExists = errors.New("pkcs11: key exists")
	// ErrClosed means a Signer was used after Close.
	ErrClosed = errors.New("pkcs11: closed")
)

// uriError is an error about one URI. Its text is "pkcs11: <uri>: <msg>";
// it unwraps to its kind (one of the sentinels above) and its cause.
type uriError struct {
	uri  string // URI.String(), without the PIN
	msg  string
	kind error
	err  error
}

func (e *uriError) Error() string {
	return "pkcs11: " + e.uri + ": " + oneLine(e.msg)
}

func (e *uriError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// parseError is an error from ParseURI. It never holds the URI itself,
// which may carry a PIN.
type parseError struct{ msg string }

func (e *parseError) Error() string { return "pkcs11: parsing URI: " + oneLine(e.msg) }

func (e *parseError) Unwrap() error { return ErrInvalidURI }

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
