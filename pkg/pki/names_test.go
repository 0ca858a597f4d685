package pki_test

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestParseDN(t *testing.T) {
	cases := map[string]string{
		"CN=app": "CN=app",
		`CN=app,OU=web+OU=api,O=Example\, Inc.,C=DE`: `CN=app,OU=web+OU=api,O=Example\, Inc.,C=DE`,
		`CN=\41pp`:            "CN=App",
		"cn = spaced , o = x": "CN=spaced,O=x",
		"SERIALNUMBER=42,STREET=Main St,POSTALCODE=1000,L=Town,ST=State": "SERIALNUMBER=42,STREET=Main St,POSTALCODE=1000,L=Town,ST=State",
		"DC=example,2.5.4.3=x": "0.9.2342.19200300.100.1.25=#13076578616d706c65,CN=x",
	}
	for in, want := range cases {
		name, err := pki.ParseDN(in)
		if err != nil {
			t.Errorf("ParseDN(%q): %v", in, err)
			continue
		}
		// Issue, then read the subject back as crypto/x509 prints it.
		ca := pkitest.CA(t, "ca")
		c, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{Subject: name}, pkitest.Key(t).Public())
		if err != nil {
			t.Fatal(err)
		}
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(c.RawSubject, &seq); err != nil {
			t.Fatal(err)
		}
		if got := seq.String(); got != reorder(want) {
			t.Errorf("ParseDN(%q) issued subject %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "CN", "=x", "CN=", "CN=a,", "CN=#0403", `CN=a\`, `CN=\zz`, "XX=1", "1.x=2"} {
		if _, err := pki.ParseDN(bad); err == nil {
			t.Errorf("ParseDN(%q) accepted", bad)
		}
	}
}

// reorder is want with multi-valued RDNs split, as certplane encodes one
// attribute per RDN.
func reorder(s string) string {
	out := []byte(s)
	for i := range out {
		if out[i] == '+' {
			out[i] = ','
		}
	}
	return string(out)
}

func TestSANExtensionWithOtherName(t *testing.T) {
	u, _ := url.Parse("spiffe://example.org/web")
	ext, err := pki.SANExtension([]string{"web.example"}, []string{"ops@example.org"}, []net.IP{net.ParseIP("10.0.0.1")}, []*url.URL{u},
		[]pki.OtherName{{OID: "1.3.6.1.4.1.311.20.2.3", UTF8Value: "upn@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	ca := pkitest.CA(t, "ca")
	c, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{ExtraExtensions: []pkix.Extension{ext}}, pkitest.Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DNSNames) != 1 || c.DNSNames[0] != "web.example" || len(c.IPAddresses) != 1 || len(c.URIs) != 1 || len(c.EmailAddresses) != 1 {
		t.Errorf("SANs read back: %v %v %v %v", c.DNSNames, c.IPAddresses, c.URIs, c.EmailAddresses)
	}
	// The otherName is in the extension crypto/x509 leaves unparsed.
	var names []asn1.RawValue
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			if _, err := asn1.Unmarshal(e.Value, &names); err != nil {
				t.Fatal(err)
			}
		}
	}
	var other *asn1.RawValue
	for i := range names {
		if names[i].Tag == 0 && names[i].Class == asn1.ClassContextSpecific {
			other = &names[i]
		}
	}
	if other == nil {
		t.Fatal("no otherName in the certificate")
	}
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(other.Bytes, &oid)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &wrapped); err != nil || wrapped.Tag != 0 {
		t.Fatalf("otherName value: %v", err)
	}
	var v string
	if _, err := asn1.UnmarshalWithParams(wrapped.Bytes, &v, "utf8"); err != nil || v != "upn@example.org" || oid.String() != "1.3.6.1.4.1.311.20.2.3" {
		t.Errorf("otherName %s = %q (%v)", oid, v, err)
	}
	if _, err := pki.SANExtension(nil, nil, nil, nil, []pki.OtherName{{OID: "not.an.oid"}}); err == nil {
		t.Error("a bad OID was accepted")
	}
}
