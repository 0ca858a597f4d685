package requestpolicy

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string // each a problem the error lists, in order
	}{
		{
			name: "plugins",
			spec: `{plugins: {rego: {values: {a: b}}, cel: {}}, selector: {issuerRef: {}}}`,
			want: []string{"spec.plugins: Forbidden: plugins are not supported by certplane: cel, rego"},
		},
		{
			name: "no selector",
			spec: `{selector: {}}`,
			want: []string{"spec.selector: Required value: one of issuerRef or namespace must be defined, hint: `{}` on either matches everything"},
		},
		{
			name: "bad label",
			spec: `{selector: {namespace: {matchLabels: {"a b": c}}}}`,
			want: []string{`spec.selector.namespace.matchLabels: Invalid value: {"a b":"c"}: `},
		},
		{
			name: "CEL syntax error",
			spec: `{allowed: {dnsNames: {validations: [{rule: "self.endsWith("}]}}, selector: {issuerRef: {}}}`,
			want: []string{`spec.allowed.dnsNames.validations[0].rule: Invalid value: "self.endsWith(": <input>:1:15: Syntax error:`},
		},
		{
			name: "CEL undeclared name, second rule",
			spec: `{allowed: {subject: {organizations: {validations: [{rule: "true"}, {rule: "request.name == self"}]}}}, selector: {issuerRef: {}}}`,
			want: []string{`spec.allowed.subject.organizations.validations[1].rule: Invalid value: "request.name == self": <input>:1:1: undeclared reference to 'request'`},
		},
		{
			name: "CEL not a bool",
			spec: `{allowed: {commonName: {validations: [{rule: "self + 'x'"}]}}, selector: {issuerRef: {}}}`,
			want: []string{`spec.allowed.commonName.validations[0].rule: Invalid value: "self + 'x'": must evaluate to a bool, not string`},
		},
		{
			name: "required without values",
			spec: `{allowed: {dnsNames: {required: true}, commonName: {required: true, validations: []}}, selector: {issuerRef: {}}}`,
			want: []string{
				"spec.allowed.commonName.value: Required value: at least one of 'value' or 'validations' must be defined if field is 'required'",
				"spec.allowed.dnsNames.values: Required value: at least one of 'values' or 'validations' must be defined if field is 'required'",
			},
		},
		{
			name: "unknown usage",
			spec: `{allowed: {usages: ["server auth", "serverAuth"]}, selector: {issuerRef: {}}}`,
			want: []string{`spec.allowed.usages[1]: Unsupported value: "serverAuth": supported values: "signing", "digital signature"`},
		},
		{
			name: "bad OIDs",
			spec: `{allowed: {otherNames: [{oid: "1.02.3", values: ["*"]}, {oid: "x"}, {oid: "1.2", values: []}, {oid: "1.2"}], subject: {otherAttributes: [{oid: "2.5.4.3", values: ["*"]}]}}, selector: {issuerRef: {}}}`,
			want: []string{
				`spec.allowed.otherNames[0].oid: Invalid value: "1.02.3": must be a valid, canonical dotted object identifier`,
				`spec.allowed.otherNames[1].oid: Invalid value: "x": must be a valid`,
				`spec.allowed.otherNames[3].oid: Duplicate value: "1.2"`,
				`spec.allowed.subject.otherAttributes[0].oid: Invalid value: "2.5.4.3": this OID is covered by a dedicated allowed.commonName / allowed.subject.* field`,
			},
		},
		{
			name: "durations",
			spec: `{constraints: {minDuration: 2h, maxDuration: 1h}, selector: {issuerRef: {}}}`,
			want: []string{`spec.constraints.maxDuration: Invalid value: "1h0m0s": maxDuration must be the same value as minDuration or larger`},
		},
		{
			name: "negative durations",
			spec: `{constraints: {minDuration: -2h, maxDuration: -1h}, selector: {issuerRef: {}}}`,
			want: []string{
				`spec.constraints.maxDuration: Invalid value: "-1h0m0s": maxDuration must be a value greater or equal to 0`,
				`spec.constraints.minDuration: Invalid value: "-2h0m0s": minDuration must be a value greater or equal to 0`,
			},
		},
		{
			name: "key sizes",
			spec: `{constraints: {privateKey: {minSize: 4096, maxSize: 2048}}, selector: {issuerRef: {}}}`,
			want: []string{`spec.constraints.privateKey.maxSize: Invalid value: 2048: maxSize must be the same value as minSize or larger`},
		},
		{
			name: "key size range",
			spec: `{constraints: {privateKey: {minSize: -1, maxSize: 16384}}, selector: {issuerRef: {}}}`,
			want: []string{
				`spec.constraints.privateKey.minSize: Invalid value: -1: must be between 0 and 8192 inclusive`,
				`spec.constraints.privateKey.maxSize: Invalid value: 16384: must be between 0 and 8192 inclusive`,
			},
		},
		{
			name: "Ed25519 with sizes",
			spec: `{constraints: {privateKey: {algorithm: Ed25519, minSize: 256}}, selector: {issuerRef: {}}}`,
			want: []string{`spec.constraints.privateKey: Forbidden: minSize and maxSize cannot be defined with algorithm constraint Ed25519`},
		},
		{
			name: "unknown algorithm",
			spec: `{constraints: {privateKey: {algorithm: DSA}}, selector: {issuerRef: {}}}`,
			want: []string{`spec.constraints.privateKey.algorithm: Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(parse(t, "p", tt.spec))
			if err == nil {
				t.Fatalf("compiled to %+v", p)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if len(perr.Errs) != len(tt.want) {
				t.Fatalf("%d problems, want %d: %v", len(perr.Errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				if got := perr.Errs[i].Error(); !strings.HasPrefix(got, w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, got, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has a line break: %q", err)
			}
		})
	}
}

func TestCompileValid(t *testing.T) {
	// approver-policy's documented examples, plugins left out. Its
	// all-options example writes the IPv4 rule with single backslashes,
	// which CEL refuses as escapes ('\d'); they are doubled here.
	specs := map[string]string{
		"allow-all": `{allowed: {commonName: {value: "*"}, dnsNames: {values: ["*"]}, ipAddresses: {values: ["*"]}, uris: {values: ["*"]},
			emailAddresses: {values: ["*"]}, isCA: true, usages: ["signing", "digital signature", "server auth", "netscape sgc"],
			subject: {organizations: {values: ["*"]}, countries: {values: ["*"]}, organizationalUnits: {values: ["*"]}, localities: {values: ["*"]},
			provinces: {values: ["*"]}, streetAddresses: {values: ["*"]}, postalCodes: {values: ["*"]}, serialNumber: {value: "*"}}},
			selector: {issuerRef: {}}}`,
		"default-deny-all": `{allowed: {dnsNames: {values: [], required: true}}, selector: {issuerRef: {}}}`,
		"example-com": `{allowed: {commonName: {value: "example.com"}, dnsNames: {values: ["example.com", "*.example.com"],
			validations: [{rule: "!self.contains('*')", message: "Wildcard certificates are not allowed"}]}, usages: ["server auth"]},
			constraints: {privateKey: {algorithm: RSA, minSize: 2048}},
			selector: {issuerRef: {name: letsencrypt-prod, kind: Issuer, group: cert-manager.io}}}`,
		"all-options": `{allowed: {
			commonName: {required: true, value: "example.com", validations: [{rule: "self.endsWith('.com')", message: "CommonName must end with '.com'"}]},
			dnsNames: {required: false, values: ["example.com", "*.example.com"], validations: [{rule: "self.size() <= 24", message: "DNSName must be no more than 24 characters"}]},
			ipAddresses: {required: false, values: ["*"], validations: [{rule: "self.matches('\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+')", message: "IPAddress must be a valid IPv4 address"}]},
			uris: {required: false, values: ["spiffe://example.org/ns/*/sa/*"], validations: [{rule: "self.startsWith('spiffe://%s/ns/%s/sa/'.format(['example.org',cr.namespace]))", message: "URI must be a valid SPIFFE ID in trust domain bound to request namespace"}]},
			emailAddresses: {required: false, values: ["*@example.com"], validations: [{rule: "self.size() <= 24", message: "EmailAddress must be no more than 24 characters"}]},
			isCA: false, usages: ["server auth", "client auth"],
			subject: {organizations: {required: false, values: ["*"], validations: []}, serialNumber: {required: false, value: "*", validations: []},
				otherAttributes: [{oid: "1.2.840.113549.1.9.1", required: false, values: ["*@example.com"], validations: []}]},
			otherNames: [{oid: "1.3.6.1.4.1.311.20.2.3", required: false, values: ["*@example.com"], validations: []}]},
			constraints: {minDuration: 1h, maxDuration: 24h, privateKey: {algorithm: RSA, minSize: 2048, maxSize: 4096}},
			selector: {issuerRef: {name: "my-ca-*", kind: "*Issuer", group: cert-manager.io}}}`,
		"namespaced": `{selector: {namespace: {matchNames: ["team-*"], matchLabels: {"example.com/env": prod}}}}`,
	}
	for name, spec := range specs {
		p := parse(t, name, spec)
		p.UID, p.Generation = "uid-1", 3
		pol, err := Compile(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if pol.Name() != name || pol.UID() != "uid-1" || pol.Generation() != 3 {
			t.Errorf("%s: compiled as %s %s %d", name, pol.Name(), pol.UID(), pol.Generation())
		}
	}
}

func TestAllOptionsExample(t *testing.T) {
	p := mustCompile(t, "all-options", `{allowed: {
		commonName: {required: true, value: "example.com", validations: [{rule: "self.endsWith('.com')"}]},
		uris: {values: ["spiffe://example.org/ns/*/sa/*"], validations: [{rule: "self.startsWith('spiffe://%s/ns/%s/sa/'.format(['example.org',cr.namespace]))", message: "URI must be a valid SPIFFE ID in trust domain bound to request namespace"}]},
		ipAddresses: {values: ["*"], validations: [{rule: "self.matches('^\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+$')", message: "IPAddress must be a valid IPv4 address"}]}},
		selector: {issuerRef: {}}}`)
	ok := Request{Namespace: "ns1", CommonName: "example.com", URIs: []string{"spiffe://example.org/ns/ns1/sa/web"}, IPAddresses: []string{"10.0.0.1"}}
	if vs := p.Evaluate(ok); len(vs) != 0 {
		t.Errorf("refused %+v: %q", ok, texts(vs))
	}
	bad := Request{Namespace: "ns2", CommonName: "example.com", URIs: []string{"spiffe://example.org/ns/ns1/sa/web"}, IPAddresses: []string{"::1"}}
	want := []string{
		`spec.allowed.ipAddresses.validations[0]: Invalid value: "::1": IPAddress must be a valid IPv4 address`,
		`spec.allowed.uris.validations[0]: Invalid value: "spiffe://example.org/ns/ns1/sa/web": URI must be a valid SPIFFE ID in trust domain bound to request namespace`,
	}
	if got := texts(p.Evaluate(bad)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestReadyCondition(t *testing.T) {
	c := ReadyCondition(nil, 4)
	if c.Type != "Ready" || c.Status != metav1.ConditionTrue || c.Reason != "Ready" || c.Message != MessageReady || c.ObservedGeneration != 4 {
		t.Errorf("ready: %+v", c)
	}
	_, err := Compile(parse(t, "p", `{plugins: {rego: {}}, selector: {issuerRef: {}}}`))
	c = ReadyCondition(err, 5)
	want := "CertificateRequestPolicy is not ready for approval evaluation: spec.plugins: Forbidden: plugins are not supported by certplane: rego"
	if c.Status != metav1.ConditionFalse || c.Reason != policyv1alpha1.ReasonNotReady || c.Message != want || c.ObservedGeneration != 5 {
		t.Errorf("not ready: %+v", c)
	}
}
