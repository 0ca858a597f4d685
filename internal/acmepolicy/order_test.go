package acmepolicy_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"hash/fnv"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/acmepolicy"
)

func TestOrderSpec(t *testing.T) {
	ref := cmv1.ObjectReference{Name: "le", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	dur := &metav1.Duration{Duration: 72 * time.Hour}
	cr := &cmv1.CertificateRequest{Spec: cmv1.CertificateRequestSpec{Request: []byte("PEM"), IssuerRef: ref, Duration: dur}}
	csr := func(cn string, dns []string, ips ...string) *x509.CertificateRequest {
		c := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
		for _, ip := range ips {
			c.IPAddresses = append(c.IPAddresses, net.ParseIP(ip))
		}
		return c
	}
	plain := &cmv1.ACMEIssuer{Server: "https://ca/dir"}
	withDuration := &cmv1.ACMEIssuer{Server: "https://ca/dir", EnableDurationFeature: true, Profile: "shortlived"}
	u, _ := url.Parse("spiffe://example.org/a")

	tests := []struct {
		name    string
		csr     *x509.CertificateRequest
		issuer  *cmv1.ACMEIssuer
		want    acmev1.OrderSpec
		wantErr string
	}{
		{"names in CSR order", csr("b.example.com", []string{"b.example.com", "a.example.com"}), plain,
			acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: ref, CommonName: "b.example.com", DNSNames: []string{"b.example.com", "a.example.com"}}, ""},
		{"no common name", csr("", []string{"a.example.com"}), plain,
			acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: ref, DNSNames: []string{"a.example.com"}}, ""},
		{"IPs canonical", csr("10.0.0.1", nil, "10.0.0.1", "2001:db8:0:0::1"), plain,
			acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: ref, CommonName: "10.0.0.1", IPAddresses: []string{"10.0.0.1", "2001:db8::1"}}, ""},
		{"IPv6 common name written long", csr("2001:db8:0:0::1", []string{"a.example.com"}, "2001:db8::1"), plain,
			acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: ref, CommonName: "2001:db8:0:0::1", DNSNames: []string{"a.example.com"}, IPAddresses: []string{"2001:db8::1"}}, ""},
		{"wildcard", csr("*.example.com", []string{"*.example.com", "example.com"}), plain,
			acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: ref, CommonName: "*.example.com", DNSNames: []string{"*.example.com", "example.com"}}, ""},
		{"duration and profile", csr("", []string{"a.example.com"}), withDuration,
			acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: ref, DNSNames: []string{"a.example.com"}, Duration: dur, Profile: "shortlived"}, ""},
		{"common name not listed", csr("c.example.com", []string{"a.example.com"}, "10.0.0.1"), plain, acmev1.OrderSpec{}, `common name "c.example.com" is not one of its DNS names [a.example.com] or IP addresses [10.0.0.1]`},
		{"common name differs in case", csr("A.example.com", []string{"a.example.com"}), plain, acmev1.OrderSpec{}, `"A.example.com"`},
		{"no identifiers", csr("a.example.com", nil), plain, acmev1.OrderSpec{}, "no DNS names or IP addresses"},
		{"URI", &x509.CertificateRequest{DNSNames: []string{"a.example.com"}, URIs: []*url.URL{u}}, plain, acmev1.OrderSpec{}, "URI SANs [spiffe://example.org/a]"},
		{"email", &x509.CertificateRequest{DNSNames: []string{"a.example.com"}, EmailAddresses: []string{"me@example.com"}}, plain, acmev1.OrderSpec{}, "email SANs [me@example.com]"},
		{"no CSR", nil, plain, acmev1.OrderSpec{}, "no certificate request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := acmepolicy.OrderSpec(cr, tt.csr, tt.issuer)
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
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if acmepolicy.ReasonInvalidOrder != "InvalidOrder" {
		t.Error("ReasonInvalidOrder")
	}
}

// fnv1 is the hash OrderName and ChallengeName use, computed here on its own.
func fnv1(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New32()
	h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 10)
}

