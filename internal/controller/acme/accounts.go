package acme

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	xacme "golang.org/x/crypto/acme"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	acmeproto "github.com/certplane/certplane/internal/acme"
	"github.com/certplane/certplane/internal/acmepolicy"
)

// DefaultKeyName is the entry of privateKeySecretRef read when its key is
// empty.
const DefaultKeyName = "tls.key"

// Accounts gives the ACME clients of issuers. Account keys are parsed once
// per Secret version and clients are kept per server, account and key, so
// that every Order and Challenge of an issuer shares one client: its
// directory, nonces and connections.
type Accounts struct {
	// Reader reads Issuers and ClusterIssuers (the cache).
	Reader client.Reader
	// Secrets reads the Secrets certplane caches; APIReader the others.
	Secrets   client.Reader
	APIReader client.Reader
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers.
	ClusterResourceNamespace string
	// UserAgent is sent to ACME servers.
	UserAgent string
	// Observe, if set, is told of every HTTP request the ACME clients
	// make (cert-manager's ACME client metrics).
	Observe func(acmeproto.Observation)

	mu      sync.Mutex
	keys    map[types.NamespacedName]parsedKey
	clients map[string]*xacme.Client
}

type parsedKey struct {
	uid, resourceVersion string
	key                  *rsa.PrivateKey
	hash                 string
	err                  error
}

// Issuer is an ACME issuer as the Order and Challenge reconcilers need it.
type Issuer struct {
	Object client.Object
	Spec   *cmv1.ACMEIssuer
	// Namespace holds the issuer's Secrets.
	Namespace string
	Client    *xacme.Client
}

// ErrNotReady is returned by Issuer when the issuer has no registered
// account yet; its message says why.
type ErrNotReady struct{ Message string }

func (e *ErrNotReady) Error() string { return e.Message }

// SecretNamespace is where the Secrets of the issuer ref names from
// namespace live.
func (a *Accounts) SecretNamespace(namespace string, ref cmv1.ObjectReference) string {
	if ref.Kind == "ClusterIssuer" {
		return a.ClusterResourceNamespace
	}
	return namespace
}

// Issuer resolves ref from namespace to a ready ACME issuer and its client.
// An issuer that is missing, not ACME or without a registered account is
// an *ErrNotReady.
func (a *Accounts) Issuer(ctx context.Context, namespace string, ref cmv1.ObjectReference) (*Issuer, error) {
	var (
		obj    client.Object
		spec   *cmv1.IssuerSpec
		status *cmv1.IssuerStatus
		key    = types.NamespacedName{Namespace: namespace, Name: ref.Name}
		kind   = "Issuer"
	)
	if ref.Kind == "ClusterIssuer" {
		ci := &cmv1.ClusterIssuer{}
		obj, spec, status, key.Namespace, kind = ci, &ci.Spec, &ci.Status, "", "ClusterIssuer"
	} else {
		is := &cmv1.Issuer{}
		obj, spec, status = is, &is.Spec, &is.Status
	}
	if err := a.Reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &ErrNotReady{Message: fmt.Sprintf("%s %q not found", kind, ref.Name)}
		}
		return nil, err
	}
	if spec.ACME == nil {
		return nil, &ErrNotReady{Message: fmt.Sprintf("%s %q is not an ACME issuer", kind, ref.Name)}
	}
	if status.ACME == nil || status.ACME.URI == "" || !readyTrue(status.Conditions) {
		return nil, &ErrNotReady{Message: fmt.Sprintf("%s %q has no registered ACME account yet", kind, ref.Name)}
	}
	ns := a.SecretNamespace(namespace, ref)
	k, hash, err := a.Key(ctx, ns, spec.ACME)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, &ErrNotReady{Message: fmt.Sprintf("the account key Secret %q of %s %q does not exist", spec.ACME.PrivateKey.Name, kind, ref.Name)}
	}
	c, err := a.Client(spec.ACME, k, hash, status.ACME.URI)
	if err != nil {
		return nil, &ErrNotReady{Message: err.Error()}
	}
	return &Issuer{Object: obj, Spec: spec.ACME, Namespace: ns, Client: c}, nil
}

func readyTrue(cs []cmv1.IssuerCondition) bool {
	for _, c := range cs {
		if c.Type == "Ready" {
			return c.Status == cmv1.ConditionTrue
		}
	}
	return false
}

// Key reads the account key of spec from namespace: nil (and no error)
// when its Secret or entry does not exist, an error when it cannot be
// parsed or is not RSA. The hash is acmepolicy.KeyHash of the key.
func (a *Accounts) Key(ctx context.Context, namespace string, spec *cmv1.ACMEIssuer) (*rsa.PrivateKey, string, error) {
	name := types.NamespacedName{Namespace: namespace, Name: spec.PrivateKey.Name}
	secret, err := a.secret(ctx, name)
	if err != nil || secret == nil {
		return nil, "", err
	}
	entry := spec.PrivateKey.Key
	if entry == "" {
		entry = DefaultKeyName
	}
	a.mu.Lock()
	p, ok := a.keys[name]
	a.mu.Unlock()
	if ok && p.uid == string(secret.UID) && p.resourceVersion == secret.ResourceVersion {
		return p.key, p.hash, p.err
	}
	// A cached Secret holds no private key (internal/app's cache
	// transform): a changed one is read whole from the apiserver.
	if a.APIReader != nil {
		s := &corev1.Secret{}
		if err := a.APIReader.Get(ctx, name, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "", nil
			}
			return nil, "", err
		}
		secret = s
	}
	if len(secret.Data[entry]) == 0 {
		return nil, "", nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	p = parsedKey{uid: string(secret.UID), resourceVersion: secret.ResourceVersion}
	p.key, p.err = acmeproto.ParseAccountKey(secret.Data[entry])
	if errors.Is(p.err, acmeproto.ErrNotRSA) {
		p.err = fmt.Errorf("ACME private key in %q is not of type RSA", name.Name)
	} else if p.err != nil {
		p.err = fmt.Errorf("ACME private key in %q: %w", name.Name, p.err)
	}
	if p.key != nil {
		p.hash = acmepolicy.KeyHash(x509.MarshalPKCS1PrivateKey(p.key))
	}
	if a.keys == nil {
		a.keys = map[types.NamespacedName]parsedKey{}
	}
	a.keys[name] = p
	return p.key, p.hash, p.err
}

func (a *Accounts) secret(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error) {
	for _, reader := range []client.Reader{a.Secrets, a.APIReader} {
		if reader == nil {
			continue
		}
		s := &corev1.Secret{}
		err := reader.Get(ctx, key, s)
		if err == nil {
			return s, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, nil
}

// Client is the ACME client of spec's server with key, for the account at
// accountURL (empty before registration).
func (a *Accounts) Client(spec *cmv1.ACMEIssuer, key *rsa.PrivateKey, keyHash, accountURL string) (*xacme.Client, error) {
	sum := sha256.Sum256(spec.CABundle)
	id := fmt.Sprintf("%s|%s|%s|%s|%t", spec.Server, accountURL, keyHash, hex.EncodeToString(sum[:]), spec.SkipTLSVerify)
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[id]; ok {
		return c, nil
	}
	c, err := acmeproto.NewClient(acmeproto.Config{
		Server: spec.Server, CABundle: spec.CABundle, SkipTLSVerify: spec.SkipTLSVerify,
		Key: key, AccountURL: accountURL, UserAgent: a.UserAgent, Observe: a.Observe,
	})
	if err != nil {
		return nil, err
	}
	if a.clients == nil {
		a.clients = map[string]*xacme.Client{}
	}
	a.clients[id] = c
	return c, nil
}
