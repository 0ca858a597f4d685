package acmepolicy_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/acmepolicy"
)

// httpSolver and dnsSolver build solvers told apart by tag.
func httpSolver(tag string, sel *cmv1.CertificateDNSNameSelector) cmv1.ACMEChallengeSolver {
	return cmv1.ACMEChallengeSolver{Selector: sel, HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &cmv1.ACMEChallengeSolverHTTP01Ingress{Name: tag}}}
}

func dnsSolver(tag string, sel *cmv1.CertificateDNSNameSelector) cmv1.ACMEChallengeSolver {
	return cmv1.ACMEChallengeSolver{Selector: sel, DNS01: &cmv1.ACMEChallengeSolverDNS01{RFC2136: &cmv1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: tag}}}
}

func tagOf(s cmv1.ACMEChallengeSolver) string {
	switch {
	case s.HTTP01 != nil && s.HTTP01.Ingress != nil:
		return s.HTTP01.Ingress.Name
	case s.DNS01 != nil && s.DNS01.RFC2136 != nil:
		return s.DNS01.RFC2136.Nameserver
	}
	return ""
}

func labelsSel(kv ...string) *cmv1.CertificateDNSNameSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &cmv1.CertificateDNSNameSelector{MatchLabels: m}
}

func namesSel(names ...string) *cmv1.CertificateDNSNameSelector {
	return &cmv1.CertificateDNSNameSelector{DNSNames: names}
}

func zonesSel(zones ...string) *cmv1.CertificateDNSNameSelector {
	return &cmv1.CertificateDNSNameSelector{DNSZones: zones}
}

var both = []string{"http-01", "dns-01", "tls-alpn-01"}