func checkName(t *testing.T, name string) {
	t.Helper()
	if len(name) > 63 {
		t.Errorf("%q has %d characters", name, len(name))
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		t.Errorf("%q: %v", name, msgs)
	}
}

func TestOrderName(t *testing.T) {
	spec := acmev1.OrderSpec{Request: []byte("PEM"), IssuerRef: cmv1.ObjectReference{Name: "le"}, DNSNames: []string{"a.example.com"}}
	noReq := spec
	noReq.Request = nil
	h := fnv1(t, noReq)
	long := strings.Repeat("a", 40) + "." + strings.Repeat("b", 40) + "-1"
	tests := []struct {
		name       string
		crName     string
		wantPrefix string // the whole name is wantPrefix + "-" + h, when set
	}{
		{"short", "web-tls-1", "web-tls-1"},
		{"51", strings.Repeat("x", 49) + "-1", strings.Repeat("x", 49) + "-1"},
		{"52 kept whole", strings.Repeat("x", 50) + "-1", strings.Repeat("x", 50) + "-1"},
		{"53 shortened", strings.Repeat("x", 51) + "-1", ""},
		{"long with dots", long, ""},
		{"cut at a dot", strings.Repeat("a", 42) + "." + strings.Repeat("b", 30), ""},
		{"cut at dashes", strings.Repeat("a", 40) + "------" + strings.Repeat("b", 30), ""},
		{"253", strings.Repeat(strings.Repeat("c", 62)+".", 5)[:253], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := acmepolicy.OrderName(tt.crName, spec)
			checkName(t, got)
			if got != acmepolicy.OrderName(tt.crName, spec) {
				t.Error("not deterministic")
			}
			if !strings.HasSuffix(got, "-"+h) {
				t.Errorf("%q does not end in the spec's hash %s", got, h)
			}
			prefix := strings.TrimSuffix(got, "-"+h)
			if tt.wantPrefix != "" && prefix != tt.wantPrefix {
				t.Errorf("prefix %q, want %q", prefix, tt.wantPrefix)
			}
			if tt.wantPrefix == "" {
				if len(prefix) > 52 || !strings.HasPrefix(tt.crName, prefix[:len(prefix)-9]) {
					t.Errorf("shortened prefix %q of %q", prefix, tt.crName)
				}
				// A name differing only after the cut still gets another prefix.
				other := acmepolicy.OrderName(tt.crName+"x", spec)
				if other == got {
					t.Errorf("%q and its extension share the name %q", tt.crName, got)
				}
			}
		})
	}

	// The request is not part of the name; anything else is.
	other := spec
	other.Request = []byte("other PEM")
	if acmepolicy.OrderName("cr", other) != acmepolicy.OrderName("cr", spec) {
		t.Error("the request changed the name")
	}
	other = spec
	other.DNSNames = []string{"b.example.com"}
	if acmepolicy.OrderName("cr", other) == acmepolicy.OrderName("cr", spec) {
		t.Error("other names gave the same order name")
	}
	other = spec
	other.Duration = &metav1.Duration{Duration: time.Hour}
	if acmepolicy.OrderName("cr", other) == acmepolicy.OrderName("cr", spec) {
		t.Error("a duration gave the same order name")
	}
}

func TestChallengeName(t *testing.T) {
	spec := acmev1.ChallengeSpec{URL: "https://ca/chal/1", DNSName: "a.example.com", Type: acmev1.ACMEChallengeTypeHTTP01, Token: "tok", Key: "tok.thumb", Solver: httpSolver("x", nil)}
	order := acmepolicy.OrderName(strings.Repeat("n", 60), acmev1.OrderSpec{})
	for _, orderName := range []string{"web-tls-1-12345", order} {
		got := acmepolicy.ChallengeName(orderName, spec)
		checkName(t, got)
		if !strings.HasSuffix(got, "-"+fnv1(t, spec)) {
			t.Errorf("%q does not end in the spec's hash", got)
		}
		other := spec
		other.Token = "tok2"
		if acmepolicy.ChallengeName(orderName, other) == got {
			t.Error("another token gave the same name")
		}
	}
}

