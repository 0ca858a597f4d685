package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
)

// TestManifestsDecodeStrictly reads approver-policy manifests into the Go
// types refusing unknown fields, so that every field name matches
// approver-policy's, and checks that DeepCopy copies everything.
func TestManifestsDecodeStrictly(t *testing.T) {
	data, err := os.ReadFile("testdata/policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := policyv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("%d documents", len(docs))
	}
	for _, doc := range docs {
		js, err := yaml.ToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := scheme.New(policyv1alpha1.GroupVersion.WithKind("CertificateRequestPolicy"))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatal(err)
		}
		p := obj.(*policyv1alpha1.CertificateRequestPolicy)
		copied := p.DeepCopy()
		if !reflect.DeepEqual(copied, p) {
			t.Errorf("%s: DeepCopy differs", p.Name)
		}
		if p.Name != "every-field" {
			continue
		}
		a := p.Spec.Allowed
		if *a.CommonName.Value != "example.com" || len(*a.DNSNames.Values) != 2 || a.URIs.Validations[0].Message == "" ||
			len(*a.Usages) != 2 || *a.Subject.SerialNumber.Value != "*" || a.Subject.OtherAttributes[0].OID != "1.2.840.113549.1.9.1" ||
			a.OtherNames[0].OID != "1.3.6.1.4.1.311.20.2.3" || p.Spec.Constraints.MaxDuration.Hours() != 24 ||
			*p.Spec.Constraints.PrivateKey.Algorithm != policyv1alpha1.RSAKeyAlgorithm || *p.Spec.Constraints.PrivateKey.MaxSize != 4096 ||
			p.Spec.Plugins["rego"].Values["my-ref"] != "hello-world" || *p.Spec.Selector.IssuerRef.Kind != "*Issuer" ||
			p.Spec.Selector.Namespace.MatchLabels["env"] != "prod" {
			t.Errorf("every-field decoded as %+v", p.Spec)
		}
		if &(*copied.Spec.Allowed.DNSNames.Values)[0] == &(*a.DNSNames.Values)[0] || copied.Spec.Selector.Namespace == p.Spec.Selector.Namespace {
			t.Error("DeepCopy shares memory")
		}
	}
}
