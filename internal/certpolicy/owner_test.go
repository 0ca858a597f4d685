package certpolicy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSecretOwnerReferences(t *testing.T) {
	crt := certificate()
	t1 := true
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "u-other"}
	otherController := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "d", UID: "u-dep", Controller: &t1}
	mine := metav1.OwnerReference{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "web", UID: "u-1", Controller: &t1, BlockOwnerDeletion: &t1}
	cases := map[string]struct {
		have []metav1.OwnerReference
		own  bool
		want []metav1.OwnerReference
	}{
		"added":                              {nil, true, []metav1.OwnerReference{mine}},
		"kept":                               {[]metav1.OwnerReference{mine}, true, []metav1.OwnerReference{mine}},
		"others kept":                        {[]metav1.OwnerReference{other}, true, []metav1.OwnerReference{other, mine}},
		"removed when off":                   {[]metav1.OwnerReference{other, mine}, false, []metav1.OwnerReference{other}},
		"none when off":                      {nil, false, nil},
		"another controller is not replaced": {[]metav1.OwnerReference{otherController}, true, []metav1.OwnerReference{otherController}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := SecretOwnerReferences(c.have, crt, c.own)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].UID != c.want[i].UID || (got[i].Controller != nil) != (c.want[i].Controller != nil) {
					t.Errorf("ref %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
			if current := OwnerReferencesCurrent(c.have, crt, c.own); current != (len(c.have) == len(c.want) && (len(c.have) == 0 || c.have[len(c.have)-1].UID == c.want[len(c.want)-1].UID)) {
				t.Errorf("OwnerReferencesCurrent = %v", current)
			}
		})
	}
}
