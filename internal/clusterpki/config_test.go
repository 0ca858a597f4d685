package clusterpki_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/pkg/pki"
)

const sampleConfig = `nodeName: node-a
advertiseAddress: 192.168.10.5
serviceCIDR: 10.100.0.0/16
dnsDomain: example.local
certSANs: [api.example.com, 203.0.113.7]
keyAlgorithm: ecdsa-p384
validity: 720h
caValidity: 43800h
`

func TestParseConfig(t *testing.T) {
	o, err := clusterpki.ParseConfig([]byte(sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if o.NodeName != "node-a" || o.AdvertiseAddress.String() != "192.168.10.5" || o.ServiceCIDR != "10.100.0.0/16" ||
		o.DNSDomain != "example.local" || !slices.Equal(o.CertSANs, []string{"api.example.com", "203.0.113.7"}) ||
		o.Key != pki.ECDSAP384 || o.Validity != 720*time.Hour || o.CAValidity != 43800*time.Hour {
		t.Errorf("parsed %+v", o)
	}
	for _, bad := range []struct{ in, want string }{
		{"node: x", "unknown field"},
		{"advertiseAddress: nowhere", "not an IP address"},
		{"keyAlgorithm: rsa-1024", "RSA key too short"},
		{"validity: forever", "not a positive duration"},
		{"[", "reading configuration"},
	} {
		if _, err := clusterpki.ParseConfig([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error = %v, want %q", bad.in, err, bad.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(sampleConfig))
	f.Add([]byte(`{"nodeName":"n","certSANs":["::1"]}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := clusterpki.ParseConfig(data)
		if err != nil {
			return
		}
		if o.Key.Algorithm != "" {
			if err := o.Key.Validate(); err != nil {
				t.Fatalf("accepted an invalid key: %v", err)
			}
		}
		if o.Validity < 0 || o.CAValidity < 0 {
			t.Fatal("accepted a negative validity")
		}
	})
}