func FuzzOrderName(f *testing.F) {
	f.Add("web-tls-1", "a.example.com")
	f.Add(strings.Repeat("a.", 60)+"b", "")
	f.Add(strings.Repeat("a", 51)+".b", "*.x")
	f.Fuzz(func(t *testing.T, crName, dnsName string) {
		if len(validation.IsDNS1123Subdomain(crName)) > 0 {
			return
		}
		spec := acmev1.OrderSpec{DNSNames: []string{dnsName}}
		name := acmepolicy.OrderName(crName, spec)
		checkName(t, name)
		checkName(t, acmepolicy.ChallengeName(name, acmev1.ChallengeSpec{DNSName: dnsName}))
	})
}

func TestChallengeSpec(t *testing.T) {
	yes := true
	ref := cmv1.ObjectReference{Name: "le", Kind: "Issuer"}
	order := &acmev1.Order{Spec: acmev1.OrderSpec{IssuerRef: ref}}
	solver := dnsSolver("z", zonesSel("example.com"))
	tests := []struct {
		name  string
		authz acmev1.ACMEAuthorization
		chal  acmev1.ACMEChallenge
		want  acmev1.ChallengeSpec
	}{
		{"http-01",
			acmev1.ACMEAuthorization{URL: "https://ca/authz/1", Identifier: "www.example.com"},
			acmev1.ACMEChallenge{URL: "https://ca/chal/1", Token: "tok", Type: "http-01"},
			acmev1.ChallengeSpec{URL: "https://ca/chal/1", AuthorizationURL: "https://ca/authz/1", DNSName: "www.example.com", Type: acmev1.ACMEChallengeTypeHTTP01, Token: "tok", Key: "key", Solver: solver, IssuerRef: ref}},
		{"dns-01 wildcard",
			acmev1.ACMEAuthorization{URL: "https://ca/authz/2", Identifier: "example.com", Wildcard: &yes},
			acmev1.ACMEChallenge{URL: "https://ca/chal/2", Token: "tok", Type: "dns-01"},
			acmev1.ChallengeSpec{URL: "https://ca/chal/2", AuthorizationURL: "https://ca/authz/2", DNSName: "example.com", Wildcard: true, Type: acmev1.ACMEChallengeTypeDNS01, Token: "tok", Key: "key", Solver: solver, IssuerRef: ref}},
		{"star identifier",
			acmev1.ACMEAuthorization{URL: "https://ca/authz/3", Identifier: "*.example.com"},
			acmev1.ACMEChallenge{URL: "https://ca/chal/3", Token: "tok", Type: "DNS-01"},
			acmev1.ChallengeSpec{URL: "https://ca/chal/3", AuthorizationURL: "https://ca/authz/3", DNSName: "example.com", Wildcard: true, Type: acmev1.ACMEChallengeTypeDNS01, Token: "tok", Key: "key", Solver: solver, IssuerRef: ref}},
		{"other type",
			acmev1.ACMEAuthorization{URL: "https://ca/authz/4", Identifier: "example.com"},
			acmev1.ACMEChallenge{URL: "https://ca/chal/4", Token: "tok", Type: "tls-alpn-01"},
			acmev1.ChallengeSpec{URL: "https://ca/chal/4", AuthorizationURL: "https://ca/authz/4", DNSName: "example.com", Type: "TLS-ALPN-01", Token: "tok", Key: "key", Solver: solver, IssuerRef: ref}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := acmepolicy.ChallengeSpec(order, tt.authz, tt.chal, solver, "key")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			got.Solver.DNS01.RFC2136.Nameserver = "changed"
			if tagOf(solver) != "z" {
				t.Error("the spec shares the solver's memory")
			}
		})
	}
}

func TestChallengeType(t *testing.T) {
	for in, want := range map[string]acmev1.ACMEChallengeType{"http-01": "HTTP-01", "DNS-01": "DNS-01", "tls-alpn-01": "", "": ""} {
		got, ok := acmepolicy.ChallengeType(in)
		if got != want || ok != (want != "") {
			t.Errorf("ChallengeType(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}
