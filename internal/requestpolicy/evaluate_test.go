package requestpolicy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	web := Request{Namespace: "team-a", Name: "web-1", DNSNames: []string{"www.example.com"}}
	tests := []struct {
		name string
		spec string // allowed and constraints; the selector is added
		req  Request
		want []string
	}{
		{
			name: "empty request, empty policy",
			spec: `{}`,
			req:  Request{},
		},
		{
			name: "dnsNames not allowed at all",
			spec: `{}`,
			req:  web,
			want: []string{`spec.allowed.dnsNames: Invalid value: ["www.example.com"]: no allowed values`},
		},
		{
			name: "dnsNames without values or validations",
			spec: `{allowed: {dnsNames: {required: false}}}`,
			req:  web,
			want: []string{`spec.allowed.dnsNames: Invalid value: ["www.example.com"]: no allowed values`},
		},
		{
			name: "dnsNames match a wildcard",
			spec: `{allowed: {dnsNames: {values: ["*.example.com"]}}}`,
			req:  web,
		},
		{
			name: "dnsNames outside the values",
			spec: `{allowed: {dnsNames: {values: ["*.example.com", "example.com"]}}}`,
			req:  Request{DNSNames: []string{"www.example.com", "www.google.com"}},
			want: []string{`spec.allowed.dnsNames.values: Invalid value: ["www.example.com","www.google.com"]: *.example.com, example.com`},
		},
		{
			name: "values: [] allows nothing",
			spec: `{allowed: {dnsNames: {values: []}}}`,
			req:  web,
			want: []string{`spec.allowed.dnsNames.values: Invalid value: ["www.example.com"]`},
		},
		{
			name: "required dnsNames missing",
			spec: `{allowed: {dnsNames: {values: ["*"], required: true}}}`,
			req:  Request{CommonName: ""},
			want: []string{`spec.allowed.dnsNames.required: Required value: true`},
		},
		{
			name: "deny-all: values [] and required",
			spec: `{allowed: {dnsNames: {values: [], required: true}}}`,
			req:  Request{},
			want: []string{`spec.allowed.dnsNames.required: Required value: true`},
		},
		{
			name: "validations alone allow values",
			spec: `{allowed: {dnsNames: {validations: [{rule: "self.endsWith(cr.namespace + '.svc.cluster.local')", message: "must be in the request's namespace"}]}}}`,
			req:  Request{Namespace: "team-a", DNSNames: []string{"web.team-a.svc.cluster.local"}},
		},
		{
			name: "validation fails with its message, per value",
			spec: `{allowed: {dnsNames: {values: ["*"], validations: [{rule: "self.endsWith(cr.namespace + '.svc.cluster.local')", message: "must be in the request's namespace"}]}}}`,
			req:  Request{Namespace: "team-a", DNSNames: []string{"web.team-a.svc.cluster.local", "web.team-b.svc.cluster.local", "x"}},
			want: []string{
				`spec.allowed.dnsNames.validations[0]: Invalid value: "web.team-b.svc.cluster.local": must be in the request's namespace`,
				`spec.allowed.dnsNames.validations[0]: Invalid value: "x": must be in the request's namespace`,
			},
		},
		{
			name: "validation without message",
			spec: `{allowed: {dnsNames: {values: ["*"], validations: [{rule: "!self.contains('*')"}, {rule: "self.size() <= 12"}]}}}`,
			req:  Request{DNSNames: []string{"*.example.com"}},
			want: []string{
				`spec.allowed.dnsNames.validations[0]: Invalid value: "*.example.com": failed rule: !self.contains('*')`,
				`spec.allowed.dnsNames.validations[1]: Invalid value: "*.example.com": failed rule: self.size() <= 12`,
			},
		},
		{
			name: "cr.name and the strings extension",
			spec: `{allowed: {uris: {validations: [{rule: "self.startsWith('spiffe://%s/ns/%s/sa/'.format(['example.org', cr.namespace])) && cr.name.lowerAscii() == 'web'"}]}}}`,
			req:  Request{Namespace: "team-a", Name: "WEB", URIs: []string{"spiffe://example.org/ns/team-a/sa/web"}},
		},
		{
			name: "a rule reading a key cr lacks fails closed",
			spec: `{allowed: {commonName: {validations: [{rule: "cr.username == 'alice'"}]}}}`,
			req:  Request{CommonName: "alice"},
			want: []string{`spec.allowed.commonName.validations[0]: Internal error: no such key: username`},
		},
		{
			name: "commonName not allowed",
			spec: `{}`,
			req:  Request{CommonName: "example.com"},
			want: []string{`spec.allowed.commonName: Invalid value: "example.com": no allowed value`},
		},
		{
			name: "commonName matches",
			spec: `{allowed: {commonName: {value: "*.example.com"}}}`,
			req:  Request{CommonName: "a.example.com"},
		},
		{
			name: "commonName does not match",
			spec: `{allowed: {commonName: {value: "*.example.com", validations: [{rule: "self.size() < 5", message: "too long"}]}}}`,
			req:  Request{CommonName: "example.org"},
			want: []string{
				`spec.allowed.commonName.value: Invalid value: "example.org": *.example.com`,
				`spec.allowed.commonName.validations[0]: Invalid value: "example.org": too long`,
			},
		},
		{
			name: "commonName required",
			spec: `{allowed: {commonName: {value: "*", required: true}}}`,
			req:  Request{},
			want: []string{`spec.allowed.commonName.required: Required value: true`},
		},
		{
			name: "ipAddresses, uris, emailAddresses",
			spec: `{allowed: {ipAddresses: {values: ["10.0.*"]}, uris: {values: ["spiffe://example.org/*"]}, emailAddresses: {values: ["*@example.com"]}}}`,
			req:  Request{IPAddresses: []string{"10.0.0.1", "192.168.0.1"}, URIs: []string{"spiffe://example.org/a", "https://x"}, EmailAddresses: []string{"a@example.com", "b@example.org"}},
			want: []string{
				`spec.allowed.ipAddresses.values: Invalid value: ["10.0.0.1","192.168.0.1"]: 10.0.*`,
				`spec.allowed.uris.values: Invalid value: ["spiffe://example.org/a","https://x"]: spiffe://example.org/*`,
				`spec.allowed.emailAddresses.values: Invalid value: ["a@example.com","b@example.org"]: *@example.com`,
			},
		},
		{
			name: "isCA not allowed: unset",
			spec: `{}`,
			req:  Request{IsCA: true},
			want: []string{`spec.allowed.isCA: Invalid value: true: nil`},
		},
		{
			name: "isCA not allowed: false",
			spec: `{allowed: {isCA: false}}`,
			req:  Request{IsCA: true},
			want: []string{`spec.allowed.isCA: Invalid value: true: false`},
		},
		{
			name: "isCA allowed",
			spec: `{allowed: {isCA: true}}`,
			req:  Request{IsCA: true},
		},
		{
			name: "isCA false needs nothing",
			spec: `{allowed: {isCA: false}}`,
			req:  Request{},
		},
		{
			name: "usages not allowed",
			spec: `{}`,
			req:  Request{Usages: []string{"server auth"}},
			want: []string{`spec.allowed.usages: Invalid value: ["server auth"]: nil`},
		},
		{
			name: "usages outside the list",
			spec: `{allowed: {usages: ["server auth", "digital signature"]}}`,
			req:  Request{Usages: []string{"digital signature", "client auth"}},
			want: []string{`spec.allowed.usages: Invalid value: ["digital signature","client auth"]: server auth, digital signature`},
		},
		{
			name: "usages within the list",
			spec: `{allowed: {usages: ["server auth", "digital signature", "key encipherment"]}}`,
			req:  Request{Usages: []string{"digital signature", "server auth"}},
		},
		{
			name: "no usages named: the issuer's defaults are not checked",
			spec: `{allowed: {usages: []}}`,
			req:  Request{},
		},
		{
			name: "subject fields",
			spec: `{allowed: {subject: {organizations: {values: ["Example"]}, countries: {values: ["GB", "DE"]}, organizationalUnits: {values: ["*"]}, localities: {values: ["London"]}, provinces: {values: ["*"]}, streetAddresses: {values: ["*"]}, postalCodes: {values: ["N1*"]}, serialNumber: {value: "1*"}}}}`,
			req: Request{Organizations: []string{"Example"}, Countries: []string{"GB"}, OrganizationalUnits: []string{"x"}, Localities: []string{"London"},
				Provinces: []string{"y"}, StreetAddresses: []string{"1 Road"}, PostalCodes: []string{"N1 9GU"}, SerialNumber: "123"},
		},
		{
			name: "subject fields refused",
			spec: `{allowed: {subject: {organizations: {values: ["Example"]}, serialNumber: {value: "1*"}, postalCodes: {values: ["*"], required: true}}}}`,
			req:  Request{Organizations: []string{"Evil"}, Countries: []string{"GB"}, OrganizationalUnits: []string{"x"}, Localities: []string{"L"}, Provinces: []string{"P"}, StreetAddresses: []string{"S"}, SerialNumber: "9"},
			want: []string{
				`spec.allowed.subject.organizations.values: Invalid value: ["Evil"]: Example`,
				`spec.allowed.subject.countries: Invalid value: ["GB"]: no allowed values`,
				`spec.allowed.subject.organizationalUnits: Invalid value: ["x"]: no allowed values`,
				`spec.allowed.subject.localities: Invalid value: ["L"]: no allowed values`,
				`spec.allowed.subject.provinces: Invalid value: ["P"]: no allowed values`,
				`spec.allowed.subject.streetAddresses: Invalid value: ["S"]: no allowed values`,
				`spec.allowed.subject.postalCodes.required: Required value: true`,
				`spec.allowed.subject.serialNumber.value: Invalid value: "9": 1*`,
			},
		},
		{
			name: "subject unset: every attribute refused",
			spec: `{}`,
			req:  Request{SerialNumber: "1"},
			want: []string{`spec.allowed.subject.serialNumber: Invalid value: "1": no allowed value`},
		},
		{
			name: "otherNames",
			spec: `{allowed: {otherNames: [{oid: "1.3.6.1.4.1.311.20.2.3", values: ["*@example.com"]}, {oid: "1.2.3.4", required: true, validations: [{rule: "self == 'x'"}]}]}}`,
			req: Request{OtherNames: []Attribute{
				{OID: "1.3.6.1.4.1.311.20.2.3", Value: "alice@example.com"},
				{OID: "1.3.6.1.4.1.311.20.2.3", Value: "bob@example.org"},
				{OID: "1.9.9", Value: "zz"},
			}},
			want: []string{
				`spec.allowed.otherNames[1.3.6.1.4.1.311.20.2.3].values: Invalid value: ["alice@example.com","bob@example.org"]: *@example.com`,
				`spec.allowed.otherNames[1.9.9]: Invalid value: ["zz"]: no allowed values`,
				`spec.allowed.otherNames[1.2.3.4].required: Required value: true`,
			},
		},
		{
			name: "otherNames allowed",
			spec: `{allowed: {otherNames: [{oid: "1.3.6.1.4.1.311.20.2.3", values: ["*@example.com"], required: true}]}}`,
			req:  Request{OtherNames: []Attribute{{OID: "1.3.6.1.4.1.311.20.2.3", Value: "alice@example.com"}}},
		},
		{
			name: "subject otherAttributes",
			spec: `{allowed: {subject: {otherAttributes: [{oid: "1.2.840.113549.1.9.1", values: ["*@example.com"]}]}}}`,
			req:  Request{OtherAttributes: []Attribute{{OID: "1.2.840.113549.1.9.1", Value: "a@example.com"}, {OID: "0.9.2342.19200300.100.1.25", Value: "com"}}},
			want: []string{`spec.allowed.subject.otherAttributes[0.9.2342.19200300.100.1.25]: Invalid value: ["com"]: no allowed values`},
		},
		{
			name: "unsupported parts are refused by every policy",
			spec: `{allowed: {commonName: {value: "*"}}}`,
			req:  Request{Unsupported: []string{"the subject has 2 common names"}},
			want: []string{`spec.allowed: Forbidden: the subject has 2 common names`},
		},
		{
			name: "duration within bounds",
			spec: `{constraints: {minDuration: 1h, maxDuration: 24h}}`,
			req:  Request{Duration: 2 * time.Hour},
		},
		{
			name: "duration bounds are inclusive",
			spec: `{constraints: {minDuration: 1h, maxDuration: 1h}}`,
			req:  Request{Duration: time.Hour},
		},
		{
			name: "duration too long",
			spec: `{constraints: {maxDuration: 24h}}`,
			req:  Request{Duration: 48 * time.Hour},
			want: []string{`spec.constraints.maxDuration: Invalid value: "48h0m0s": 24h0m0s`},
		},
		{
			name: "duration too short",
			spec: `{constraints: {minDuration: 1h}}`,
			req:  Request{Duration: time.Minute},
			want: []string{`spec.constraints.minDuration: Invalid value: "1m0s": 1h0m0s`},
		},
		{
			name: "no duration is the 90-day default",
			spec: `{constraints: {maxDuration: 720h}}`,
			req:  Request{},
			want: []string{`spec.constraints.maxDuration: Invalid value: "2160h0m0s": 720h0m0s`},
		},
		{
			name: "no duration within a long maximum",
			spec: `{constraints: {maxDuration: 2160h, minDuration: 2160h}}`,
			req:  Request{},
		},
		{
			name: "key algorithm",
			spec: `{constraints: {privateKey: {algorithm: RSA}}}`,
			req:  Request{KeyAlgorithm: "ECDSA", KeySize: 256},
			want: []string{`spec.constraints.privateKey.algorithm: Invalid value: "ECDSA": RSA`},
		},
		{
			name: "key sizes",
			spec: `{constraints: {privateKey: {minSize: 3072, maxSize: 4096}}}`,
			req:  Request{KeyAlgorithm: "RSA", KeySize: 2048},
			want: []string{`spec.constraints.privateKey.minSize: Invalid value: "2048": 3072`},
		},
		{
			name: "key too large",
			spec: `{constraints: {privateKey: {algorithm: ECDSA, maxSize: 256}}}`,
			req:  Request{KeyAlgorithm: "ECDSA", KeySize: 384},
			want: []string{`spec.constraints.privateKey.maxSize: Invalid value: "384": 256`},
		},
		{
			name: "key allowed",
			spec: `{constraints: {privateKey: {algorithm: RSA, minSize: 2048, maxSize: 2048}}}`,
			req:  Request{KeyAlgorithm: "RSA", KeySize: 2048},
		},
		{
			name: "Ed25519",
			spec: `{constraints: {privateKey: {algorithm: Ed25519}}}`,
			req:  Request{KeyAlgorithm: "Ed25519", KeySize: 256},
		},
		{
			name: "unknown key under a key constraint",
			spec: `{constraints: {privateKey: {maxSize: 4096}}}`,
			req:  Request{},
			want: []string{`spec.constraints.privateKey: Invalid value: "": the request's key algorithm is unknown`},
		},
		{
			name: "unknown key without key constraints",
			spec: `{constraints: {maxDuration: 2160h}}`,
			req:  Request{},
		},
		{
			name: "everything at once, in field order",
			spec: `{allowed: {commonName: {value: "a"}}, constraints: {maxDuration: 1h, privateKey: {algorithm: RSA}}}`,
			req:  Request{CommonName: "b", DNSNames: []string{"b"}, IsCA: true, Usages: []string{"any"}, Duration: 2 * time.Hour, KeyAlgorithm: "ECDSA", KeySize: 256},
			want: []string{
				`spec.allowed.commonName.value: Invalid value: "b": a`,
				`spec.allowed.dnsNames: Invalid value: ["b"]: no allowed values`,
				`spec.allowed.isCA: Invalid value: true: nil`,
				`spec.allowed.usages: Invalid value: ["any"]: nil`,
				`spec.constraints.maxDuration: Invalid value: "2h0m0s": 1h0m0s`,
				`spec.constraints.privateKey.algorithm: Invalid value: "ECDSA": RSA`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec[:len(tt.spec)-1]
			if spec != "{" {
				spec += ", "
			}
			spec += "selector: {issuerRef: {}}}"
			p := mustCompile(t, "p", spec)
			got := texts(p.Evaluate(tt.req))
			if !slices.Equal(got, tt.want) {
				t.Errorf("violations:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestViolationFields(t *testing.T) {
	p := mustCompile(t, "p", `{allowed: {dnsNames: {values: ["*.example.com"]}}, selector: {issuerRef: {}}}`)
	vs := p.Evaluate(Request{DNSNames: []string{"www.google.com"}})
	want := Violation{Field: "spec.allowed.dnsNames.values", Message: `Invalid value: ["www.google.com"]: *.example.com`}
	if len(vs) != 1 || vs[0] != want {
		t.Fatalf("got %#v, want %#v", vs, want)
	}
	if got := vs[0].String(); got != `spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]: *.example.com` {
		t.Errorf("String() = %s", got)
	}
}

func TestRuleCostLimit(t *testing.T) {
	// Four nested comprehensions over a 100-element list: 10^8 steps,
	// far over the cost limit.
	rule := "[" + strings.Repeat("1,", 99) + "1].all(a, [" + strings.Repeat("1,", 99) + "1].all(b, [" + strings.Repeat("1,", 99) + "1].all(c, [" + strings.Repeat("1,", 99) + "1].all(d, self != ''))))"
	p := mustCompile(t, "p", `{allowed: {commonName: {validations: [{rule: "`+rule+`"}]}}, selector: {issuerRef: {}}}`)
	vs := p.Evaluate(Request{CommonName: "x"})
	if len(vs) != 1 || !strings.Contains(vs[0].Message, "Internal error") || !strings.Contains(vs[0].Message, "cost") {
		t.Fatalf("violations %q, want the cost limit", texts(vs))
	}
}

func TestSelects(t *testing.T) {
	tests := []struct {
		name     string
		selector string
		req      Request
		want     bool
	}{
		{"issuerRef {} matches all", `{issuerRef: {}}`, Request{IssuerRef: IssuerRef{Name: "x", Kind: "Foo", Group: "example.com"}}, true},
		{"namespace {} matches all", `{namespace: {}}`, Request{Namespace: "ns"}, true},
		{"name", `{issuerRef: {name: ca}}`, Request{IssuerRef: IssuerRef{Name: "ca"}}, true},
		{"name differs", `{issuerRef: {name: ca}}`, Request{IssuerRef: IssuerRef{Name: "ca2"}}, false},
		{"name wildcard", `{issuerRef: {name: "my-ca-*"}}`, Request{IssuerRef: IssuerRef{Name: "my-ca-prod"}}, true},
		{"empty name matches all", `{issuerRef: {name: ""}}`, Request{IssuerRef: IssuerRef{Name: "anything"}}, true},
		{"default kind Issuer", `{issuerRef: {kind: Issuer}}`, Request{IssuerRef: IssuerRef{Name: "ca"}}, true},
		{"default kind is not ClusterIssuer", `{issuerRef: {kind: ClusterIssuer}}`, Request{IssuerRef: IssuerRef{Name: "ca"}}, false},
		{"kind wildcard", `{issuerRef: {kind: "*Issuer"}}`, Request{IssuerRef: IssuerRef{Name: "ca", Kind: "ClusterIssuer"}}, true},
		{"default group", `{issuerRef: {group: cert-manager.io}}`, Request{IssuerRef: IssuerRef{Name: "ca"}}, true},
		{"external group", `{issuerRef: {group: cert-manager.io}}`, Request{IssuerRef: IssuerRef{Name: "ca", Group: "awspca.cert-manager.io"}}, false},
		{"group wildcard", `{issuerRef: {group: "*.cert-manager.io"}}`, Request{IssuerRef: IssuerRef{Name: "ca", Group: "awspca.cert-manager.io"}}, true},
		{"all three", `{issuerRef: {name: ca, kind: ClusterIssuer, group: cert-manager.io}}`, Request{IssuerRef: IssuerRef{Name: "ca", Kind: "ClusterIssuer"}}, true},
		{"matchNames", `{namespace: {matchNames: ["team-*", "default"]}}`, Request{Namespace: "team-a"}, true},
		{"matchNames miss", `{namespace: {matchNames: ["team-*", "default"]}}`, Request{Namespace: "kube-system"}, false},
		{"matchLabels", `{namespace: {matchLabels: {env: prod, team: a}}}`, Request{NamespaceLabels: map[string]string{"env": "prod", "team": "a", "x": "y"}}, true},
		{"matchLabels value differs", `{namespace: {matchLabels: {env: prod}}}`, Request{NamespaceLabels: map[string]string{"env": "dev"}}, false},
		{"matchLabels missing", `{namespace: {matchLabels: {env: prod}}}`, Request{}, false},
		{"matchLabels with an empty value", `{namespace: {matchLabels: {env: ""}}}`, Request{NamespaceLabels: map[string]string{"env": ""}}, true},
		{"names and labels both", `{namespace: {matchNames: ["a"], matchLabels: {env: prod}}}`, Request{Namespace: "b", NamespaceLabels: map[string]string{"env": "prod"}}, false},
		{"issuer and namespace both", `{issuerRef: {name: ca}, namespace: {matchNames: ["a"]}}`, Request{Namespace: "a", IssuerRef: IssuerRef{Name: "other"}}, false},
		{"issuer and namespace both match", `{issuerRef: {name: ca}, namespace: {matchNames: ["a"]}}`, Request{Namespace: "a", IssuerRef: IssuerRef{Name: "ca"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, "p", `{selector: `+tt.selector+`}`)
			if got := p.Selects(tt.req); got != tt.want {
				t.Errorf("Selects = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNeedNamespaceLabels(t *testing.T) {
	byName := mustCompile(t, "a", `{selector: {namespace: {matchNames: [x]}}}`)
	byLabel := mustCompile(t, "b", `{selector: {namespace: {matchLabels: {a: b}}}}`)
	if NeedNamespaceLabels([]*Policy{byName}) || !NeedNamespaceLabels([]*Policy{byName, byLabel}) || NeedNamespaceLabels(nil) {
		t.Error("NeedNamespaceLabels is wrong")
	}
}
