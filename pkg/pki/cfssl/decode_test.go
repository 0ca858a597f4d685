package cfssl_test

import (
	"testing"

	"github.com/certplane/certplane/pkg/pki/cfssl"
)

// TestParseJSONErrors: a request that is not the JSON cfssl takes is
// described in the request's terms, never with Go type names.
func TestParseJSONErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[]`, `cfssl: the request must be a JSON object, not a list`},
		{`"CN"`, `cfssl: the request must be a JSON object, not a string`},
		{`{"CN": 5}`, `cfssl: "CN" must be a string, not a number`},
		{`{"CN":"a","hosts":"a.example"}`, `cfssl: "hosts" must be a list of strings, not a string`},
		{`{"CN":"a","hosts":[1]}`, `cfssl: "hosts" must be a string, not a number`},
		{`{"CN":"a","key":{"algo":"rsa","size":"2048"}}`, `cfssl: "key.size" must be a number, not a string`},
		{`{"CN":"a","names":{"O":"x"}}`, `cfssl: "names" must be a list of objects, not an object`},
		{`{"CN":"a","ca":{"pathlenzero":"yes"}}`, `cfssl: "ca.pathlenzero" must be true or false, not a string`},
		{`{"CN":"a","host":["x"]}`, `cfssl: the request has an unknown field "host"`},
		{`hello`, `cfssl: the request is not valid JSON: invalid character 'h' looking for beginning of value at byte 1`},
		{`{"CN": "a", "hosts": [`, `cfssl: the request is not valid JSON: it ends too early`},
		{`{"CN":"a"} {"CN":"b"}`, `cfssl: the request holds more than one JSON value`},
	}
	for _, tt := range tests {
		_, err := cfssl.Parse([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
}
