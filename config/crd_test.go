package config_test

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
	"github.com/certplane/certplane/config"
)

// TestDurationsDecodeOrAreRefused: every metav1.Duration field of every
// CRD has a rule that calls CEL's duration(), which parses as Go's
// time.ParseDuration does. Without it the apiserver stores any string
// there, and one object whose duration the controllers cannot decode stops
// their informer for every object of the kind: the list fails to decode.
func TestDurationsDecodeOrAreRefused(t *testing.T) {
	kinds := map[string]reflect.Type{
		"Certificate":              reflect.TypeFor[cmv1.Certificate](),
		"CertificateRequest":       reflect.TypeFor[cmv1.CertificateRequest](),
		"Issuer":                   reflect.TypeFor[cmv1.Issuer](),
		"ClusterIssuer":            reflect.TypeFor[cmv1.ClusterIssuer](),
		"Order":                    reflect.TypeFor[acmev1.Order](),
		"Challenge":                reflect.TypeFor[acmev1.Challenge](),
		"CertificateRequestPolicy": reflect.TypeFor[policyv1alpha1.CertificateRequestPolicy](),
		"Bundle":                   reflect.TypeFor[trustv1alpha1.Bundle](),
	}
	files, err := fs.Glob(config.CRDs, "crd/bases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs: %v", err)
	}
	checked := 0
	for _, f := range files {
		data, err := fs.ReadFile(config.CRDs, f)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Names    struct{ Kind string }
				Versions []struct {
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		typ, ok := kinds[crd.Spec.Names.Kind]
		if !ok {
			t.Errorf("%s: kind %s has no Go type in this test", f, crd.Spec.Names.Kind)
			continue
		}
		for _, v := range crd.Spec.Versions {
			walkDurations(typ, v.Schema.OpenAPIV3Schema, crd.Spec.Names.Kind, func(path string, schema map[string]any) {
				checked++
				if schema == nil {
					t.Errorf("%s: no schema at %s", f, path)
					return
				}
				if _, ok := schema["maxLength"]; !ok {
					t.Errorf("%s: %s has no maxLength", f, path)
				}
				rules, _ := schema["x-kubernetes-validations"].([]any)
				for _, r := range rules {
					if rule, _ := r.(map[string]any)["rule"].(string); strings.Contains(rule, "duration(self)") {
						return
					}
				}
				t.Errorf("%s: %s takes any string: no rule calls duration(self)", f, path)
			})
		}
	}
	if checked < 7 {
		t.Errorf("checked %d duration fields, want at least the 7 known", checked)
	}
}

var durationType = reflect.TypeFor[metav1.Duration]()

// walkDurations calls found for each field of typ (and its schema) whose
// type is metav1.Duration, following JSON names, inline fields, pointers,
// slices and maps. Object metadata and status are skipped: users write
// neither through the main resource.
func walkDurations(typ reflect.Type, schema map[string]any, path string, found func(string, map[string]any)) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
		typ = typ.Elem()
		switch {
		case schema == nil:
		case schema["items"] != nil:
			schema, _ = schema["items"].(map[string]any)
			path += "[]"
		case schema["additionalProperties"] != nil:
			schema, _ = schema["additionalProperties"].(map[string]any)
			path += "{}"
		}
	}
	if typ == durationType {
		found(path, schema)
		return
	}
	if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() || typ == reflect.TypeFor[metav1.Time]() {
		return
	}
	props, _ := schema["properties"].(map[string]any)
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) {
			walkDurations(f.Type, schema, path, found)
			continue
		}
		if name == "metadata" || name == "status" {
			continue
		}
		child, _ := props[name].(map[string]any)
		walkDurations(f.Type, child, path+"."+name, found)
	}
}
