//go:build cgo && !nopkcs11

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/certplane/certplane/pkg/pki"
)

const (
	// maxSessions is crypto11's MaxSessions for each context: one session
	// holds the login and 16 are pooled, so up to 16 signatures per token
	// run at once. crypto11 lowers it to the token's ulMaxRwSessionCount.
	maxSessions = 17
	// poolWait is how long a signature waits for a free session before it
	// fails.
	poolWait = 30 * time.Second
)

// errReopening stands for a context while it is being closed and opened again.
var errReopening = errors.New("pkcs11: re-opening")

// store is the process's contexts: one login per module, token and PIN.
var store = &cache{entries: map[entryKey]*entry{}}

// cache holds the open contexts. mu guards the map and serializes every
// crypto11.Configure, Context.Close, key generation and direct module
// access; signing never takes it.
type cache struct {
	mu      sync.Mutex
	entries map[entryKey]*entry
}

// entryKey names a context: the module's resolved file name, the token
// attributes of the URI, and the PIN.
type entryKey struct{ module, token, pin string }

// entry is one logged-in token.
type entry struct {
	key   entryKey
	shown string // the module path as the user gave it, for errors
	u     *URI   // the URI that opened it; its token attributes re-open it
	// slot and tokenID are set under cache.mu. tokenID (module, serial and
	// label) says which token the context is logged in to.
	slot    uint
	tokenID string
	closed  bool // set by Close, under cache.mu
	gen     atomic.Pointer[generation]
	reopens atomic.Int64 // how many times the context was re-opened
}

// generation is one crypto11 Context of an entry; a re-open replaces it.
type generation struct {
	ctx *crypto11.Context // nil if the last (re)open failed, or after Close
	err error             // why ctx is nil
}

// Open finds the key pair the URI names (by object label and/or id) and
// returns a crypto.Signer whose private key never leaves the token. RSA keys
// sign PKCS#1 v1.5, or RSA-PSS when opts is an *rsa.PSSOptions.
//
// Contexts are cached: the process logs in once per module, token and PIN,
// and every Signer of that token shares the login and crypto11's pool of
// sessions, so concurrent Sign calls run in parallel. After a token error
// (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
// CKR_USER_NOT_LOGGED_IN, ...) the context is closed and opened again once,
// and the operation retried once.
func Open(uri string) (crypto.Signer, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	return store.open(u)
}

// Generate creates a key pair in the token with the URI's object label and
// id (if the URI has no id, the first 8 bytes of the label's SHA-256) and
// returns its Signer. The private key is CKA_SENSITIVE, not
// CKA_EXTRACTABLE, and may only sign. Generate refuses (ErrKeyExists) if
// the token holds any key with that label or id: it never replaces a key.
// ECDSA P-256, P-384 and P-521 and RSA of 2048 bits or more are supported;
// Ed25519 is refused, as crypto11 v1.6.2 cannot make EdDSA keys.
func Generate(uri string, spec pki.KeySpec) (crypto.Signer, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if u.Object == "" {
		return nil, &uriError{uri: u.String(), msg: "generating a key needs object= (its label)", kind: ErrInvalidURI}
	}
	if err := spec.Validate(); err != nil {
		return nil, &uriError{uri: u.String(), msg: "cannot generate " + spec.String() + ": " + err.Error(), err: err}
	}
	spec, err = pki.ParseKeySpec(spec.String()) // fills in the defaults
	if err != nil {
		return nil, &uriError{uri: u.String(), msg: "cannot generate " + spec.String() + ": " + err.Error(), err: err}
	}
	if spec.Algorithm == pki.Ed25519 {
		return nil, &uriError{uri: u.String(), kind: pki.ErrUnsupportedKey,
			msg: "cannot generate an ed25519 key in a token: crypto11 v1.6.2 has no EdDSA (use ecdsa-p256, ecdsa-p384 or rsa-3072)"}
	}
	return store.generate(u, spec)
}

// Close closes every cached context, logging out of every token; Signers
// from Open and Generate fail with ErrClosed afterwards. A later Open logs
// in again. Use it in tests and at process exit.
func Close() error { return store.close() }

func (c *cache) open(u *URI) (crypto.Signer, error) {
	e, err := c.entryFor(u)
	if err != nil {
		return nil, err
	}
	s := &signer{c: c, e: e, u: u}
	g := e.gen.Load()
	if g.ctx != nil {
		b, err := s.find(g)
		if err == nil {
			s.pub = b.key.Public()
			return s, nil
		}
		if !retryable(err) && g == e.gen.Load() {
			return nil, opError(u, "finding key pair", err)
		}
	}
	b, err := s.rebind(g)
	if err != nil {
		return nil, err
	}
	s.pub = b.key.Public()
	return s, nil
}

