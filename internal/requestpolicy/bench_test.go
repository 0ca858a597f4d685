package requestpolicy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// teamPolicy is one team's policy: its namespace, the cluster's internal
// CA, names under its own domains checked by CEL, server and client
// usages, at most 90 days, ECDSA keys.
func teamPolicy(b *testing.B, i int, selector string) *Policy {
	return mustCompile(b, fmt.Sprintf("team-%02d", i), fmt.Sprintf(`{
		allowed: {
			commonName: {value: "*", validations: [{rule: "self.size() <= 64", message: "common name too long"}]},
			dnsNames: {values: ["*.team-%02[1]d.svc", "*.team-%02[1]d.svc.cluster.local", "*.team-%02[1]d.example.com"],
				validations: [{rule: "!self.startsWith('*')", message: "no wildcard names"}, {rule: "self.endsWith(cr.namespace + '.svc') || self.endsWith(cr.namespace + '.svc.cluster.local') || self.endsWith(cr.namespace + '.example.com')"}]},
			ipAddresses: {values: ["10.*"]},
			usages: ["digital signature", "key encipherment", "server auth", "client auth"],
			subject: {organizations: {values: ["Example Ltd"]}}},
		constraints: {minDuration: 1h, maxDuration: 2160h, privateKey: {algorithm: ECDSA, minSize: 256}},
		selector: %s}`, i, selector))
}

func benchRequest() Request {
	return Request{
		Namespace: "team-42", Name: "web-tls-7x2kq",
		IssuerRef:     IssuerRef{Name: "internal-ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
		CommonName:    "web.team-42.svc",
		DNSNames:      []string{"web.team-42.svc", "web.team-42.svc.cluster.local", "web.team-42.example.com"},
		Usages:        []string{"digital signature", "key encipherment", "server auth"},
		Organizations: []string{"Example Ltd"},
		Duration:      2160 * time.Hour, KeyAlgorithm: "ECDSA", KeySize: 256,
	}
}

// BenchmarkDecide100Policies decides a Certificate's request among 100
// policies: 98 teams' (one selects the request's namespace) and two
// cluster-wide ones that also select it, a deny-by-default policy and a
// CA-only policy the requester is not bound to. The SubjectAccessReview
// behind bound is the caller's, not measured.
func BenchmarkDecide100Policies(b *testing.B) {
	var policies []*Policy
	for i := range 98 {
		policies = append(policies, teamPolicy(b, i, fmt.Sprintf(`{issuerRef: {name: internal-ca, kind: ClusterIssuer}, namespace: {matchNames: ["team-%02d"]}}`, i)))
	}
	policies = append(policies,
		mustCompile(b, "default-deny-all", `{allowed: {dnsNames: {values: [], required: true}}, selector: {issuerRef: {}}}`),
		mustCompile(b, "z-intermediate-cas", `{allowed: {isCA: true, commonName: {value: "* Intermediate CA"}}, selector: {issuerRef: {kind: ClusterIssuer}}}`))
	// Sorted by name, as the controller's snapshot is.
	slices.SortFunc(policies, func(a, b *Policy) int { return strings.Compare(a.Name(), b.Name()) })
	r := benchRequest()
	bound := func(name string) bool { return name != "z-intermediate-cas" }
	if d := Decide(policies, r, bound); !d.Approved || d.Policy != "team-42" {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(policies, r, bound)
	}
}

// BenchmarkDecide100PoliciesAllSelect is the worst case: all 100 policies
// select the request and only the last by name approves it, so each is
// evaluated.
func BenchmarkDecide100PoliciesAllSelect(b *testing.B) {
	var policies []*Policy
	for i := range 100 {
		policies = append(policies, teamPolicy(b, i, `{issuerRef: {}}`))
	}
	r := benchRequest()
	r.Namespace = "team-99"
	r.CommonName, r.DNSNames = "web.team-99.svc", []string{"web.team-99.svc", "web.team-99.svc.cluster.local", "web.team-99.example.com"}
	if d := Decide(policies, r, nil); !d.Approved || d.Policy != "team-99" {
		b.Fatalf("decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(policies, r, nil)
	}
}
