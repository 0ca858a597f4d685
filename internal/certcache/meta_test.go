package certcache

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/randfill"
)

// TestMeta fills every metadata field at random: the cache's form reads
// back the same, through ObjectMeta and through each metav1.Object getter,
// and takes each setter as metav1.ObjectMeta does.
func TestMeta(t *testing.T) {
	f := randfill.NewWithSeed(time.Now().UnixNano()).NilChance(0.5).NumElements(0, 2).Funcs(
		func(tm *metav1.Time, c randfill.Continue) {
			switch c.Intn(3) {
			case 0: // unset
			case 1:
				*tm = metav1.Unix(1+c.Int63n(4e9), 0)
			default: // finer than a second, as a protobuf time may be
				*tm = metav1.Unix(1+c.Int63n(4e9), 1+c.Int63n(999999999))
			}
		},
	)
	same := func(t *testing.T, want *metav1.ObjectMeta, m *Meta) {
		t.Helper()
		var a, b metav1.Object = want, m
		if got := m.ObjectMeta(); !equality.Semantic.DeepEqual(*want, got) {
			t.Fatalf("read back:\n%s\nwant:\n%s", pretty(got), pretty(want))
		}
		if a.GetName() != b.GetName() || a.GetNamespace() != b.GetNamespace() || a.GetUID() != b.GetUID() || a.GetResourceVersion() != b.GetResourceVersion() ||
			a.GetGeneration() != b.GetGeneration() || a.GetGenerateName() != b.GetGenerateName() || b.GetSelfLink() != "" ||
			!a.GetCreationTimestamp().Time.Equal(b.GetCreationTimestamp().Time) || !equality.Semantic.DeepEqual(a.GetDeletionTimestamp(), b.GetDeletionTimestamp()) ||
			!equality.Semantic.DeepEqual(a.GetDeletionGracePeriodSeconds(), b.GetDeletionGracePeriodSeconds()) ||
			!equality.Semantic.DeepEqual(a.GetLabels(), b.GetLabels()) || !equality.Semantic.DeepEqual(a.GetAnnotations(), b.GetAnnotations()) ||
			!equality.Semantic.DeepEqual(a.GetFinalizers(), b.GetFinalizers()) || !equality.Semantic.DeepEqual(a.GetOwnerReferences(), b.GetOwnerReferences()) ||
			!equality.Semantic.DeepEqual(a.GetManagedFields(), b.GetManagedFields()) {
			t.Fatalf("a getter differs:\n%s\nwant:\n%s", pretty(m.ObjectMeta()), pretty(want))
		}
	}
	for range 300 {
		var in metav1.ObjectMeta
		f.Fill(&in)
		in.SetSelfLink("") // not kept: kube-apiserver no longer sets it
		want := in.DeepCopy()
		m := NewMeta(&in)
		same(t, want, &m)
		// Setters, on both.
		var other metav1.ObjectMeta
		f.Fill(&other)
		other.SetSelfLink("")
		for _, o := range []metav1.Object{want, &m} {
			o.SetName(other.Name)
			o.SetNamespace(other.Namespace)
			o.SetUID(other.UID)
			o.SetResourceVersion(other.ResourceVersion)
			o.SetGeneration(other.Generation)
			o.SetGenerateName(other.GenerateName)
			o.SetCreationTimestamp(other.CreationTimestamp)
			o.SetDeletionTimestamp(other.DeletionTimestamp)
			o.SetDeletionGracePeriodSeconds(other.DeletionGracePeriodSeconds)
			o.SetLabels(other.Labels)
			o.SetAnnotations(other.Annotations)
			o.SetFinalizers(other.Finalizers)
			o.SetOwnerReferences(other.OwnerReferences)
			o.SetManagedFields(other.ManagedFields)
		}
		same(t, want, &m)
	}
	// The common case holds nothing behind the pointer.
	plain := metav1.ObjectMeta{Name: "web", Namespace: "a", UID: "u", ResourceVersion: "1", Generation: 1, CreationTimestamp: metav1.Unix(1767225600, 0),
		Labels: map[string]string{"a": "b"}}
	if m := NewMeta(&plain); m.rare != nil {
		t.Errorf("plain metadata keeps %+v apart", m.rare)
	}
	// A copy is the caller's own.
	m := NewMeta(&plain)
	out := m.ObjectMeta()
	out.Labels["c"] = "d"
	if len(m.GetLabels()) != 1 {
		t.Error("changing a copy changed the cached labels")
	}
}
