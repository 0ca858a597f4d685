//go:build cgo && !nopkcs11

package pkcs11

import (
	"errors"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// ckr returns the PKCS#11 return value err carries, if any. crypto11 wraps
// them with github.com/pkg/errors, which unwraps.
func ckr(err error) (p11.Error, bool) {
	var e p11.Error
	ok := errors.As(err, &e)
	return e, ok
}

// ckrName is the CKR_ name of a return value, such as "CKR_PIN_INCORRECT".
func ckrName(e p11.Error) string {
	// miekg/pkcs11 writes "pkcs11: 0xA0: CKR_PIN_INCORRECT".
	s := e.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "CKR_") {
		return s[i+2:]
	}
	return fmt.Sprintf("CKR 0x%X", uint(e))
}

// describe is the text of a cause: its CKR_ name when it carries one, or
// crypto11's message. Neither ever holds a PIN.
func describe(err error) string {
	if e, ok := ckr(err); ok {
		return ckrName(e)
	}
	return err.Error()
}

// retryable reports whether err means the sessions or the login of a
// context are gone (token removed or reset, sessions closed under us), so
// that closing and re-opening the context may cure it.
func retryable(err error) bool {
	e, ok := ckr(err)
	if !ok {
		return false
	}
	switch e {
	case p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED,
		p11.CKR_DEVICE_REMOVED, p11.CKR_DEVICE_ERROR,
		p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_TOKEN_NOT_RECOGNIZED,
		p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_CRYPTOKI_NOT_INITIALIZED,
		p11.CKR_KEY_HANDLE_INVALID, p11.CKR_OBJECT_HANDLE_INVALID,
		p11.CKR_SLOT_ID_INVALID:
		return true
	}
	return false
}

// configureError turns an error from crypto11.Configure into one that says
// what went wrong in words.
func configureError(u *URI, module string, err error) error {
	msg := err.Error()
	e, isCKR := ckr(err)
	switch {
	case strings.Contains(msg, "could not find PKCS#11 token"):
		return &uriError{uri: u.String(), msg: tokenDesc(u), kind: ErrNoToken, err: err}
	case strings.Contains(msg, "failed to open module"):
		return &uriError{uri: u.String(), kind: ErrModule, err: err,
			msg: fmt.Sprintf("cannot load module %s: not a PKCS#11 module (dlopen or C_GetFunctionList failed)", module)}
	case isCKR && e == p11.CKR_CRYPTOKI_ALREADY_INITIALIZED:
		return &uriError{uri: u.String(), kind: ErrModule, err: err,
			msg: fmt.Sprintf("cannot load module %s: other code in this process initialized it (CKR_CRYPTOKI_ALREADY_INITIALIZED)", module)}
	case strings.Contains(msg, "failed to initialize module"):
		return &uriError{uri: u.String(), kind: ErrModule, err: err,
			msg: fmt.Sprintf("cannot load module %s: C_Initialize: %s", module, describe(err))}
	case isCKR && e == p11.CKR_PIN_INCORRECT:
		return &uriError{uri: u.String(), msg: "login refused: wrong PIN (CKR_PIN_INCORRECT)", kind: ErrPIN, err: err}
	case isCKR && e == p11.CKR_PIN_LOCKED:
		return &uriError{uri: u.String(), msg: "login refused: PIN locked (CKR_PIN_LOCKED)", kind: ErrPIN, err: err}
	case isCKR && (e == p11.CKR_PIN_EXPIRED || e == p11.CKR_PIN_INVALID || e == p11.CKR_PIN_LEN_RANGE ||
		strings.Contains(msg, "failed to log into")):
		return &uriError{uri: u.String(), msg: "login refused (" + ckrName(e) + ")", kind: ErrPIN, err: err}
	}
	return &uriError{uri: u.String(), msg: "opening token: " + describe(err), err: err}
}

// opError wraps an error from an operation on an open token, unless it is
// already one of ours.
func opError(u *URI, op string, err error) error {
	var ue *uriError
	if errors.As(err, &ue) {
		return err
	}
	return &uriError{uri: u.String(), msg: op + ": " + describe(err), err: err}
}

// tokenDesc says which token was not found, such as
// `no token labelled "ca"` or `no token labelled "ca" with serial "1234"`.
func tokenDesc(u *URI) string {
	var parts []string
	if u.Token != "" {
		parts = append(parts, fmt.Sprintf("labelled %q", u.Token))
	}
	if u.Serial != "" {
		parts = append(parts, fmt.Sprintf("with serial %q", u.Serial))
	}
	if u.SlotID != nil {
		parts = append(parts, fmt.Sprintf("in slot %d", *u.SlotID))
	}
	for _, a := range u.other {
		switch a.name {
		case "manufacturer":
			parts = append(parts, fmt.Sprintf("made by %q", a.value))
		case "model":
			parts = append(parts, fmt.Sprintf("of model %q", a.value))
		}
	}
	return "no token " + strings.Join(parts, " ")
}

// keyDesc names the key a URI asks for: `label "ca"`, `id 0a0b` or both.
func keyDesc(u *URI) string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, fmt.Sprintf("label %q", u.Object))
	}
	if len(u.ID) > 0 {
		parts = append(parts, fmt.Sprintf("id %x", u.ID))
	}
	return strings.Join(parts, " and ")
}
