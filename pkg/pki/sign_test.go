package pki_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestIssueValidity(t *testing.T) {
	ca := pkitest.CAAt(t, "test-ca", now, 48*time.Hour)
	tests := []struct {
		name          string
		at            time.Time
		duration      time.Duration
		backdate      time.Duration
		wantNotBefore time.Time
		wantNotAfter  time.Time
		wantErr       error
	}{
		{"default backdate", now, time.Hour, 0, now.Add(-5 * time.Minute), now.Add(time.Hour), nil},
		{"custom backdate", now, time.Hour, time.Minute, now.Add(-time.Minute), now.Add(time.Hour), nil},
		{"no backdate", now, time.Hour, -1, now, now.Add(time.Hour), nil},
		{"clamped to CA", now, 72 * time.Hour, 0, now.Add(-5 * time.Minute), ca.Certificate.NotAfter, nil},
		{"default duration clamped", now, 0, 0, now.Add(-5 * time.Minute), ca.Certificate.NotAfter, nil},
		{"CA expired", now.Add(49 * time.Hour), time.Hour, 0, time.Time{}, time.Time{}, pki.ErrCAExpired},
		{"negative duration", now, -time.Hour, 0, time.Time{}, time.Time{}, pki.ErrInvalidTemplate},
		{"CA not yet valid", now.Add(-time.Hour), time.Hour, 0, time.Time{}, time.Time{}, pki.ErrCAExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := ca.Issue(rand.Reader, tt.at, &pki.Template{
				Subject:  pkix.Name{CommonName: "leaf"},
				Usages:   []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth},
				Duration: tt.duration,
				Backdate: tt.backdate,
			}, pkitest.Key(t).Public())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !cert.NotBefore.Equal(tt.wantNotBefore) || !cert.NotAfter.Equal(tt.wantNotAfter) {
				t.Errorf("validity = %s to %s, want %s to %s", cert.NotBefore, cert.NotAfter, tt.wantNotBefore, tt.wantNotAfter)
			}
		})
	}
}

func TestIssueUsages(t *testing.T) {
	ca := pkitest.CA(t, "test-ca")
	tests := []struct {
		usages  []pki.Usage
		wantKU  x509.KeyUsage
		wantEKU []x509.ExtKeyUsage
		wantErr error
	}{
		{
			usages: []pki.Usage{"digital signature", "key encipherment", "server auth"},
			wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			usages: []pki.Usage{"signing", "client auth"},
			wantKU: x509.KeyUsageDigitalSignature, wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			usages: []pki.Usage{"s/mime", "email protection", "code signing", "timestamping", "ocsp signing"},
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageCodeSigning,
				x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageOCSPSigning},
		},
		{usages: []pki.Usage{"digital signature", "serverauth"}, wantErr: pki.ErrUnknownUsage},
	}
	for _, tt := range tests {
		cert, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{Subject: pkix.Name{CommonName: "u"}, Usages: tt.usages}, pkitest.Key(t).Public())
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("%v: error = %v, want %v", tt.usages, err, tt.wantErr)
		}
		if err != nil {
			continue
		}
		if cert.KeyUsage != tt.wantKU || !slices.Equal(cert.ExtKeyUsage, tt.wantEKU) {
			t.Errorf("%v: got %v %v, want %v %v", tt.usages, cert.KeyUsage, cert.ExtKeyUsage, tt.wantKU, tt.wantEKU)
		}
		if cert.IsCA || !cert.BasicConstraintsValid {
			t.Errorf("%v: leaf has IsCA=%v BasicConstraintsValid=%v", tt.usages, cert.IsCA, cert.BasicConstraintsValid)
		}
	}
}

func TestEveryUsageNameMaps(t *testing.T) {
	if n := len(pki.Usages()); n != 23 {
		t.Fatalf("len(Usages()) = %d, want the 23 Kubernetes names", n)
	}
	for _, u := range pki.Usages() {
		ku, eku, err := pki.ParseUsages([]pki.Usage{u})
		if err != nil || (ku == 0 && len(eku) == 0) {
			t.Errorf("ParseUsages(%q) = %v %v %v", u, ku, eku, err)
		}
		names := pki.UsageNames(ku, eku)
		if len(names) != 1 {
			t.Errorf("UsageNames of %q = %v, want one name", u, names)
		}
	}
}

