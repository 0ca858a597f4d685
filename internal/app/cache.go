package app

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
	"github.com/certplane/certplane/internal/certpolicy"
)

// stripManagedFields is controller-runtime's transform that drops managed
// fields, which no controller reads.
var stripManagedFields = cache.TransformStripManagedFields()

// internLimit bounds each of the manager cache's intern tables.
const internLimit = 16384

// cacheTransform returns the transform of every object the manager's cache
// holds: Certificates (slimObject) and Secrets (slimSecret) are slimmed,
// everything loses its managed fields, Certificates and Secrets share
// their recurring values through in, and both are kept compact
// (certcache.Compact, certcache.CompactSecret), which the cache's copies
// read back whole.
func cacheTransform(in *interner) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		switch o := obj.(type) {
		case *cmv1.Certificate:
			_, _ = slimObject(o)
			in.certificate(o)
			if c, err := certcache.Compact(o); err == nil {
				return c, nil
			}
			// One that would not read back the same stays typed.
			return o, nil
		case *corev1.Secret:
			o.ManagedFields = nil
			slimSecret(o)
			in.secret(o)
			return certcache.CompactSecret(o), nil
		}
		return stripManagedFields(obj)
	}
}

// lastApplied is the annotation kubectl apply keeps a copy of the whole
// object in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slimObject drops from a cached object what no controller reads: its
// managed fields and kubectl's last-applied copy of the object, which
// doubles the memory of every Certificate applied with kubectl. It is
// the transform of the cached Certificates, which certplane only ever
// writes through their status subresource: kube-apiserver takes nothing
// but the status from such a write, so the annotation is not lost.
func slimObject(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil
	}
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if a := obj.GetAnnotations(); a != nil {
		if _, ok := a[lastApplied]; ok {
			delete(a, lastApplied)
			if len(a) == 0 {
				a = nil
			}
			obj.SetAnnotations(a)
		}
	}
	return in, nil
}

// cachedSecretAnnotations are the annotations a cached Secret keeps: the
// Certificate that wrote it, which maps the Secret's events to that
// Certificate, and its issuer.
var cachedSecretAnnotations = []string{certpolicy.AnnotationCertName, certpolicy.AnnotationIssuerName, certpolicy.AnnotationIssuerKind, certpolicy.AnnotationIssuerGroup}

// slimSecret drops from a cached Secret all its data and the annotations
// beside cachedSecretAnnotations: the cache says which Secrets there are,
// whose they are and when they change (their resourceVersion), which is
// all anyone reads from it. Whoever needs what a Secret holds reads it
// live, and only when they act on it: the certificates controller when it
// issues or renews, a CA issuer once per resourceVersion, an ACME account
// key when its Secret changed, the web view when a page is drawn, a
// ClusterTrustBundle publisher while it keeps an old CA. At rest nobody
// does. So the controller's memory holds no private key, and no
// certificate, of the Secrets it is not acting on: about a kilobyte per
// Secret.
func slimSecret(s *corev1.Secret) {
	s.Data, s.StringData = nil, nil
	if len(s.Annotations) > 0 {
		maps.DeleteFunc(s.Annotations, func(k, _ string) bool { return !slices.Contains(cachedSecretAnnotations, k) })
		if len(s.Annotations) == 0 {
			s.Annotations = nil
		}
	}
}
