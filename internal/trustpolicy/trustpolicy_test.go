package trustpolicy_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/certplane/certplane/internal/trustpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

const signer = "certplane.io/spiffe"

func TestNamePrefix(t *testing.T) {
	tests := []struct{ signer, want string }{
		{"certplane.io/spiffe", "certplane.io:spiffe:"},
		{"kubernetes.io/kube-apiserver-client", "kubernetes.io:kube-apiserver-client:"},
		{"issuers.cert-manager.io/team-a.ca", "issuers.cert-manager.io:team-a.ca:"},
		{"clusterissuers.cert-manager.io/root", "clusterissuers.cert-manager.io:root:"},
	}
	for _, tt := range tests {
		if got := trustpolicy.NamePrefix(tt.signer); got != tt.want {
			t.Errorf("NamePrefix(%q) = %q, want %q", tt.signer, got, tt.want)
		}
	}
}

var hashSuffix = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestBundle(t *testing.T) {
	a, b := pkitest.CA(t, "ca a"), pkitest.CA(t, "ca b")
	leaf, _ := pkitest.Leaf(t, a, "leaf", []pki.Usage{pki.UsageServerAuth})
	noConstraints := *a.Certificate
	noConstraints.BasicConstraintsValid = false

	ab, err := trustpolicy.Bundle(signer, []*x509.Certificate{a.Certificate, b.Certificate})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		signer  string
		cas     []*x509.Certificate
		want    []*x509.Certificate // the certificates in the bundle, in order
		sameAs  string              // the name this bundle must have, if set
		otherTo string              // a name this bundle must not have, if set
		wantErr error
		errHas  string
	}{
		{name: "one CA", signer: signer, cas: []*x509.Certificate{a.Certificate}, want: []*x509.Certificate{a.Certificate}, otherTo: ab.Name},
		{name: "two CAs", signer: signer, cas: []*x509.Certificate{a.Certificate, b.Certificate}, want: sorted(a.Certificate, b.Certificate), sameAs: ab.Name},
		{name: "order does not matter", signer: signer, cas: []*x509.Certificate{b.Certificate, a.Certificate}, want: sorted(a.Certificate, b.Certificate), sameAs: ab.Name},
		{name: "duplicates once", signer: signer, cas: []*x509.Certificate{b.Certificate, a.Certificate, b.Certificate, a.Certificate}, want: sorted(a.Certificate, b.Certificate), sameAs: ab.Name},
		{name: "kubernetes.io signer", signer: "kubernetes.io/kubelet-serving", cas: []*x509.Certificate{a.Certificate}, want: []*x509.Certificate{a.Certificate}},
		{name: "issuer signer", signer: "issuers.cert-manager.io/team-a.my-ca", cas: []*x509.Certificate{a.Certificate}, want: []*x509.Certificate{a.Certificate}},
		{name: "leaf refused", signer: signer, cas: []*x509.Certificate{a.Certificate, leaf}, wantErr: trustpolicy.ErrNotCA, errHas: `"CN=leaf"`},
		{name: "invalid basic constraints refused", signer: signer, cas: []*x509.Certificate{&noConstraints}, wantErr: trustpolicy.ErrNotCA, errHas: `"CN=ca a"`},
		{name: "no CA", signer: signer, wantErr: trustpolicy.ErrNoCA, errHas: signer},
		{name: "nil CA", signer: signer, cas: []*x509.Certificate{nil}, wantErr: trustpolicy.ErrNoCA},
		{name: "empty signer", signer: "", cas: []*x509.Certificate{a.Certificate}, wantErr: trustpolicy.ErrSignerName},
		{name: "signer without path", signer: "certplane.io", cas: []*x509.Certificate{a.Certificate}, wantErr: trustpolicy.ErrSignerName},
		{name: "signer with two slashes", signer: "certplane.io/a/b", cas: []*x509.Certificate{a.Certificate}, wantErr: trustpolicy.ErrSignerName},
		{name: "signer without domain", signer: "/spiffe", cas: []*x509.Certificate{a.Certificate}, wantErr: trustpolicy.ErrSignerName},
		{name: "signer with a colon", signer: "certplane.io:x/spiffe", cas: []*x509.Certificate{a.Certificate}, wantErr: trustpolicy.ErrSignerName, errHas: "certplane.io:x/spiffe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := trustpolicy.Bundle(tt.signer, tt.cas)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want %v naming %q", err, tt.wantErr, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			prefix := trustpolicy.NamePrefix(tt.signer)
			suffix, ok := strings.CutPrefix(got.Name, prefix)
			if !ok || !hashSuffix.MatchString(suffix) {
				t.Errorf("name %q, want %q and 24 hex characters", got.Name, prefix)
			}
			// The apiserver checks the part after the prefix as a DNS subdomain.
			if errs := validation.IsDNS1123Subdomain(suffix); len(errs) > 0 {
				t.Errorf("name suffix %q: %v", suffix, errs)
			}
			if tt.sameAs != "" && got.Name != tt.sameAs {
				t.Errorf("name %q, want %q", got.Name, tt.sameAs)
			}
			if tt.otherTo != "" && got.Name == tt.otherTo {
				t.Errorf("name %q is that of other content", got.Name)
			}
			if got.Spec.SignerName != tt.signer {
				t.Errorf("signerName %q, want %q", got.Spec.SignerName, tt.signer)
			}
			if got.Labels[trustpolicy.LabelManagedBy] != trustpolicy.ManagedBy || !trustpolicy.Managed(got) {
				t.Errorf("labels %v, want %s=%s", got.Labels, trustpolicy.LabelManagedBy, trustpolicy.ManagedBy)
			}
			if got.APIVersion != "certificates.k8s.io/v1" || got.Kind != "ClusterTrustBundle" {
				t.Errorf("type %s %s", got.APIVersion, got.Kind)
			}
			if want := string(pki.EncodeCertificatesPEM(tt.want...)); got.Spec.TrustBundle != want {
				t.Errorf("trustBundle\n%s\nwant\n%s", got.Spec.TrustBundle, want)
			}
			if _, err := trustpolicy.ParseBundle(got.Spec.TrustBundle); err != nil {
				t.Errorf("the apiserver's rules refuse the bundle: %v", err)
			}
		})
	}
}

