package requestpolicy

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func csr(t testing.TB, key pki.KeySpec, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, pkitest.Key(t, key))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sanDER builds a subject alternative name extension value of the given
// GeneralNames.
func sanDER(t testing.TB, names ...asn1.RawValue) []byte {
	t.Helper()
	der, err := asn1.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func otherName(t testing.TB, oid asn1.ObjectIdentifier, value any) asn1.RawValue {
	t.Helper()
	inner, err := asn1.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	oidDER, _ := asn1.Marshal(oid)
	wrapped, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner})
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oidDER, wrapped...)}
}

func TestFromCSR(t *testing.T) {
	u, _ := url.Parse("spiffe://example.org/ns/a/sa/b")
	c := csr(t, pki.KeySpec{Algorithm: pki.RSA, Size: 2048}, &x509.CertificateRequest{
		Subject: pkix.Name{
			CommonName: "example.com", Organization: []string{"Example"}, Country: []string{"GB"},
			OrganizationalUnit: []string{"Web"}, Locality: []string{"London"}, Province: []string{"England"},
			StreetAddress: []string{"1 Road"}, PostalCode: []string{"N1"}, SerialNumber: "42",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@example.com"}},
		},
		DNSNames:       []string{"example.com", "www.example.com"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("2001:db8::1")},
		URIs:           []*url.URL{u},
		EmailAddresses: []string{"a@example.com"},
	})
	got := FromCSR(c)
	want := Request{
		CommonName: "example.com", DNSNames: []string{"example.com", "www.example.com"},
		IPAddresses: []string{"10.0.0.1", "2001:db8::1"}, URIs: []string{"spiffe://example.org/ns/a/sa/b"},
		EmailAddresses: []string{"a@example.com"},
		Organizations:  []string{"Example"}, Countries: []string{"GB"}, OrganizationalUnits: []string{"Web"},
		Localities: []string{"London"}, Provinces: []string{"England"}, StreetAddresses: []string{"1 Road"},
		PostalCodes: []string{"N1"}, SerialNumber: "42",
		OtherAttributes: []Attribute{{OID: "1.2.840.113549.1.9.1", Value: "a@example.com"}},
		KeyAlgorithm:    "RSA", KeySize: 2048,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromCSR:\n got %+v\nwant %+v", got, want)
	}
}

func TestFromCSRKeys(t *testing.T) {
	for _, tt := range []struct {
		spec pki.KeySpec
		alg  string
		size int
	}{
		{pki.KeySpec{Algorithm: pki.ECDSA, Size: 256}, "ECDSA", 256},
		{pki.KeySpec{Algorithm: pki.ECDSA, Size: 384}, "ECDSA", 384},
		{pki.KeySpec{Algorithm: pki.Ed25519}, "Ed25519", 256},
	} {
		r := FromCSR(csr(t, tt.spec, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}))
		if r.KeyAlgorithm != tt.alg || r.KeySize != tt.size {
			t.Errorf("%v: %s %d, want %s %d", tt.spec, r.KeyAlgorithm, r.KeySize, tt.alg, tt.size)
		}
	}
	if r := FromCSR(&x509.CertificateRequest{PublicKey: "not a key"}); r.KeyAlgorithm != "" || r.KeySize != 0 {
		t.Errorf("unknown key: %s %d", r.KeyAlgorithm, r.KeySize)
	}
}

