package certmanager

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
)

// tokenRetry is how long a key that could not be opened is not tried again
// with the same URI and PIN: a token may lock itself after a few wrong
// PINs, and issuers that are not ready look again every few seconds.
const tokenRetry = time.Minute

// CAKeys opens the keys that ca issuers' Secrets name by PKCS#11 URI
// (issuerpolicy.KeyURIKey), with the PIN from the Secret their
// issuerpolicy.PINSecretAnnotation names. Each key is opened once per URI
// and PIN, and shared by the issuer reconcilers and the signers.
type CAKeys struct {
	// Secrets reads the PIN Secrets, which certplane does not cache.
	Secrets client.Reader
	// Open opens a key URI. If nil, issuers whose key is in a token are not
	// ready, and say why.
	Open func(uri string) (crypto.Signer, error)
	// Modules are the PKCS#11 modules a Secret's URI may name
	// (--issuer-pkcs11-modules). If empty, none.
	Modules []string
	// Now is the clock. If nil, time.Now.
	Now func() time.Time

	mu     sync.Mutex
	opened map[[sha256.Size]byte]openedKey
}

type openedKey struct {
	key crypto.Signer
	err error
	at  time.Time
}

// Token opens the key a CA Secret names. A key that cannot be had is a
// TokenKey with Err, for the issuer's condition; the error returned is only
// a failure to read the PIN Secret from the apiserver.
func (k *CAKeys) Token(ctx context.Context, secret *corev1.Secret) (issuerpolicy.TokenKey, error) {
	if k == nil || k.Open == nil {
		return issuerpolicy.TokenKey{Err: errors.New("this certplane cannot open keys in PKCS#11 tokens")}, nil
	}
	uri := issuerpolicy.CAKeyURI(secret)
	if err := issuerpolicy.CheckKeyURI(uri, k.Modules); err != nil {
		return issuerpolicy.TokenKey{Err: err}, nil
	}
	pinSecret, err := issuerpolicy.PINSecretName(secret)
	if err != nil {
		return issuerpolicy.TokenKey{Err: err}, nil
	}
	s := &corev1.Secret{}
	err = k.Secrets.Get(ctx, types.NamespacedName{Namespace: secret.Namespace, Name: pinSecret}, s)
	switch {
	case apierrors.IsNotFound(err):
		return issuerpolicy.TokenKey{Err: fmt.Errorf("the PIN Secret %q (annotation %s) was not found", pinSecret, issuerpolicy.PINSecretAnnotation)}, nil
	case err != nil:
		return issuerpolicy.TokenKey{}, fmt.Errorf("reading the PIN Secret %s/%s: %w", secret.Namespace, pinSecret, err)
	}
	pin := strings.TrimSpace(string(s.Data[issuerpolicy.PINKey]))
	if pin == "" {
		return issuerpolicy.TokenKey{Err: fmt.Errorf("the PIN Secret %q has no %q", pinSecret, issuerpolicy.PINKey)}, nil
	}
	return k.open(uri, pin), nil
}

// open opens uri with pin, or returns what the last try did within
// tokenRetry.
func (k *CAKeys) open(uri, pin string) issuerpolicy.TokenKey {
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	id := sha256.Sum256([]byte(uri + "\x00" + pin))
	k.mu.Lock()
	defer k.mu.Unlock()
	if o, ok := k.opened[id]; ok && (o.err == nil || now.Sub(o.at) < tokenRetry) {
		return issuerpolicy.TokenKey{Key: o.key, Err: o.err}
	}
	key, err := k.Open(issuerpolicy.KeyURIWithPIN(uri, pin))
	if err != nil {
		err = withoutPIN(err, pin)
	}
	if k.opened == nil {
		k.opened = map[[sha256.Size]byte]openedKey{}
	}
	k.opened[id] = openedKey{key: key, err: err, at: now}
	return issuerpolicy.TokenKey{Key: key, Err: err}
}

// withoutPIN makes sure an opener's error does not show the PIN: the
// opener should never put it there, and this does not trust that it does
// not. It also drops the redacted pin-value the opener shows, which the
// Secret's URI does not have.
func withoutPIN(err error, pin string) error {
	msg := err.Error()
	if len(pin) >= 4 && (strings.Contains(msg, pin) || strings.Contains(msg, issuerpolicy.KeyURIWithPIN("", pin))) {
		return errors.New("the key in the token could not be opened (the error is not shown: it held the PIN)")
	}
	return &openError{msg: strings.NewReplacer("&pin-value=REDACTED", "", "?pin-value=REDACTED", "").Replace(msg), err: err}
}

// openError is an opener's error as the issuer shows it.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// evaluateCAIssuer decides a ca issuer's readiness, opening the key in a
// token when its Secret names one by URI. Errors are failures to talk to
// the apiserver.
func evaluateCAIssuer(ctx context.Context, keys *CAKeys, spec *cmv1.IssuerSpec, secretName string, secret *corev1.Secret, now time.Time) (issuerpolicy.Readiness, error) {
	if spec.CA == nil || issuerpolicy.CAKeyURI(secret) == "" || len(secret.Data[corev1.TLSPrivateKeyKey]) > 0 {
		return issuerpolicy.Evaluate(spec, secretName, secret, now), nil
	}
	token, err := keys.Token(ctx, secret)
	if err != nil {
		return issuerpolicy.Readiness{}, err
	}
	return issuerpolicy.EvaluateWithTokenKey(spec, secretName, secret, token, now), nil
}
