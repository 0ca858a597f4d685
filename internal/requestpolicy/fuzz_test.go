package requestpolicy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
)

// FuzzCompileEvaluate: any policy, as its JSON, and any request neither
// panic Compile, Selects, Evaluate nor Decide, and a compiled policy with
// no violations approves.
func FuzzCompileEvaluate(f *testing.F) {
	for _, spec := range []string{
		`{"selector":{"issuerRef":{}},"allowed":{"dnsNames":{"values":["*.example.com"]}}}`,
		`{"selector":{"issuerRef":{"name":"ca-*","kind":"*Issuer"}},"allowed":{"commonName":{"value":"*","validations":[{"rule":"self.endsWith(cr.namespace)"}]}}}`,
		`{"selector":{"namespace":{"matchNames":["team-*"],"matchLabels":{"env":"prod"}}},"allowed":{"uris":{"validations":[{"rule":"self.startsWith('spiffe://%s/'.format([cr.name]))","message":"m"}]}}}`,
		`{"selector":{"issuerRef":{}},"allowed":{"isCA":true,"usages":["server auth"],"subject":{"organizations":{"values":["*"],"required":true},"serialNumber":{"value":"1*"},"otherAttributes":[{"oid":"1.2.3","values":["x"]}]},"otherNames":[{"oid":"1.2.4","required":true,"values":["*"]}]}}`,
		`{"selector":{"issuerRef":{}},"constraints":{"minDuration":"1h","maxDuration":"24h","privateKey":{"algorithm":"RSA","minSize":2048,"maxSize":4096}}}`,
		`{"selector":{"issuerRef":{}},"plugins":{"rego":{"values":{"a":"b"}}}}`,
		`{"selector":{"issuerRef":{}},"allowed":{"emailAddresses":{"validations":[{"rule":"[1,2,3].all(x, x > 0) && self.size() < 100"}]}}}`,
	} {
		f.Add([]byte(spec), "www.example.com", "team-a", "web", "ca-1", "spiffe://web/x", int64(0))
	}
	f.Fuzz(func(t *testing.T, spec []byte, value, namespace, name, issuer, uri string, duration int64) {
		if len(spec) > 4096 {
			return
		}
		p := &policyv1alpha1.CertificateRequestPolicy{}
		if err := json.Unmarshal(spec, &p.Spec); err != nil {
			return
		}
		p.Name = "fuzz"
		pol, err := Compile(p)
		if err != nil {
			if err.Error() == "" || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		r := Request{
			Namespace: namespace, Name: name, NamespaceLabels: map[string]string{"env": value},
			IssuerRef: IssuerRef{Name: issuer}, CommonName: value, DNSNames: []string{value, name},
			IPAddresses: []string{value}, URIs: []string{uri}, EmailAddresses: []string{value},
			OtherNames: []Attribute{{OID: "1.2.4", Value: value}}, OtherAttributes: []Attribute{{OID: "1.2.3", Value: value}},
			Organizations: []string{value}, SerialNumber: value, Usages: []string{value},
			IsCA: len(value)%2 == 0, Duration: time.Duration(duration), KeyAlgorithm: "RSA", KeySize: len(value) * 100,
		}
		vs := pol.Evaluate(r)
		for _, v := range vs {
			if !strings.HasPrefix(v.Field, "spec.") || v.Message == "" {
				t.Fatalf("violation %+v", v)
			}
		}
		d := Decide([]*Policy{pol}, r, nil)
		if d.Selected != pol.Selects(r) || d.Approved != (d.Selected && len(vs) == 0) {
			t.Fatalf("decision %+v with %d violations", d, len(vs))
		}
	})
}
