package certcache

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Secret is a Secret as the manager's cache holds it: its metadata and
// type, never its data, and its annotations as pairs of strings rather
// than a map, which costs some 300 bytes however few its entries. Like
// Certificate, its DeepCopyObject gives a *corev1.Secret (without data),
// so the cache's Get and List hand out typed Secrets.
type Secret struct {
	metav1.ObjectMeta
	Type corev1.SecretType
	// annotations are key, value, key, value, sorted by key; the embedded
	// ObjectMeta's are always nil.
	annotations []string
}

// CompactSecret returns s in the cache's form, without its data. It shares
// s's metadata and annotation strings (the caller drops s).
func CompactSecret(s *corev1.Secret) *Secret {
	out := &Secret{ObjectMeta: s.ObjectMeta, Type: s.Type}
	out.SetAnnotations(s.Annotations)
	return out
}

// GetAnnotations returns a new map of the annotations; nil when there are
// none.
func (s *Secret) GetAnnotations() map[string]string {
	if len(s.annotations) == 0 {
		return nil
	}
	m := make(map[string]string, len(s.annotations)/2)
	for i := 0; i+1 < len(s.annotations); i += 2 {
		m[s.annotations[i]] = s.annotations[i+1]
	}
	return m
}

// SetAnnotations keeps a as pairs.
func (s *Secret) SetAnnotations(a map[string]string) {
	s.Annotations = nil // the embedded ObjectMeta's: kept as pairs
	s.annotations = nil
	if len(a) == 0 {
		return
	}
	s.annotations = make([]string, 0, 2*len(a))
	for _, k := range slices.Sorted(maps.Keys(a)) {
		s.annotations = append(s.annotations, k, a[k])
	}
}

// GetObjectKind has no kind: the cache sets it on the copies it hands out.
func (s *Secret) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns the Secret as a *corev1.Secret, without data.
func (s *Secret) DeepCopyObject() runtime.Object {
	out := &corev1.Secret{ObjectMeta: *s.DeepCopy(), Type: s.Type}
	out.Annotations = s.GetAnnotations()
	return out
}
