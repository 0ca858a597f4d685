package requestpolicy

import (
	"slices"
	"testing"
)

func TestDecide(t *testing.T) {
	// Policies for issuer "ca": b allows *.example.com, a only
	// example.com, c *.example.com and c.example.org; other selects the
	// issuer "other".
	a := mustCompile(t, "a", `{allowed: {dnsNames: {values: ["example.com"]}}, selector: {issuerRef: {name: ca}}}`)
	b := mustCompile(t, "b", `{allowed: {dnsNames: {values: ["*.example.com"]}}, selector: {issuerRef: {name: ca}}}`)
	c := mustCompile(t, "c", `{allowed: {dnsNames: {values: ["*.example.com", "c.example.org"]}}, selector: {issuerRef: {name: ca}}}`)
	other := mustCompile(t, "other", `{allowed: {dnsNames: {values: ["*"]}}, selector: {issuerRef: {name: other}}}`)
	all := []*Policy{other, c, a, b} // Decide sorts by name

	www := Request{IssuerRef: IssuerRef{Name: "ca"}, DNSNames: []string{"www.example.com"}}
	org := Request{IssuerRef: IssuerRef{Name: "ca"}, DNSNames: []string{"c.example.org"}}
	google := Request{IssuerRef: IssuerRef{Name: "ca"}, DNSNames: []string{"www.google.com"}}
	none := Request{IssuerRef: IssuerRef{Name: "nobody"}, DNSNames: []string{"www.google.com"}}

	boundTo := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	tests := []struct {
		name     string
		policies []*Policy
		req      Request
		bound    func(string) bool
		want     Decision
		asked    []string // names bound is asked about, in order
	}{
		{
			name:     "first approving policy by name",
			policies: all, req: www, bound: boundTo("a", "b", "c"),
			want:  Decision{Selected: true, Approved: true, Policy: "b", Message: `Approved by CertificateRequestPolicy: "b"`},
			asked: []string{"b"},
		},
		{
			name:     "the approving policy must be bound",
			policies: all, req: www, bound: boundTo("c"),
			want:  Decision{Selected: true, Approved: true, Policy: "c", Message: `Approved by CertificateRequestPolicy: "c"`},
			asked: []string{"b", "c"},
		},
		{
			name:     "only c allows it",
			policies: all, req: org, bound: boundTo("a", "b", "c"),
			want:  Decision{Selected: true, Approved: true, Policy: "c", Message: `Approved by CertificateRequestPolicy: "c"`},
			asked: []string{"c"},
		},
		{
			name:     "denied: violations of bound policies, others not bound",
			policies: all, req: org, bound: boundTo("a", "b"),
			want: Decision{Selected: true, Message: `No policy approved this request: ` +
				`[a: spec.allowed.dnsNames.values: Invalid value: ["c.example.org"]: example.com] ` +
				`[b: spec.allowed.dnsNames.values: Invalid value: ["c.example.org"]: *.example.com] ` +
				`[c: not bound to the requester]`},
			asked: []string{"c", "a", "b"},
		},
		{
			name:     "denied by all",
			policies: all, req: google, bound: nil,
			want: Decision{Selected: true, Message: `No policy approved this request: ` +
				`[a: spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]: example.com] ` +
				`[b: spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]: *.example.com] ` +
				`[c: spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]: *.example.com, c.example.org]`},
		},
		{
			name:     "bound to none: nothing shown",
			policies: all, req: google, bound: boundTo(),
			want:  Decision{Selected: true, Message: `No policy approved this request: [a: not bound to the requester] [b: not bound to the requester] [c: not bound to the requester]`},
			asked: []string{"a", "b", "c"},
		},
		{
			name:     "not selected",
			policies: all, req: none, bound: boundTo("a", "b", "c", "other"),
			want: Decision{Message: NoPolicyMessage},
		},
		{
			name:     "no policies",
			policies: nil, req: www, bound: boundTo("a"),
			want: Decision{Message: NoPolicyMessage},
		},
		{
			name:     "several violations joined",
			policies: []*Policy{mustCompile(t, "strict", `{allowed: {dnsNames: {values: ["a"]}}, selector: {issuerRef: {}}}`)},
			req:      Request{CommonName: "x", DNSNames: []string{"b"}, IsCA: true},
			want: Decision{Selected: true, Message: `No policy approved this request: [strict: ` +
				`spec.allowed.commonName: Invalid value: "x": no allowed value, ` +
				`spec.allowed.dnsNames.values: Invalid value: ["b"]: a, ` +
				`spec.allowed.isCA: Invalid value: true: nil]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			bound := tt.bound
			if bound != nil {
				bound = func(n string) bool {
					asked = append(asked, n)
					return tt.bound(n)
				}
			}
			got := Decide(tt.policies, tt.req, bound)
			if got != tt.want {
				t.Errorf("Decide:\n got %+v\nwant %+v", got, tt.want)
			}
			if !slices.Equal(asked, tt.asked) {
				t.Errorf("asked bound about %q, want %q", asked, tt.asked)
			}
		})
	}
}

func TestDecideLeavesInputOrder(t *testing.T) {
	b := mustCompile(t, "b", `{selector: {issuerRef: {}}}`)
	a := mustCompile(t, "a", `{selector: {issuerRef: {}}}`)
	in := []*Policy{b, a}
	if d := Decide(in, Request{}, nil); d.Policy != "a" {
		t.Errorf("approved by %q, want a", d.Policy)
	}
	if in[0] != b {
		t.Error("Decide reordered its argument")
	}
}
