package certmanager

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/internal/issuerpolicy"
)

// issuer is a resolved issuerRef of a built-in kind.
type issuer struct {
	Object    client.Object
	Spec      *cmv1.IssuerSpec
	Readiness issuerpolicy.Readiness
}

// Issuers resolves issuerRefs to their issuers and, for ca issuers, their
// verified CAs. Parsed CAs are kept per Secret resourceVersion, so issuing
// many certificates from one CA parses its key once.
type Issuers struct {
	// Reader reads Issuers and ClusterIssuers (the cache).
	Reader client.Reader
	// Keys opens the keys that ca issuers' Secrets name in PKCS#11 tokens.
	Keys *CAKeys
	// Secrets reads the Secrets certplane caches; APIReader the others.
	Secrets   client.Reader
	APIReader client.Reader
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers.
	ClusterResourceNamespace string
	// Vaults holds the clients of vault issuers, shared with the issuer
	// reconciler.
	Vaults *Vaults

	mu  sync.Mutex
	cas map[types.NamespacedName]parsedCA
}

type parsedCA struct {
	uid, resourceVersion string
	readiness            issuerpolicy.Readiness
	// secret is the CA's Secret as read whole, at resourceVersion: a CA
	// that is not ready is decided again from it, without another read.
	secret *corev1.Secret
}

// Resolve finds the issuer ref names from namespace and decides whether it
// can sign at now. A missing issuer is a Readiness with reason NotFound, not
// an error; errors are failures to talk to the apiserver.
func (r *Issuers) Resolve(ctx context.Context, namespace string, ref cmv1.ObjectReference, now time.Time) (*issuer, error) {
	var (
		obj          client.Object
		spec         *cmv1.IssuerSpec
		key          = types.NamespacedName{Namespace: namespace, Name: ref.Name}
		secretNS     = namespace
		kind         = crpolicy.KindIssuer
		clusterScope = ref.Kind == crpolicy.KindClusterIssuer
	)
	var status *cmv1.IssuerStatus
	if clusterScope {
		ci := &cmv1.ClusterIssuer{}
		obj, spec, status, key.Namespace, secretNS, kind = ci, &ci.Spec, &ci.Status, "", r.ClusterResourceNamespace, crpolicy.KindClusterIssuer
	} else {
		is := &cmv1.Issuer{}
		obj, spec, status = is, &is.Spec, &is.Status
	}
	if err := r.Reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return &issuer{Readiness: issuerpolicy.Readiness{Reason: "NotFound", Message: fmt.Sprintf("%s %q not found", kind, ref.Name)}}, nil
		}
		return nil, err
	}
	out := &issuer{Object: obj, Spec: spec}
	if spec.ACME != nil && issuerpolicy.CheckSpec(spec) == nil {
		// The issuer reconciler registers the account and says so.
		out.Readiness = issuerpolicy.FromStatus(status)
		return out, nil
	}
	if spec.Vault != nil && issuerpolicy.Kind(spec) == "vault" && issuerpolicy.CheckVault(spec.Vault) == nil {
		// The issuer reconciler checks Vault every minute and says so.
		out.Readiness = issuerpolicy.FromStatus(status)
		return out, nil
	}
	if spec.CA == nil || issuerpolicy.CheckSpec(spec) != nil {
		out.Readiness = issuerpolicy.Evaluate(spec, "", nil, now)
		return out, nil
	}
	secret, err := r.secret(ctx, types.NamespacedName{Namespace: secretNS, Name: spec.CA.SecretName})
	if err != nil {
		return nil, err
	}
	if out.Readiness, err = r.caReadiness(ctx, spec, secret, now); err != nil {
		return nil, err
	}
	return out, nil
}

// secret reads a Secret from the cache, or from the apiserver when it is one
// certplane does not cache; nil when it does not exist.
func (r *Issuers) secret(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error) {
	return readSecret(ctx, key, r.Secrets, r.APIReader)
}

// readSecret reads a Secret from the first reader that has it; nil when
// none does.
func readSecret(ctx context.Context, key types.NamespacedName, readers ...client.Reader) (*corev1.Secret, error) {
	for _, reader := range readers {
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

func (r *Issuers) caReadiness(ctx context.Context, spec *cmv1.IssuerSpec, secret *corev1.Secret, now time.Time) (issuerpolicy.Readiness, error) {
	if secret == nil {
		return issuerpolicy.Evaluate(spec, spec.CA.SecretName, nil, now), nil
	}
	key := types.NamespacedName{Namespace: secret.Namespace, Name: secret.Name}
	r.mu.Lock()
	p, ok := r.cas[key]
	r.mu.Unlock()
	if ok && p.uid == string(secret.UID) && p.resourceVersion == secret.ResourceVersion && p.readiness.Ready &&
		!now.Before(p.readiness.CA.Certificate.NotBefore) && now.Before(p.readiness.CA.Certificate.NotAfter) {
		return p.readiness, nil
	}
	// The cache holds Secrets without their data: a CA is read whole from
	// the apiserver when its Secret changed.
	if ok && p.uid == string(secret.UID) && p.resourceVersion == secret.ResourceVersion && p.secret != nil {
		secret = p.secret
	} else {
		full, err := readSecret(ctx, key, r.APIReader)
		if err != nil {
			return issuerpolicy.Readiness{}, err
		}
		if full == nil {
			return issuerpolicy.Evaluate(spec, spec.CA.SecretName, nil, now), nil
		}
		secret = full
	}
	res, err := evaluateCAIssuer(ctx, r.Keys, spec, spec.CA.SecretName, secret, now)
	if err != nil {
		return res, err
	}
	r.mu.Lock()
	if r.cas == nil {
		r.cas = map[types.NamespacedName]parsedCA{}
	}
	r.cas[key] = parsedCA{uid: string(secret.UID), resourceVersion: secret.ResourceVersion, readiness: res, secret: secret}
	r.mu.Unlock()
	return res, nil
}
