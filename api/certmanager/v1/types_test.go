package v1_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// TestManifestsDecodeStrictly reads cert-manager manifests into the Go types
// refusing unknown fields, so that every field name matches cert-manager's.
func TestManifestsDecodeStrictly(t *testing.T) {
	data, err := os.ReadFile("testdata/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := cmv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) < 5 {
		t.Fatalf("%d documents", len(docs))
	}
	for _, doc := range docs {
		js, err := yaml.ToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Kind string }
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatal(err)
		}
		obj, err := scheme.New(cmv1.GroupVersion.WithKind(meta.Kind))
		if err != nil {
			t.Fatalf("%s not registered: %v", meta.Kind, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Errorf("%s: %v", meta.Kind, err)
		}
		if c, ok := obj.(*cmv1.Certificate); ok && c.Name == "service-a" {
			if c.Spec.Keystores.PKCS12.PasswordSecretRef.Key != "password" || c.Spec.PrivateKey.Encoding != "PKCS8" ||
				c.Spec.Duration.Hours() != 2160 || c.Spec.IssuerRef.Kind != "Issuer" || len(c.Spec.DNSNames) != 3 {
				t.Errorf("service-a decoded as %+v", c.Spec)
			}
			if copied := c.DeepCopy(); copied.Spec.Keystores == c.Spec.Keystores {
				t.Error("DeepCopy shares the keystores")
			}
		}
	}
}
