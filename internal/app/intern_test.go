package app

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/json"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// issuedSecret is a Secret as certplane writes it, decoded afresh from
// protobuf as the cache's informer decodes each Secret it lists or watches.
func issuedSecret(t testing.TB, i int) *corev1.Secret {
	t.Helper()
	t0 := true
	in := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("app-%06d-tls", i), Namespace: fmt.Sprintf("growth-%02d", i%10), UID: "8a7f2c1e-4b7d-4f55-9d2a-0c1b2e3f4a5b", ResourceVersion: "123456",
			Labels: map[string]string{"controller.cert-manager.io/fao": "true"},
			Annotations: map[string]string{
				"cert-manager.io/alt-names": fmt.Sprintf("app-%06d.example.com", i), "cert-manager.io/certificate-name": fmt.Sprintf("app-%06d", i),
				"cert-manager.io/common-name": "", "cert-manager.io/ip-sans": "", "cert-manager.io/uri-sans": "",
				"cert-manager.io/issuer-name": "ca", "cert-manager.io/issuer-kind": "Issuer", "cert-manager.io/issuer-group": "cert-manager.io",
				"certplane.io/revision": "1", "certplane.io/request-hash": fmt.Sprintf("%064x", i),
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: fmt.Sprintf("app-%06d", i), UID: "8a7f2c1e-4b7d-4f55-9d2a-0c1b2e3f4a5c", Controller: &t0}},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			"tls.crt": []byte(strings.Repeat(fmt.Sprintf("%08d", i), 90)),
			"tls.key": []byte(strings.Repeat(fmt.Sprintf("%08d", i), 29)),
			"ca.crt":  []byte(strings.Repeat("C", 600)),
		},
	}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := &corev1.Secret{}
	if err := out.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	return out
}

