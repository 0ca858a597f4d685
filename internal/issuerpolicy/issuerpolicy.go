// Package issuerpolicy decides, as pure functions, whether a cert-manager.io
// Issuer or ClusterIssuer is ready, with cert-manager's condition reasons.
package issuerpolicy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// Reasons of the Ready condition.
const (
	ReasonIsReady           = "IsReady"
	ReasonKeyPairVerified   = "KeyPairVerified"
	ReasonErrGetKeyPair     = "ErrGetKeyPair"
	ReasonErrInvalidKeyPair = "ErrInvalidKeyPair"
	ReasonUnsupported       = "Unsupported"
	ReasonInvalidConfig     = "InvalidConfig"
)

// caKey is where a CA Secret keeps the root its CA chains to.
const caKey = "ca.crt"

// Readiness is the Ready condition an issuer should have.
type Readiness struct {
	Ready   bool
	Reason  string
	Message string
	// RecheckAt, if set, is when readiness changes by itself (a CA expires).
	RecheckAt time.Time
	// CA is the verified signing CA of a ca issuer.
	CA *pki.CA
	// Chain is the CA certificate followed by the intermediates above it,
	// self-signed roots left out: what follows a leaf in its tls.crt.
	Chain []*x509.Certificate
	// Anchor is the root the CA's certificates verify against: the first
	// certificate of the Secret's ca.crt, else the top of its tls.crt.
	Anchor *x509.Certificate
}

// Kind names the issuer kind the spec configures, or "" when it sets none
// or several.
func Kind(spec *cmv1.IssuerSpec) string {
	kinds := map[string]bool{"acme": spec.ACME != nil, "ca": spec.CA != nil, "selfSigned": spec.SelfSigned != nil, "vault": spec.Vault != nil, "venafi": spec.Venafi != nil}
	found := ""
	for k, set := range kinds {
		if set {
			if found != "" {
				return ""
			}
			found = k
		}
	}
	return found
}

// CheckSpec applies the rules the CRDs apply at admission to what the
// controller reads, for issuers admitted without them: a ca issuer's
// secretName must name a Secret. Its error names the field.
func CheckSpec(spec *cmv1.IssuerSpec) error {
	if spec.CA == nil {
		return nil
	}
	name := spec.CA.SecretName
	if name == "" {
		return fmt.Errorf("spec.ca.secretName: must be specified")
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("spec.ca.secretName: %q is not a valid Secret name: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

// Evaluate decides readiness. secret is the ca issuer's Secret, or nil when
// it does not exist; it is ignored for other kinds. A spec that CheckSpec
// refuses is not ready, reason InvalidConfig; the caller should not look
// for its Secret.
func Evaluate(spec *cmv1.IssuerSpec, secretName string, secret *corev1.Secret, now time.Time) Readiness {
	switch Kind(spec) {
	case "selfSigned":
		return Readiness{Ready: true, Reason: ReasonIsReady}
	case "ca":
		if err := CheckSpec(spec); err != nil {
			return Readiness{Reason: ReasonInvalidConfig, Message: err.Error()}
		}
		return evaluateCA(secretName, secret, nil, now)
	case "acme":
		// Readiness comes from the account registration: see FromStatus.
		return Readiness{Reason: "Pending", Message: "The ACME account is being registered"}
	case "vault":
		// Readiness comes from the checks of Vault: see FromStatus.
		if err := CheckVault(spec.Vault); err != nil {
			return Readiness{Reason: ReasonVaultError, Message: err.Error()}
		}
		return Readiness{Reason: "Pending", Message: "Vault is being checked"}
	case "venafi":
		return Readiness{Reason: ReasonUnsupported, Message: fmt.Sprintf("certplane does not implement the %s issuer yet", Kind(spec))}
	default:
		return Readiness{Reason: ReasonInvalidConfig, Message: "exactly one of acme, ca, selfSigned, vault and venafi must be set"}
	}
}

// FromStatus is the readiness an issuer's controller wrote in its Ready
// condition, for the kinds whose readiness needs the network (acme, vault).
func FromStatus(status *cmv1.IssuerStatus) Readiness {
	for _, c := range status.Conditions {
		if c.Type == "Ready" {
			return Readiness{Ready: c.Status == cmv1.ConditionTrue, Reason: c.Reason, Message: c.Message}
		}
	}
	return Readiness{Reason: "Pending", Message: "The issuer has not been checked yet"}
}

// evaluateCA decides a ca issuer; token is the key the controller opened
// when the Secret names one by URI (KeyURIKey), else nil.
func evaluateCA(name string, secret *corev1.Secret, token *TokenKey, now time.Time) Readiness {
	if secret == nil {
		return Readiness{Reason: ReasonErrGetKeyPair, Message: fmt.Sprintf("Error getting keypair for CA issuer: secret %q not found", name)}
	}
	invalid := func(format string, args ...any) Readiness {
		return Readiness{Reason: ReasonErrInvalidKeyPair, Message: "Error getting keypair for CA issuer: " + fmt.Sprintf(format, args...)}
	}
	certPEM, keyPEM := secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]
	if len(keyPEM) == 0 && CAKeyURI(secret) != "" {
		keyPEM = secret.Data[KeyURIKey]
	}
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return invalid("secret %q lacks %s or %s", name, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return invalid("%s: %v", corev1.TLSCertKey, err)
	}
	key, err := secretKey(name, secret, token)
	if te, ok := errors.AsType[*tokenError](err); ok {
		return Readiness{Reason: ReasonErrGetKeyPair, Message: "Error getting keypair for CA issuer: " + te.Error()}
	}
	if err != nil {
		return invalid("%v", err)
	}
	ca, err := pki.NewCA(certs[0], key)
	if err != nil {
		return invalid("%v", err)
	}
	if now.After(ca.Certificate.NotAfter) || now.Before(ca.Certificate.NotBefore) {
		return invalid("CA certificate is valid from %s to %s", ca.Certificate.NotBefore.UTC().Format(time.RFC3339), ca.Certificate.NotAfter.UTC().Format(time.RFC3339))
	}
	res := Readiness{Ready: true, Reason: ReasonKeyPairVerified, Message: "Signing CA verified", RecheckAt: ca.Certificate.NotAfter.Add(time.Second), CA: ca}
	for _, c := range certs {
		if !pki.IsSelfSigned(c) {
			res.Chain = append(res.Chain, c)
		}
	}
	res.Anchor = certs[len(certs)-1]
	if anchors, err := pki.ParseCertificatesPEM(secret.Data[caKey]); err == nil {
		res.Anchor = anchors[0]
	}
	return res
}
