package certmanager

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/internal/vault"
	"github.com/certplane/certplane/pkg/pki"
)

// vaultTokenExpiry is the lifetime of the service account tokens requested
// for a kubernetes login, as cert-manager's.
const vaultTokenExpiry = 600

// tokenCreator creates subresources: here a ServiceAccount's token.
type tokenCreator interface {
	SubResource(subResource string) client.SubResourceClient
}

// Vaults keeps one Vault client per vault issuer, built from the issuer's
// spec and the Secrets it names. The issuer reconciler rebuilds it when
// either changes (it reads them at each check); the signing paths use the
// one it holds, so that issuing reads no Secret and makes one Vault call.
type Vaults struct {
	// Secrets reads the Secrets a vault issuer names (live: certplane does
	// not cache Secrets it did not write).
	Secrets client.Reader
	// Tokens requests service account tokens (TokenRequest) for
	// serviceAccountRef logins.
	Tokens tokenCreator
	// Now is the clients' clock. If nil, time.Now.
	Now func() time.Time

	mu      sync.Mutex
	clients map[types.UID]*vaultEntry
}

type vaultEntry struct {
	fingerprint string
	client      *vault.Client
}

// Client is the Vault client of obj, a vault Issuer or ClusterIssuer whose
// Secrets live in namespace: the one held if the spec and Secrets are
// unchanged, else a new one. Its errors say what is missing or wrong,
// never a credential.
func (v *Vaults) Client(ctx context.Context, obj client.Object, spec *cmv1.VaultIssuer, namespace string, cluster bool) (*vault.Client, error) {
	cfg, fingerprint, err := v.config(ctx, obj, spec, namespace, cluster)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.clients[obj.GetUID()]; e != nil && e.fingerprint == fingerprint {
		return e.client, nil
	}
	c, err := vault.New(cfg)
	if err != nil {
		return nil, err
	}
	if v.clients == nil {
		v.clients = map[types.UID]*vaultEntry{}
	}
	v.clients[obj.GetUID()] = &vaultEntry{fingerprint: fingerprint, client: c}
	return c, nil
}

// Held is the client the issuer reconciler last built for obj, if any.
func (v *Vaults) Held(obj client.Object) *vault.Client {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.clients[obj.GetUID()]; e != nil {
		return e.client
	}
	return nil
}

// Forget drops the client of an issuer that is gone.
func (v *Vaults) Forget(uid types.UID) {
	v.mu.Lock()
	delete(v.clients, uid)
	v.mu.Unlock()
}

