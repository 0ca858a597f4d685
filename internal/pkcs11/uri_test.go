package pkcs11

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func intp(n int) *int { return &n }

func TestParseURI(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want URI
		str  string // String(), if different from in
	}{
		{
			name: "label and module",
			in:   "pkcs11:token=certplane;object=cluster-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
			want: URI{Token: "certplane", Object: "cluster-ca", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINValue: "1234"},
			str:  "pkcs11:token=certplane;object=cluster-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=REDACTED",
		},
		{
			name: "percent-encoded values and id bytes",
			in:   "pkcs11:token=my%20token;object=ca%3Bkey;id=%01%02%ff;type=private",
			want: URI{Token: "my token", Object: "ca;key", ID: []byte{1, 2, 0xff}, Type: "private"},
			str:  "pkcs11:token=my%20token;object=ca%3Bkey;id=%01%02%ff;type=private",
		},
		{
			name: "smallstep module-path in the path",
			in:   "pkcs11:module-path=/usr/lib/softhsm/libsofthsm2.so;token=certplane;id=7331;object=intermediate-key?pin-source=file:/etc/pin",
			want: URI{Token: "certplane", Object: "intermediate-key", ID: []byte("7331"), ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINSource: "file:/etc/pin"},
			str:  "pkcs11:token=certplane;object=intermediate-key;id=%37%33%33%31?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pin",
		},
		{
			name: "p11tool style with ignored and matched token attributes",
			in:   "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=8e5d0ba42c2fd6a5;token=ca;library-version=2.6;x-vendor=1;id=%0a;object=k;type=private",
			want: URI{Token: "ca", Serial: "8e5d0ba42c2fd6a5", Object: "k", ID: []byte{10}, Type: "private",
				other: []attr{{"model", "SoftHSM v2"}, {"manufacturer", "SoftHSM project"}, {"library-version", "2.6"}, {"x-vendor", "1"}}},
			str: "pkcs11:token=ca;serial=8e5d0ba42c2fd6a5;model=SoftHSM%20v2;manufacturer=SoftHSM%20project;library-version=2.6;x-vendor=1;object=k;id=%0a;type=private",
		},
		{
			name: "slot-id and id only",
			in:   "pkcs11:slot-id=1354328181;id=%01",
			want: URI{SlotID: intp(1354328181), ID: []byte{1}},
		},
		{
			name: "reserved characters allowed unencoded",
			in:   "pkcs11:token=a:b@c!$'()*+,=&d;object=x?pin-value=p:/?|=",
			want: URI{Token: "a:b@c!$'()*+,=&d", Object: "x", PINValue: "p:/?|="},
			str:  "pkcs11:token=a%3Ab%40c%21%24%27%28%29%2A%2B%2C%3D%26d;object=x?pin-value=REDACTED",
		},
		{
			name: "empty query",
			in:   "pkcs11:token=t;object=o?",
			want: URI{Token: "t", Object: "o"},
			str:  "pkcs11:token=t;object=o",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURI(tt.in)
			if err != nil {
				t.Fatalf("ParseURI: %v", err)
			}
			if !reflect.DeepEqual(*u, tt.want) {
				t.Errorf("ParseURI = %#v, want %#v", *u, tt.want)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if got := u.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			back, err := ParseURI(u.String())
			if err != nil {
				t.Fatalf("ParseURI(String()): %v", err)
			}
			if tt.want.PINValue != "" {
				back.PINValue = tt.want.PINValue
			}
			if !reflect.DeepEqual(back, u) {
				t.Errorf("ParseURI(String()) = %#v, want %#v", back, u)
			}
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	const pin = "Sup3r-S3cret-PIN"
	tests := []struct {
		name, in, want string
	}{
		{"not pkcs11", "file:/etc/key.pem", `not a PKCS#11 URI (want "pkcs11:...")`},
		{"upper-case scheme", "PKCS11:token=t;object=o", `not a PKCS#11 URI (want "pkcs11:...")`},
		{"no token", "pkcs11:object=o?pin-value=" + pin, "no token named (want token=, serial= or slot-id=)"},
		{"no key", "pkcs11:token=t?pin-value=" + pin, "no key named (want object=, id= or both)"},
		{"stray semicolon", "pkcs11:token=t;;object=o", `empty path attribute (stray ";")`},
		{"stray ampersand", "pkcs11:token=t;object=o?pin-value=" + pin + "&", `empty query attribute (stray "&")`},
		{"no equals", "pkcs11:token=t;object", `path attribute "object" has no '='`},
		{"malformed name", "pkcs11:token=t;Object=o", "malformed path attribute name"},
		{"pin as name", "pkcs11:token=t;object=o?" + pin, "malformed query attribute name"},
		{"duplicate", "pkcs11:token=t;object=o;object=p", `attribute "object" given twice`},
		{"duplicate pin", "pkcs11:token=t;object=o?pin-value=" + pin + "&pin-value=x", `attribute "pin-value" given twice`},
		{"module-path twice", "pkcs11:module-path=/a.so;token=t;object=o?module-path=/b.so", `attribute "module-path" given twice`},
		{"empty value", "pkcs11:token=;object=o", `attribute "token" is empty`},
		{"bad escape in pin", "pkcs11:token=t;object=o?pin-value=" + pin + "%zz", `attribute "pin-value": bad percent-encoding at offset 16`},
		{"short escape", "pkcs11:token=t;object=o%4", `attribute "object": bad percent-encoding at offset 1`},
		{"space in pin", "pkcs11:token=t;object=o?pin-value=" + pin + " x", `attribute "pin-value": character at offset 16 must be percent-encoded`},
		{"question mark in path value", "pkcs11:token=t;object=o#x", `attribute "object": character at offset 1 must be percent-encoded`},
		{"non-UTF-8 label", "pkcs11:token=t;object=%ff", `attribute "object" is not UTF-8 after percent-decoding`},
		{"unknown path attribute", "pkcs11:token=t;object=o;color=red", `unknown path attribute "color"`},
		{"unknown query attribute", "pkcs11:token=t;object=o?max-sessions=4", `unknown query attribute "max-sessions"`},
		{"pin in path", "pkcs11:token=t;object=o;pin-value=" + pin, "pin-value is a query attribute (write it after '?')"},
		{"token in query", "pkcs11:object=o?token=t", "token is a path attribute (write it before '?')"},
		{"module-name", "pkcs11:token=t;object=o?module-name=softhsm2", "module-name is not supported; give module-path"},
		{"relative module", "pkcs11:token=t;object=o?module-path=libsofthsm2.so", "module-path is not an absolute path"},
		{"pin command", "pkcs11:token=t;object=o?pin-source=%7C/bin/echo", "pin-source commands (|...) are not supported; name a file"},
		{"pin source scheme", "pkcs11:token=t;object=o?pin-source=env:PIN", "pin-source is not a file (want a path or file:...)"},
		{"both pins", "pkcs11:token=t;object=o?pin-value=" + pin + "&pin-source=/p", "both pin-value and pin-source are given; use one"},
		{"public type", "pkcs11:token=t;object=o;type=public", "type=public does not name a private key (want type=private or no type)"},
		{"cert type", "pkcs11:token=t;object=o;type=cert", "type=cert does not name a private key (want type=private or no type)"},
		{"odd type", "pkcs11:token=t;object=o;type=" + pin, "unknown type (want type=private or no type)"},
		{"slot not a number", "pkcs11:slot-id=" + pin + ";object=o", "slot-id is not a decimal slot number"},
		{"negative slot", "pkcs11:slot-id=-1;object=o", "slot-id is not a decimal slot number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURI(tt.in)
			if err == nil {
				t.Fatal("ParseURI succeeded")
			}
			if want := "pkcs11: parsing URI: " + tt.want; err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
			if !errors.Is(err, ErrInvalidURI) {
				t.Errorf("error %v does not wrap ErrInvalidURI", err)
			}
			if strings.Contains(err.Error(), pin) {
				t.Errorf("error %q contains the PIN", err)
			}
		})
	}
}

func TestIsURI(t *testing.T) {
	for in, want := range map[string]bool{
		"pkcs11:token=t;object=o": true,
		"pkcs11:":                 true,
		"PKCS11:token=t":          false,
		"/etc/certplane/ca.key":   false,
		"file:ca.key":             false,
		"":                        false,
	} {
		if got := IsURI(in); got != want {
			t.Errorf("IsURI(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPIN(t *testing.T) {
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte("  f1le-PIN-4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, uri, want, err string
	}{
		{name: "value", uri: "pkcs11:token=t;object=o?pin-value=v%20PIN", want: "v PIN"},
		{name: "file", uri: "pkcs11:token=t;object=o?pin-source=" + pinFile, want: "f1le-PIN-4242"},
		{name: "file: prefix", uri: "pkcs11:token=t;object=o?pin-source=file:" + pinFile, want: "f1le-PIN-4242"},
		{name: "file:// prefix", uri: "pkcs11:token=t;object=o?pin-source=file://" + pinFile, want: "f1le-PIN-4242"},
		{name: "none", uri: "pkcs11:token=t;object=o",
			err: "pkcs11: pkcs11:token=t;object=o: no PIN (set pin-value or pin-source)"},
		{name: "missing file", uri: "pkcs11:token=t;object=o?pin-source=" + dir + "/nope",
			err: "pkcs11: pkcs11:token=t;object=o?pin-source=" + dir + "/nope: reading pin-source: open " + dir + "/nope: no such file or directory"},
		{name: "empty file", uri: "pkcs11:token=t;object=o?pin-source=" + empty,
			err: "pkcs11: pkcs11:token=t;object=o?pin-source=" + empty + ": pin-source " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURI(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.PIN()
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("PIN() error = %v, want %q", err, tt.err)
				}
				if !errors.Is(err, ErrPIN) {
					t.Errorf("error %v does not wrap ErrPIN", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PIN() = %q, %v; want %q", got, err, tt.want)
			}
			if strings.Contains(u.String(), tt.want) {
				t.Errorf("String() %q shows the PIN", u)
			}
		})
	}
}
