package pkcs11

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Scheme is the prefix of every PKCS#11 URI.
const Scheme = "pkcs11:"

// ModuleEnv is the environment variable Open and Generate read the module
// path from when a URI has no module-path.
const ModuleEnv = "CERTPLANE_PKCS11_MODULE"

// redacted replaces the PIN in URI.String.
const redacted = "REDACTED"

// URI is a parsed RFC 7512 PKCS#11 URI naming one key, such as
//
//	pkcs11:token=certplane;object=cluster-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/certplane/pin
//
// Values are percent-decoded. See the package documentation for which
// attributes are matched, which are ignored and which are refused.
type URI struct {
	Token     string // path attribute "token": the token's label (CK_TOKEN_INFO)
	Serial    string // path attribute "serial": the token's serial number
	SlotID    *int   // path attribute "slot-id": the slot (CK_SLOT_ID) holding the token
	Object    string // path attribute "object": the key's CKA_LABEL
	ID        []byte // path attribute "id": the key's CKA_ID bytes
	Type      string // path attribute "type": "" or "private"
	PINValue  string // query attribute "pin-value": the user PIN itself
	PINSource string // query attribute "pin-source": a file holding the PIN ("file:" prefix allowed)
	// ModulePath is the query attribute "module-path" (also accepted as a
	// path attribute, as smallstep writes it): the PKCS#11 module's
	// absolute file name. If empty, Open and Generate use $CERTPLANE_PKCS11_MODULE.
	ModulePath string

	// other holds the path attributes certplane does not keep in a field
	// (manufacturer, model, library-*, slot-manufacturer, slot-description,
	// x-*), in the order given, so that String shows them.
	other []attr
}

type attr struct{ name, value string }

// IsURI reports whether s is meant as a PKCS#11 URI.
func IsURI(s string) bool { return strings.HasPrefix(s, Scheme) }

// Characters allowed unencoded in values besides RFC 3986 unreserved ones.
// The path set adds "/" to RFC 7512's so that smallstep's
// "module-path=/usr/lib/..." path attribute parses.
const (
	pathChars  = ":[]@!$'()*+,=&/"
	queryChars = ":[]@!$'()*+,=/?|"
)

// pathAttrs are the path attributes of RFC 7512 (plus module-path).
var pathAttrs = map[string]bool{
	"token": true, "manufacturer": true, "serial": true, "model": true,
	"library-manufacturer": true, "library-description": true, "library-version": true,
	"object": true, "type": true, "id": true,
	"slot-description": true, "slot-manufacturer": true, "slot-id": true,
	"module-path": true,
}

// ParseURI parses a PKCS#11 URI naming one key. It is strict: the URI must
// name a token (token, serial or slot-id) and a key (object, id or both);
// unknown attributes, repeated attributes, empty values, bad
// percent-encoding and characters that must be encoded are errors. Errors
// wrap ErrInvalidURI and never contain attribute values, so never a PIN.
func ParseURI(s string) (*URI, error) {
	if !IsURI(s) {
		return nil, &parseError{`not a PKCS#11 URI (want "pkcs11:...")`}
	}
	path, query, _ := strings.Cut(s[len(Scheme):], "?")
	u := &URI{}
	seen := map[string]bool{}
	if path != "" {
		for _, a := range strings.Split(path, ";") {
			name, value, err := splitAttr(a, "path", pathChars, seen)
			if err != nil {
				return nil, err
			}
			if err := u.setPath(name, value); err != nil {
				return nil, err
			}
		}
	}
	if query != "" {
		for _, a := range strings.Split(query, "&") {
			name, value, err := splitAttr(a, "query", queryChars, seen)
			if err != nil {
				return nil, err
			}
			if err := u.setQuery(name, value); err != nil {
				return nil, err
			}
		}
	}
	if u.PINValue != "" && u.PINSource != "" {
		return nil, &parseError{"both pin-value and pin-source are given; use one"}
	}
	if u.Token == "" && u.Serial == "" && u.SlotID == nil {
		return nil, &parseError{"no token named (want token=, serial= or slot-id=)"}
	}
	if u.Object == "" && len(u.ID) == 0 {
		return nil, &parseError{"no key named (want object=, id= or both)"}
	}
	return u, nil
}

// splitAttr splits one name=value attribute and decodes its value.
func splitAttr(a, component, allowed string, seen map[string]bool) (string, string, error) {
	if a == "" {
		sep := ";"
		if component == "query" {
			sep = "&"
		}
		return "", "", &parseError{fmt.Sprintf("empty %s attribute (stray %q)", component, sep)}
	}
	name, raw, ok := strings.Cut(a, "=")
	if !validName(name) {
		return "", "", &parseError{fmt.Sprintf("malformed %s attribute name", component)}
	}
	if !ok {
		return "", "", &parseError{fmt.Sprintf("%s attribute %q has no '='", component, name)}
	}
	if seen[name] {
		return "", "", &parseError{fmt.Sprintf("attribute %q given twice", name)}
	}
	seen[name] = true
	value, err := unescape(raw, allowed)
	if err != nil {
		return "", "", &parseError{fmt.Sprintf("attribute %q: %s", name, err)}
	}
	if value == "" {
		return "", "", &parseError{fmt.Sprintf("attribute %q is empty", name)}
	}
	return name, value, nil
}

