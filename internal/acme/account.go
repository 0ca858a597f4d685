package acme

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	xacme "golang.org/x/crypto/acme"

	"github.com/certplane/certplane/pkg/pki"
)

// AccountKeyBits is the size of generated account keys: RSA 2048, as
// cert-manager generates, since its accounts sign with RS256.
const AccountKeyBits = 2048

// GenerateAccountKey makes a new account key.
func GenerateAccountKey(rand io.Reader) (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand, AccountKeyBits)
}

// EncodeAccountKey is key as PKCS#1 PEM, the form cert-manager stores.
func EncodeAccountKey(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// ErrNotRSA is returned by ParseAccountKey for a key of another type.
var ErrNotRSA = errors.New("acme: account key is not of type RSA")

// ParseAccountKey reads an account key in any PEM form pkg/pki reads; it
// must be RSA.
func ParseAccountKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	key, err := pki.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("acme: account key: %w", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, ErrNotRSA
	}
	return rsaKey, nil
}

// Contact is the account contact for email: mailto:<lower-cased email>,
// none when email is empty.
func Contact(email string) []string {
	if email == "" {
		return nil
	}
	return []string{"mailto:" + strings.ToLower(email)}
}

// Register makes sure the account of c's key exists at the server with
// email as its contact, creating it (accepting the terms of service, with
// the external account binding when eab is set) or updating its contact,
// and returns it with its URL in URI.
func Register(ctx context.Context, c *xacme.Client, email string, eab *xacme.ExternalAccountBinding) (*xacme.Account, error) {
	want := &xacme.Account{Contact: Contact(email), ExternalAccountBinding: eab}
	acct, err := c.Register(ctx, want, xacme.AcceptTOS)
	if errors.Is(err, xacme.ErrAccountAlreadyExists) {
		acct, err = c.GetReg(ctx, "")
		if err != nil {
			return nil, err
		}
		if !sameContact(acct.Contact, want.Contact) {
			acct.Contact = want.Contact
			return c.UpdateReg(ctx, acct)
		}
		return acct, nil
	}
	if err != nil {
		return nil, err
	}
	return acct, nil
}

func sameContact(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}