func TestIssueIdentityAndKeyIDs(t *testing.T) {
	ca := pkitest.CA(t, "test-ca")
	key := pkitest.Key(t)
	tmpl := &pki.Template{
		Subject:     pkix.Name{CommonName: "web", Organization: []string{"acme"}},
		DNSNames:    []string{"web.example.com"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		Usages:      []pki.Usage{pki.UsageServerAuth},
	}
	a, err := ca.Issue(rand.Reader, time.Now(), tmpl, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.Issue(rand.Reader, time.Now(), tmpl, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Error("two certificates got the same serial")
	}
	if a.SerialNumber.Sign() <= 0 || a.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive number of at most 128 bits", a.SerialNumber)
	}
	if len(a.SubjectKeyId) != 20 || !bytes.Equal(a.AuthorityKeyId, ca.Certificate.SubjectKeyId) {
		t.Errorf("SKI %x AKI %x, want a 20-byte SKI and the CA's SKI %x as AKI", a.SubjectKeyId, a.AuthorityKeyId, ca.Certificate.SubjectKeyId)
	}
	if a.Subject.CommonName != "web" || !slices.Equal(a.Subject.Organization, []string{"acme"}) ||
		!slices.Equal(a.DNSNames, tmpl.DNSNames) || !a.IPAddresses[0].Equal(tmpl.IPAddresses[0]) {
		t.Errorf("names not carried over: %v %v %v", a.Subject, a.DNSNames, a.IPAddresses)
	}
	if err := a.CheckSignatureFrom(ca.Certificate); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
}

func TestCAPathLenAndNameConstraints(t *testing.T) {
	root := pkitest.CA(t, "root")
	zero := 0
	interKey := pkitest.Key(t)
	interCert, err := root.Issue(rand.Reader, time.Now(), &pki.Template{
		Subject:    pkix.Name{CommonName: "intermediate"},
		IsCA:       true,
		MaxPathLen: &zero,
		NameConstraints: &pki.NameConstraints{
			Critical:            true,
			PermittedDNSDomains: []string{".svc.cluster.local"},
		},
	}, interKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !interCert.IsCA || interCert.MaxPathLen != 0 || !interCert.MaxPathLenZero {
		t.Fatalf("intermediate IsCA=%v MaxPathLen=%d MaxPathLenZero=%v", interCert.IsCA, interCert.MaxPathLen, interCert.MaxPathLenZero)
	}
	if interCert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatal("CA without cert sign usage")
	}
	inter, err := pki.NewCA(interCert, interKey)
	if err != nil {
		t.Fatal(err)
	}
	usages := []pki.Usage{pki.UsageServerAuth}
	inside, _ := pkitest.Leaf(t, inter, "in", usages, "web.default.svc.cluster.local")
	outside, _ := pkitest.Leaf(t, inter, "out", usages, "example.com")

	roots := []*x509.Certificate{root.Certificate}
	if err := pki.VerifyChain([]*x509.Certificate{inside, interCert}, roots, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("name inside the constraint: %v", err)
	}
	if err := pki.VerifyChain([]*x509.Certificate{outside, interCert}, roots, time.Now()); err == nil {
		t.Error("name outside the constraint verified")
	}
	// Path length zero: a CA under the intermediate does not verify.
	subKey := pkitest.Key(t)
	subCert, err := inter.Issue(rand.Reader, time.Now(), &pki.Template{Subject: pkix.Name{CommonName: "sub"}, IsCA: true}, subKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := pki.NewCA(subCert, subKey)
	leaf, _ := pkitest.Leaf(t, sub, "deep", usages, "a.svc.cluster.local")
	if err := pki.VerifyChain([]*x509.Certificate{leaf, subCert, interCert}, roots, time.Now()); err == nil {
		t.Error("chain longer than the path length verified")
	}
}

func TestNewCARejects(t *testing.T) {
	ca := pkitest.CA(t, "ca")
	leaf, leafKey := pkitest.Leaf(t, ca, "leaf", []pki.Usage{pki.UsageServerAuth})
	if _, err := pki.NewCA(leaf, leafKey); !errors.Is(err, pki.ErrNotCA) {
		t.Errorf("leaf as CA: error = %v, want ErrNotCA", err)
	}
	if _, err := pki.NewCA(ca.Certificate, pkitest.Key(t)); !errors.Is(err, pki.ErrKeyMismatch) {
		t.Errorf("CA with another key: error = %v, want ErrKeyMismatch", err)
	}
}

func TestSubjectKeepsGroupOrder(t *testing.T) {
	ca := pkitest.CA(t, "ca")
	subject := pkix.Name{CommonName: "jane", Organization: []string{"zeta", "alpha", "dev"}}
	cert, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{Subject: subject}, pkitest.Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cert.Subject.Organization, subject.Organization) {
		t.Errorf("certificate O = %v, want %v in order", cert.Subject.Organization, subject.Organization)
	}
	csrPEM, err := pki.CreateCSR(rand.Reader, &pki.Request{CommonName: "jane", Organization: subject.Organization}, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSRPEM(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(csr.Subject.Organization, subject.Organization) {
		t.Errorf("request O = %v, want %v in order", csr.Subject.Organization, subject.Organization)
	}
}

func TestSelfSignedLeaf(t *testing.T) {
	key := pkitest.Key(t, pki.Ed25519Key)
	cert, err := pki.SelfSign(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "self"}, Usages: []pki.Usage{pki.UsageServerAuth}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert.IsCA || !pki.IsSelfSigned(cert) {
		t.Errorf("IsCA=%v self-signed=%v, want a self-signed leaf", cert.IsCA, pki.IsSelfSigned(cert))
	}
	if !cert.NotAfter.Equal(now.Add(pki.DefaultDuration)) {
		t.Errorf("NotAfter = %s, want a year from now", cert.NotAfter)
	}
}
