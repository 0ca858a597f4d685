package certpolicy

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
func i32(v int32) *int32                   { return &v }

func TestNewRequestRejectsBadSpecs(t *testing.T) {
	base := func() cmv1.CertificateSpec {
		return cmv1.CertificateSpec{SecretName: "s", DNSNames: []string{"a.example"}, IssuerRef: cmv1.ObjectReference{Name: "ca"}}
	}
	cases := map[string]struct {
		mutate func(*cmv1.CertificateSpec)
		want   string
	}{
		"no names":          {func(s *cmv1.CertificateSpec) { s.DNSNames = nil }, "at least one of commonName"},
		"bad ip":            {func(s *cmv1.CertificateSpec) { s.IPAddresses = []string{"10.0.0.300"} }, "spec.ipAddresses[0]"},
		"relative uri":      {func(s *cmv1.CertificateSpec) { s.URIs = []string{"just/a/path"} }, "spec.uris[0]"},
		"bad email":         {func(s *cmv1.CertificateSpec) { s.EmailAddresses = []string{"nobody"} }, "spec.emailAddresses[0]"},
		"short duration":    {func(s *cmv1.CertificateSpec) { s.Duration = dur(30 * time.Minute) }, "spec.duration"},
		"short renewBefore": {func(s *cmv1.CertificateSpec) { s.RenewBefore = dur(time.Minute) }, "spec.renewBefore"},
		"both renewals":     {func(s *cmv1.CertificateSpec) { s.RenewBefore = dur(time.Hour); s.RenewBeforePercentage = i32(10) }, "may not both"},
		"percentage 100":    {func(s *cmv1.CertificateSpec) { s.RenewBeforePercentage = i32(100) }, "renewBeforePercentage"},
		"unknown usage":     {func(s *cmv1.CertificateSpec) { s.Usages = []cmv1.KeyUsage{"world domination"} }, "spec.usages"},
		"weak rsa": {func(s *cmv1.CertificateSpec) {
			s.PrivateKey = &cmv1.CertificatePrivateKey{Algorithm: "RSA", Size: 1024}
		}, "spec.privateKey"},
		"renewBefore >= duration": {func(s *cmv1.CertificateSpec) { s.Duration = dur(time.Hour); s.RenewBefore = dur(time.Hour) }, "shorter than the duration"},
		"bad curve": {func(s *cmv1.CertificateSpec) {
			s.PrivateKey = &cmv1.CertificatePrivateKey{Algorithm: "ECDSA", Size: 512}
		}, "spec.privateKey"},
		"bad encoding":        {func(s *cmv1.CertificateSpec) { s.PrivateKey = &cmv1.CertificatePrivateKey{Encoding: "DER"} }, "spec.privateKey.encoding"},
		"bad signature alg":   {func(s *cmv1.CertificateSpec) { s.SignatureAlgorithm = "MD5WithRSA" }, "spec.signatureAlgorithm"},
		"constraints on leaf": {func(s *cmv1.CertificateSpec) { s.NameConstraints = &cmv1.NameConstraints{} }, "only a CA"},
		"literal and cn":      {func(s *cmv1.CertificateSpec) { s.LiteralSubject = "CN=a"; s.CommonName = "a" }, "spec.commonName"},
		"bad literal":         {func(s *cmv1.CertificateSpec) { s.LiteralSubject = "CN" }, "spec.literalSubject"},
		"bad other name oid":  {func(s *cmv1.CertificateSpec) { s.OtherNames = []cmv1.OtherName{{OID: "x.y", UTF8Value: "v"}} }, "spec.otherNames"},
		"bad constraint range": {func(s *cmv1.CertificateSpec) {
			s.IsCA = true
			s.NameConstraints = &cmv1.NameConstraints{Permitted: &cmv1.NameConstraintItem{IPRanges: []string{"10.0.0.0"}}}
		}, "ipRanges[0]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := base()
			c.mutate(&s)
			_, err := NewRequest(&s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewRequest() error = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestNewRequestDefaults(t *testing.T) {
	r, err := NewRequest(&cmv1.CertificateSpec{CommonName: "ca", IsCA: true, SecretName: "s", IssuerRef: cmv1.ObjectReference{Name: "i"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != pki.RSA2048 || r.KeyFormat != pki.FormatPKCS1 {
		t.Errorf("key = %v/%v, want cert-manager's RSA 2048 PKCS#1", r.Key, r.KeyFormat)
	}
	if r.Template.Duration != 90*24*time.Hour {
		t.Errorf("duration = %s, want 2160h", r.Template.Duration)
	}
	want := []pki.Usage{pki.UsageDigitalSignature, pki.UsageKeyEncipherment, pki.UsageCertSign}
	if strings.Join(usageStrings(r.Template.Usages), ",") != strings.Join(usageStrings(want), ",") {
		t.Errorf("usages = %v, want %v", r.Template.Usages, want)
	}
	r2, _ := NewRequest(&cmv1.CertificateSpec{CommonName: "ca", IsCA: true, SecretName: "other", RenewBefore: dur(time.Hour), IssuerRef: cmv1.ObjectReference{Name: "i"}})
	if r.Hash != r2.Hash {
		t.Error("the secret name and renewal settings changed the request hash")
	}
	r3, _ := NewRequest(&cmv1.CertificateSpec{CommonName: "ca2", IsCA: true, SecretName: "s", IssuerRef: cmv1.ObjectReference{Name: "i"}})
	if r.Hash == r3.Hash {
		t.Error("a new common name kept the request hash")
	}
}

func usageStrings(us []pki.Usage) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	return out
}

func TestRenewalTime(t *testing.T) {
	nb := t0
	issued := nb.Add(pki.DefaultBackdate) // certplane backdates NotBefore
	cases := map[string]struct {
		lifetime time.Duration // from NotBefore, backdate included
		spec     cmv1.CertificateSpec
		nominal  time.Duration // before notAfter
		spread   time.Duration // how much earlier renewal may come
	}{
		"a third":              {90*24*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{}, 30 * 24 * time.Hour, time.Hour},
		"renewBefore":          {90*24*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{RenewBefore: dur(15 * 24 * time.Hour)}, 15 * 24 * time.Hour, time.Hour},
		"renewBefore 360h":     {90*24*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{RenewBefore: dur(360 * time.Hour)}, 360 * time.Hour, time.Hour},
		"renewBefore too long": {24*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{RenewBefore: dur(48 * time.Hour)}, 8 * time.Hour, time.Hour},
		"percentage":           {100*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{RenewBeforePercentage: i32(25)}, 25 * time.Hour, time.Hour},
		// Under twenty seconds from issuance to renewal leave no room to spread.
		"short-lived has no jitter": {65 * time.Minute, cmv1.CertificateSpec{RenewBefore: dur(59*time.Minute + 50*time.Second)}, 59*time.Minute + 50*time.Second, 0},
		"19s of room":               {65 * time.Minute, cmv1.CertificateSpec{RenewBefore: dur(59*time.Minute + 41*time.Second)}, 59*time.Minute + 41*time.Second, 0},
		"20s of room":               {65 * time.Minute, cmv1.CertificateSpec{RenewBefore: dur(59*time.Minute + 40*time.Second)}, 59*time.Minute + 40*time.Second, 5 * time.Second},
		// renewBefore reaching back before issuance (into the backdate, or
		// because the CA clamped NotAfter) falls back to a third, instead
		// of renewing at once, forever.
		"renewBefore into the backdate": {65 * time.Minute, cmv1.CertificateSpec{RenewBefore: dur(62 * time.Minute)}, 20 * time.Minute, 10 * time.Minute},
		"percentage 99 of 8h":           {8*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{RenewBeforePercentage: i32(99)}, 8 * time.Hour * 99 / 100, 72 * time.Second},
		// Issue #15's storm: a quarter of the hour from issuance to renewal.
		"duration 2h renewBefore 1h": {2*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{RenewBefore: dur(time.Hour)}, time.Hour, 15 * time.Minute},
		// A quarter of 3h20m is more than the hour at most.
		"a third of 5h": {5*time.Hour + pki.DefaultBackdate, cmv1.CertificateSpec{}, 5 * time.Hour / 3, time.Hour},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			na := nb.Add(c.lifetime)
			nominal := na.Add(-c.nominal).Truncate(time.Second)
			earliest := nominal.Add(-c.spread)
			seen := map[time.Time]bool{}
			widest := time.Duration(0)
			for i := range 200 {
				at, ok := RenewalTime(nb, na, &c.spec, []byte{byte(i), 7})
				if !ok {
					t.Fatal("renewal disabled")
				}
				// Jitter only moves renewal earlier: renewBefore is a minimum margin.
				if at.After(nominal) || !at.After(earliest) && c.spread > 0 {
					t.Fatalf("renewal at %s, want within [%s, %s]", at, earliest, nominal)
				}
				if !at.After(issued) {
					t.Fatalf("renewal at %s is not after issuance at %s", at, issued)
				}
				seen[at] = true
				widest = max(widest, nominal.Sub(at))
				again, _ := RenewalTime(nb, na, &c.spec, []byte{byte(i), 7})
				if !again.Equal(at) {
					t.Fatal("the same seed gave another renewal time")
				}
			}
			switch {
			case c.spread == 0 && len(seen) != 1:
				t.Errorf("no room to spread, yet %d distinct renewal times", len(seen))
			case c.spread > 0 && c.spread < 20*time.Second && len(seen) != int(c.spread/time.Second):
				t.Errorf("200 certificates renew in %d distinct seconds, want all %d", len(seen), c.spread/time.Second)
			case c.spread >= 20*time.Second && len(seen) < 20:
				t.Errorf("200 certificates renew in only %d distinct seconds", len(seen))
			case widest < c.spread/2:
				// 200 even draws all in the first half: one chance in 2^200.
				t.Errorf("200 certificates renew at most %s early, want up to %s", widest, c.spread)
			}
		})
	}
	if _, ok := RenewalTime(nb, nb.Add(time.Hour), &cmv1.CertificateSpec{Renewal: &cmv1.CertificateRenewal{Policy: "Disabled"}}, nil); ok {
		t.Error("policy Disabled still renews")
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 0, 1: time.Hour, 2: 2 * time.Hour, 6: 32 * time.Hour, 7: 32 * time.Hour, 60: 32 * time.Hour} {
		if got := Backoff(n, time.Hour, 32*time.Hour); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// issued builds a Secret as the controller writes it, for spec.
func issued(t *testing.T, crt *cmv1.Certificate, now time.Time) (*corev1.Secret, *Issued) {
	t.Helper()
	req, err := NewRequest(&crt.Spec)
	if err != nil {
		t.Fatal(err)
	}
	ca := pkitest.CAAt(t, "test CA", now, 10*365*24*time.Hour)
	key := pkitest.Key(t, req.Key)
	leaf, err := ca.Issue(rand.Reader, now, req.Template, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	in := &Issued{Key: key, KeyFormat: req.KeyFormat, Chain: []*x509.Certificate{leaf}, CA: ca.Certificate, Revision: 1, RequestHash: req.Hash}
	data, err := SecretData(&crt.Spec, in, Passwords{PKCS12: "p12pass", JKS: "jkspass"}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	labels, annotations := SecretMetadata(crt, in)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations}, Data: data}, in
}

func certificate() *cmv1.Certificate {
	return &cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", UID: "u-1"},
		Spec: cmv1.CertificateSpec{
			SecretName: "web-tls", CommonName: "web", DNSNames: []string{"web", "web.apps.svc"}, IPAddresses: []string{"10.0.0.1"},
			Duration: dur(24 * time.Hour), PrivateKey: &cmv1.CertificatePrivateKey{Algorithm: "ECDSA"},
			IssuerRef: cmv1.ObjectReference{Name: "ca", Kind: "Issuer"},
		},
	}
}

func TestCheck(t *testing.T) {
	crt := certificate()
	good, _ := issued(t, crt, t0)
	other, _ := issued(t, crt, t0)
	cases := map[string]struct {
		secret func() *corev1.Secret
		crt    func() *cmv1.Certificate
		now    time.Time
		want   string // "" means up to date
	}{
		"up to date":       {func() *corev1.Secret { return good }, nil, t0.Add(time.Hour), ""},
		"missing":          {func() *corev1.Secret { return nil }, nil, t0, ReasonDoesNotExist},
		"no key":           {func() *corev1.Secret { s := good.DeepCopy(); delete(s.Data, "tls.key"); return s }, nil, t0, ReasonMissingData},
		"garbage key":      {func() *corev1.Secret { s := good.DeepCopy(); s.Data["tls.key"] = []byte("junk"); return s }, nil, t0, ReasonInvalidKeyPair},
		"garbage cert":     {func() *corev1.Secret { s := good.DeepCopy(); s.Data["tls.crt"] = []byte("junk"); return s }, nil, t0, ReasonInvalidCertificate},
		"someone's key":    {func() *corev1.Secret { s := good.DeepCopy(); s.Data["tls.key"] = other.Data["tls.key"]; return s }, nil, t0, ReasonInvalidKeyPair},
		"other issuer":     {func() *corev1.Secret { return good }, func() *cmv1.Certificate { c := certificate(); c.Spec.IssuerRef.Name = "ca2"; return c }, t0, ReasonIncorrectIssuer},
		"cluster issuer":   {func() *corev1.Secret { return good }, func() *cmv1.Certificate { c := certificate(); c.Spec.IssuerRef.Kind = "ClusterIssuer"; return c }, t0, ReasonIncorrectIssuer},
		"explicit group":   {func() *corev1.Secret { return good }, func() *cmv1.Certificate { c := certificate(); c.Spec.IssuerRef.Group = "cert-manager.io"; return c }, t0.Add(time.Hour), ""},
		"rsa wanted":       {func() *corev1.Secret { return good }, func() *cmv1.Certificate { c := certificate(); c.Spec.PrivateKey.Algorithm = "RSA"; return c }, t0, ReasonSecretMismatch},
		"dns changed":      {func() *corev1.Secret { return good }, func() *cmv1.Certificate { c := certificate(); c.Spec.DNSNames = []string{"web"}; return c }, t0, ReasonRequestChanged},
		"duration changed": {func() *corev1.Secret { return good }, func() *cmv1.Certificate { c := certificate(); c.Spec.Duration = dur(48 * time.Hour); return c }, t0, ReasonRequestChanged},
		"cert-manager secret, names match": {func() *corev1.Secret {
			s := good.DeepCopy()
			delete(s.Annotations, AnnotationRequestHash)
			return s
		}, nil, t0.Add(time.Hour), ""},
		"cert-manager secret, names differ": {func() *corev1.Secret {
			s := good.DeepCopy()
			delete(s.Annotations, AnnotationRequestHash)
			return s
		}, func() *cmv1.Certificate { c := certificate(); c.Spec.IPAddresses = nil; return c }, t0, ReasonIncorrectCert},
		"renewal due": {func() *corev1.Secret { return good }, nil, t0.Add(17 * time.Hour), ReasonRenewing},
		"expired":     {func() *corev1.Secret { return good }, nil, t0.Add(25 * time.Hour), ReasonExpired},
		"manual": {func() *corev1.Secret { return good }, func() *cmv1.Certificate {
			c := certificate()
			c.Status.Conditions = []cmv1.CertificateCondition{{Type: "Issuing", Status: cmv1.ConditionTrue, Reason: ReasonManuallyTriggered}}
			return c
		}, t0.Add(time.Hour), ReasonManuallyTriggered},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			crt := crt
			if c.crt != nil {
				crt = c.crt()
			}
			req, err := NewRequest(&crt.Spec)
			if err != nil {
				t.Fatal(err)
			}
			d := Check(crt, req, c.secret(), c.now)
			if d.Reason != c.want || d.Issue != (c.want != "") {
				t.Fatalf("Check() = %v %q (%s), want %q", d.Issue, d.Reason, d.Message, c.want)
			}
			if !d.Issue && d.Current == nil {
				t.Fatal("an up-to-date Secret gave no current pair")
			}
		})
	}
}

func TestCheckKeepsUsersKeyAndIssuersNames(t *testing.T) {
	crt := certificate()
	good, _ := issued(t, crt, t0)
	req, _ := NewRequest(&crt.Spec)

	// A Secret a user made with only a key: offered for reuse.
	own := good.DeepCopy()
	delete(own.Data, "tls.crt")
	own.Annotations = nil
	if d := Check(crt, req, own, t0); d.Reason != ReasonMissingData || d.Key == nil {
		t.Errorf("a user's key alone: %q, key offered %v", d.Reason, d.Key != nil)
	}
	// A key of another algorithm than the spec's is not.
	rsaCrt := certificate()
	rsaCrt.Spec.PrivateKey.Algorithm = "RSA"
	rsaReq, _ := NewRequest(&rsaCrt.Spec)
	if d := Check(rsaCrt, rsaReq, own, t0); d.Key != nil {
		t.Error("an ECDSA key was offered for an RSA spec")
	}

	// An issuer that certified other names than asked, for this very spec
	// (the hash says so): no reissue, which would only loop.
	changed := certificate()
	changed.Spec.IPAddresses = nil
	changedReq, _ := NewRequest(&changed.Spec)
	s := good.DeepCopy()
	s.Annotations[AnnotationRequestHash] = changedReq.Hash
	if d := Check(changed, changedReq, s, t0.Add(time.Hour)); d.Issue {
		t.Errorf("reissued a certificate the issuer shaped: %s", d.Message)
	}
}

func TestSecretDataAndMetadata(t *testing.T) {
	crt := certificate()
	crt.Spec.Subject = &cmv1.X509Subject{Organizations: []string{"example"}}
	crt.Spec.SecretTemplate = &cmv1.CertificateSecretTemplate{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"team": "a"}}
	crt.Spec.PrivateKey.Encoding = "PKCS8"
	crt.Spec.AdditionalOutputFormats = []cmv1.CertificateAdditionalOutputFormat{{Type: "DER"}, {Type: "CombinedPEM"}}
	crt.Spec.Keystores = &cmv1.CertificateKeystores{
		PKCS12: &cmv1.PKCS12Keystore{Create: true, Profile: "Modern2023", PasswordSecretRef: cmv1.SecretKeySelector{LocalObjectReference: cmv1.LocalObjectReference{Name: "pw"}}},
		JKS:    &cmv1.JKSKeystore{Create: true, PasswordSecretRef: cmv1.SecretKeySelector{LocalObjectReference: cmv1.LocalObjectReference{Name: "pw"}}},
	}
	secret, in := issued(t, crt, t0)
	if !SecretCurrent(secret, crt, in) {
		t.Fatal("a freshly written Secret is not current")
	}
	wantAnn := map[string]string{
		AnnotationCertName: "web", AnnotationIssuerName: "ca", AnnotationIssuerKind: "Issuer", AnnotationIssuerGroup: "",
		AnnotationCommonName: "web", AnnotationAltNames: "web,web.apps.svc", AnnotationIPSANs: "10.0.0.1",
		"cert-manager.io/subject-organizations": "example", "team": "a",
	}
	for k, v := range wantAnn {
		if secret.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, secret.Annotations[k], v)
		}
	}
	if secret.Labels["app"] != "web" || secret.Labels[LabelCached] != "true" {
		t.Errorf("labels = %v", secret.Labels)
	}
	if b, _ := pem.Decode(secret.Data["tls.key"]); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("tls.key is not PKCS#8")
	}
	if _, err := x509.ParsePKCS8PrivateKey(secret.Data[KeyDER]); err != nil {
		t.Errorf("key.der: %v", err)
	}
	if !bytes.HasPrefix(secret.Data[KeyCombinedPEM], secret.Data["tls.key"]) || !bytes.HasSuffix(secret.Data[KeyCombinedPEM], secret.Data["tls.crt"]) {
		t.Error("tls-combined.pem is not the key followed by the chain")
	}
	key, leaf, cas, err := pkcs12.DecodeChain(secret.Data[KeyPKCS12Keystore], "p12pass")
	if signer, ok := key.(crypto.Signer); err != nil || !ok || !pki.KeyMatches(leaf.PublicKey, signer) || len(cas) != 1 || !cas[0].Equal(in.CA) {
		t.Errorf("keystore.p12 (want the leaf, its key and the CA): %v", err)
	}
	if ts, err := pkcs12.DecodeTrustStore(secret.Data[KeyPKCS12Truststore], "p12pass"); err != nil || len(ts) != 1 || !ts[0].Equal(in.CA) {
		t.Errorf("truststore.p12: %v", err)
	}
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(secret.Data[KeyJKSKeystore]), []byte("jkspass")); err != nil {
		t.Fatalf("keystore.jks: %v", err)
	}
	if _, err := ks.GetPrivateKeyEntry(DefaultJKSAlias, []byte("jkspass")); err != nil {
		t.Errorf("keystore.jks entry %q: %v", DefaultJKSAlias, err)
	}
	if !ks.IsTrustedCertificateEntry("ca") {
		t.Error("keystore.jks does not trust the CA")
	}

	stale := secret.DeepCopy()
	delete(stale.Data, KeyJKSKeystore)
	if SecretCurrent(stale, crt, in) {
		t.Error("a Secret without its JKS keystore is current")
	}
	// A template entry dropped from the spec is dropped from the Secret.
	dropped := crt.DeepCopy()
	dropped.Spec.SecretTemplate.Annotations = nil
	if SecretCurrent(secret, dropped, in) {
		t.Error("a Secret keeping a removed template annotation is current")
	}
	wantL, wantA := SecretMetadata(dropped, in)
	if l, a := StaleMetadata(secret, wantL, wantA); len(l) != 0 || strings.Join(a, ",") != "team" {
		t.Errorf("stale labels %v, annotations %v; want only the annotation team", l, a)
	}
	stale = secret.DeepCopy()
	stale.Labels["app"] = "other"
	if SecretCurrent(stale, crt, in) {
		t.Error("a Secret with a changed template label is current")
	}
	if _, err := SecretData(&cmv1.CertificateSpec{Keystores: &cmv1.CertificateKeystores{PKCS12: &cmv1.PKCS12Keystore{Create: true, Profile: "Ancient"}}}, in, Passwords{}, rand.Reader); err == nil {
		t.Error("an unknown PKCS#12 profile was accepted")
	}
}