func TestPickSolver(t *testing.T) {
	labels := map[string]string{"team": "a", "env": "prod", "tier": "web"}
	tests := []struct {
		name     string
		solvers  []cmv1.ACMEChallengeSolver
		labels   map[string]string
		dnsName  string
		wildcard bool
		offered  []string
		wantTag  string // "" means no solver
		wantType string
	}{
		{"no solvers", nil, labels, "example.com", false, both, "", ""},
		{"default http", []cmv1.ACMEChallengeSolver{httpSolver("d", nil)}, labels, "example.com", false, both, "d", "http-01"},
		{"default http, only dns offered", []cmv1.ACMEChallengeSolver{httpSolver("d", nil)}, labels, "example.com", false, []string{"dns-01"}, "", ""},
		{"nothing offered", []cmv1.ACMEChallengeSolver{httpSolver("d", nil), dnsSolver("e", nil)}, labels, "example.com", false, nil, "", ""},
		{"only tls-alpn offered", []cmv1.ACMEChallengeSolver{httpSolver("d", nil)}, labels, "example.com", false, []string{"tls-alpn-01"}, "", ""},
		{"first of two defaults", []cmv1.ACMEChallengeSolver{dnsSolver("d1", nil), httpSolver("d2", nil)}, labels, "example.com", false, both, "d1", "dns-01"},
		{"empty selector is a default", []cmv1.ACMEChallengeSolver{httpSolver("d1", &cmv1.CertificateDNSNameSelector{}), httpSolver("d2", nil)}, labels, "example.com", false, both, "d1", "http-01"},
		{"empty selector after a match is ignored", []cmv1.ACMEChallengeSolver{httpSolver("l", labelsSel("team", "a")), httpSolver("d", &cmv1.CertificateDNSNameSelector{MatchLabels: map[string]string{}})}, labels, "example.com", false, both, "l", "http-01"},
		{"labels beat an earlier default", []cmv1.ACMEChallengeSolver{httpSolver("d", nil), dnsSolver("l", labelsSel("team", "a"))}, labels, "example.com", false, both, "l", "dns-01"},
		{"labels beat a later default", []cmv1.ACMEChallengeSolver{dnsSolver("l", labelsSel("team", "a")), httpSolver("d", nil)}, labels, "example.com", false, both, "l", "dns-01"},
		{"labels mismatch falls back to default", []cmv1.ACMEChallengeSolver{dnsSolver("l", labelsSel("team", "b")), httpSolver("d", nil)}, labels, "example.com", false, both, "d", "http-01"},
		{"labels partly missing", []cmv1.ACMEChallengeSolver{dnsSolver("l", labelsSel("team", "a", "owner", "x"))}, labels, "example.com", false, both, "", ""},
		{"labels against nil labels", []cmv1.ACMEChallengeSolver{dnsSolver("l", labelsSel("team", "a"))}, nil, "example.com", false, both, "", ""},
		{"more labels win", []cmv1.ACMEChallengeSolver{dnsSolver("l1", labelsSel("team", "a")), dnsSolver("l2", labelsSel("team", "a", "env", "prod"))}, labels, "example.com", false, both, "l2", "dns-01"},
		{"labels tie goes to the earlier", []cmv1.ACMEChallengeSolver{dnsSolver("l1", labelsSel("team", "a")), httpSolver("l2", labelsSel("env", "prod"))}, labels, "example.com", false, both, "l1", "dns-01"},
		{"dnsNames match", []cmv1.ACMEChallengeSolver{httpSolver("d", nil), dnsSolver("n", namesSel("other.com", "example.com"))}, labels, "example.com", false, both, "n", "dns-01"},
		{"dnsNames mismatch is no candidate", []cmv1.ACMEChallengeSolver{dnsSolver("n", namesSel("www.example.com"))}, labels, "example.com", false, both, "", ""},
		{"dnsNames beat a more specific zone", []cmv1.ACMEChallengeSolver{dnsSolver("z", zonesSel("a.b.example.com")), dnsSolver("n", namesSel("x.a.b.example.com"))}, labels, "x.a.b.example.com", false, both, "n", "dns-01"},
		{"dnsNames beat more labels", []cmv1.ACMEChallengeSolver{dnsSolver("l", labelsSel("team", "a", "env", "prod", "tier", "web")), dnsSolver("n", namesSel("example.com"))}, labels, "example.com", false, both, "n", "dns-01"},
		{"dnsNames tie goes to the earlier", []cmv1.ACMEChallengeSolver{httpSolver("n1", namesSel("example.com")), dnsSolver("n2", namesSel("example.com", "www.example.com"))}, labels, "example.com", false, both, "n1", "http-01"},
		{"dnsNames tie broken by zones", []cmv1.ACMEChallengeSolver{dnsSolver("n1", namesSel("example.com")), dnsSolver("n2", &cmv1.CertificateDNSNameSelector{DNSNames: []string{"example.com"}, DNSZones: []string{"com"}})}, labels, "example.com", false, both, "n2", "dns-01"},
		{"dnsNames tie broken by labels", []cmv1.ACMEChallengeSolver{dnsSolver("n1", namesSel("example.com")), dnsSolver("n2", &cmv1.CertificateDNSNameSelector{DNSNames: []string{"example.com"}, MatchLabels: map[string]string{"team": "a"}})}, labels, "example.com", false, both, "n2", "dns-01"},
		{"names and zones both required", []cmv1.ACMEChallengeSolver{dnsSolver("nz", &cmv1.CertificateDNSNameSelector{DNSNames: []string{"example.com"}, DNSZones: []string{"example.org"}})}, labels, "example.com", false, both, "", ""},
		{"zone and labels both required", []cmv1.ACMEChallengeSolver{dnsSolver("zl", &cmv1.CertificateDNSNameSelector{DNSZones: []string{"example.com"}, MatchLabels: map[string]string{"team": "b"}})}, labels, "example.com", false, both, "", ""},
		{"zone match", []cmv1.ACMEChallengeSolver{httpSolver("d", nil), dnsSolver("z", zonesSel("example.com"))}, labels, "www.example.com", false, both, "z", "dns-01"},
		{"zone equals the name", []cmv1.ACMEChallengeSolver{dnsSolver("z", zonesSel("example.com"))}, labels, "example.com", false, both, "z", "dns-01"},
		{"zone is no mere suffix", []cmv1.ACMEChallengeSolver{dnsSolver("z", zonesSel("example.com"))}, labels, "notexample.com", false, both, "", ""},
		{"more specific zone wins", []cmv1.ACMEChallengeSolver{dnsSolver("z1", zonesSel("example.com")), dnsSolver("z2", zonesSel("sys.example.com")), dnsSolver("z3", zonesSel("com"))}, labels, "a.sys.example.com", false, both, "z2", "dns-01"},
		{"more specific zone wins within a solver", []cmv1.ACMEChallengeSolver{dnsSolver("z1", zonesSel("example.com")), dnsSolver("z2", zonesSel("com", "sys.example.com"))}, labels, "a.sys.example.com", false, both, "z2", "dns-01"},
		{"zone tie goes to the earlier", []cmv1.ACMEChallengeSolver{dnsSolver("z1", zonesSel("example.com")), httpSolver("z2", zonesSel("example.com"))}, labels, "www.example.com", false, both, "z1", "dns-01"},
		{"zone beats labels", []cmv1.ACMEChallengeSolver{dnsSolver("l", labelsSel("team", "a", "env", "prod", "tier", "web")), dnsSolver("z", zonesSel("com"))}, labels, "example.com", false, both, "z", "dns-01"},
		{"zone tie broken by labels", []cmv1.ACMEChallengeSolver{dnsSolver("z1", zonesSel("example.com")), dnsSolver("z2", &cmv1.CertificateDNSNameSelector{DNSZones: []string{"example.com"}, MatchLabels: map[string]string{"env": "prod"}})}, labels, "example.com", false, both, "z2", "dns-01"},
		{"empty zone never matches", []cmv1.ACMEChallengeSolver{dnsSolver("z", zonesSel("", "."))}, labels, "example.com", false, both, "", ""},
		{"zone case and trailing dot", []cmv1.ACMEChallengeSolver{dnsSolver("z", zonesSel("Example.COM."))}, labels, "WWW.example.com.", false, both, "z", "dns-01"},
		{"dnsNames case", []cmv1.ACMEChallengeSolver{dnsSolver("n", namesSel("WWW.Example.com"))}, labels, "www.example.com", false, both, "n", "dns-01"},
		{"wildcard is not the bare name", []cmv1.ACMEChallengeSolver{dnsSolver("n", namesSel("example.com"))}, labels, "example.com", true, both, "", ""},
		{"wildcard by its star name", []cmv1.ACMEChallengeSolver{dnsSolver("n", namesSel("*.example.com"))}, labels, "example.com", true, both, "n", "dns-01"},
		{"star name is not the bare name", []cmv1.ACMEChallengeSolver{dnsSolver("n", namesSel("*.example.com"))}, labels, "example.com", false, both, "", ""},
		{"wildcard under its own zone", []cmv1.ACMEChallengeSolver{httpSolver("d", nil), dnsSolver("z", zonesSel("example.com"))}, labels, "example.com", true, []string{"dns-01"}, "z", "dns-01"},
		{"wildcard zone specificity", []cmv1.ACMEChallengeSolver{dnsSolver("z1", zonesSel("com")), dnsSolver("z2", zonesSel("example.com")), dnsSolver("z3", zonesSel("www.example.com"))}, labels, "example.com", true, []string{"dns-01"}, "z2", "dns-01"},
		{"wildcard name beats zone", []cmv1.ACMEChallengeSolver{dnsSolver("z", zonesSel("example.com")), dnsSolver("n", namesSel("*.example.com"))}, labels, "example.com", true, []string{"dns-01"}, "n", "dns-01"},
		{"wildcard http solver not offered", []cmv1.ACMEChallengeSolver{httpSolver("z", zonesSel("example.com")), dnsSolver("d", nil)}, labels, "example.com", true, []string{"dns-01"}, "d", "dns-01"},
		{"better selector of a type not offered is skipped", []cmv1.ACMEChallengeSolver{httpSolver("n", namesSel("example.com")), dnsSolver("z", zonesSel("com"))}, labels, "example.com", false, []string{"dns-01"}, "z", "dns-01"},
		{"offered type case", []cmv1.ACMEChallengeSolver{httpSolver("d", nil)}, labels, "example.com", false, []string{"HTTP-01"}, "d", "http-01"},
		{"solver with no type", []cmv1.ACMEChallengeSolver{{}, httpSolver("d", nil)}, labels, "example.com", false, both, "d", "http-01"},
		{"selector without type", []cmv1.ACMEChallengeSolver{{Selector: namesSel("example.com")}}, labels, "example.com", false, both, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, typ, ok := acmepolicy.PickSolver(tt.solvers, tt.labels, tt.dnsName, tt.wildcard, tt.offered)
			if ok != (tt.wantTag != "") || tagOf(s) != tt.wantTag || typ != tt.wantType {
				t.Errorf("got %q %q %v, want %q %q", tagOf(s), typ, ok, tt.wantTag, tt.wantType)
			}
		})
	}
}

