package trustpolicy_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"

	"github.com/certplane/certplane/internal/trustpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// issue makes a certificate named cn signed by ca, valid until notAfter
// (which may be after the CA's own NotAfter), a CA when isCA is set.
func issue(t *testing.T, ca *pki.CA, cn string, notAfter time.Time, isCA bool) (*x509.Certificate, *pki.CA) {
	t.Helper()
	key := pkitest.Key(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: ca.Certificate.NotBefore, NotAfter: notAfter,
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !isCA {
		return c, nil
	}
	sub, err := pki.NewCA(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return c, sub
}

func TestRetain(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	day := 24 * time.Hour
	oldCA := pkitest.CAAt(t, "ca", now.Add(-30*day), 60*day) // until now+30d
	newCA := pkitest.CAAt(t, "ca", now.Add(-time.Hour), 365*day)
	other := pkitest.CAAt(t, "other ca", now.Add(-30*day), 40*day) // until now+10d
	expiredCA := pkitest.CAAt(t, "expired ca", now.Add(-30*day), 20*day)
	sameKey, err := pki.SelfSign(rand.Reader, now.Add(-time.Hour), &pki.Template{Subject: oldCA.Certificate.Subject, IsCA: true, Duration: 365 * day}, oldCA.Key)
	if err != nil {
		t.Fatal(err)
	}

	oldLeaf, _ := issue(t, oldCA, "old leaf", now.Add(5*day), false)
	oldLeafLater, _ := issue(t, oldCA, "old leaf later", now.Add(7*day), false)
	oldLeafExpired, _ := issue(t, oldCA, "old leaf expired", now.Add(-time.Minute), false)
	oldLeafLong, _ := issue(t, oldCA, "old leaf outliving its CA", now.Add(90*day), false)
	newLeaf, _ := issue(t, newCA, "new leaf", now.Add(20*day), false)
	otherLeaf, _ := issue(t, other, "other leaf", now.Add(2*day), false)
	interCert, inter := issue(t, oldCA, "old intermediate", now.Add(20*day), true)
	viaInter, _ := issue(t, inter, "leaf of the old intermediate", now.Add(3*day), false)
	expiredLeaf, _ := issue(t, expiredCA, "leaf of an expired CA", now.Add(day), false)

	leaf := func(c *x509.Certificate, chain ...*x509.Certificate) trustpolicy.Issued {
		return trustpolicy.Issued{Certificate: c, Chain: chain}
	}
	cas := func(cs ...*pki.CA) []*x509.Certificate {
		out := make([]*x509.Certificate, len(cs))
		for i, c := range cs {
			out[i] = c.Certificate
		}
		return out
	}
	type kept struct {
		ca    *pki.CA
		until time.Time
	}
	tests := []struct {
		name      string
		current   []*x509.Certificate
		published []*x509.Certificate
		issued    []trustpolicy.Issued
		want      []*x509.Certificate // the CAs to publish, in any order
		kept      []kept
		dropped   int
	}{
		{name: "first publish", current: cas(newCA), want: cas(newCA)},
		{name: "no rotation", current: cas(newCA), published: cas(newCA), issued: []trustpolicy.Issued{leaf(newLeaf)}, want: cas(newCA)},
		{name: "rotated: the old CA stays until its last certificate expires",
			current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(oldLeaf), leaf(oldLeafLater), leaf(newLeaf), leaf(oldLeafExpired)},
			want: cas(newCA, oldCA), kept: []kept{{oldCA, oldLeafLater.NotAfter}}},
		{name: "still overlapping: the published bundle holds both",
			current: cas(newCA), published: cas(newCA, oldCA), issued: []trustpolicy.Issued{leaf(oldLeaf)},
			want: cas(newCA, oldCA), kept: []kept{{oldCA, oldLeaf.NotAfter}}},
		{name: "the old CA's certificates all expired", current: cas(newCA), published: cas(newCA, oldCA), issued: []trustpolicy.Issued{leaf(oldLeafExpired), leaf(newLeaf)},
			want: cas(newCA), dropped: 1},
		{name: "no certificate of the old CA seen", current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(newLeaf), leaf(otherLeaf)},
			want: cas(newCA), dropped: 1},
		{name: "same subject, new key: the new CA's certificates do not keep the old", current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(newLeaf)},
			want: cas(newCA), dropped: 1},
		{name: "never past the old CA's own NotAfter", current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(oldLeafLong)},
			want: cas(newCA, oldCA), kept: []kept{{oldCA, oldCA.Certificate.NotAfter}}},
		{name: "an expired old CA goes", current: cas(newCA), published: cas(expiredCA), issued: []trustpolicy.Issued{leaf(expiredLeaf)},
			want: cas(newCA), dropped: 1},
		{name: "through an intermediate in the chain", current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(viaInter, interCert)},
			want: cas(newCA, oldCA), kept: []kept{{oldCA, viaInter.NotAfter}}},
		{name: "an intermediate not given leads nowhere", current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(viaInter, newCA.Certificate)},
			want: cas(newCA), dropped: 1},
		{name: "the old CA itself is not one of its certificates", current: cas(newCA), published: cas(oldCA), issued: []trustpolicy.Issued{leaf(oldCA.Certificate), leaf(sameKey)},
			want: cas(newCA), dropped: 1},
		{name: "renewed with the same key and subject", current: []*x509.Certificate{sameKey}, published: cas(oldCA), issued: []trustpolicy.Issued{leaf(oldLeaf)},
			want: []*x509.Certificate{sameKey}, dropped: 1},
		{name: "two old CAs: look again at the earlier end", current: cas(newCA), published: cas(oldCA, other), issued: []trustpolicy.Issued{leaf(oldLeaf), leaf(otherLeaf)},
			want: cas(newCA, oldCA, other), kept: []kept{{oldCA, oldLeaf.NotAfter}, {other, otherLeaf.NotAfter}}},
		{name: "no current CA: the old one stays while needed", published: cas(oldCA), issued: []trustpolicy.Issued{leaf(oldLeaf)},
			want: cas(oldCA), kept: []kept{{oldCA, oldLeaf.NotAfter}}},
		{name: "no current CA and nothing needed", published: cas(oldCA), want: nil, dropped: 1},
		{name: "repeats and nils", current: []*x509.Certificate{newCA.Certificate, nil, newCA.Certificate}, published: cas(oldCA, oldCA),
			issued: []trustpolicy.Issued{{}, leaf(oldLeaf, nil)}, want: cas(newCA, oldCA), kept: []kept{{oldCA, oldLeaf.NotAfter}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trustpolicy.Retain(tt.current, tt.published, tt.issued, now)
			if !sameSet(got.CAs, tt.want) {
				t.Errorf("CAs %v, want %v", subjects(got.CAs), subjects(tt.want))
			}
			if len(got.Kept) != len(tt.kept) || len(got.Dropped) != tt.dropped {
				t.Fatalf("kept %d, dropped %d; want %d and %d", len(got.Kept), len(got.Dropped), len(tt.kept), tt.dropped)
			}
			var recheck time.Time
			for i, k := range tt.kept {
				if !bytes.Equal(got.Kept[i].CA.Raw, k.ca.Certificate.Raw) || !got.Kept[i].Until.Equal(k.until) {
					t.Errorf("kept %s until %s, want %s until %s", got.Kept[i].CA.Subject, got.Kept[i].Until, k.ca.Certificate.Subject, k.until)
				}
				if recheck.IsZero() || k.until.Before(recheck) {
					recheck = k.until
				}
			}
			if !got.RecheckAt.Equal(recheck) {
				t.Errorf("recheck at %s, want %s", got.RecheckAt, recheck)
			}
		})
	}
	// An hour after the last old certificate expired, the old CA goes.
	if got := trustpolicy.Retain(cas(newCA), cas(oldCA), []trustpolicy.Issued{leaf(oldLeafLater)}, oldLeafLater.NotAfter); len(got.Kept) != 0 || !sameSet(got.CAs, cas(newCA)) {
		t.Errorf("at the last certificate's NotAfter: %v", subjects(got.CAs))
	}
}

