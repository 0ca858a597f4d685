package vault

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestSignRequestBody(t *testing.T) {
	csr := []byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n")
	tests := []struct {
		name string
		req  SignRequest
		want map[string]any
	}{{
		name: "cert-manager's request for a 90-day certificate",
		req: SignRequest{
			CSR:               csr,
			CommonName:        "web.example.com",
			AltNames:          []string{"web.example.com", "www.example.com"},
			IPSANs:            []string{"10.0.0.1", "2001:db8::1"},
			URISANs:           []string{"spiffe://cluster.local/ns/a/sa/b"},
			TTL:               2160 * time.Hour,
			ExcludeCNFromSANs: true,
		},
		want: map[string]any{
			"common_name":          "web.example.com",
			"alt_names":            "web.example.com,www.example.com",
			"ip_sans":              "10.0.0.1,2001:db8::1",
			"uri_sans":             "spiffe://cluster.local/ns/a/sa/b",
			"ttl":                  "2160h0m0s",
			"csr":                  string(csr),
			"exclude_cn_from_sans": "true",
		},
	}, {
		name: "no names, no TTL: empty strings, ttl left out",
		req:  SignRequest{CSR: csr},
		want: map[string]any{
			"common_name":          "",
			"alt_names":            "",
			"ip_sans":              "",
			"uri_sans":             "",
			"csr":                  string(csr),
			"exclude_cn_from_sans": "false",
		},
	}, {
		name: "odd TTL is Duration.String",
		req:  SignRequest{CSR: csr, TTL: 90*time.Minute + 500*time.Millisecond, AltNames: []string{"a"}},
		want: map[string]any{
			"common_name":          "",
			"alt_names":            "a",
			"ip_sans":              "",
			"uri_sans":             "",
			"ttl":                  "1h30m0.5s",
			"csr":                  string(csr),
			"exclude_cn_from_sans": "false",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.req.Body()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Body() =\n%v\nwant\n%v", got, tt.want)
			}
			// Every value is a JSON string on the wire.
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]json.RawMessage
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			for k, v := range back {
				if len(v) == 0 || v[0] != '"' {
					t.Errorf("%s = %s, want a JSON string", k, v)
				}
			}
		})
	}
}
