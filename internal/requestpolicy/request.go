package requestpolicy

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// DefaultDuration is the validity a request without a duration gets:
// cert-manager's default, 90 days. The duration constraints check it in
// place of a missing duration, where approver-policy refuses a request that
// names none whenever a duration constraint is set.
const DefaultDuration = 2160 * time.Hour

// IssuerRef names the issuer a request is for. For a cert-manager
// CertificateRequest it is spec.issuerRef; an empty Kind is Issuer and an
// empty Group cert-manager.io, as cert-manager defaults them. For a
// certificates.k8s.io CertificateSigningRequest or a PodCertificateRequest
// the caller maps the signer name to the issuer it stands for (for
// "clusterissuers.cert-manager.io/ca" Kind ClusterIssuer, Group
// cert-manager.io, Name ca; for a signer that names no issuer, Group and
// Kind chosen by the caller and Name the signer name), so that policies
// select them by issuerRef.
type IssuerRef struct {
	Name, Kind, Group string
}

// Attribute is a value identified by an OID: an otherName subject
// alternative name, or a subject attribute without a field of its own.
type Attribute struct {
	// OID is the dotted object identifier, such as 1.2.840.113549.1.9.1.
	OID string
	// Value is the text of a string value; any other ASN.1 value is its
	// DER in lower-case hex.
	Value string
}

// Request is everything a policy decides on, from whichever API the
// request came through. Zero fields are absent from the request.
type Request struct {
	// Namespace and Name are those of the requesting object; a validation
	// rule sees them as cr.namespace and cr.name. Namespace is empty for a
	// cluster-scoped object.
	Namespace, Name string
	// NamespaceLabels are the labels of Namespace, for the selectors'
	// matchLabels. NeedNamespaceLabels says whether any policy reads them.
	NamespaceLabels map[string]string
	// IssuerRef is the issuer the request is for.
	IssuerRef IssuerRef

	CommonName     string
	DNSNames       []string
	IPAddresses    []string
	URIs           []string
	EmailAddresses []string
	// OtherNames are the otherName subject alternative names.
	OtherNames []Attribute

	// IsCA asks for a CA certificate.
	IsCA bool
	// Usages are the usages the request names (spec.usages), by
	// cert-manager's names such as "digital signature" or "server auth".
	// Empty leaves them to the issuer, and is not checked, as
	// approver-policy does not.
	Usages []string

	Organizations       []string
	Countries           []string
	OrganizationalUnits []string
	Localities          []string
	Provinces           []string
	StreetAddresses     []string
	PostalCodes         []string
	SerialNumber        string
	// OtherAttributes are the subject attributes other than the common
	// name, serial number and the seven above.
	OtherAttributes []Attribute

	// Unsupported lists what FromCSR found that no policy can allow: a
	// repeated common name or serial number, a subject value that is not
	// a string, a subject alternative name of a type without a policy
	// field (directoryName, x400Address, ediPartyName, registeredID), a
	// second or undecodable subject alternative name extension. Every
	// policy reports each as a violation.
	Unsupported []string

	// Duration is the validity asked for; zero means DefaultDuration.
	Duration time.Duration
	// KeyAlgorithm is "RSA", "ECDSA" or "Ed25519", and KeySize the RSA
	// modulus or ECDSA curve size in bits (256 for Ed25519). Empty and
	// zero when unknown: a key constraint then refuses the request.
	KeyAlgorithm string
	KeySize      int
}

