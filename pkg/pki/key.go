package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
)

// MinRSABits is the shortest RSA modulus certplane accepts.
const MinRSABits = 2048

// KeyAlgorithm names a public key algorithm.
type KeyAlgorithm string

// Key algorithms.
const (
	RSA     KeyAlgorithm = "rsa"
	ECDSA   KeyAlgorithm = "ecdsa"
	Ed25519 KeyAlgorithm = "ed25519"
)

// KeySpec says which key to generate. Size is the RSA modulus length in bits
// or the ECDSA curve size (256, 384 or 521); it is ignored for Ed25519.
// The zero value means ECDSA P-256.
type KeySpec struct {
	Algorithm KeyAlgorithm
	Size      int
}

// Common key specs.
var (
	RSA2048    = KeySpec{RSA, 2048}
	RSA3072    = KeySpec{RSA, 3072}
	RSA4096    = KeySpec{RSA, 4096}
	ECDSAP256  = KeySpec{ECDSA, 256}
	ECDSAP384  = KeySpec{ECDSA, 384}
	ECDSAP521  = KeySpec{ECDSA, 521}
	Ed25519Key = KeySpec{Algorithm: Ed25519}
)

// String returns the spec's name as ParseKeySpec reads it, such as
// "rsa-2048", "ecdsa-p256" or "ed25519".
func (s KeySpec) String() string {
	s = s.withDefaults()
	switch s.Algorithm {
	case RSA:
		return fmt.Sprintf("rsa-%d", s.Size)
	case ECDSA:
		return fmt.Sprintf("ecdsa-p%d", s.Size)
	default:
		return string(s.Algorithm)
	}
}

func (s KeySpec) withDefaults() KeySpec {
	if s.Algorithm == "" {
		s.Algorithm = ECDSA
	}
	if s.Size == 0 {
		switch s.Algorithm {
		case RSA:
			s.Size = 2048
		case ECDSA:
			s.Size = 256
		}
	}
	if s.Algorithm == Ed25519 {
		s.Size = 0
	}
	return s
}

// Validate reports whether the spec names a key certplane can generate.
func (s KeySpec) Validate() error {
	s = s.withDefaults()
	switch s.Algorithm {
	case RSA:
		if s.Size < MinRSABits {
			return fmt.Errorf("%w: %d bits, need at least %d", ErrWeakKey, s.Size, MinRSABits)
		}
		if s.Size > 8192 || s.Size%8 != 0 {
			return fmt.Errorf("%w: RSA size %d", ErrUnsupportedKey, s.Size)
		}
	case ECDSA:
		if s.Size != 256 && s.Size != 384 && s.Size != 521 {
			return fmt.Errorf("%w: ECDSA size %d (want 256, 384 or 521)", ErrUnsupportedKey, s.Size)
		}
	case Ed25519:
	default:
		return fmt.Errorf("%w: algorithm %q (want rsa, ecdsa or ed25519)", ErrUnsupportedKey, string(s.Algorithm))
	}
	return nil
}

// ParseKeySpec reads a key name: "rsa-2048", "rsa-3072", "rsa-4096",
// "ecdsa-p256", "ecdsa-p384", "ecdsa-p521" or "ed25519".
func ParseKeySpec(name string) (KeySpec, error) {
	var s KeySpec
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "ed25519":
		s = Ed25519Key
	case strings.HasPrefix(n, "rsa-"):
		s.Algorithm = RSA
		if _, err := fmt.Sscanf(n, "rsa-%d", &s.Size); err != nil {
			return KeySpec{}, fmt.Errorf("%w: %q", ErrUnsupportedKey, name)
		}
	case n == "ecdsa-p256":
		s = ECDSAP256
	case n == "ecdsa-p384":
		s = ECDSAP384
	case n == "ecdsa-p521":
		s = ECDSAP521
	default:
		return KeySpec{}, fmt.Errorf("%w: %q (want rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384, ecdsa-p521 or ed25519)", ErrUnsupportedKey, name)
	}
	if err := s.Validate(); err != nil {
		return KeySpec{}, err
	}
	return s, nil
}

