package app

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
)

// stripManagedFields is controller-runtime's transform that drops managed
// fields, which no controller reads.
var stripManagedFields = cache.TransformStripManagedFields()

// internLimit bounds each of the manager cache's intern tables.
const internLimit = 16384

// cacheTransform returns the transform of every object the manager's cache
// holds: Certificates (slimObject) and Secrets (slimSecret) are slimmed,
// everything loses its managed fields, and Certificates and Secrets share
// their recurring values through in.
func cacheTransform(in *interner) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		switch o := obj.(type) {
		case *cmv1.Certificate:
			obj, _ = slimObject(o)
			in.certificate(o)
			return obj, nil
		case *corev1.Secret:
			obj, err := stripManagedFields(o)
			slimSecret(o)
			in.secret(o)
			return obj, err
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

// cachedSecretData are the data keys a cached Secret keeps: its
// certificates, which the web view and the ClusterTrustBundle publisher
// read from the cache for every Secret. cachedSecretAnnotations are the
// annotations it keeps: the Certificate that wrote it, which maps the
// Secret's events to that Certificate, and its issuer.
var (
	cachedSecretData        = []string{corev1.TLSCertKey, certpolicy.KeyCA}
	cachedSecretAnnotations = []string{certpolicy.AnnotationCertName, certpolicy.AnnotationIssuerName, certpolicy.AnnotationIssuerKind, certpolicy.AnnotationIssuerGroup}
)

// slimSecret drops from a cached Secret what only the controller that
// acts on it reads: its private key, keystores and any other data, and
// the annotations beside cachedSecretAnnotations. Whoever needs them
// reads the Secret live, which they do only when they act on it (issue,
// renew, parse a CA key whose resourceVersion changed): at rest nobody
// does. So the controller's memory holds no private key of any Secret,
// and about a kilobyte less per Secret.
func slimSecret(s *corev1.Secret) {
	s.StringData = nil
	if len(s.Data) > 0 {
		var kept map[string][]byte
		for _, k := range cachedSecretData {
			if v, ok := s.Data[k]; ok {
				if kept == nil {
					kept = make(map[string][]byte, len(cachedSecretData))
				}
				kept[k] = v
			}
		}
		s.Data = kept
	}
	if len(s.Annotations) > 0 {
		var kept map[string]string
		for _, k := range cachedSecretAnnotations {
			if v, ok := s.Annotations[k]; ok {
				if kept == nil {
					kept = make(map[string]string, len(cachedSecretAnnotations))
				}
				kept[k] = v
			}
		}
		s.Annotations = kept
	}
}