// sorted orders certificates as a bundle holds them: by DER bytes.
func sorted(certs ...*x509.Certificate) []*x509.Certificate {
	out := slices.Clone(certs)
	slices.SortFunc(out, func(a, b *x509.Certificate) int { return bytes.Compare(a.Raw, b.Raw) })
	return out
}

// TestBundleTooLarge: a bundle over the apiserver's 1 MiB is refused here
// rather than by the apiserver.
func TestBundleTooLarge(t *testing.T) {
	key := pkitest.Key(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "huge"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: make([]byte, trustpolicy.MaxTrustBundleSize)}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	huge, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trustpolicy.Bundle(signer, []*x509.Certificate{huge}); !errors.Is(err, trustpolicy.ErrBundle) {
		t.Errorf("error %v, want ErrBundle", err)
	}
}

func TestParseBundle(t *testing.T) {
	a, b := pkitest.CA(t, "ca a"), pkitest.CA(t, "ca b")
	leaf, _ := pkitest.Leaf(t, a, "leaf", []pki.Usage{pki.UsageServerAuth})
	pemA, pemB := string(pki.EncodeCertificatesPEM(a.Certificate)), string(pki.EncodeCertificatesPEM(b.Certificate))
	withHeader := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Note": "x"}, Bytes: a.Certificate.Raw}))
	garbageDER := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}))

	tests := []struct {
		name    string
		in      string
		want    int
		wantErr error
		errHas  string
	}{
		{name: "one", in: pemA, want: 1},
		{name: "two with text between", in: "# a\n" + pemA + "some text\n" + pemB + "trailing", want: 2},
		{name: "empty", in: "", wantErr: trustpolicy.ErrBundle, errHas: "no certificate"},
		{name: "text only", in: "hello", wantErr: trustpolicy.ErrBundle, errHas: "no certificate"},
		{name: "duplicate", in: pemA + pemB + pemA, wantErr: trustpolicy.ErrBundle, errHas: "block 3 repeats block 1"},
		{name: "leaf", in: pemA + string(pki.EncodeCertificatesPEM(leaf)), wantErr: trustpolicy.ErrNotCA, errHas: "block 2"},
		{name: "other block type", in: pemA + key, wantErr: trustpolicy.ErrBundle, errHas: `block 2 is a "PUBLIC KEY"`},
		{name: "headers", in: withHeader, wantErr: trustpolicy.ErrBundle, errHas: "block 1 has PEM headers"},
		{name: "not DER", in: garbageDER, wantErr: trustpolicy.ErrBundle, errHas: "block 1"},
		{name: "too large", in: strings.Repeat(" ", trustpolicy.MaxTrustBundleSize+1), wantErr: trustpolicy.ErrBundle, errHas: "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := trustpolicy.ParseBundle(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want %v with %q", err, tt.wantErr, tt.errHas)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("%d certificates, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func ctb(name, signerName, bundle string, managed bool) certv1.ClusterTrustBundle {
	b := certv1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "7", Labels: map[string]string{"team": "x"}},
		Spec:       certv1.ClusterTrustBundleSpec{SignerName: signerName, TrustBundle: bundle},
	}
	if managed {
		b.Labels[trustpolicy.LabelManagedBy] = trustpolicy.ManagedBy
	}
	return b
}