func TestFromCSRHiddenParts(t *testing.T) {
	upn := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	dirName, _ := asn1.Marshal(pkix.Name{CommonName: "x"}.ToRDNSequence())
	san := sanDER(t,
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("a.example.com")},
		otherName(t, upn, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("alice@example.com")}),
		otherName(t, asn1.ObjectIdentifier{1, 2, 3}, 7),
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirName},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 8, Bytes: []byte{0x2a, 0x03}},
	)
	c := csr(t, pki.KeySpec{}, &x509.CertificateRequest{
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidCommonName, Value: "a"},
			{Type: oidCommonName, Value: "b"},
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: 5},
		}},
		ExtraExtensions: []pkix.Extension{{Id: oidSubjectAltName, Value: san}},
	})
	r := FromCSR(c)
	if !slices.Equal(r.DNSNames, []string{"a.example.com"}) {
		t.Errorf("DNS names %q", r.DNSNames)
	}
	wantOthers := []Attribute{{OID: "1.3.6.1.4.1.311.20.2.3", Value: "alice@example.com"}, {OID: "1.2.3", Value: "020107"}}
	if !reflect.DeepEqual(r.OtherNames, wantOthers) {
		t.Errorf("other names %+v, want %+v", r.OtherNames, wantOthers)
	}
	wantUnsupported := []string{
		"the subject's attribute 0.9.2342.19200300.100.1.25 is not a string",
		"the subject has 2 common names",
		"directoryName subject alternative names are not permitted",
		"registeredID subject alternative names are not permitted",
	}
	if !slices.Equal(r.Unsupported, wantUnsupported) {
		t.Errorf("unsupported:\n got %q\nwant %q", r.Unsupported, wantUnsupported)
	}

	// Every policy refuses them, even one that allows everything else.
	p := mustCompile(t, "p", `{allowed: {commonName: {value: "*"}, dnsNames: {values: ["*"]},
		otherNames: [{oid: "1.3.6.1.4.1.311.20.2.3", values: ["*"]}, {oid: "1.2.3", values: ["*"]}]}, selector: {issuerRef: {}}}`)
	if vs := p.Evaluate(r); len(vs) != len(wantUnsupported) {
		t.Errorf("violations %q", texts(vs))
	}
}

func TestParseSANs(t *testing.T) {
	upn := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	tests := []struct {
		name        string
		der         []byte
		others      []Attribute
		unsupported []string
	}{
		{"empty", sanDER(t), nil, nil},
		{"DNS, email, URI, IP only", sanDER(t,
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte("a@b")},
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("b")},
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("https://c")},
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: []byte{10, 0, 0, 1}},
		), nil, nil},
		{"printable otherName", sanDER(t, otherName(t, upn, asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("x")})),
			[]Attribute{{OID: "1.3.6.1.4.1.311.20.2.3", Value: "x"}}, nil},
		{"x400 and ediParty", sanDER(t,
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 3, IsCompound: true},
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 5, IsCompound: true},
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 9},
		), nil, []string{
			"x400Address subject alternative names are not permitted",
			"ediPartyName subject alternative names are not permitted",
			"[9] subject alternative names are not permitted",
		}},
		{"not DER", []byte{0xff}, nil, []string{"the subject alternative name extension cannot be decoded"}},
		{"trailing bytes", append(sanDER(t), 0), nil, []string{"the subject alternative name extension cannot be decoded"}},
		{"a SET", []byte{0x31, 0x00}, nil, []string{"the subject alternative name extension cannot be decoded"}},
		{"universal entry", sanDER(t, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("x")}), nil,
			[]string{"the subject alternative name extension cannot be decoded"}},
		{"otherName without value", sanDER(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{0x06, 0x01, 0x2a}}),
			nil, []string{"the subject alternative name extension cannot be decoded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			others, unsupported := parseSANs(tt.der)
			if !reflect.DeepEqual(others, tt.others) || !slices.Equal(unsupported, tt.unsupported) {
				t.Errorf("got %+v %q, want %+v %q", others, unsupported, tt.others, tt.unsupported)
			}
		})
	}
}

// FuzzParseSANs: any extension value, from an untrusted CSR, gives an
// answer without panicking, and an otherName always has an OID.
func FuzzParseSANs(f *testing.F) {
	upn := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	f.Add(sanDER(f, otherName(f, upn, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("alice@example.com")})))
	f.Add(sanDER(f, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("example.com")}))
	f.Add(sanDER(f, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true}))
	f.Add([]byte{0x30, 0x03, 0xa0, 0x01, 0x06})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		others, unsupported := parseSANs(der)
		for _, o := range others {
			if o.OID == "" {
				t.Fatalf("otherName without OID from %x", der)
			}
		}
		_ = unsupported
	})
}