// The issuer-group annotation holds issuerRef.group as written, as
// cert-manager writes it; an empty group and cert-manager.io are the same
// issuer, so neither reissues a Secret written with the other.
func TestIssuerGroupAnnotation(t *testing.T) {
	for _, tc := range []struct{ group, want string }{{"", ""}, {"cert-manager.io", "cert-manager.io"}, {"example.com", "example.com"}} {
		got := IssuerAnnotations(cmv1.ObjectReference{Name: "ca", Group: tc.group})
		if got[AnnotationIssuerGroup] != tc.want || got[AnnotationIssuerKind] != "Issuer" {
			t.Errorf("group %q: annotations %v, want group %q and kind Issuer", tc.group, got, tc.want)
		}
	}
	crt := certificate()
	secret, _ := issued(t, crt, t0)
	secret.Annotations[AnnotationIssuerGroup] = "cert-manager.io"
	req, err := NewRequest(&crt.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if d := Check(crt, req, secret, t0.Add(time.Hour)); d.Issue {
		t.Errorf("group cert-manager.io against an omitted group reissues: %s", d.Message)
	}
	secret.Annotations[AnnotationIssuerGroup] = "example.com"
	if d := Check(crt, req, secret, t0.Add(time.Hour)); !d.Issue || d.Reason != ReasonIncorrectIssuer {
		t.Errorf("another group: %+v, want IncorrectIssuer", d)
	}
}
