package issuerpolicy

import (
	"errors"
	"slices"
	"strings"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// ReasonVaultVerified and ReasonVaultError are the Ready reasons of a vault
// issuer, as cert-manager's.
const (
	ReasonVaultVerified = "VaultVerified"
	ReasonVaultError    = "VaultError"
)

// Secret keys a vault issuer reads when its selectors name none, as
// cert-manager's.
const (
	VaultTokenKey      = "token"
	VaultCABundleKey   = "ca.crt"
	VaultClientCertKey = "tls.crt"
	VaultClientKeyKey  = "tls.key"
)

// Default login paths of the methods whose mountPath is a URL path.
const (
	VaultKubernetesPath  = "/v1/auth/kubernetes"
	VaultCertificatePath = "/v1/auth/cert"
	VaultAppRolePath     = "approle"
)

// CheckVault applies cert-manager's static checks of a vault issuer, with
// its messages, for objects admitted without the CRDs' rules. An error
// makes the issuer Ready=False reason VaultError, not retried until the
// spec changes.
func CheckVault(v *cmv1.VaultIssuer) error {
	if v == nil {
		return errors.New("Vault config cannot be empty") //nolint:staticcheck // cert-manager's message
	}
	if v.Server == "" || v.Path == "" {
		return errors.New("Vault server and path are required fields") //nolint:staticcheck // cert-manager's message
	}
	if hasDotDot(v.Path) {
		return errors.New("spec.vault.path: must not contain '..' path segments")
	}
	a := v.Auth
	set := 0
	for _, b := range []bool{a.TokenSecretRef != nil, a.AppRole != nil, a.ClientCertificate != nil, a.Kubernetes != nil, a.AWS != nil} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		return errors.New("Vault tokenSecretRef, appRole, clientCertificate, kubernetes, or aws is required") //nolint:staticcheck // cert-manager's message
	case set > 1:
		return errors.New("Multiple auth methods cannot be set on the same Vault issuer") //nolint:staticcheck // cert-manager's message
	}
	switch {
	case a.TokenSecretRef != nil:
		if a.TokenSecretRef.Name == "" {
			return errors.New("Vault Token auth requires tokenSecretRef.name") //nolint:staticcheck // cert-manager's message
		}
	case a.AppRole != nil:
		if a.AppRole.RoleId == "" || a.AppRole.SecretRef.Name == "" {
			return errors.New("Vault AppRole auth requires both roleId and tokenSecretRef.name") //nolint:staticcheck // cert-manager's message
		}
		if a.AppRole.SecretRef.Key == "" {
			return errors.New("Vault AppRole auth requires secretRef.key") //nolint:staticcheck // cert-manager's message
		}
		if hasDotDot(a.AppRole.Path) {
			return errors.New("spec.vault.auth.appRole.path: must not contain '..' path segments")
		}
	case a.Kubernetes != nil:
		k := a.Kubernetes
		if k.Role == "" {
			return errors.New("Vault Kubernetes auth requires a role to be set") //nolint:staticcheck // cert-manager's message
		}
		hasSecret, hasSA := k.SecretRef.Name != "", k.ServiceAccountRef != nil && k.ServiceAccountRef.Name != ""
		switch {
		case !hasSecret && !hasSA:
			return errors.New("Vault Kubernetes auth requires either secretRef.name or serviceAccountRef.name to be set") //nolint:staticcheck // cert-manager's message
		case hasSecret && hasSA:
			return errors.New("Vault Kubernetes auth cannot be used with both secretRef.name and serviceAccountRef.name") //nolint:staticcheck // cert-manager's message
		}
		if hasDotDot(k.Path) {
			return errors.New("spec.vault.auth.kubernetes.mountPath: must not contain '..' path segments")
		}
	case a.ClientCertificate != nil:
		if hasDotDot(a.ClientCertificate.Path) {
			return errors.New("spec.vault.auth.clientCertificate.mountPath: must not contain '..' path segments")
		}
		if a.ClientCertificate.SecretName == "" && v.ClientCertSecretRef == nil {
			return errors.New("Vault clientCertificate auth requires secretName, or clientCertSecretRef and clientKeySecretRef") //nolint:staticcheck // in cert-manager's style
		}
	case a.AWS != nil:
		return errors.New("Vault AWS auth is not supported by certplane yet") //nolint:staticcheck // in cert-manager's style
	}
	if (v.ClientCertSecretRef == nil) != (v.ClientKeySecretRef == nil) {
		return errors.New("clientCertSecretRef and clientKeySecretRef must be set together")
	}
	if len(v.CABundle) > 0 && v.CABundleSecretRef != nil {
		return errors.New("specified caBundle and caBundleSecretRef cannot be used together")
	}
	return nil
}

func hasDotDot(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// VaultAudiences are the audiences of the service account tokens requested
// for a vault issuer's kubernetes login, as cert-manager's: the server,
// vault://<namespace>/<issuer> (vault://<issuer> for a ClusterIssuer),
// then the extra ones.
func VaultAudiences(server, namespace, issuer string, cluster bool, extra []string) []string {
	own := "vault://" + namespace + "/" + issuer
	if cluster {
		own = "vault://" + issuer
	}
	out := []string{server, own}
	for _, a := range extra {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// SecretKey is sel's key, or def when it names none.
func SecretKey(sel *cmv1.SecretKeySelector, def string) string {
	if sel == nil || sel.Key == "" {
		return def
	}
	return sel.Key
}