// readyCertificate is a Ready Certificate, decoded from JSON as the
// cache's informer decodes custom resources.
func readyCertificate(t testing.TB, i int) *cmv1.Certificate {
	t.Helper()
	doc := fmt.Sprintf(`{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"app-%06[1]d","namespace":"growth-%02[2]d","uid":"8a7f2c1e-4b7d-4f55-9d2a-0c1b2e3f4a5c","resourceVersion":"123457","generation":1,"creationTimestamp":"2026-12-03T06:00:00Z",
"annotations":{"certplane.io/requester":"kubernetes-admin","certplane.io/requester-uid":"","certplane.io/requester-groups":"kubeadm:cluster-admins,system:authenticated"}},
"spec":{"secretName":"app-%06[1]d-tls","dnsNames":["app-%06[1]d.example.com"],"duration":"2160h0m0s","issuerRef":{"name":"ca","kind":"Issuer","group":"cert-manager.io"},"privateKey":{"algorithm":"ECDSA","size":256,"rotationPolicy":"Always"},"usages":["digital signature","key encipherment"]},
"status":{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-12-03T06:00:01Z","reason":"Ready","message":"Certificate is up to date and has not expired","observedGeneration":1}],"notBefore":"2026-12-03T06:00:00Z","notAfter":"2027-03-03T06:00:00Z","renewalTime":"2027-02-01T06:00:00Z","revision":1}}`, i, i%10)
	c := &cmv1.Certificate{}
	if err := json.UnmarshalCaseSensitivePreserveInts([]byte(doc), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestInterner(t *testing.T) {
	in := newInterner(internLimit)
	s1, s2 := issuedSecret(t, 1), issuedSecret(t, 2)
	in.secret(s1)
	in.secret(s2)
	s11 := issuedSecret(t, 11) // the namespace of s1
	in.secret(s11)
	if !sameString(s1.Annotations["cert-manager.io/issuer-kind"], s2.Annotations["cert-manager.io/issuer-kind"]) || !sameString(s1.Namespace, s11.Namespace) {
		t.Error("recurring metadata not shared")
	}
	for k := range s1.Annotations {
		for k2 := range s2.Annotations {
			if k == k2 && !sameString(k, k2) {
				t.Errorf("annotation key %s not shared", k)
			}
		}
	}
	// What the object says is unchanged.
	want := issuedSecret(t, 1)
	if !equality.Semantic.DeepEqual(want, s1) {
		t.Errorf("interning changed the Secret:\n%v\n%v", want, s1)
	}

	c1, c2 := readyCertificate(t, 1), readyCertificate(t, 2)
	in.certificate(c1)
	in.certificate(c2)
	if !sameString(c1.Status.Conditions[0].Message, c2.Status.Conditions[0].Message) || !sameString(c1.Spec.IssuerRef.Group, c2.Spec.IssuerRef.Group) ||
		!sameString(string(c1.Spec.Usages[1]), string(c2.Spec.Usages[1])) || !sameString(c1.Spec.PrivateKey.Algorithm, c2.Spec.PrivateKey.Algorithm) {
		t.Error("recurring Certificate fields not shared")
	}
	if reflect.ValueOf(c1.Annotations).UnsafePointer() != reflect.ValueOf(c2.Annotations).UnsafePointer() {
		t.Error("two Certificates of one requester keep two annotation maps")
	}
	own := readyCertificate(t, 4)
	own.Annotations["team"] = "a"
	in.certificate(own)
	if len(own.Annotations) != 4 || own.Annotations["team"] != "a" || len(c1.Annotations) != 3 ||
		reflect.ValueOf(own.Annotations).UnsafePointer() == reflect.ValueOf(c1.Annotations).UnsafePointer() {
		t.Errorf("a Certificate's own annotations %v changed, or changed the shared ones %v", own.Annotations, c1.Annotations)
	}
	failed := readyCertificate(t, 3)
	failed.Status.Conditions[0].Status, failed.Status.Conditions[0].Message = cmv1.ConditionFalse, "Issuer \"ca\" not found in namespace growth-03"
	in.certificate(failed)
	if _, ok := in.strs[failed.Status.Conditions[0].Message]; ok {
		t.Error("the message of a false condition went into the table")
	}
	if wantC := readyCertificate(t, 1); !equality.Semantic.DeepEqual(wantC, c1) {
		t.Errorf("interning changed the Certificate:\n%v\n%v", wantC, c1)
	}
}

func TestInternerBound(t *testing.T) {
	in := newInterner(2)
	a, b, c := strings.Clone("a"), strings.Clone("b"), strings.Clone("c")
	in.str(a)
	in.str(b)
	if got := in.str(c); !sameString(got, c) {
		t.Error("a string past the bound was replaced")
	}
	if got := in.str(strings.Clone("c")); sameString(got, c) {
		t.Error("a string past the bound was kept in the table")
	}
	if got := in.str(strings.Clone("a")); !sameString(got, a) {
		t.Error("a string within the bound was not shared")
	}
	if len(in.strs) != 2 {
		t.Errorf("the table holds %d strings, want 2", len(in.strs))
	}
}

// BenchmarkCachedObjects reports the live heap of a cached Certificate and
// its Secret, as decoded and after the cache's transform, and the time the
// transform takes per pair.
func BenchmarkCachedObjects(b *testing.B) {
	const n = 20000
	for _, tc := range []struct {
		name      string
		transform func(any) (any, error)
	}{
		{"managed-fields-stripped", func(o any) (any, error) { return stripManagedFields(o) }},
		{"interned", cacheTransform(newInterner(internLimit))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				objs := make([]any, 0, 2*n)
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				for i := range n {
					s, err := tc.transform(issuedSecret(b, i))
					if err != nil {
						b.Fatal(err)
					}
					c, err := tc.transform(readyCertificate(b, i))
					if err != nil {
						b.Fatal(err)
					}
					objs = append(objs, s, c)
				}
				b.StopTimer()
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "live-B/pair")
				runtime.KeepAlive(objs)
				b.StartTimer()
			}
		})
	}
}