func TestPickSolverCopies(t *testing.T) {
	solvers := []cmv1.ACMEChallengeSolver{httpSolver("a", namesSel("example.com"))}
	s, _, ok := acmepolicy.PickSolver(solvers, nil, "example.com", false, both)
	if !ok {
		t.Fatal("no solver")
	}
	s.HTTP01.Ingress.Name = "changed"
	s.Selector.DNSNames[0] = "changed"
	if tagOf(solvers[0]) != "a" || solvers[0].Selector.DNSNames[0] != "example.com" {
		t.Error("the returned solver shares memory with the issuer's")
	}
}

func TestPickChallenge(t *testing.T) {
	yes := true
	solvers := []cmv1.ACMEChallengeSolver{httpSolver("h", nil), dnsSolver("z", zonesSel("example.com"))}
	chals := []acmev1.ACMEChallenge{
		{URL: "https://ca/chal/1", Token: "t1", Type: "tls-alpn-01"},
		{URL: "https://ca/chal/2", Token: "t2", Type: "http-01"},
		{URL: "https://ca/chal/3", Token: "t3", Type: "dns-01"},
	}
	tests := []struct {
		name    string
		authz   acmev1.ACMEAuthorization
		wantTag string
		wantURL string
	}{
		{"zone solver for dns-01", acmev1.ACMEAuthorization{Identifier: "www.example.com", Challenges: chals}, "z", "https://ca/chal/3"},
		{"default for another name", acmev1.ACMEAuthorization{Identifier: "www.example.org", Challenges: chals}, "h", "https://ca/chal/2"},
		{"wildcard flag", acmev1.ACMEAuthorization{Identifier: "example.org", Wildcard: &yes, Challenges: chals[2:]}, "", ""},
		{"wildcard under zone", acmev1.ACMEAuthorization{Identifier: "example.com", Wildcard: &yes, Challenges: chals[2:]}, "z", "https://ca/chal/3"},
		{"star identifier", acmev1.ACMEAuthorization{Identifier: "*.example.com", Challenges: chals[2:]}, "z", "https://ca/chal/3"},
		{"no challenges", acmev1.ACMEAuthorization{Identifier: "www.example.com"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ch, ok := acmepolicy.PickChallenge(solvers, nil, tt.authz)
			if ok != (tt.wantTag != "") || tagOf(s) != tt.wantTag || ch.URL != tt.wantURL {
				t.Errorf("got %q %q %v, want %q %q", tagOf(s), ch.URL, ok, tt.wantTag, tt.wantURL)
			}
		})
	}
}