// config reads what spec names into a client configuration, and a
// fingerprint that changes when any of it does.
func (v *Vaults) config(ctx context.Context, obj client.Object, spec *cmv1.VaultIssuer, namespace string, cluster bool) (vault.Config, string, error) {
	cfg := vault.Config{Server: spec.Server, Namespace: spec.Namespace, ServerName: spec.ServerName, CABundle: spec.CABundle, Now: v.Now}
	var fp strings.Builder
	fmt.Fprintf(&fp, "%s/%d", obj.GetUID(), obj.GetGeneration())
	read := func(name, key string) ([]byte, error) {
		s := &corev1.Secret{}
		if err := v.Secrets.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("secret %q not found", name)
			}
			return nil, fmt.Errorf("reading secret %q: %w", name, err)
		}
		fmt.Fprintf(&fp, "|%s/%s", s.UID, s.ResourceVersion)
		data, ok := s.Data[key]
		if !ok {
			return nil, fmt.Errorf("no data for %q in secret '%s/%s'", key, namespace, name)
		}
		return data, nil
	}
	keyPair := func(certName, certKey, keyName, keyKey string) (*tls.Certificate, error) {
		certPEM, err := read(certName, certKey)
		if err != nil {
			return nil, err
		}
		keyPEM, err := read(keyName, keyKey)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// crypto/tls's errors name no key material.
			return nil, fmt.Errorf("client certificate in secret %q: %w", certName, err)
		}
		return &pair, nil
	}
	if ref := spec.CABundleSecretRef; ref != nil {
		data, err := read(ref.Name, issuerpolicy.SecretKey(ref, issuerpolicy.VaultCABundleKey))
		if err != nil {
			return cfg, "", err
		}
		cfg.CABundle = data
	}
	if len(cfg.CABundle) > 0 {
		if _, err := pki.ParseCertificatesPEM(cfg.CABundle); err != nil {
			return cfg, "", fmt.Errorf("CA bundle: %w", err)
		}
	}
	if spec.ClientCertSecretRef != nil && spec.ClientKeySecretRef != nil {
		pair, err := keyPair(spec.ClientCertSecretRef.Name, issuerpolicy.SecretKey(spec.ClientCertSecretRef, issuerpolicy.VaultClientCertKey),
			spec.ClientKeySecretRef.Name, issuerpolicy.SecretKey(spec.ClientKeySecretRef, issuerpolicy.VaultClientKeyKey))
		if err != nil {
			return cfg, "", err
		}
		cfg.ClientCert = pair
	}
	a := spec.Auth
	switch {
	case a.TokenSecretRef != nil:
		token, err := read(a.TokenSecretRef.Name, issuerpolicy.SecretKey(a.TokenSecretRef, issuerpolicy.VaultTokenKey))
		if err != nil {
			return cfg, "", err
		}
		cfg.Auth = vault.Token{Token: strings.TrimSpace(string(token))}
	case a.AppRole != nil:
		secretID, err := read(a.AppRole.SecretRef.Name, a.AppRole.SecretRef.Key)
		if err != nil {
			return cfg, "", err
		}
		path := a.AppRole.Path
		if path == "" {
			path = issuerpolicy.VaultAppRolePath
		}
		cfg.Auth = vault.AppRole{Path: path, RoleID: a.AppRole.RoleId, SecretID: strings.TrimSpace(string(secretID))}
	case a.ClientCertificate != nil:
		cc := a.ClientCertificate
		path := cc.Path
		if path == "" {
			path = issuerpolicy.VaultCertificatePath
		}
		pair := cfg.ClientCert
		if cc.SecretName != "" {
			p, err := keyPair(cc.SecretName, corev1.TLSCertKey, cc.SecretName, corev1.TLSPrivateKeyKey)
			if err != nil {
				return cfg, "", err
			}
			pair = p
		}
		if pair == nil {
			return cfg, "", fmt.Errorf("clientCertificate auth has no client certificate")
		}
		cfg.ClientCert = pair
		cfg.Auth = vault.Certificate{Path: path, Name: cc.Name, Cert: *pair}
	case a.Kubernetes != nil:
		k := a.Kubernetes
		path := k.Path
		if path == "" {
			path = issuerpolicy.VaultKubernetesPath
		}
		auth := vault.Kubernetes{Path: path, Role: k.Role}
		if sa := k.ServiceAccountRef; sa != nil && sa.Name != "" {
			audiences := issuerpolicy.VaultAudiences(spec.Server, obj.GetNamespace(), obj.GetName(), cluster, sa.TokenAudiences)
			auth.JWT = v.serviceAccountToken(namespace, sa.Name, audiences)
			fmt.Fprintf(&fp, "|sa/%s", sa.Name)
		} else {
			jwt, err := read(k.SecretRef.Name, issuerpolicy.SecretKey(&k.SecretRef, issuerpolicy.VaultTokenKey))
			if err != nil {
				return cfg, "", err
			}
			token := strings.TrimSpace(string(jwt))
			auth.JWT = func(context.Context) (string, error) { return token, nil }
		}
		cfg.Auth = auth
	default:
		return cfg, "", fmt.Errorf("no supported auth method")
	}
	return cfg, fp.String(), nil
}

// serviceAccountToken requests a token of the service account for each
// login, through the TokenRequest API, as cert-manager does.
func (v *Vaults) serviceAccountToken(namespace, name string, audiences []string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		expiry := int64(vaultTokenExpiry)
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &expiry}}
		if err := v.Tokens.SubResource("token").Create(ctx, sa, tr); err != nil {
			return "", fmt.Errorf("requesting a token for service account %s/%s: %w", namespace, name, err)
		}
		return tr.Status.Token, nil
	}
}

// signVault has the issuer's Vault sign csrPEM, which asks for what t
// describes, valid for duration (0: the role's default).
func (r *Issuers) signVault(ctx context.Context, iss *issuer, csrPEM []byte, t *x509.CertificateRequest, duration time.Duration) (*vault.Issued, error) {
	c := r.Vaults.Held(iss.Object)
	if c == nil {
		namespace, cluster := iss.Object.GetNamespace(), iss.Object.GetNamespace() == ""
		if cluster {
			namespace = r.ClusterResourceNamespace
		}
		var err error
		if c, err = r.Vaults.Client(ctx, iss.Object, iss.Spec.Vault, namespace, cluster); err != nil {
			return nil, fmt.Errorf("initialising the Vault client: %w", err)
		}
	}
	req := vault.SignRequest{CSR: csrPEM, CommonName: t.Subject.CommonName, AltNames: t.DNSNames, TTL: duration, ExcludeCNFromSANs: true}
	for _, ip := range t.IPAddresses {
		req.IPSANs = append(req.IPSANs, ip.String())
	}
	for _, u := range t.URIs {
		req.URISANs = append(req.URISANs, u.String())
	}
	return c.Sign(ctx, iss.Spec.Vault.Path, req)
}

// VaultRefused reports whether Vault refused what a request asks for (a 4xx
// answer to the signing request other than 403 and 429: a name its role
// does not allow, a bad CSR), which no retry changes. Anything else
// (sealed, unreachable, a refused login or token, a 5xx) may pass once
// Vault or the credentials are fixed.
func VaultRefused(err error) bool {
	var re *vault.ResponseError
	if !errors.As(err, &re) || strings.HasPrefix(re.Path, "/v1/auth/") {
		return false
	}
	return re.StatusCode >= 400 && re.StatusCode < 500 && re.StatusCode != http.StatusForbidden && re.StatusCode != http.StatusTooManyRequests
}
