package issuerpolicy_test

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func tlsSecret(t *testing.T, cert []byte, key []byte) *corev1.Secret {
	t.Helper()
	return &corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}}
}

func keyPEM(t *testing.T, ca *pki.CA) []byte {
	t.Helper()
	k, err := pki.MarshalPrivateKeyPEM(ca.Key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ca := pkitest.CAAt(t, "ca", now, 24*time.Hour)
	other := pkitest.CAAt(t, "other", now, 24*time.Hour)
	leafKey := pkitest.Key(t)
	leaf, err := ca.Issue(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "leaf"}}, leafKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	leafKeyPEM, _ := pki.MarshalPrivateKeyPEM(leafKey, pki.FormatDefault)
	caSpec := &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "root"}}}
	good := tlsSecret(t, pki.EncodeCertificatesPEM(ca.Certificate), keyPEM(t, ca))

	tests := []struct {
		name       string
		spec       *cmv1.IssuerSpec
		secret     *corev1.Secret
		at         time.Time
		wantReady  bool
		wantReason string
		wantMsg    string
	}{
		{"selfSigned", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}, nil, now, true, "IsReady", ""},
		{"ca ok", caSpec, good, now, true, "KeyPairVerified", "Signing CA verified"},
		{"ca secret missing", caSpec, nil, now, false, "ErrGetKeyPair", `secret "root" not found`},
		{"ca secret without key", caSpec, tlsSecret(t, pki.EncodeCertificatesPEM(ca.Certificate), nil), now, false, "ErrInvalidKeyPair", "lacks tls.crt or tls.key"},
		{"ca not a CA", caSpec, tlsSecret(t, pki.EncodeCertificatesPEM(leaf), leafKeyPEM), now, false, "ErrInvalidKeyPair", "certificate is not a CA"},
		{"ca key of another CA", caSpec, tlsSecret(t, pki.EncodeCertificatesPEM(ca.Certificate), keyPEM(t, other)), now, false, "ErrInvalidKeyPair", "private key does not match"},
		{"ca expired", caSpec, good, now.Add(48 * time.Hour), false, "ErrInvalidKeyPair", "CA certificate is valid from"},
		{"ca garbage", caSpec, tlsSecret(t, []byte("garbage"), []byte("garbage")), now, false, "ErrInvalidKeyPair", "no PEM data"},
		{"vault incomplete", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{Vault: &cmv1.VaultIssuer{}}}, nil, now, false, "VaultError", "Vault server and path are required fields"},
		{"vault checked by its reconciler", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{Vault: &cmv1.VaultIssuer{Server: "https://v", Path: "pki/sign/r",
			Auth: cmv1.VaultAuth{TokenSecretRef: &cmv1.SecretKeySelector{LocalObjectReference: cmv1.LocalObjectReference{Name: "t"}}}}}}, nil, now, false, "Pending", "Vault is being checked"},
		{"venafi", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{Venafi: &cmv1.VenafiIssuer{}}}, nil, now, false, "Unsupported", "venafi issuer"},
		{"acme", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{ACME: &cmv1.ACMEIssuer{}}}, nil, now, false, "Pending", "ACME account"},
		{"none", &cmv1.IssuerSpec{}, nil, now, false, "InvalidConfig", "exactly one"},
		{"two", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}, CA: &cmv1.CAIssuer{}}}, nil, now, false, "InvalidConfig", "exactly one"},
		{"ca secret name with a path", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "../x"}}}, nil, now, false, "InvalidConfig",
			`spec.ca.secretName: "../x" is not a valid Secret name: a lowercase RFC 1123 subdomain must consist of`},
		{"ca secret name empty", &cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{}}}, nil, now, false, "InvalidConfig", "spec.ca.secretName: must be specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := issuerpolicy.Evaluate(tt.spec, "root", tt.secret, tt.at)
			if r.Ready != tt.wantReady || r.Reason != tt.wantReason || !strings.Contains(r.Message, tt.wantMsg) {
				t.Errorf("got %v %q %q, want %v %q containing %q", r.Ready, r.Reason, r.Message, tt.wantReady, tt.wantReason, tt.wantMsg)
			}
			if tt.name == "ca ok" && (!r.RecheckAt.After(ca.Certificate.NotAfter) || r.CA == nil) {
				t.Errorf("RecheckAt %s, CA %v", r.RecheckAt, r.CA)
			}
		})
	}
}