func TestApplySolverOverrides(t *testing.T) {
	class, className, kind, ns := "nginx", "public", "ListenerSet", "gw"
	ingress := cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &cmv1.ACMEChallengeSolverHTTP01Ingress{IngressClassName: &className}}}
	gateway := cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &cmv1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{
		ParentRefs: []cmv1.ParentReference{{Name: "a"}, {Name: "b"}},
	}}}
	tests := []struct {
		name        string
		annotations map[string]string
		solver      cmv1.ACMEChallengeSolver
		want        cmv1.ACMEChallengeSolver
		wantErr     string
	}{
		{"none", nil, ingress, ingress, ""},
		{"ingress name", map[string]string{acmepolicy.AnnotationOverrideIngressName: "web"}, ingress,
			cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &cmv1.ACMEChallengeSolverHTTP01Ingress{Name: "web"}}}, ""},
		{"ingress class", map[string]string{acmepolicy.AnnotationOverrideIngressClass: class}, ingress,
			cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &cmv1.ACMEChallengeSolverHTTP01Ingress{Class: &class}}}, ""},
		{"ingress class name", map[string]string{acmepolicy.AnnotationOverrideIngressClassName: "internal"}, ingress,
			cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &cmv1.ACMEChallengeSolverHTTP01Ingress{IngressClassName: ptr("internal")}}}, ""},
		{"two ingress overrides", map[string]string{acmepolicy.AnnotationOverrideIngressName: "web", acmepolicy.AnnotationOverrideIngressClass: class}, ingress, ingress, "only one of"},
		{"ingress overrides ignored for gateway", map[string]string{acmepolicy.AnnotationOverrideIngressName: "web", acmepolicy.AnnotationOverrideIngressClass: class}, gateway, gateway, ""},
		{"ingress overrides ignored for dns01", map[string]string{acmepolicy.AnnotationOverrideIngressName: "web"}, dnsSolver("x", nil), dnsSolver("x", nil), ""},
		{"parent ref", map[string]string{acmepolicy.AnnotationParentRefName: "gw1", acmepolicy.AnnotationParentRefKind: kind, acmepolicy.AnnotationParentRefNamespace: ns}, gateway,
			cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &cmv1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{
				ParentRefs: []cmv1.ParentReference{{Name: "gw1", Kind: &kind, Namespace: &ns}},
			}}}, ""},
		{"parent ref name only", map[string]string{acmepolicy.AnnotationParentRefName: "gw1"}, gateway,
			cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &cmv1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{
				ParentRefs: []cmv1.ParentReference{{Name: "gw1"}},
			}}}, ""},
		{"parent ref kind without name", map[string]string{acmepolicy.AnnotationParentRefKind: kind}, gateway, gateway, "without"},
		{"parent ref ignored for ingress", map[string]string{acmepolicy.AnnotationParentRefName: "gw1"}, ingress, ingress, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *tt.solver.DeepCopy()
			got, err := acmepolicy.ApplySolverOverrides(tt.annotations, tt.solver)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got.HTTP01, tt.want.HTTP01)
			}
			if !reflect.DeepEqual(before, tt.solver) {
				t.Error("the solver passed in was changed")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzPickSolver(f *testing.F) {
	f.Add("www.example.com", false, "team", "a", "example.com", "www.example.com", "http-01", uint8(0))
	f.Add("example.com", true, "", "", "", "*.example.com", "dns-01", uint8(7))
	f.Add("", true, "k", "", ".", "", "", uint8(255))
	f.Add("a..b.", false, "k", "v", "..", "*.", "DNS-01", uint8(3))
	f.Fuzz(func(t *testing.T, dnsName string, wildcard bool, key, value, zone, name, offered string, shape uint8) {
		sel := func(bits uint8) *cmv1.CertificateDNSNameSelector {
			if bits&7 == 7 {
				return nil
			}
			s := &cmv1.CertificateDNSNameSelector{}
			if bits&1 != 0 {
				s.MatchLabels = map[string]string{key: value}
			}
			if bits&2 != 0 {
				s.DNSNames = []string{name, zone}
			}
			if bits&4 != 0 {
				s.DNSZones = []string{zone, name, dnsName}
			}
			return s
		}
		solvers := []cmv1.ACMEChallengeSolver{
			httpSolver("a", sel(shape)),
			dnsSolver("b", sel(shape>>3)),
			{Selector: sel(shape >> 5)},
			dnsSolver("c", sel(^shape)),
		}
		offeredTypes := []string{offered, "dns-01"}
		if shape&0x80 != 0 {
			offeredTypes = []string{offered}
		}
		s, typ, ok := acmepolicy.PickSolver(solvers, map[string]string{key: value}, dnsName, wildcard, offeredTypes)
		if !ok {
			if typ != "" || tagOf(s) != "" {
				t.Fatalf("no match but got %q %q", tagOf(s), typ)
			}
			return
		}
		if !slices.ContainsFunc(offeredTypes, func(o string) bool { return strings.EqualFold(o, typ) }) {
			t.Fatalf("type %q was not offered in %q", typ, offeredTypes)
		}
		if (typ == acmepolicy.TypeHTTP01) != (s.HTTP01 != nil) || (typ == acmepolicy.TypeDNS01) != (s.DNS01 != nil) {
			t.Fatalf("type %q does not fit solver %q", typ, tagOf(s))
		}
	})
}