// validName accepts the lower-case names RFC 7512 uses (and vendor x-
// names). Only names that pass are ever quoted in an error.
func validName(name string) bool {
	if name == "" || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func (u *URI) setPath(name, value string) error {
	if !pathAttrs[name] && !strings.HasPrefix(name, "x-") {
		switch name {
		case "pin-value", "pin-source", "module-name":
			return &parseError{fmt.Sprintf("%s is a query attribute (write it after '?')", name)}
		}
		return &parseError{fmt.Sprintf("unknown path attribute %q", name)}
	}
	if name != "id" && !utf8.ValidString(value) {
		return &parseError{fmt.Sprintf("attribute %q is not UTF-8 after percent-decoding", name)}
	}
	switch name {
	case "token":
		u.Token = value
	case "serial":
		u.Serial = value
	case "slot-id":
		n, err := strconv.ParseUint(value, 10, 63)
		if err != nil {
			return &parseError{"slot-id is not a decimal slot number"}
		}
		id := int(n)
		u.SlotID = &id
	case "object":
		u.Object = value
	case "id":
		u.ID = []byte(value)
	case "type":
		switch value {
		case "private":
			u.Type = value
		case "public", "cert", "secret-key", "data":
			return &parseError{fmt.Sprintf("type=%s does not name a private key (want type=private or no type)", value)}
		default:
			return &parseError{"unknown type (want type=private or no type)"}
		}
	case "module-path":
		return u.setModulePath(value)
	default:
		u.other = append(u.other, attr{name, value})
	}
	return nil
}

func (u *URI) setQuery(name, value string) error {
	switch name {
	case "pin-value":
		u.PINValue = value
	case "pin-source":
		p := pinSourcePath(value)
		if p == "" {
			return &parseError{"pin-source names no file"}
		}
		if strings.HasPrefix(p, "|") {
			return &parseError{"pin-source commands (|...) are not supported; name a file"}
		}
		if scheme, _, ok := strings.Cut(p, ":"); ok && !strings.ContainsRune(scheme, '/') {
			return &parseError{"pin-source is not a file (want a path or file:...)"}
		}
		u.PINSource = value
	case "module-path":
		return u.setModulePath(value)
	case "module-name":
		return &parseError{"module-name is not supported; give module-path"}
	default:
		if pathAttrs[name] {
			return &parseError{fmt.Sprintf("%s is a path attribute (write it before '?')", name)}
		}
		return &parseError{fmt.Sprintf("unknown query attribute %q", name)}
	}
	return nil
}

func (u *URI) setModulePath(value string) error {
	if !filepath.IsAbs(value) {
		return &parseError{"module-path is not an absolute path"}
	}
	u.ModulePath = value
	return nil
}

// pinSourcePath strips a "file:" or "file://" prefix from a pin-source.
func pinSourcePath(s string) string {
	if rest, ok := strings.CutPrefix(s, "file://"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(s, "file:"); ok {
		return rest
	}
	return s
}

// unescape percent-decodes s, refusing characters outside unreserved and
// allowed that are not encoded.
func unescape(s, allowed string) (string, error) {
	if !strings.ContainsRune(s, '%') {
		for i := 0; i < len(s); i++ {
			if !plain(s[i], allowed) {
				return "", fmt.Errorf("character at offset %d must be percent-encoded", i)
			}
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", fmt.Errorf("bad percent-encoding at offset %d", i)
			}
			b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		case plain(c, allowed):
			b = append(b, c)
		default:
			return "", fmt.Errorf("character at offset %d must be percent-encoded", i)
		}
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func plain(c byte, allowed string) bool {
	return unreserved(c) || strings.IndexByte(allowed, c) >= 0
}

// escape percent-encodes every byte of s except unreserved ones and keep.
func escape(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// String returns the URI in a canonical form with the PIN replaced by
// "REDACTED" (pin-value=REDACTED), so it is safe for logs, errors, events
// and status. A pin-source file name is shown; its content never is.
// ParseURI reads the result back.
func (u *URI) String() string {
	if u == nil {
		return "<nil>"
	}
	var path []string
	add := func(name, value string) { path = append(path, name+"="+escape(value, "")) }
	if u.Token != "" {
		add("token", u.Token)
	}
	if u.Serial != "" {
		add("serial", u.Serial)
	}
	if u.SlotID != nil {
		add("slot-id", strconv.Itoa(*u.SlotID))
	}
	for _, a := range u.other {
		add(a.name, a.value)
	}
	if u.Object != "" {
		add("object", u.Object)
	}
	if len(u.ID) > 0 {
		path = append(path, "id="+escapeAll(u.ID))
	}
	if u.Type != "" {
		add("type", u.Type)
	}
	var query []string
	if u.ModulePath != "" {
		query = append(query, "module-path="+escape(u.ModulePath, "/"))
	}
	if u.PINSource != "" {
		query = append(query, "pin-source="+escape(u.PINSource, "/:"))
	}
	if u.PINValue != "" {
		query = append(query, "pin-value="+redacted)
	}
	s := Scheme + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// escapeAll percent-encodes every byte, the usual form of an id.
func escapeAll(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 3*len(b))
	for _, c := range b {
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}

// PIN returns the user PIN: pin-value, or the content of the pin-source
// file with surrounding white space trimmed. The error never holds the PIN.
func (u *URI) PIN() (string, error) {
	if u.PINValue != "" {
		return u.PINValue, nil
	}
	if u.PINSource == "" {
		return "", &uriError{uri: u.String(), msg: "no PIN (set pin-value or pin-source)", kind: ErrPIN}
	}
	name := pinSourcePath(u.PINSource)
	data, err := os.ReadFile(name)
	if err != nil {
		// An *fs.PathError names the file and the reason, never the content.
		return "", &uriError{uri: u.String(), msg: "reading pin-source: " + err.Error(), kind: ErrPIN, err: err}
	}
	pin := strings.TrimSpace(string(data))
	if pin == "" {
		return "", &uriError{uri: u.String(), msg: fmt.Sprintf("pin-source %s is empty", name), kind: ErrPIN}
	}
	return pin, nil
}
