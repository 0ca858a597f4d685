package pkcs11

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParseURI checks that ParseURI never panics, that String of a parsed
// URI parses back to the same URI with the PIN replaced by REDACTED, and
// that no error or String shows a pin-value.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=certplane;object=cluster-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
		"pkcs11:token=my%20token;object=ca%3Bkey;id=%01%02%ff;type=private",
		"pkcs11:module-path=/usr/lib/softhsm/libsofthsm2.so;token=certplane;id=7331;object=k?pin-source=file:/etc/pin",
		"pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=8e5d0ba42c2fd6a5;token=ca;id=%0a;object=k;type=private",
		"pkcs11:slot-id=1354328181;id=%01?pin-value=s3cret-PIN",
		"pkcs11:token=a:b@c!$'()*+,=&d;object=x?pin-value=p:/?|=",
		"pkcs11:token=t;object=o?pin-value=Sup3r-S3cret-PIN%zz",
		"pkcs11:token=t;object=o;type=cert",
		"pkcs11:token=t;object=o?pin-value=a&pin-value=b",
		"pkcs11:token=t;object=o?pin-source=%7C/bin/echo",
		"pkcs11:",
		"pkcs11:;;?&&",
		"file:/etc/key.pem",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "pkcs11: parsing URI: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error %q is not one line starting \"pkcs11: parsing URI: \"", msg)
			}
		} else {
			str := u.String()
			back, err := ParseURI(str)
			if err != nil {
				t.Fatalf("ParseURI(%q) of String() of %q: %v", str, s, err)
			}
			want := *u
			if want.PINValue != "" {
				want.PINValue = redacted
			}
			if !reflect.DeepEqual(*back, want) {
				t.Fatalf("ParseURI(String()) = %#v, want %#v", *back, want)
			}
			if back.String() != str {
				t.Fatalf("String() is not stable: %q then %q", str, back.String())
			}
		}

		// The same input with a marker at the start of its pin-value: the
		// marker must show in no error and, if it is in the PIN, not in
		// String. (Errors quote attribute names, never values.)
		const marker = "Zq7MRKpin"
		if !strings.Contains(s, "pin-value=") || strings.Contains(s, marker) {
			return
		}
		u, err = ParseURI(strings.Replace(s, "pin-value=", "pin-value="+marker, 1))
		if err != nil {
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error %q shows a value", err)
			}
			return
		}
		if strings.Contains(u.PINValue, marker) && strings.Contains(u.String(), marker) {
			t.Fatalf("String() %q shows the PIN", u)
		}
	})
}
