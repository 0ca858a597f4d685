//go:build cgo && !nopkcs11

package pkcs11

import (
	"errors"

	p11 "github.com/miekg/pkcs11"
)

// withModule runs f with direct access to a module that an open crypto11
// Context has already initialized. It loads the library a second time
// (dlopen counts references, so this is the same copy) and never calls
// C_Initialize or C_Finalize: crypto11 alone does, or the module would answer
// CKR_CRYPTOKI_ALREADY_INITIALIZED. Callers hold cache.mu, so no Context of
// the module is closed meanwhile.
func withModule(module string, f func(*p11.Ctx) error) error {
	m := p11.New(module)
	if m == nil {
		return errors.New("cannot load module")
	}
	defer m.Destroy()
	return f(m)
}

// selectToken is how the context picks its token from u, in crypto11's
// terms: one of slot, serial or label, in that order of preference.
func selectToken(u *URI) (slot *int, serial, label string) {
	switch {
	case u.SlotID != nil:
		return u.SlotID, "", ""
	case u.Serial != "":
		return nil, u.Serial, ""
	default:
		return nil, "", u.Token
	}
}

// findToken finds the slot crypto11 chose for u (the first slot whose token
// matches selectToken, as crypto11 searches) and checks that the token also
// matches u's other token attributes: token, serial, slot-id, manufacturer
// and model must all equal the token's. ok is false if they do not.
func findToken(m *p11.Ctx, u *URI) (slot uint, info p11.TokenInfo, ok bool, err error) {
	slots, err := m.GetSlotList(true)
	if err != nil {
		return 0, info, false, err
	}
	want, serial, label := selectToken(u)
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil {
			return 0, info, false, err
		}
		if (want != nil && uint(*want) == s) || (serial != "" && ti.SerialNumber == serial) || (label != "" && ti.Label == label) {
			return s, ti, tokenMatches(u, s, ti), nil
		}
	}
	return 0, info, false, nil
}

func tokenMatches(u *URI, slot uint, ti p11.TokenInfo) bool {
	if u.Token != "" && ti.Label != u.Token || u.Serial != "" && ti.SerialNumber != u.Serial ||
		u.SlotID != nil && uint(*u.SlotID) != slot {
		return false
	}
	for _, a := range u.other {
		switch a.name {
		case "manufacturer":
			if ti.ManufacturerID != a.value {
				return false
			}
		case "model":
			if ti.Model != a.value {
				return false
			}
		}
	}
	return true
}

// keyObjects reports whether the token in slot holds a key object (private,
// public or secret) with the label, and one with the id. It opens its own
// read-only session; the process's login (held by crypto11) covers it.
func keyObjects(m *p11.Ctx, slot uint, label string, id []byte) (labelTaken, idTaken bool, err error) {
	sh, err := m.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return false, false, err
	}
	defer func() { _ = m.CloseSession(sh) }()
	exists := func(attr *p11.Attribute) (bool, error) {
		for _, class := range []uint{p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY, p11.CKO_SECRET_KEY} {
			tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class), attr}
			if err := m.FindObjectsInit(sh, tmpl); err != nil {
				return false, err
			}
			found, _, err := m.FindObjects(sh, 1)
			if ferr := m.FindObjectsFinal(sh); err == nil {
				err = ferr
			}
			if err != nil {
				return false, err
			}
			if len(found) > 0 {
				return true, nil
			}
		}
		return false, nil
	}
	if labelTaken, err = exists(p11.NewAttribute(p11.CKA_LABEL, label)); err != nil {
		return false, false, err
	}
	if idTaken, err = exists(p11.NewAttribute(p11.CKA_ID, id)); err != nil {
		return false, false, err
	}
	return labelTaken, idTaken, nil
}