func subjects(cs []*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Subject.CommonName+"@"+c.NotAfter.Format(time.DateOnly))
	}
	return out
}

func TestPublishedCAs(t *testing.T) {
	a, b, c := pkitest.CA(t, "ca a"), pkitest.CA(t, "ca b"), pkitest.CA(t, "ca c")
	ab, err := trustpolicy.Bundle(signer, []*x509.Certificate{a.Certificate, b.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	pemA, pemC := string(pki.EncodeCertificatesPEM(a.Certificate)), string(pki.EncodeCertificatesPEM(c.Certificate))
	existing := []certv1.ClusterTrustBundle{
		ctb(ab.Name, signer, ab.Spec.TrustBundle, true),
		ctb("certplane.io:spiffe:a", signer, pemA, true),                                  // a repeated
		ctb("certplane.io:spiffe:by-hand", signer, pemC, false),                           // not ours
		ctb("issuers.cert-manager.io:ns.x:c", "issuers.cert-manager.io/ns.x", pemC, true), // another signer
		ctb("certplane.io:spiffe:broken", signer, "garbage", true),
	}
	if got := trustpolicy.PublishedCAs(signer, existing); !sameSet(got, []*x509.Certificate{a.Certificate, b.Certificate}) {
		t.Errorf("PublishedCAs: %v, want ca a and ca b", subjects(got))
	}
}