// GenerateKey makes a new private key as the spec says, reading entropy
// from rand.
func GenerateKey(rand io.Reader, spec KeySpec) (crypto.Signer, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	var (
		key crypto.Signer
		err error
	)
	switch spec.Algorithm {
	case RSA:
		key, err = rsa.GenerateKey(rand, spec.Size)
	case ECDSA:
		curve := elliptic.P256()
		switch spec.Size {
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		}
		key, err = ecdsa.GenerateKey(curve, rand)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: generating %s key: %w", spec, err)
	}
	return key, nil
}

// KeyFormat is a PEM encoding of a private key.
type KeyFormat int

// Private key encodings. FormatDefault is PKCS#1 for RSA, SEC1 for ECDSA and
// PKCS#8 for Ed25519: what openssl and kubeadm write.
const (
	FormatDefault KeyFormat = iota
	FormatPKCS1
	FormatSEC1
	FormatPKCS8
)

// MarshalPrivateKeyPEM encodes key as PEM. The key must be an *rsa.PrivateKey,
// *ecdsa.PrivateKey or ed25519.PrivateKey; a signer whose key cannot be
// exported (an HSM key) is an error.
func MarshalPrivateKeyPEM(key crypto.Signer, format KeyFormat) ([]byte, error) {
	if format == FormatDefault {
		switch key.(type) {
		case *rsa.PrivateKey:
			format = FormatPKCS1
		case *ecdsa.PrivateKey:
			format = FormatSEC1
		default:
			format = FormatPKCS8
		}
	}
	var (
		block pem.Block
		err   error
	)
	switch format {
	case FormatPKCS1:
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#1 holds only RSA keys, not %T", ErrUnsupportedKey, key)
		}
		block = pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case FormatSEC1:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: SEC 1 holds only ECDSA keys, not %T", ErrUnsupportedKey, key)
		}
		block.Type = "EC PRIVATE KEY"
		block.Bytes, err = x509.MarshalECPrivateKey(k)
	case FormatPKCS8:
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(key)
	default:
		return nil, fmt.Errorf("pki: unknown key format %d", format)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: encoding %T: %w", key, err)
	}
	return pem.EncodeToMemory(&block), nil
}

// ParsePrivateKeyPEM reads the first private key in data, encoded as PKCS#1
// ("RSA PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY", with or without a leading
// "EC PARAMETERS" block) or PKCS#8 ("PRIVATE KEY"). Encrypted keys and RSA
// keys shorter than MinRSABits are refused.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: want a private key", ErrNoPEM)
		}
		if !isPrivateKeyBlock(block.Type) {
			continue
		}
		signer, err := parsePrivateKeyBlock(block)
		if err != nil {
			return nil, err
		}
		if err := checkPublicKey(signer.Public()); err != nil {
			return nil, err
		}
		return signer, nil
	}
}

func isPrivateKeyBlock(typ string) bool {
	switch typ {
	case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return true
	}
	return false
}

// parsePrivateKeyBlock decodes a private key PEM block of any type
// isPrivateKeyBlock accepts. Parse errors never contain key material.
func parsePrivateKeyBlock(block *pem.Block) (crypto.Signer, error) {
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, ErrEncryptedKey
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: parsing %s: %w", strings.ToLower(block.Type), err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
	}
	return signer, nil
}

// MarshalPublicKeyPEM encodes a public key as a PKIX "PUBLIC KEY" block, the
// form of kubeadm's sa.pub.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM reads the first "PUBLIC KEY" block in data.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block := findBlock(data, "PUBLIC KEY")
	if block == nil {
		return nil, fmt.Errorf("%w: want a public key", ErrNoPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing public key: %w", err)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// KeyDescription names a public key's algorithm and size, such as
// ("RSA", 2048), ("ECDSA", 256) or ("Ed25519", 256).
func KeyDescription(pub crypto.PublicKey) (algorithm string, bits int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	default:
		return fmt.Sprintf("%T", pub), 0
	}
}

// KeyMatches reports whether key is the private half of pub.
func KeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	p, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(pub)
}

// checkPublicKey refuses keys certplane will not use.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return fmt.Errorf("%w: %d bits, need at least %d", ErrWeakKey, n, MinRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return fmt.Errorf("%w: curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	return nil
}

// findBlock returns the first PEM block of the given type in data.
func findBlock(data []byte, typ string) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil || block.Type == typ {
			return block
		}
	}
}
