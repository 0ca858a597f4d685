package issuerpolicy

import (
	"crypto"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// A certplane extension to cert-manager's CA issuer: its Secret may hold,
// in place of tls.key, the PKCS#11 URI (RFC 7512) of a key in a hardware
// token, with the token's PIN in another Secret of the same namespace. The
// Issuer's spec stays cert-manager's.
const (
	// KeyURIKey is the data key of a CA Secret that holds its key's URI,
	// without any PIN attribute.
	KeyURIKey = "tls.key-uri"
	// PINSecretAnnotation on the CA Secret names the Secret, in its
	// namespace, that holds the token's PIN.
	PINSecretAnnotation = "certplane.io/pkcs11-pin-secret"
	// PINKey is the data key of the PIN in that Secret.
	PINKey = "pin"
)

// CAKeyURI is the key URI a CA Secret holds, or "" when it holds none.
func CAKeyURI(secret *corev1.Secret) string {
	if secret == nil {
		return ""
	}
	return strings.TrimSpace(string(secret.Data[KeyURIKey]))
}

// PINSecretName is the Secret a CA Secret's annotation names for its PIN.
func PINSecretName(secret *corev1.Secret) (string, error) {
	name := strings.TrimSpace(secret.Annotations[PINSecretAnnotation])
	if name == "" {
		return "", fmt.Errorf("secret %q holds %s but has no %s annotation naming the Secret with the token's PIN (key %q)",
			secret.Name, KeyURIKey, PINSecretAnnotation, PINKey)
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return "", fmt.Errorf("secret %q: annotation %s: %q is not a valid Secret name", secret.Name, PINSecretAnnotation, name)
	}
	return name, nil
}

// CheckKeyURI checks the key URI of a CA Secret before the controller
// opens it: a PKCS#11 URI, one line, with no PIN in it (pin-value and
// pin-source are refused: the PIN comes from the Secret PINSecretAnnotation
// names, and a pin-source would make the controller read a file of its own
// choosing), and with a module-path among modules, the modules the
// controller may load (a Secret must not make it load any library on its
// machine). The URI's other attributes are checked when it is opened.
func CheckKeyURI(uri string, modules []string) error {
	rest, ok := strings.CutPrefix(uri, "pkcs11:")
	if !ok {
		return errors.New("not a PKCS#11 URI (want pkcs11:token=...;object=...?module-path=...)")
	}
	if strings.ContainsAny(uri, "\r\n\x00") {
		return errors.New("the URI must be one line")
	}
	path, query, _ := strings.Cut(rest, "?")
	var module string
	for _, attrs := range [][]string{strings.Split(path, ";"), strings.Split(query, "&")} {
		for _, a := range attrs {
			if a == "" {
				continue
			}
			name, value, _ := strings.Cut(a, "=")
			switch strings.ToLower(name) {
			case "pin-value", "pin-source":
				return fmt.Errorf("the URI may not carry %s: name the Secret holding the PIN in the %s annotation", strings.ToLower(name), PINSecretAnnotation)
			case "module-path":
				if name != "module-path" {
					return fmt.Errorf("attribute %s: write module-path in lower case", name)
				}
				v, err := url.PathUnescape(value)
				if err != nil {
					return errors.New("module-path is not percent-encoded correctly")
				}
				if module != "" {
					return errors.New("module-path is given twice")
				}
				module = v
			}
		}
	}
	if module == "" {
		return errors.New("the URI names no module-path")
	}
	if !filepath.IsAbs(module) || filepath.Clean(module) != module {
		return fmt.Errorf("module-path %q is not a clean absolute file name", module)
	}
	if !slices.Contains(modules, module) {
		allowed := "none are"
		if len(modules) > 0 {
			allowed = "it may load " + strings.Join(modules, ", ")
		}
		return fmt.Errorf("module-path %s is not a PKCS#11 module the controller may load (%s; see --issuer-pkcs11-modules)", module, allowed)
	}
	return nil
}

// KeyURIWithPIN is uri with the PIN added as its pin-value, for the
// opener. Never show the result: show the Secret's URI instead.
func KeyURIWithPIN(uri, pin string) string {
	var b strings.Builder
	b.WriteString(uri)
	if strings.Contains(uri, "?") {
		b.WriteByte('&')
	} else {
		b.WriteByte('?')
	}
	b.WriteString("pin-value=")
	for i := 0; i < len(pin); i++ {
		c := pin[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TokenKey is what the controller found when it opened a CA Secret's key
// URI: the key, or why there is none (a message that names no PIN).
type TokenKey struct {
	Key crypto.Signer
	Err error
}

// tokenError is a key that could not be got from its token: the issuer is
// not ready with reason ErrGetKeyPair, not ErrInvalidKeyPair.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return fmt.Sprintf("%s: %v", KeyURIKey, e.err) }
func (e *tokenError) Unwrap() error { return e.err }

// EvaluateWithTokenKey is Evaluate for a ca issuer whose Secret names its
// key by URI (KeyURIKey): token is what the controller got opening it.
func EvaluateWithTokenKey(spec *cmv1.IssuerSpec, secretName string, secret *corev1.Secret, token TokenKey, now time.Time) Readiness {
	if Kind(spec) != "ca" {
		return Evaluate(spec, secretName, secret, now)
	}
	if err := CheckSpec(spec); err != nil {
		return Readiness{Reason: ReasonInvalidConfig, Message: err.Error()}
	}
	return evaluateCA(secretName, secret, &token, now)
}

// secretKey is the key of a CA Secret: tls.key parsed, or the token's key when
// the Secret names one by URI. token is nil when nobody opened it.
func secretKey(name string, secret *corev1.Secret, token *TokenKey) (crypto.Signer, error) {
	keyPEM := secret.Data[corev1.TLSPrivateKeyKey]
	if CAKeyURI(secret) == "" {
		key, err := pki.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", corev1.TLSPrivateKeyKey, err)
		}
		return key, nil
	}
	switch {
	case len(keyPEM) > 0:
		return nil, fmt.Errorf("secret %q holds both %s and %s: keep one", name, corev1.TLSPrivateKeyKey, KeyURIKey)
	case token == nil:
		return nil, &tokenError{errors.New("the key in the token has not been opened")}
	case token.Err != nil:
		return nil, &tokenError{token.Err}
	case token.Key == nil:
		return nil, &tokenError{errors.New("no key")}
	}
	return token.Key, nil
}