func TestPlan(t *testing.T) {
	a, b := pkitest.CA(t, "ca a"), pkitest.CA(t, "ca b")
	wantA, err := trustpolicy.Bundle(signer, []*x509.Certificate{a.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	wantB, err := trustpolicy.Bundle(signer, []*x509.Certificate{b.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	const other = "issuers.cert-manager.io/ns.ca"
	current := ctb(wantA.Name, signer, wantA.Spec.TrustBundle, true)
	old := ctb(wantB.Name, signer, wantB.Spec.TrustBundle, true)
	handMade := ctb("certplane.io:spiffe:by-hand", signer, wantB.Spec.TrustBundle, false)
	otherSigners := ctb("issuers.cert-manager.io:ns.ca:abc", other, wantB.Spec.TrustBundle, true)
	tampered := ctb(wantA.Name, signer, wantB.Spec.TrustBundle, true)
	unlabelled := ctb(wantA.Name, signer, wantA.Spec.TrustBundle, false)

	tests := []struct {
		name       string
		want       *certv1.ClusterTrustBundle
		existing   []certv1.ClusterTrustBundle
		create     bool
		update     *certv1.ClusterTrustBundle // the existing bundle updated
		delete     []string
		wantNoOp   bool
		updateKeep string // a label the update must keep
	}{
		{name: "first publish", want: wantA, create: true},
		{name: "already published", want: wantA, existing: []certv1.ClusterTrustBundle{current, otherSigners, handMade}, wantNoOp: true},
		{name: "rotated: create the new, delete the old", want: wantA, existing: []certv1.ClusterTrustBundle{old}, create: true, delete: []string{old.Name}},
		{name: "rotated back", want: wantB, existing: []certv1.ClusterTrustBundle{current, old}, delete: []string{current.Name}},
		{name: "others' bundles of the signer stay", want: wantA, existing: []certv1.ClusterTrustBundle{handMade}, create: true},
		{name: "other signers' bundles stay", want: wantA, existing: []certv1.ClusterTrustBundle{otherSigners, old}, create: true, delete: []string{old.Name}},
		{name: "content under our name rewritten", want: wantA, existing: []certv1.ClusterTrustBundle{tampered}, update: &tampered, updateKeep: "team"},
		{name: "our name without our label adopted", want: wantA, existing: []certv1.ClusterTrustBundle{unlabelled}, update: &unlabelled, updateKeep: "team"},
		{name: "remove", want: nil, existing: []certv1.ClusterTrustBundle{current, old, handMade, otherSigners}, delete: []string{current.Name, old.Name}},
		{name: "remove nothing", want: nil, existing: []certv1.ClusterTrustBundle{handMade, otherSigners}, wantNoOp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trustpolicy.Plan(signer, tt.want, tt.existing)
			if got.Empty() != tt.wantNoOp {
				t.Errorf("Empty() = %v, want %v (%+v)", got.Empty(), tt.wantNoOp, got)
			}
			if (got.Create != nil) != tt.create {
				t.Errorf("create %v, want %v", got.Create != nil, tt.create)
			}
			if got.Create != nil && (got.Create.Name != tt.want.Name || got.Create.Spec != tt.want.Spec || got.Create == tt.want) {
				t.Errorf("create %+v, want a copy of %+v", got.Create, tt.want)
			}
			switch {
			case tt.update == nil && got.Update != nil:
				t.Errorf("unexpected update of %s", got.Update.Name)
			case tt.update != nil && got.Update == nil:
				t.Errorf("no update of %s", tt.update.Name)
			case tt.update != nil:
				u := got.Update
				if u.Name != tt.update.Name || u.ResourceVersion != tt.update.ResourceVersion || u.Spec.TrustBundle != tt.want.Spec.TrustBundle ||
					!trustpolicy.Managed(u) || u.Labels[tt.updateKeep] == "" {
					t.Errorf("update %+v: want %s at resourceVersion %s with the wanted bundle, certplane's label and label %q kept",
						u.ObjectMeta, tt.update.Name, tt.update.ResourceVersion, tt.updateKeep)
				}
			}
			if want := slices.Sorted(slices.Values(tt.delete)); !slices.Equal(got.Delete, want) {
				t.Errorf("delete %v, want %v", got.Delete, want)
			}
		})
	}
	// Plan does not modify what it is given.
	if tampered.Spec.TrustBundle != wantB.Spec.TrustBundle || trustpolicy.Managed(&unlabelled) {
		t.Error("Plan modified the existing bundles")
	}
}
