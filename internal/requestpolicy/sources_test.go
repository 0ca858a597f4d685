package requestpolicy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

func TestSignerIssuerRef(t *testing.T) {
	for _, tt := range []struct {
		signer string
		want   IssuerRef
		ns     string
	}{
		{"issuers.cert-manager.io/team.ca", IssuerRef{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, "team"},
		{"clusterissuers.cert-manager.io/root", IssuerRef{Name: "root", Kind: "ClusterIssuer", Group: "cert-manager.io"}, ""},
		{"kubernetes.io/kube-apiserver-client", IssuerRef{Name: "kubernetes.io/kube-apiserver-client", Kind: "Signer", Group: "certificates.k8s.io"}, ""},
		{"certplane.io/spiffe", IssuerRef{Name: "certplane.io/spiffe", Kind: "Signer", Group: "certificates.k8s.io"}, ""},
		{"issuers.cert-manager.io/no-dot", IssuerRef{Name: "issuers.cert-manager.io/no-dot", Kind: "Signer", Group: "certificates.k8s.io"}, ""},
	} {
		got, ns := SignerIssuerRef(tt.signer)
		if got != tt.want || ns != tt.ns {
			t.Errorf("SignerIssuerRef(%q) = %+v, %q; want %+v, %q", tt.signer, got, ns, tt.want, tt.ns)
		}
	}
}

func FuzzSignerIssuerRef(f *testing.F) {
	for _, s := range []string{"issuers.cert-manager.io/a.b", "clusterissuers.cert-manager.io/x", "kubernetes.io/x", "", "/", "issuers.cert-manager.io/."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, signer string) {
		ref, ns := SignerIssuerRef(signer)
		if ref.Kind == "Signer" && (ref.Name != signer || ns != "") {
			t.Fatalf("%q: %+v %q", signer, ref, ns)
		}
		if ref.Kind == "Issuer" && !strings.HasSuffix(signer, ns+"."+ref.Name) {
			t.Fatalf("%q: %+v %q", signer, ref, ns)
		}
	})
}

func TestFromTemplate(t *testing.T) {
	u, _ := url.Parse("spiffe://cluster.local/ns/team/sa/web")
	tmpl := &pki.Template{
		Subject:  pkix.Name{CommonName: "web", Organization: []string{"example"}},
		DNSNames: []string{"web.team.svc"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}, URIs: []*url.URL{u},
		Usages: []pki.Usage{"server auth"}, IsCA: false, Duration: 24 * time.Hour,
	}
	for _, tt := range []struct {
		key      pki.KeySpec
		alg      string
		size     int
		refGroup string
	}{
		{pki.KeySpec{}, "ECDSA", 256, "cert-manager.io"},
		{pki.KeySpec{Algorithm: pki.RSA}, "RSA", 2048, "cert-manager.io"},
		{pki.KeySpec{Algorithm: pki.RSA, Size: 4096}, "RSA", 4096, "cert-manager.io"},
		{pki.KeySpec{Algorithm: pki.Ed25519}, "Ed25519", 256, "cert-manager.io"},
	} {
		r := FromTemplate("team", "web", IssuerRefOf(cmv1.ObjectReference{Name: "ca"}), tmpl, tt.key)
		want := Request{
			Namespace: "team", Name: "web", IssuerRef: IssuerRef{Name: "ca", Kind: "Issuer", Group: tt.refGroup},
			CommonName: "web", Organizations: []string{"example"}, DNSNames: []string{"web.team.svc"}, IPAddresses: []string{"10.0.0.1"},
			URIs: []string{"spiffe://cluster.local/ns/team/sa/web"}, Usages: []string{"server auth"}, Duration: 24 * time.Hour,
			KeyAlgorithm: tt.alg, KeySize: tt.size,
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("FromTemplate with %+v:\n got %+v\nwant %+v", tt.key, r, want)
		}
	}
}

func TestFromCertificateRequest(t *testing.T) {
	csr := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.team.svc"}, DNSNames: []string{"a.team.svc"}}
	cr := &cmv1.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "a-1"},
		Spec: cmv1.CertificateRequestSpec{
			IssuerRef: cmv1.ObjectReference{Name: "root", Kind: "ClusterIssuer"}, IsCA: true,
			Usages: []cmv1.KeyUsage{"cert sign"}, Duration: &metav1.Duration{Duration: time.Hour},
		},
	}
	r := FromCertificateRequest(cr, csr)
	if r.Namespace != "team" || r.Name != "a-1" || r.IssuerRef != (IssuerRef{Name: "root", Kind: "ClusterIssuer", Group: "cert-manager.io"}) ||
		!r.IsCA || !reflect.DeepEqual(r.Usages, []string{"cert sign"}) || r.Duration != time.Hour || r.CommonName != "a.team.svc" {
		t.Errorf("FromCertificateRequest = %+v", r)
	}
}
