package podcertpolicy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// FuzzDecide: whatever the stub request holds, the decision is exactly one
// of issue, deny or fail, with a reason, and nothing panics.
func FuzzDecide(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := request(&testing.T{}, key).Spec.StubPKCS10Request
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----"))
	f.Fuzz(func(t *testing.T, stubDER []byte) {
		p := request(t, key)
		p.Spec.StubPKCS10Request = stubDER
		d := Decide(p, Rules{TrustDomain: "cluster.local"})
		n := 0
		for _, b := range []bool{d.Issue, d.Deny, d.Fail} {
			if b {
				n++
			}
		}
		if n != 1 || d.Reason == "" {
			t.Fatalf("decision %+v: want exactly one outcome with a reason", d)
		}
	})
}
