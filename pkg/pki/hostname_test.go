package pki_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
)

func TestValidateDNSName(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		name       string
		wantReason string // "" when the name is valid
	}{
		{"example.com", ""},
		{"service-a", ""},
		{"service-a.sandbox.svc.cluster.local", ""},
		{"*.example.com", ""},
		{"*.com", ""},
		{"MyHost.Example.COM", ""},
		{"xn--bcher-kva.example", ""},
		{"1.example.com", ""},
		{"a-1.b2", ""},
		{long63 + ".com", ""},
		{strings.Repeat(long63+".", 3) + strings.Repeat("a", 61), ""}, // 253
		{"", "it is empty"},
		{"bad host!!", `label "bad host!!" has ' ', which is not an ASCII letter, digit or '-'`},
		{"-x-.com", `label "-x-" starts or ends with '-'`},
		{"x-.com", `label "x-" starts or ends with '-'`},
		{"a..b", "it has an empty label"},
		{".example.com", "it has an empty label"},
		{"example.com.", "it ends with '.'"},
		{"*", "a wildcard needs a domain after '*.'"},
		{"*.*.example.com", "'*' may only be the whole first label, as in *.example.com"},
		{"a.*.example.com", "'*' may only be the whole first label, as in *.example.com"},
		{"f*o.example.com", "'*' may only be the whole first label, as in *.example.com"},
		{"under_score.example.com", `label "under_score" has '_', which is not an ASCII letter, digit or '-'`},
		{"bücher.example", `label "bücher" has 'ü', which is not an ASCII letter, digit or '-'`},
		{long63 + "a.com", `label "` + long63 + `a" is longer than 63 characters`},
		{strings.Repeat(long63+".", 3) + strings.Repeat("a", 62), "it is longer than 253 characters"},
		{"999.1.1.1", `its last label "1" is all digits`},
		{"10", `its last label "10" is all digits`},
		{"192.0.2.1", `its last label "1" is all digits`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pki.ValidateDNSName(tt.name)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ValidateDNSName(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			var ne *pki.NameError
			if !errors.As(err, &ne) {
				t.Fatalf("ValidateDNSName(%q) = %v, want a *NameError", tt.name, err)
			}
			if ne.Reason != tt.wantReason || ne.Name != tt.name {
				t.Errorf("ValidateDNSName(%q) = %+v, want reason %q", tt.name, ne, tt.wantReason)
			}
			if !errors.Is(err, pki.ErrInvalidName) {
				t.Errorf("error %v is not ErrInvalidName", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "pki: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line starting with pki:", msg)
			}
		})
	}
}

func TestValidateHost(t *testing.T) {
	for _, ok := range []string{"192.0.2.24", "2001:db8::1", "::1", "api.example.com", "*.apps.example.com", "localhost"} {
		if err := pki.ValidateHost(ok); err != nil {
			t.Errorf("ValidateHost(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"999.1.1.1", "1.2.3.4.5", "bad host!!", "a..b", "-x-.com", "", "2001:db8::g"} {
		err := pki.ValidateHost(bad)
		if !errors.Is(err, pki.ErrInvalidName) {
			t.Errorf("ValidateHost(%q) = %v, want ErrInvalidName", bad, err)
			continue
		}
		if want := `pki: "` + bad + `" is not an IP address or a valid DNS name: `; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ValidateHost(%q) = %q, want it to start with %q", bad, err, want)
		}
	}
}

// FuzzValidateDNSName checks ValidateDNSName against DNSNamePattern and
// NumericTLDPattern, the rules the CRDs apply at admission: a name is
// accepted by one exactly when it is by the other.
func FuzzValidateDNSName(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.com", "bad host!!", "-x-.com", "a..b", "999.1.1.1", "*", "a.*.b", "x.", "Ü.de", "a-b.c-d", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(pki.DNSNamePattern)
	numeric := regexp.MustCompile(pki.NumericTLDPattern)
	f.Fuzz(func(t *testing.T, name string) {
		err := pki.ValidateDNSName(name)
		admitted := len(name) <= pki.MaxDNSNameLength && pattern.MatchString(name) && !numeric.MatchString(name)
		if (err == nil) != admitted {
			t.Fatalf("ValidateDNSName(%q) = %v, but the admission rules say valid=%v", name, err, admitted)
		}
		if err == nil && net.ParseIP(name) != nil {
			t.Fatalf("ValidateDNSName accepted the IP address %q", name)
		}
		if err != nil && !errors.Is(err, pki.ErrInvalidName) {
			t.Fatalf("ValidateDNSName(%q) = %v, not ErrInvalidName", name, err)
		}
	})
}

// TestDNSNamePatternInCRD checks that the Certificate CRD admits dnsNames
// with exactly the patterns FuzzValidateDNSName compares ValidateDNSName
// with, so that admission and the controller agree.
func TestDNSNamePatternInCRD(t *testing.T) {
	crd, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "cert-manager.io_certificates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"self.matches('" + pki.DNSNamePattern + "')", "!self.matches('" + pki.NumericTLDPattern + "')", "maxLength: " + strconv.Itoa(pki.MaxDNSNameLength)} {
		if !strings.Contains(string(crd), p) {
			t.Errorf("the Certificate CRD lacks %s", p)
		}
	}
}
