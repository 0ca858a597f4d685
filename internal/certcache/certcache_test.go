package certcache

import (
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/randfill"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// readyCertificate is a Ready Certificate decoded from JSON, as the cache's
// informer decodes custom resources.
func readyCertificate(t testing.TB, i int) *cmv1.Certificate {
	t.Helper()
	doc := fmt.Sprintf(`{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"app-%06[1]d","namespace":"growth-%02[2]d","uid":"8a7f2c1e-4b7d-4f55-9d2a-0c1b2e3f4a5c","resourceVersion":"123457","generation":1,"creationTimestamp":"2026-12-03T06:00:00Z",
"annotations":{"certplane.io/requester":"kubernetes-admin"}},
"spec":{"secretName":"app-%06[1]d-tls","dnsNames":["app-%06[1]d.example.com"],"duration":"2160h0m0s","issuerRef":{"name":"ca","kind":"Issuer","group":"cert-manager.io"},"privateKey":{"algorithm":"ECDSA","size":256,"rotationPolicy":"Always"},"usages":["digital signature","key encipherment"]},
"status":{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-12-03T06:%02[3]d:01Z","reason":"Ready","message":"Certificate is up to date and has not expired","observedGeneration":1},
{"type":"Issuing","status":"True","lastTransitionTime":"2026-12-03T06:%02[3]d:01Z","reason":"ManuallyTriggered","message":"renewal requested"}],
"notBefore":"2026-12-03T06:%02[3]d:00Z","notAfter":"2027-03-03T06:%02[3]d:00Z","renewalTime":"2027-02-01T06:%02[3]d:00Z","revision":1}}`, i, i%10, i%60)
	c := &cmv1.Certificate{}
	if err := sjson.UnmarshalCaseSensitivePreserveInts([]byte(doc), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCompact: what a user reads from the cache (a copy through Get or
// List) is the Certificate that went in; the summary says what its status
// says; a copy's metadata is its own.
func TestCompact(t *testing.T) {
	in := readyCertificate(t, 7)
	want := in.DeepCopy()
	c, err := Compact(in)
	if err != nil {
		t.Fatal(err)
	}
	var o client.Object = c // what the cache's informer holds
	full, ok := o.DeepCopyObject().(*cmv1.Certificate)
	if !ok {
		t.Fatalf("DeepCopyObject gave %T, want *cmv1.Certificate", o.DeepCopyObject())
	}
	if !equality.Semantic.DeepEqual(want, full) {
		t.Errorf("read back:\n%s\nwant:\n%s", pretty(full), pretty(want))
	}
	if c.GetName() != "app-000007" || c.GetResourceVersion() != "123457" || c.GetAnnotations()["certplane.io/requester"] != "kubernetes-admin" {
		t.Errorf("metadata %s %s %v", c.GetName(), c.GetResourceVersion(), c.GetAnnotations())
	}
	if c.IssuerRef != want.Spec.IssuerRef || c.Ready != cmv1.ConditionTrue || c.IssuingStatus != cmv1.ConditionTrue || c.IssuingReason != "ManuallyTriggered" ||
		c.NotBefore != want.Status.NotBefore.Unix() || c.NotAfter != want.Status.NotAfter.Unix() || c.RenewalTime != want.Status.RenewalTime.Unix() {
		t.Errorf("summary %+v", c)
	}
	full.Annotations["team"] = "a"
	full.Spec.DNSNames[0] = "changed.example.com"
	if again, _ := c.Full(); len(c.GetAnnotations()) != 1 || again.Spec.DNSNames[0] != want.Spec.DNSNames[0] {
		t.Error("changing a copy changed the cached Certificate")
	}
	if typed, ok := Of(want); !ok || typed != c.Summary {
		t.Errorf("the summary of the typed Certificate %+v, of the compact one %+v", typed, c.Summary)
	}
	if _, ok := Of(&metav1.PartialObjectMetadata{}); ok {
		t.Error("another object has a Certificate's summary")
	}
	// A Certificate that is not issued yet has no times and no conditions.
	fresh := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "a"}, Spec: cmv1.CertificateSpec{SecretName: "new-tls"}}
	if c, err := Compact(fresh); err != nil || c.NotAfter != 0 || c.RenewalTime != 0 || c.Ready != "" || c.IssuingStatus != "" {
		t.Errorf("a fresh Certificate: %+v, %v", c, err)
	}
	// At rest, a Certificate's spec and status take some 70 bytes.
	if c.Size() > 120 {
		t.Errorf("a Ready Certificate's spec and status take %d bytes compressed, want at most 120", c.Size())
	}
}

// TestCompactRoundTrip fills every field of Certificates at random: each
// either reads back the same or is refused (then the cache keeps it
// typed), and values JSON can hold are never refused.
func TestCompactRoundTrip(t *testing.T) {
	f := randfill.NewWithSeed(time.Now().UnixNano()).NilChance(0.3).NumElements(0, 3).Funcs(
		func(tm *metav1.Time, c randfill.Continue) { *tm = metav1.Unix(c.Int63n(4e9), 0) },
		func(d *metav1.Duration, c randfill.Continue) { d.Duration = time.Duration(c.Int63n(1e15)) },
	)
	for i := range 500 {
		crt := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("c", i), Namespace: "n"}}
		f.Fill(&crt.Spec)
		f.Fill(&crt.Status)
		want := crt.DeepCopy()
		c, err := Compact(crt)
		if err != nil {
			t.Fatalf("a Certificate JSON can hold was refused: %v\n%s", err, pretty(want))
		}
		got, err := c.Full()
		if err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(want.Spec, got.Spec) || !equality.Semantic.DeepEqual(want.Status, got.Status) {
			t.Fatalf("read back:\n%s\nwant:\n%s", pretty(got), pretty(want))
		}
	}
	// A string that is not UTF-8 does not survive JSON: refused.
	bad := readyCertificate(t, 1)
	bad.Spec.CommonName = "\xff"
	if _, err := Compact(bad); err == nil {
		t.Error("a Certificate that does not read back the same was kept compact")
	}
}

