package trust

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
	"github.com/certplane/certplane/internal/bundlepolicy"
)

// TestTargetBody: the one body sent to every namespace names no namespace
// (kube-apiserver takes the request's) and carries trust-manager's label,
// the hash, the template's metadata, the Bundle as controller owner, the
// PEM under its key and the truststores (binaryData in a ConfigMap, data
// in a Secret).
func TestTargetBody(t *testing.T) {
	b := &trustv1alpha1.Bundle{ObjectMeta: metav1.ObjectMeta{Name: "cas", UID: "uid-1"}, Spec: trustv1alpha1.BundleSpec{Target: trustv1alpha1.BundleTarget{
		ConfigMap: &trustv1alpha1.TargetTemplate{Key: "ca.crt", Metadata: trustv1alpha1.TargetMetadata{Labels: map[string]string{"app": "web"}}},
		Secret:    &trustv1alpha1.TargetTemplate{Key: "bundle.pem"},
	}}}
	stores := map[string][]byte{"t.p12": {1, 2}}
	for _, kind := range bundlepolicy.Kinds {
		raw, err := targetBody(b, kind, "h", "PEM", stores)
		if err != nil {
			t.Fatal(err)
		}
		var obj struct {
			Kind     string
			Metadata metav1.ObjectMeta
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		m := obj.Metadata
		if obj.Kind != string(kind) || m.Name != "cas" || m.Namespace != "" || m.Labels[trustv1alpha1.BundleLabelKey] != "cas" ||
			m.Annotations[trustv1alpha1.BundleHashAnnotationKey] != "h" || len(m.OwnerReferences) != 1 ||
			m.OwnerReferences[0].UID != "uid-1" || m.OwnerReferences[0].Kind != "Bundle" || !*m.OwnerReferences[0].Controller {
			t.Errorf("%s: %s", kind, raw)
		}
		switch kind {
		case bundlepolicy.KindConfigMap:
			var cm corev1.ConfigMap
			if err := json.Unmarshal(raw, &cm); err != nil || cm.Data["ca.crt"] != "PEM" || len(cm.BinaryData["t.p12"]) != 2 || cm.Labels["app"] != "web" {
				t.Errorf("ConfigMap: %s", raw)
			}
		case bundlepolicy.KindSecret:
			var s corev1.Secret
			if err := json.Unmarshal(raw, &s); err != nil || string(s.Data["bundle.pem"]) != "PEM" || len(s.Data["t.p12"]) != 2 || s.Labels["app"] != "" {
				t.Errorf("Secret: %s", raw)
			}
		}
	}
}
