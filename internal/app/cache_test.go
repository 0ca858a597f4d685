package app

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
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
	if _, err := transform(crt); err != nil {
		t.Fatal(err)
	}
	if crt.ManagedFields != nil || len(crt.Annotations) != 1 {
		t.Errorf("a Certificate keeps annotations %v, managed fields %v; want only team and none", crt.Annotations, crt.ManagedFields)
	}
	// Other objects lose only their managed fields: certplane may write
	// them whole, and kubectl's copy must survive that.
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: maps.Clone(applied), ManagedFields: managed}}
	if _, err := transform(sec); err != nil {
		t.Fatal(err)
	}
	if sec.ManagedFields != nil || len(sec.Annotations) != 2 {
		t.Errorf("a Secret keeps annotations %v, managed fields %v; want both and none", sec.Annotations, sec.ManagedFields)
	}
}
