package certcache

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Meta is an object's metadata as the cache holds it: what every cached
// Certificate and Secret has, in 104 bytes where metav1.ObjectMeta takes
// 232, and the rest (generateName, deletion, owner references,
// finalizers, managed fields, a creation time finer than a second) in a
// metav1.ObjectMeta behind one pointer, nil when none of it is set. It is a
// metav1.Object. selfLink, which kube-apiserver no longer sets, is not
// kept.
type Meta struct {
	name, namespace, uid, resourceVersion string
	generation                            int64
	// created is the creation time in Unix seconds, as the apiserver sets
	// it; zero when not set.
	created             int64
	labels, annotations map[string]string
	rare                *metav1.ObjectMeta
}

// NewMeta returns m in the cache's form. It shares m's strings, maps and
// slices (the caller drops m).
func NewMeta(m *metav1.ObjectMeta) Meta {
	out := Meta{name: m.Name, namespace: m.Namespace, uid: string(m.UID), resourceVersion: m.ResourceVersion,
		generation: m.Generation, labels: m.Labels, annotations: m.Annotations}
	rare := metav1.ObjectMeta{GenerateName: m.GenerateName, DeletionTimestamp: m.DeletionTimestamp,
		DeletionGracePeriodSeconds: m.DeletionGracePeriodSeconds, OwnerReferences: m.OwnerReferences, Finalizers: m.Finalizers,
		ManagedFields: m.ManagedFields}
	if t := m.CreationTimestamp; !t.IsZero() {
		if t.Nanosecond() == 0 && t.Unix() != 0 {
			out.created = t.Unix()
		} else {
			rare.CreationTimestamp = t
		}
	}
	if rare.GenerateName != "" || rare.DeletionTimestamp != nil || rare.DeletionGracePeriodSeconds != nil ||
		rare.OwnerReferences != nil || rare.Finalizers != nil || rare.ManagedFields != nil || !rare.CreationTimestamp.IsZero() {
		out.rare = &rare
	}
	return out
}

// ObjectMeta returns a deep copy of the metadata as a metav1.ObjectMeta.
func (m *Meta) ObjectMeta() metav1.ObjectMeta {
	var out metav1.ObjectMeta
	if m.rare != nil {
		m.rare.DeepCopyInto(&out)
	}
	out.Name, out.Namespace, out.UID, out.ResourceVersion, out.Generation = m.name, m.namespace, types.UID(m.uid), m.resourceVersion, m.generation
	out.CreationTimestamp = m.GetCreationTimestamp()
	if m.labels != nil {
		out.Labels = make(map[string]string, len(m.labels))
		for k, v := range m.labels {
			out.Labels[k] = v
		}
	}
	if m.annotations != nil {
		out.Annotations = make(map[string]string, len(m.annotations))
		for k, v := range m.annotations {
			out.Annotations[k] = v
		}
	}
	return out
}

// rareMeta is m.rare, made when a setter needs it.
func (m *Meta) rareMeta() *metav1.ObjectMeta {
	if m.rare == nil {
		m.rare = &metav1.ObjectMeta{}
	}
	return m.rare
}

func (m *Meta) GetNamespace() string                { return m.namespace }
func (m *Meta) SetNamespace(namespace string)       { m.namespace = namespace }
func (m *Meta) GetName() string                     { return m.name }
func (m *Meta) SetName(name string)                 { m.name = name }
func (m *Meta) GetUID() types.UID                   { return types.UID(m.uid) }
func (m *Meta) SetUID(uid types.UID)                { m.uid = string(uid) }
func (m *Meta) GetResourceVersion() string          { return m.resourceVersion }
func (m *Meta) SetResourceVersion(version string)   { m.resourceVersion = version }
func (m *Meta) GetGeneration() int64                { return m.generation }
func (m *Meta) SetGeneration(generation int64)      { m.generation = generation }
func (m *Meta) GetLabels() map[string]string        { return m.labels }
func (m *Meta) SetLabels(labels map[string]string)  { m.labels = labels }
func (m *Meta) GetAnnotations() map[string]string   { return m.annotations }
func (m *Meta) SetAnnotations(a map[string]string)  { m.annotations = a }
func (m *Meta) GetGenerateName() string             { return m.rareField().GenerateName }
func (m *Meta) SetGenerateName(name string)         { m.rareMeta().GenerateName = name }
func (m *Meta) GetSelfLink() string                 { return "" }
func (m *Meta) SetSelfLink(string)                  {}
func (m *Meta) GetDeletionTimestamp() *metav1.Time  { return m.rareField().DeletionTimestamp }
func (m *Meta) SetDeletionTimestamp(t *metav1.Time) { m.rareMeta().DeletionTimestamp = t }
func (m *Meta) GetDeletionGracePeriodSeconds() *int64 {
	return m.rareField().DeletionGracePeriodSeconds
}
func (m *Meta) SetDeletionGracePeriodSeconds(s *int64) { m.rareMeta().DeletionGracePeriodSeconds = s }
func (m *Meta) GetFinalizers() []string                { return m.rareField().Finalizers }
func (m *Meta) SetFinalizers(finalizers []string)      { m.rareMeta().Finalizers = finalizers }
func (m *Meta) GetOwnerReferences() []metav1.OwnerReference {
	return m.rareField().OwnerReferences
}
func (m *Meta) SetOwnerReferences(refs []metav1.OwnerReference) { m.rareMeta().OwnerReferences = refs }
func (m *Meta) GetManagedFields() []metav1.ManagedFieldsEntry {
	return m.rareField().ManagedFields
}
func (m *Meta) SetManagedFields(f []metav1.ManagedFieldsEntry) { m.rareMeta().ManagedFields = f }

// GetCreationTimestamp is the creation time: in whole seconds, unless it
// had a fraction.
func (m *Meta) GetCreationTimestamp() metav1.Time {
	if m.rare != nil && !m.rare.CreationTimestamp.IsZero() {
		return m.rare.CreationTimestamp
	}
	if m.created == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(m.created, 0))
}

// SetCreationTimestamp keeps t in whole seconds, or whole when it has a
// fraction.
func (m *Meta) SetCreationTimestamp(t metav1.Time) {
	m.created = 0
	if m.rare != nil {
		m.rare.CreationTimestamp = metav1.Time{}
	}
	switch {
	case t.IsZero():
	case t.Nanosecond() == 0 && t.Unix() != 0:
		m.created = t.Unix()
	default:
		m.rareMeta().CreationTimestamp = t
	}
}

// noRare is the rare metadata of an object that has none.
var noRare metav1.ObjectMeta

func (m *Meta) rareField() *metav1.ObjectMeta {
	if m.rare == nil {
		return &noRare
	}
	return m.rare
}

var _ metav1.Object = (*Meta)(nil)
