package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// OtherName is an otherName subject alternative name whose value is a
// UTF8String, such as a Microsoft UPN (OID 1.3.6.1.4.1.311.20.2.3).
type OtherName struct {
	OID       string
	UTF8Value string
}

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// SANExtension encodes a subject alternative name extension holding every
// kind of name given, otherNames included, which crypto/x509 cannot write by
// itself. Put it in Template.ExtraExtensions.
func SANExtension(dns, emails []string, ips []net.IP, uris []*url.URL, others []OtherName) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, o := range others {
		oid, err := parseOID(o.OID)
		if err != nil {
			return pkix.Extension{}, err
		}
		value, err := asn1.MarshalWithParams(o.UTF8Value, "utf8")
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("pki: encoding otherName %s: %w", o.OID, err)
		}
		inner, err := asn1.Marshal(struct {
			TypeID asn1.ObjectIdentifier
			Value  asn1.RawValue // [0] EXPLICIT UTF8String
		}{oid, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: value}})
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("pki: encoding otherName %s: %w", o.OID, err)
		}
		// The SEQUENCE's contents, retagged as [0] IMPLICIT.
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(inner, &seq); err != nil {
			return pkix.Extension{}, fmt.Errorf("pki: encoding otherName %s: %w", o.OID, err)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: seq.Bytes})
	}
	for _, e := range emails {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(e)})
	}
	for _, d := range dns {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u.String())})
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip})
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("pki: encoding subject alternative names: %w", err)
	}
	return pkix.Extension{Id: oidSubjectAltName, Value: der}, nil
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("pki: %q is not a dotted object identifier", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("pki: %q is not a dotted object identifier", s)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("pki: %q is not a valid object identifier", s)
	}
	return oid, nil
}

// Attribute types of RFC 4514 strings, by their short names.
var dnAttributes = map[string]asn1.ObjectIdentifier{
	"CN":           {2, 5, 4, 3},
	"SERIALNUMBER": {2, 5, 4, 5},
	"C":            {2, 5, 4, 6},
	"L":            {2, 5, 4, 7},
	"ST":           {2, 5, 4, 8},
	"STREET":       {2, 5, 4, 9},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"POSTALCODE":   {2, 5, 4, 17},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

// ParseDN reads a distinguished name written as RFC 4514 says, such as
// "CN=app,OU=web+OU=api,O=Example\, Inc.,C=DE", keeping its attributes in
// the order the string gives (most significant last). Attribute types are the
// short names of RFC 4514 and 4519 or dotted OIDs; hex-encoded (#) values are
// refused.
func ParseDN(s string) (pkix.Name, error) {
	var atvs []pkix.AttributeTypeAndValue
	rest := strings.TrimSpace(s)
	if rest == "" {
		return pkix.Name{}, fmt.Errorf("pki: empty distinguished name")
	}
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return pkix.Name{}, fmt.Errorf("pki: %q: expected type=value", rest)
		}
		typ := strings.TrimSpace(rest[:eq])
		oid, ok := dnAttributes[strings.ToUpper(typ)]
		if !ok {
			var err error
			if oid, err = parseOID(typ); err != nil {
				return pkix.Name{}, fmt.Errorf("pki: unknown attribute type %q", typ)
			}
		}
		value, n, err := dnValue(rest[eq+1:])
		if err != nil {
			return pkix.Name{}, err
		}
		atvs = append(atvs, pkix.AttributeTypeAndValue{Type: oid, Value: value})
		rest = rest[eq+1+n:]
		if rest != "" {
			rest = strings.TrimSpace(rest[1:]) // the ',' or '+'
			if rest == "" {
				return pkix.Name{}, fmt.Errorf("pki: distinguished name ends with a separator")
			}
		}
	}
	// RFC 4514 writes the most significant RDN last; a Name lists it first.
	name := pkix.Name{}
	for i := len(atvs) - 1; i >= 0; i-- {
		name.ExtraNames = append(name.ExtraNames, atvs[i])
	}
	return name, nil
}

// dnValue reads one attribute value up to an unescaped ',' or '+' and
// reports how many bytes of s it used, separator excluded.
func dnValue(s string) (string, int, error) {
	if strings.HasPrefix(s, "#") {
		return "", 0, fmt.Errorf("pki: hex-encoded attribute values are not supported")
	}
	var b strings.Builder
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == ',' || c == '+' {
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", 0, fmt.Errorf("pki: distinguished name ends with an escape")
		}
		next := s[i+1]
		if strings.IndexByte(` "#+,;<=>\`, next) >= 0 {
			b.WriteByte(next)
			i++
			continue
		}
		if i+2 >= len(s) {
			return "", 0, fmt.Errorf("pki: bad escape in distinguished name")
		}
		h, err := hex.DecodeString(s[i+1 : i+3])
		if err != nil {
			return "", 0, fmt.Errorf("pki: bad escape %q in distinguished name", s[i:i+3])
		}
		b.Write(h)
		i += 2
	}
	v := strings.TrimSpace(b.String())
	if v == "" {
		return "", 0, fmt.Errorf("pki: empty attribute value")
	}
	return v, i, nil
}