// entryFor returns the context for u's module, token and PIN, opening it
// (and logging in) if this process has none yet.
func (c *cache) entryFor(u *URI) (*entry, error) {
	module, shown, err := resolveModule(u)
	if err != nil {
		return nil, err
	}
	pin, err := u.PIN()
	if err != nil {
		return nil, err
	}
	key := entryKey{module: module, token: tokenKey(u), pin: pin}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		return e, nil
	}
	ctx, slot, info, err := configure(u, u, module, shown, pin)
	if err != nil {
		return nil, err
	}
	tokenID := module + "\x00" + info.SerialNumber + "\x00" + info.Label
	for _, o := range c.entries {
		if o.tokenID != tokenID || o.gen.Load().ctx == nil {
			continue
		}
		// This process is already logged in to the token, so crypto11's
		// login just now was answered CKR_USER_ALREADY_LOGGED_IN (which it
		// ignores) and proved nothing about pin.
		_ = ctx.Close()
		if o.key.pin != pin {
			return nil, &uriError{uri: u.String(), kind: ErrPIN,
				msg: "login refused: this process is logged in to the token with another PIN and cannot check this one (CKR_USER_ALREADY_LOGGED_IN)"}
		}
		c.entries[key] = o // the same token and PIN, named another way
		return o, nil
	}
	e := &entry{key: key, shown: shown, u: u, slot: slot, tokenID: tokenID}
	e.gen.Store(&generation{ctx: ctx})
	c.entries[key] = e
	return e, nil
}

// configure opens a crypto11 context on the token sel names and logs in.
// Errors name the URI shown.
func configure(sel, shown *URI, module, shownModule, pin string) (*crypto11.Context, uint, p11.TokenInfo, error) {
	var info p11.TokenInfo
	slot, serial, label := selectToken(sel)
	cfg := &crypto11.Config{
		Path:            module,
		TokenSerial:     serial,
		TokenLabel:      label,
		Pin:             pin,
		MaxSessions:     maxSessions,
		PoolWaitTimeout: poolWait,
	}
	if slot != nil {
		n := *slot
		cfg.SlotNumber = &n
	}
	ctx, err := crypto11.Configure(cfg)
	if err != nil {
		return nil, 0, info, configureError(shown, shownModule, err)
	}
	var (
		s  uint
		ok bool
	)
	err = withModule(module, func(m *p11.Ctx) error {
		var err error
		s, info, ok, err = findToken(m, sel)
		return err
	})
	switch {
	case err != nil:
		err = opError(shown, "reading token information", err)
	case !ok:
		err = &uriError{uri: shown.String(), msg: tokenDesc(sel), kind: ErrNoToken}
	}
	if err != nil {
		_ = ctx.Close()
		return nil, 0, info, err
	}
	return ctx, s, info, nil
}

// reopen closes e's context and opens it again, unless another goroutine
// has already replaced old, in which case it returns the new generation.
func (c *cache) reopen(e *entry, old *generation, u *URI) (*generation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reopenLocked(e, old, u)
}

func (c *cache) reopenLocked(e *entry, old *generation, u *URI) (*generation, error) {
	if e.closed {
		return nil, &uriError{uri: u.String(), msg: "closed (pkcs11.Close was called)", kind: ErrClosed}
	}
	cur := e.gen.Load()
	if cur != old && cur.ctx != nil {
		return cur, nil
	}
	if cur.ctx != nil {
		// Take the context out of use first: a Sign that fails on it while
		// it closes sees that it was replaced and waits here for the new one.
		e.gen.Store(&generation{err: errReopening})
		_ = cur.ctx.Close() // waits for operations in flight to return their sessions
	}
	e.reopens.Add(1)
	ctx, slot, _, err := configure(e.u, u, e.key.module, e.shown, e.key.pin)
	g := &generation{ctx: ctx, err: err}
	e.gen.Store(g)
	if err != nil {
		return nil, err
	}
	e.slot = slot
	return g, nil
}