// The subject attribute types with fields of their own.
var (
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerialNumber       = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidLocality           = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidProvince           = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidStreetAddress      = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidPostalCode         = asn1.ObjectIdentifier{2, 5, 4, 17}

	namedSubjectOIDs = []asn1.ObjectIdentifier{
		oidCommonName, oidSerialNumber, oidCountry, oidLocality, oidProvince,
		oidStreetAddress, oidOrganization, oidOrganizationalUnit, oidPostalCode,
	}

	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

func namedSubjectOID(oid asn1.ObjectIdentifier) bool {
	for _, n := range namedSubjectOIDs {
		if n.Equal(oid) {
			return true
		}
	}
	return false
}

// FromCSR fills a Request's names, subject and key from a parsed PKCS#10
// request. What the CSR does not say (namespace, name, issuer, isCA, usages,
// duration) is left for the caller.
//
// It reads everything an issuer copying the CSR verbatim would put in the
// certificate, so that nothing passes unchecked: every subject attribute,
// and the otherName entries and unsupported name types of the subject
// alternative name extension that crypto/x509 skips.
func FromCSR(csr *x509.CertificateRequest) Request {
	r := Request{
		CommonName:          csr.Subject.CommonName,
		DNSNames:            csr.DNSNames,
		EmailAddresses:      csr.EmailAddresses,
		Organizations:       csr.Subject.Organization,
		Countries:           csr.Subject.Country,
		OrganizationalUnits: csr.Subject.OrganizationalUnit,
		Localities:          csr.Subject.Locality,
		Provinces:           csr.Subject.Province,
		StreetAddresses:     csr.Subject.StreetAddress,
		PostalCodes:         csr.Subject.PostalCode,
		SerialNumber:        csr.Subject.SerialNumber,
	}
	for _, ip := range csr.IPAddresses {
		r.IPAddresses = append(r.IPAddresses, ip.String())
	}
	for _, u := range csr.URIs {
		r.URIs = append(r.URIs, u.String())
	}

	var commonNames, serialNumbers int
	for _, atv := range csr.Subject.Names {
		s, isString := atv.Value.(string)
		switch {
		case atv.Type.Equal(oidCommonName):
			commonNames++
		case atv.Type.Equal(oidSerialNumber):
			serialNumbers++
		}
		if !isString {
			r.Unsupported = append(r.Unsupported, fmt.Sprintf("the subject's attribute %s is not a string", atv.Type))
			continue
		}
		if !namedSubjectOID(atv.Type) {
			r.OtherAttributes = append(r.OtherAttributes, Attribute{OID: atv.Type.String(), Value: s})
		}
	}
	if commonNames > 1 {
		r.Unsupported = append(r.Unsupported, fmt.Sprintf("the subject has %d common names", commonNames))
	}
	if serialNumbers > 1 {
		r.Unsupported = append(r.Unsupported, fmt.Sprintf("the subject has %d serial numbers", serialNumbers))
	}

	sans := 0
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		if sans++; sans > 1 {
			r.Unsupported = append(r.Unsupported, "the request has more than one subject alternative name extension")
			break
		}
		others, unsupported := parseSANs(ext.Value)
		r.OtherNames = append(r.OtherNames, others...)
		r.Unsupported = append(r.Unsupported, unsupported...)
	}

	switch alg, bits := pki.KeyDescription(csr.PublicKey); alg {
	case "RSA", "ECDSA", "Ed25519":
		r.KeyAlgorithm, r.KeySize = alg, bits
	}
	return r
}

// The GeneralName tags (RFC 5280 section 4.2.1.6) crypto/x509 reads, and
// the names of those it skips.
const (
	tagOtherName = 0
	tagRFC822    = 1
	tagDNS       = 2
	tagURI       = 6
	tagIP        = 7
)

var skippedNameTypes = map[int]string{
	3: "x400Address",
	4: "directoryName",
	5: "ediPartyName",
	8: "registeredID",
}

// parseSANs reads a subject alternative name extension's value for what
// crypto/x509 skips: it returns the otherName entries, and a sentence for
// each entry of another type no policy can allow, or for an extension it
// cannot decode.
func parseSANs(der []byte) (others []Attribute, unsupported []string) {
	const undecodable = "the subject alternative name extension cannot be decoded"
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 ||
		seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil, []string{undecodable}
	}
	for rest := seq.Bytes; len(rest) > 0; {
		var name asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &name); err != nil || name.Class != asn1.ClassContextSpecific {
			return others, append(unsupported, undecodable)
		}
		switch name.Tag {
		case tagRFC822, tagDNS, tagURI, tagIP:
			// crypto/x509 has read these.
		case tagOtherName:
			a, ok := parseOtherName(name.Bytes)
			if !ok {
				return others, append(unsupported, undecodable)
			}
			others = append(others, a)
		default:
			typ, ok := skippedNameTypes[name.Tag]
			if !ok {
				typ = fmt.Sprintf("[%d]", name.Tag)
			}
			unsupported = append(unsupported, typ+" subject alternative names are not permitted")
		}
	}
	return others, unsupported
}

// parseOtherName reads the contents of an otherName: its OID and its [0]
// EXPLICIT value.
func parseOtherName(b []byte) (Attribute, bool) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(b, &oid)
	if err != nil {
		return Attribute{}, false
	}
	var wrapped asn1.RawValue
	if rest, err = asn1.Unmarshal(rest, &wrapped); err != nil || len(rest) > 0 ||
		wrapped.Class != asn1.ClassContextSpecific || wrapped.Tag != 0 || !wrapped.IsCompound {
		return Attribute{}, false
	}
	var v asn1.RawValue
	if rest, err = asn1.Unmarshal(wrapped.Bytes, &v); err != nil || len(rest) > 0 {
		return Attribute{}, false
	}
	a := Attribute{OID: oid.String(), Value: hex.EncodeToString(v.FullBytes)}
	if v.Class == asn1.ClassUniversal {
		switch v.Tag {
		case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String:
			a.Value = string(v.Bytes)
		}
	}
	return a, true
}
