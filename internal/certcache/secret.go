package certcache

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Secret is a Secret as the manager's cache holds it: its metadata and
// type, never its data, and its annotations as pairs of strings rather
// than a map, which costs some 300 bytes however few its entries. Like
// Certificate, its DeepCopyObject gives a *corev1.Secret (without data),
// so the cache's Get and List hand out typed Secrets.
type Secret struct {
	Meta
	Type corev1.SecretType
	// pairs are the annotations: key, value, key, value, sorted by key;
	// the embedded Meta's are always nil.
	pairs []string
}

// CompactSecret returns s in the cache's form, without its data. It shares
// s's metadata and annotation strings (the caller drops s).
func CompactSecret(s *corev1.Secret) *Secret {
	out := &Secret{Meta: NewMeta(&s.ObjectMeta), Type: s.Type}
	out.SetAnnotations(s.Annotations)
	return out
}

// GetAnnotations returns a new map of the annotations; nil when there are
// none.
func (s *Secret) GetAnnotations() map[string]string {
	if len(s.pairs) == 0 {
		return nil
	}
	m := make(map[string]string, len(s.pairs)/2)
	for i := 0; i+1 < len(s.pairs); i += 2 {
		m[s.pairs[i]] = s.pairs[i+1]
	}
	return m
}

// SetAnnotations keeps a as pairs.
func (s *Secret) SetAnnotations(a map[string]string) {
	s.Meta.SetAnnotations(nil)
	s.pairs = nil
	if len(a) == 0 {
		return
	}
	s.pairs = make([]string, 0, 2*len(a))
	for _, k := range slices.Sorted(maps.Keys(a)) {
		s.pairs = append(s.pairs, k, a[k])
	}
}

// GetObjectKind has no kind: the cache sets it on the copies it hands out.
func (s *Secret) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject returns the Secret as a *corev1.Secret, without data.
func (s *Secret) DeepCopyObject() runtime.Object {
	out := &corev1.Secret{ObjectMeta: s.ObjectMeta(), Type: s.Type}
	out.Annotations = s.GetAnnotations()
	return out
}
