package requestpolicy

import (
	"crypto/x509"
	"strings"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// FromCertificateRequest is the Request of a cert-manager.io
// CertificateRequest: its CSR, and its namespace, name, issuerRef, isCA,
// usages and duration.
func FromCertificateRequest(cr *cmv1.CertificateRequest, csr *x509.CertificateRequest) Request {
	r := FromCSR(csr)
	r.Namespace, r.Name = cr.Namespace, cr.Name
	r.IssuerRef = IssuerRefOf(cr.Spec.IssuerRef)
	r.IsCA = cr.Spec.IsCA
	for _, u := range cr.Spec.Usages {
		r.Usages = append(r.Usages, string(u))
	}
	if cr.Spec.Duration != nil {
		r.Duration = cr.Spec.Duration.Duration
	}
	return r
}

// FromTemplate is the Request of a Certificate that certplane issues in
// process, without a CertificateRequest: what its CertificateRequest would
// ask for, from the template and key the spec makes.
func FromTemplate(namespace, name string, ref IssuerRef, t *pki.Template, key pki.KeySpec) Request {
	r := Request{
		Namespace: namespace, Name: name, IssuerRef: ref,
		CommonName:          t.Subject.CommonName,
		DNSNames:            t.DNSNames,
		EmailAddresses:      t.EmailAddresses,
		Organizations:       t.Subject.Organization,
		Countries:           t.Subject.Country,
		OrganizationalUnits: t.Subject.OrganizationalUnit,
		Localities:          t.Subject.Locality,
		Provinces:           t.Subject.Province,
		StreetAddresses:     t.Subject.StreetAddress,
		PostalCodes:         t.Subject.PostalCode,
		SerialNumber:        t.Subject.SerialNumber,
		IsCA:                t.IsCA,
		Duration:            t.Duration,
	}
	for _, ip := range t.IPAddresses {
		r.IPAddresses = append(r.IPAddresses, ip.String())
	}
	for _, u := range t.URIs {
		r.URIs = append(r.URIs, u.String())
	}
	for _, u := range t.Usages {
		r.Usages = append(r.Usages, string(u))
	}
	// pkg/pki's defaults: ECDSA, RSA 2048, ECDSA P-256.
	switch key.Algorithm {
	case pki.RSA:
		r.KeyAlgorithm, r.KeySize = "RSA", orDefault(key.Size, 2048)
	case pki.ECDSA, "":
		r.KeyAlgorithm, r.KeySize = "ECDSA", orDefault(key.Size, 256)
	case pki.Ed25519:
		r.KeyAlgorithm, r.KeySize = "Ed25519", 256
	}
	return r
}

// IssuerRefOf is a cert-manager issuerRef with cert-manager's defaults.
func IssuerRefOf(ref cmv1.ObjectReference) IssuerRef {
	out := IssuerRef{Name: ref.Name, Kind: ref.Kind, Group: ref.Group}
	if out.Kind == "" {
		out.Kind = "Issuer"
	}
	if out.Group == "" {
		out.Group = "cert-manager.io"
	}
	return out
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// SignerIssuerRef is the issuer a certificates.k8s.io signer name stands
// for, and the namespace of a namespaced one, so that policies select
// CertificateSigningRequests and PodCertificateRequests by issuerRef:
// issuers.cert-manager.io/<namespace>.<name> is that Issuer,
// clusterissuers.cert-manager.io/<name> that ClusterIssuer, and any other
// signer (kubernetes.io/kube-apiserver-client, certplane.io/spiffe) is
// {group: certificates.k8s.io, kind: Signer, name: <signer name>}.
func SignerIssuerRef(signerName string) (IssuerRef, string) {
	domain, rest, _ := strings.Cut(signerName, "/")
	switch domain {
	case "issuers.cert-manager.io":
		if ns, name, ok := strings.Cut(rest, "."); ok {
			return IssuerRef{Name: name, Kind: "Issuer", Group: "cert-manager.io"}, ns
		}
	case "clusterissuers.cert-manager.io":
		return IssuerRef{Name: rest, Kind: "ClusterIssuer", Group: "cert-manager.io"}, ""
	}
	return IssuerRef{Name: signerName, Kind: "Signer", Group: "certificates.k8s.io"}, ""
}
