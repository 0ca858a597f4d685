package requestpolicy

import (
	"testing"

	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
)

// parse reads a policy named name whose spec is the YAML spec.
func parse(t testing.TB, name, spec string) *policyv1alpha1.CertificateRequestPolicy {
	t.Helper()
	var s policyv1alpha1.CertificateRequestPolicySpec
	if err := yaml.UnmarshalStrict([]byte(spec), &s); err != nil {
		t.Fatalf("spec of %s: %v", name, err)
	}
	p := &policyv1alpha1.CertificateRequestPolicy{Spec: s}
	p.Name = name
	return p
}

// mustCompile compiles a policy that must compile.
func mustCompile(t testing.TB, name, spec string) *Policy {
	t.Helper()
	p, err := Compile(parse(t, name, spec))
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	return p
}

func texts(vs []Violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}