// FuzzDecode: whatever the bytes, reading them is an error or a
// Certificate, never a panic.
func FuzzDecode(f *testing.F) {
	c, err := Compact(readyCertificate(f, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.body)
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b body
		_ = decode(data, &b)
		_ = (&Certificate{body: data}).DeepCopyObject()
	})
}

// BenchmarkCompact is the cost of the cache's transform of a Certificate
// (Compact) and of a copy handed out (Full), and the bytes of the body.
func BenchmarkCompact(b *testing.B) {
	crt := readyCertificate(b, 1)
	var c *Certificate
	b.Run("compact", func(b *testing.B) {
		for b.Loop() {
			var err error
			if c, err = Compact(crt); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c.Size()), "body-B")
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Full(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed-deepcopy", func(b *testing.B) {
		for b.Loop() {
			_ = crt.DeepCopyObject()
		}
	})
}

// TestCompactSecret: a cached Secret reads back as the Secret without its
// data, its annotations whole, through the cache's copies and through the
// metadata event handlers read.
func TestCompactSecret(t *testing.T) {
	in := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web-tls", Namespace: "a", ResourceVersion: "7", UID: "u",
			Labels:      map[string]string{"controller.cert-manager.io/fao": "true"},
			Annotations: map[string]string{"cert-manager.io/certificate-name": "web", "cert-manager.io/issuer-name": "ca"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.key": []byte("key")},
	}
	c := CompactSecret(in)
	var o client.Object = c
	if got := o.GetAnnotations(); !maps.Equal(got, in.Annotations) {
		t.Errorf("annotations %v, want %v", got, in.Annotations)
	}
	if c.annotations != nil { // the embedded Meta's
		t.Error("the annotations are kept twice")
	}
	copied, ok := o.DeepCopyObject().(*corev1.Secret)
	if !ok {
		t.Fatalf("DeepCopyObject gave %T, want *corev1.Secret", o.DeepCopyObject())
	}
	want := in.DeepCopy()
	want.Data = nil
	if !equality.Semantic.DeepEqual(want, copied) {
		t.Errorf("read back:\n%s\nwant:\n%s", pretty(copied), pretty(want))
	}
	copied.Annotations["team"] = "a"
	copied.Labels["team"] = "a"
	if len(o.GetAnnotations()) != 2 || len(o.GetLabels()) != 1 {
		t.Error("changing a copy changed the cached Secret")
	}
	if CompactSecret(&corev1.Secret{}).GetAnnotations() != nil {
		t.Error("a Secret without annotations has some")
	}
}

// pretty is v as indented JSON, for a failure's message.
func pretty(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}
