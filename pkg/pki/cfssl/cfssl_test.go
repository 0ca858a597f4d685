package cfssl_test

import (
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/cfssl"
)

func TestParseSeedRequests(t *testing.T) {
	data, err := os.ReadFile("testdata/kubelet-serving.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := cfssl.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.CommonName != "system:node:my-pod.my-namespace.pod.cluster.local" ||
		!slices.Equal(r.Organization, []string{"system:nodes"}) ||
		!slices.Equal(r.DNSNames, []string{"my-svc.my-namespace.svc.cluster.local", "my-pod.my-namespace.pod.cluster.local"}) ||
		len(r.IPAddresses) != 2 || !r.IPAddresses[0].Equal(net.ParseIP("192.0.2.24")) || !r.IPAddresses[1].Equal(net.ParseIP("10.0.34.2")) ||
		r.Key != pki.ECDSAP256 || r.CA != nil {
		t.Errorf("parsed %+v", r)
	}

	data, err = os.ReadFile("testdata/k8s-new-client-csr.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err = cfssl.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.CommonName != "k8s-new-client" || r.Key != pki.RSA2048 || !slices.Equal(r.Organization, []string{"system:masters"}) {
		t.Errorf("parsed %+v", r)
	}

	data, err = os.ReadFile("testdata/ca-csr.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err = cfssl.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.CA == nil || r.CA.Expiry != 87600*time.Hour || r.CA.MaxPathLen == nil || *r.CA.MaxPathLen != 1 ||
		r.Key != pki.ECDSAP384 || !slices.Equal(r.Country, []string{"KR"}) || !slices.Equal(r.Province, []string{"Seoul"}) ||
		!slices.Equal(r.OrganizationalUnit, []string{"Platform"}) {
		t.Errorf("parsed %+v (ca %+v)", r, r.CA)
	}
}

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		in       string
		wantKey  pki.KeySpec
		wantPath *int
	}{
		{`{"CN":"a"}`, pki.ECDSAP256, nil},
		{`{"CN":"a","key":{"algo":"rsa"}}`, pki.RSA2048, nil},
		{`{"CN":"a","key":{"algo":"ed25519"}}`, pki.Ed25519Key, nil},
		{`{"CN":"a","ca":{"pathlenzero":true}}`, pki.ECDSAP256, new(int)},
		{`{"CN":"a","ca":{"pathlen":0}}`, pki.ECDSAP256, nil}, // cfssl: pathlen 0 without pathlenzero means unset
	}
	for _, tt := range tests {
		r, err := cfssl.Parse([]byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if r.Key != tt.wantKey {
			t.Errorf("%s: key %v, want %v", tt.in, r.Key, tt.wantKey)
		}
		var got *int
		if r.CA != nil {
			got = r.CA.MaxPathLen
		}
		if (got == nil) != (tt.wantPath == nil) || (got != nil && *got != *tt.wantPath) {
			t.Errorf("%s: MaxPathLen %v, want %v", tt.in, got, tt.wantPath)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"empty", ``, nil},
		{"garbage", `hello`, nil},
		{"truncated", `{"CN": "a", "hosts": [`, nil},
		{"two values", `{"CN":"a"} {"CN":"b"}`, nil},
		{"typo in field", `{"CN":"a","host":["x"]}`, nil},
		{"no subject", `{}`, nil},
		{"rsa 1024", `{"CN":"a","key":{"algo":"rsa","size":1024}}`, pki.ErrWeakKey},
		{"ecdsa 512", `{"CN":"a","key":{"algo":"ecdsa","size":512}}`, pki.ErrUnsupportedKey},
		{"dsa", `{"CN":"a","key":{"algo":"dsa"}}`, nil},
		{"bad expiry", `{"CN":"a","ca":{"expiry":"ten years"}}`, nil},
		{"negative pathlen", `{"CN":"a","ca":{"pathlen":-1}}`, nil},
		{"empty host", `{"CN":"a","hosts":[""]}`, nil},
		{"host with space", `{"CN":"a","hosts":["ok.example.com","bad host!!"]}`, nil},
		{"host with leading hyphen", `{"CN":"a","hosts":["-x-.com"]}`, nil},
		{"host with empty label", `{"CN":"a","hosts":["a..b"]}`, nil},
		{"bad IPv4 address", `{"CN":"a","hosts":["999.1.1.1"]}`, nil},
		{"wildcard not first", `{"CN":"a","hosts":["a.*.example.com"]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cfssl.Parse([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if msg := err.Error(); msg[:7] != "cfssl: " {
				t.Errorf("error %q does not start with cfssl:", msg)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"kubelet-serving.json", "k8s-new-client-csr.json", "ca-csr.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"CN":"a","hosts":["spiffe://x/y","a@b","::1"],"ca":{"pathlen":2,"expiry":"1h"}}`))
	f.Add([]byte(`{"CN":"a","hosts":["*.example.com","bad host!!","999.1.1.1"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := cfssl.Parse(data)
		if err != nil {
			return
		}
		if err := r.Key.Validate(); err != nil {
			t.Fatalf("accepted an invalid key spec: %v", err)
		}
		for _, d := range r.DNSNames {
			if err := pki.ValidateDNSName(d); err != nil {
				t.Fatalf("accepted an invalid host: %v", err)
			}
		}
	})
}

// TestParseHosts checks that hosts are IP addresses or DNS names as kubeadm
// and cert-manager's CRDs accept them, and that a bad one is named in a
// one-line error.
func TestParseHosts(t *testing.T) {
	r, err := cfssl.Parse([]byte(`{"CN":"a","hosts":["*.apps.example.com","Web.Example.com","192.0.2.1","2001:db8::1"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.DNSNames, []string{"*.apps.example.com", "Web.Example.com"}) || len(r.IPAddresses) != 2 {
		t.Errorf("DNSNames %v, IPAddresses %v", r.DNSNames, r.IPAddresses)
	}
	for host, want := range map[string]string{
		"bad host!!": `cfssl: hosts: "bad host!!" is not an IP address or a valid DNS name: label "bad host!!" has ' ', which is not an ASCII letter, digit or '-'`,
		"-x-.com":    `cfssl: hosts: "-x-.com" is not an IP address or a valid DNS name: label "-x-" starts or ends with '-'`,
		"a..b":       `cfssl: hosts: "a..b" is not an IP address or a valid DNS name: it has an empty label`,
		"999.1.1.1":  `cfssl: hosts: "999.1.1.1" is not an IP address or a valid DNS name: its last label "1" is all digits`,
	} {
		_, err := cfssl.Parse([]byte(`{"CN":"a","hosts":["ok.example.com",` + strconv.Quote(host) + `]}`))
		if err == nil || err.Error() != want {
			t.Errorf("hosts [%q]: error %v, want %s", host, err, want)
		}
	}
}
