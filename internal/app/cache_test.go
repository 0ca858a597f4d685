package app

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
)

func TestSlimObject(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        map[string]string
	}{
		{"applied with kubectl", map[string]string{lastApplied: `{"apiVersion":"cert-manager.io/v1"}`, "team": "a"}, map[string]string{"team": "a"}},
		{"only kubectl's", map[string]string{lastApplied: "{}"}, nil},
		{"created", map[string]string{"team": "a"}, map[string]string{"team": "a"}},
		{"no annotations", nil, nil},
	} {
		crt := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: tc.annotations,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}, Spec: cmv1.CertificateSpec{SecretName: "s"}}
		out, err := slimObject(crt)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*cmv1.Certificate)
		if got.ManagedFields != nil || got.Spec.SecretName != "s" || len(got.Annotations) != len(tc.want) || (tc.want == nil) != (got.Annotations == nil) {
			t.Errorf("%s: annotations %v managedFields %v, want %v and none", tc.name, got.Annotations, got.ManagedFields, tc.want)
		}
		for k, v := range tc.want {
			if got.Annotations[k] != v {
				t.Errorf("%s: annotation %s = %q, want %q", tc.name, k, got.Annotations[k], v)
			}
		}
	}
	if out, err := slimObject("not an object"); err != nil || out != "not an object" {
		t.Errorf("a non-object: %v, %v", out, err)
	}
}

func TestCacheTransform(t *testing.T) {
	applied := map[string]string{lastApplied: "{}", "team": "a"}
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	crt := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: maps.Clone(applied), ManagedFields: managed}}
	transform := cacheTransform(newInterner(internLimit))
	out, err := transform(crt)
	if err != nil {
		t.Fatal(err)
	}
	compact, ok := out.(*certcache.Certificate)
	if !ok {
		t.Fatalf("a Certificate is cached as %T, want compact", out)
	}
	// What the cache hands out is the whole Certificate.
	got, ok := compact.DeepCopyObject().(*cmv1.Certificate)
	if !ok || got.Name != "c" || got.ManagedFields != nil || len(got.Annotations) != 1 || got.Annotations["team"] != "a" {
		t.Errorf("a Certificate read back as %#v; want c, only the annotation team and no managed fields", compact.DeepCopyObject())
	}
	// One that would not read back the same is kept typed.
	odd := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "odd"}, Spec: cmv1.CertificateSpec{CommonName: "\xff"}}
	if out, err := transform(odd); err != nil || out != odd {
		t.Errorf("a Certificate whose spec JSON cannot hold: %T, %v; want it typed", out, err)
	}
	// Other objects lose only their managed fields: certplane may write
	// them whole, and kubectl's copy must survive that.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: maps.Clone(applied), ManagedFields: managed}, Data: map[string]string{"k": "v"}}
	if _, err := transform(cm); err != nil {
		t.Fatal(err)
	}
	if cm.ManagedFields != nil || len(cm.Annotations) != 2 || cm.Data["k"] != "v" {
		t.Errorf("a ConfigMap keeps annotations %v, data %v, managed fields %v; want both, k and none", cm.Annotations, cm.Data, cm.ManagedFields)
	}
}

// TestSlimSecret: a cached Secret keeps the annotations that name its
// Certificate and issuer, and its labels; none of its data: no private
// key, certificate, keystore. Secrets with the same labels share them.
// The cache hands out copies as *corev1.Secret.
func TestSlimSecret(t *testing.T) {
	transform := cacheTransform(newInterner(internLimit))
	cached := func(s *corev1.Secret) (*certcache.Secret, *corev1.Secret) {
		t.Helper()
		out, err := transform(s)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := out.(*certcache.Secret)
		if !ok {
			t.Fatalf("a Secret is cached as %T, want compact", out)
		}
		return c, c.DeepCopyObject().(*corev1.Secret)
	}
	in1 := issuedSecret(t, 1)
	in1.Data["keystore.p12"], in1.Data["extra"] = []byte("p12"), []byte("x")
	in1.StringData = map[string]string{"tls.key": "k"}
	in1.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "certplane"}}
	want := issuedSecret(t, 1)
	c1, s1 := cached(in1)
	c2, s2 := cached(issuedSecret(t, 2))
	if s1.Data != nil || s2.Data != nil || s1.StringData != nil {
		t.Errorf("cached data keys %v and %v, string data %v; want none", slices.Sorted(maps.Keys(s1.Data)), slices.Sorted(maps.Keys(s2.Data)), s1.StringData)
	}
	if s1.Name != want.Name || s1.ResourceVersion != want.ResourceVersion || s1.UID != want.UID || s1.Type != want.Type || len(s1.OwnerReferences) != 1 {
		t.Errorf("cached Secret %s (%s, %s, %s, %v), want %s (%s, %s, %s, %v)", s1.Name, s1.ResourceVersion, s1.UID, s1.Type, s1.OwnerReferences,
			want.Name, want.ResourceVersion, want.UID, want.Type, want.OwnerReferences)
	}
	if s1.ManagedFields != nil {
		t.Errorf("managed fields %v kept", s1.ManagedFields)
	}
	wantA := map[string]string{}
	for _, k := range []string{"cert-manager.io/certificate-name", "cert-manager.io/issuer-name", "cert-manager.io/issuer-kind", "cert-manager.io/issuer-group"} {
		wantA[k] = want.Annotations[k]
	}
	if !maps.Equal(s1.Annotations, wantA) || !maps.Equal(c1.GetAnnotations(), wantA) {
		t.Errorf("cached annotations %v (to event handlers %v), want %v", s1.Annotations, c1.GetAnnotations(), wantA)
	}
	if !maps.Equal(s1.Labels, want.Labels) || !maps.Equal(s2.Labels, want.Labels) {
		t.Errorf("labels %v and %v, want %v", s1.Labels, s2.Labels, want.Labels)
	}
	if reflect.ValueOf(c1.GetLabels()).UnsafePointer() != reflect.ValueOf(c2.GetLabels()).UnsafePointer() {
		t.Error("two Secrets with the same labels keep two maps")
	}
	in3 := issuedSecret(t, 3)
	in3.Labels["team"] = "a"
	if _, s3 := cached(in3); len(s3.Labels) != 2 || s3.Labels["team"] != "a" || len(c1.GetLabels()) != 1 {
		t.Errorf("other labels %v changed or changed the shared ones %v", s3.Labels, c1.GetLabels())
	}
	if _, empty := cached(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "e"}, Data: map[string][]byte{"tls.key": []byte("k")}}); empty.Data != nil || empty.Annotations != nil {
		t.Errorf("a Secret with only a key keeps data %v annotations %v", empty.Data, empty.Annotations)
	}
	if _, other := cached(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "o", Annotations: map[string]string{"team": "a"}}}); other.Annotations != nil {
		t.Errorf("a Secret with only other annotations keeps %v", other.Annotations)
	}
}
