package app

import (
	"testing"

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
