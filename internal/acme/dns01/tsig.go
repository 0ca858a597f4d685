package dns01

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/miekg/dns"
)

// hmacMD5 is the TSIG algorithm name of HMAC-MD5 (RFC 8945). miekg/dns
// deprecated its constant and no longer signs with it; tsigKey does.
const hmacMD5 = "hmac-md5.sig-alg.reg.int."

// tsigAlgorithms maps cert-manager's tsigAlgorithm values (upper-cased) to
// TSIG algorithm names.
var tsigAlgorithms = map[string]string{
	"HMACMD5":    hmacMD5,
	"HMACSHA1":   dns.HmacSHA1,
	"HMACSHA256": dns.HmacSHA256,
	"HMACSHA512": dns.HmacSHA512,
}

// ParseTSIGAlgorithm maps a cert-manager tsigAlgorithm value, compared
// case-insensitively, to its TSIG algorithm name: HMACMD5 (also the default
// for ""), HMACSHA1, HMACSHA256 or HMACSHA512 give "hmac-md5.sig-alg.reg.int.",
// "hmac-sha1.", "hmac-sha256." or "hmac-sha512.". Any other value is an
// error.
func ParseTSIGAlgorithm(s string) (string, error) {
	if s == "" {
		return hmacMD5, nil
	}
	// ASCII only: strings.ToUpper would also map "ſ" to "S".
	if isASCII(s) {
		if alg, ok := tsigAlgorithms[strings.ToUpper(s)]; ok {
			return alg, nil
		}
	}
	return "", fmt.Errorf("dns01: unsupported TSIG algorithm %q: use HMACMD5, HMACSHA1, HMACSHA256 or HMACSHA512", s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// tsigKey is a dns.TsigProvider for one key. It implements HMAC-MD5 as well
// as the SHA algorithms, so that every algorithm goes through one path.
type tsigKey struct {
	name      string // key name, fully qualified
	algorithm string // TSIG algorithm name
	secret    []byte
}

// newTSIGKey decodes a BIND key file secret (standard base64). Errors never
// contain the secret.
func newTSIGKey(name, algorithm, secret string) (*tsigKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(secret), ""))
	if err != nil {
		return nil, errors.New("dns01: the TSIG secret is not valid base64 (give the secret text of the BIND key file)")
	}
	if len(raw) == 0 {
		return nil, errors.New("dns01: the TSIG secret is empty")
	}
	if _, err := newHash(algorithm); err != nil {
		return nil, err
	}
	return &tsigKey{name: dns.CanonicalName(name), algorithm: algorithm, secret: raw}, nil
}

func newHash(algorithm string) (func() hash.Hash, error) {
	switch dns.CanonicalName(algorithm) {
	case hmacMD5:
		return md5.New, nil
	case dns.HmacSHA1:
		return sha1.New, nil
	case dns.HmacSHA256:
		return sha256.New, nil
	case dns.HmacSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("dns01: unsupported TSIG algorithm %q", algorithm)
}

// Generate implements dns.TsigProvider.
func (k *tsigKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if dns.CanonicalName(t.Algorithm) != k.algorithm {
		return nil, dns.ErrKeyAlg
	}
	h, err := newHash(k.algorithm)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(h, k.secret)
	mac.Write(msg)
	return mac.Sum(nil), nil
}

// Verify implements dns.TsigProvider.
func (k *tsigKey) Verify(msg []byte, t *dns.TSIG) error {
	if t.Error != dns.RcodeSuccess {
		return fmt.Errorf("dns01: the server answered with TSIG error %s", rcodeName(int(t.Error)))
	}
	if dns.CanonicalName(t.Hdr.Name) != k.name {
		return fmt.Errorf("dns01: the answer is signed with key %q, not %q", t.Hdr.Name, k.name)
	}
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return dns.ErrSig
	}
	if !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	return nil
}

// rcodeName names a DNS or TSIG response code.
func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rcode)
}
