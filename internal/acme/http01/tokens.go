package http01

import "sync"

// Tokens is an in-memory KeyLookup for tests and the command line. The zero
// value is empty and ready to use; it is safe for concurrent use.
type Tokens struct {
	mu   sync.RWMutex
	keys map[tokenKey]string
}

type tokenKey struct{ host, token string }

// Add serves keyAuthorization for token on host (normalized by NormalizeHost),
// replacing any earlier key for the pair.
func (t *Tokens) Add(host, token, keyAuthorization string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = make(map[tokenKey]string)
	}
	t.keys[tokenKey{NormalizeHost(host), token}] = keyAuthorization
}

// Remove stops serving token on host. Removing a pair that is not there does
// nothing.
func (t *Tokens) Remove(host, token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, tokenKey{NormalizeHost(host), token})
}

// Lookup implements KeyLookup.
func (t *Tokens) Lookup(host, token string) (keyAuthorization string, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	keyAuthorization, ok = t.keys[tokenKey{NormalizeHost(host), token}]
	return keyAuthorization, ok
}