func (c *cache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k, e := range c.entries {
		delete(c.entries, k)
		if e.closed {
			continue // an alias of an entry closed already
		}
		e.closed = true
		g := e.gen.Load()
		e.gen.Store(&generation{err: ErrClosed})
		if g.ctx != nil {
			if err := g.ctx.Close(); err != nil {
				errs = append(errs, fmt.Errorf("pkcs11: closing %s: %w", e.u, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (c *cache) generate(u *URI, spec pki.KeySpec) (crypto.Signer, error) {
	e, err := c.entryFor(u)
	if err != nil {
		return nil, err
	}
	id := u.ID
	if len(id) == 0 {
		sum := sha256.Sum256([]byte(u.Object))
		id = sum[:8]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := e.gen.Load()
	if g.ctx == nil {
		if g, err = c.reopenLocked(e, g, u); err != nil {
			return nil, err
		}
	}
	k, err := generateIn(e, g, u, id, spec)
	if err != nil && retryable(err) {
		if g, err = c.reopenLocked(e, g, u); err != nil {
			return nil, err
		}
		k, err = generateIn(e, g, u, id, spec)
	}
	if err != nil {
		return nil, opError(u, "generating "+spec.String()+" key pair", err)
	}
	// The signer finds the key again by the URI's label (and id, if it
	// has one): no other key has that label, and the public key must match.
	s := &signer{c: c, e: e, u: u, pub: k.Public()}
	s.bound.Store(&bound{gen: g, key: k})
	return s, nil
}

// generateIn makes the key pair with u's label and id in g's token, after
// checking that no key has the label or the id. The caller holds cache.mu.
func generateIn(e *entry, g *generation, u *URI, id []byte, spec pki.KeySpec) (crypto11.Signer, error) {
	var labelTaken, idTaken bool
	err := withModule(e.key.module, func(m *p11.Ctx) error {
		var err error
		labelTaken, idTaken, err = keyObjects(m, e.slot, u.Object, id)
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case labelTaken:
		return nil, &uriError{uri: u.String(), kind: ErrKeyExists,
			msg: fmt.Sprintf("a key with label %q exists; generate never replaces a key", u.Object)}
	case idTaken:
		return nil, &uriError{uri: u.String(), kind: ErrKeyExists,
			msg: fmt.Sprintf("a key with id %x exists; generate never replaces a key", id)}
	}
	pub, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(u.Object))
	if err != nil {
		return nil, err
	}
	priv := pub.Copy()
	for _, a := range []struct {
		set crypto11.AttributeSet
		typ crypto11.AttributeType
		val bool
	}{
		{pub, crypto11.CkaToken, true},
		{pub, crypto11.CkaPrivate, false},
		{pub, crypto11.CkaVerify, true},
		{priv, crypto11.CkaToken, true},
		{priv, crypto11.CkaPrivate, true},
		{priv, crypto11.CkaSign, true},
		{priv, crypto11.CkaSensitive, true},
		{priv, crypto11.CkaExtractable, false},
		{priv, crypto11.CkaDecrypt, false}, // sign only
		{priv, crypto11.CkaUnwrap, false},
	} {
		if err := a.set.Set(a.typ, a.val); err != nil {
			return nil, err
		}
	}
	switch spec.Algorithm {
	case pki.RSA:
		for _, typ := range []crypto11.AttributeType{crypto11.CkaEncrypt, crypto11.CkaWrap} {
			if err := pub.Set(typ, false); err != nil {
				return nil, err
			}
		}
		return g.ctx.GenerateRSAKeyPairWithAttributes(pub, priv, spec.Size)
	case pki.ECDSA:
		if err := priv.Set(crypto11.CkaDerive, false); err != nil {
			return nil, err
		}
		curve := elliptic.P256()
		switch spec.Size {
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		}
		return g.ctx.GenerateECDSAKeyPairWithAttributes(pub, priv, curve)
	}
	return nil, &uriError{uri: u.String(), msg: "cannot generate " + spec.String(), kind: pki.ErrUnsupportedKey}
}

// resolveModule returns the module's file name with symbolic links
// resolved (crypto11 keeps one module per file name, and loading one
// library under two names would initialize it twice) and the name as given.
func resolveModule(u *URI) (module, shown string, err error) {
	shown = u.ModulePath
	if shown == "" {
		shown = os.Getenv(ModuleEnv)
	}
	if shown == "" {
		return "", "", &uriError{uri: u.String(), kind: ErrModule,
			msg: "module-path is required (in the URI, or set $" + ModuleEnv + ")"}
	}
	if !filepath.IsAbs(shown) {
		return "", "", &uriError{uri: u.String(), kind: ErrModule,
			msg: fmt.Sprintf("cannot load module %s: not an absolute path", shown)}
	}
	module, err = filepath.EvalSymlinks(shown)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(module); err == nil && fi.IsDir() {
			err = errors.New("is a directory")
		}
	}
	if err != nil {
		reason := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err.Error()
		}
		return "", "", &uriError{uri: u.String(), kind: ErrModule, err: err,
			msg: fmt.Sprintf("cannot load module %s: %s", shown, reason)}
	}
	return module, shown, nil
}

// tokenKey is the part of an entry's key that names the token.
func tokenKey(u *URI) string {
	slot := ""
	if u.SlotID != nil {
		slot = strconv.Itoa(*u.SlotID)
	}
	k := strconv.Quote(u.Token) + strconv.Quote(u.Serial) + strconv.Quote(slot)
	for _, a := range u.other {
		if a.name == "manufacturer" || a.name == "model" {
			k += strconv.Quote(a.name + "=" + a.value)
		}
	}
	return k
}

// findKey finds the one key pair u names in ctx.
func findKey(ctx *crypto11.Context, u *URI) (crypto11.Signer, error) {
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	keys, err := ctx.FindKeyPairs(u.ID, label)
	if err != nil {
		return nil, err
	}
	switch len(keys) {
	case 0:
		msg := "no key pair with " + keyDesc(u)
		if priv, err := ctx.FindPrivateKeys(u.ID, label); err == nil && len(priv) > 0 {
			msg += " (a private key matches, but no public key or certificate has its CKA_ID)"
		}
		return nil, &uriError{uri: u.String(), msg: msg, kind: ErrNoKey}
	case 1:
	default:
		return nil, &uriError{uri: u.String(), kind: ErrNoKey,
			msg: fmt.Sprintf("%d key pairs with %s; add id= to choose one", len(keys), keyDesc(u))}
	}
	switch keys[0].Public().(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return keys[0], nil
	}
	return nil, &uriError{uri: u.String(), kind: pki.ErrUnsupportedKey,
		msg: fmt.Sprintf("the key pair with %s is %T; certplane signs with ECDSA and RSA keys", keyDesc(u), keys[0].Public())}
}

// signer is a key pair in a token. It keeps the crypto11 key it found in
// the current generation of its entry and finds it again after a re-open.
type signer struct {
	c     *cache
	e     *entry
	u     *URI
	pub   crypto.PublicKey
	bound atomic.Pointer[bound]
}

// bound is a signer's key in one generation of its entry.
type bound struct {
	gen *generation
	key crypto11.Signer
}

// Public returns the key pair's public key.
func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest in the token. rand is not used: the token makes its
// own randomness. For RSA, opts of type *rsa.PSSOptions selects RSA-PSS
// (rsa.PSSSaltLengthAuto is signed with a salt as long as the hash, which
// every PSS verifier accepts); anything else selects PKCS#1 v1.5.
func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength == rsa.PSSSaltLengthAuto {
		o := *pss
		o.SaltLength = rsa.PSSSaltLengthEqualsHash
		opts = &o
	}
	b := s.bound.Load()
	if b.gen == s.e.gen.Load() {
		sig, err := b.key.Sign(rand, digest, opts)
		if err == nil {
			return sig, nil
		}
		if !retryable(err) && b.gen == s.e.gen.Load() {
			return nil, opError(s.u, "signing", err)
		}
	}
	b, err := s.rebind(b.gen)
	if err != nil {
		return nil, err
	}
	sig, err := b.key.Sign(rand, digest, opts)
	if err != nil {
		return nil, opError(s.u, "signing", err)
	}
	return sig, nil
}

// rebind re-opens the entry (or takes the generation another goroutine
// re-opened) and finds the key in it.
func (s *signer) rebind(old *generation) (*bound, error) {
	g, err := s.c.reopen(s.e, old, s.u)
	if err != nil {
		return nil, err
	}
	b, err := s.find(g)
	if err != nil {
		return nil, opError(s.u, "finding key pair", err)
	}
	return b, nil
}

// find looks the key up in g and makes it the signer's current key. Once
// the signer has a public key, the key found must have the same one.
func (s *signer) find(g *generation) (*bound, error) {
	k, err := findKey(g.ctx, s.u)
	if err != nil {
		return nil, err
	}
	if s.pub != nil {
		if p, ok := s.pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !p.Equal(k.Public()) {
			return nil, &uriError{uri: s.u.String(), kind: ErrNoKey,
				msg: "the key pair with " + keyDesc(s.u) + " is not the one opened before"}
		}
	}
	b := &bound{gen: g, key: k}
	s.bound.Store(b)
	return b, nil
}
