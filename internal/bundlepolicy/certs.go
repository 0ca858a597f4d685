// Package bundlepolicy holds the decisions of trust-manager's Bundle as
// certplane implements it, as pure functions: which data each source
// contributes, which certificates the bundle holds (strict PEM,
// deduplicated, sorted, optionally without expired ones), the text and
// truststores written, the hash that tells a current target from a stale
// one, the namespaces that get a target, and what to do with each target.
// No I/O, no clock: the reconciler in internal/controller/trust fetches and
// writes.
package bundlepolicy

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
)

// Error says why a bundle cannot be built, with trust-manager's reason for
// the Synced condition.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func notFound(format string, args ...any) *Error {
	return &Error{Reason: trustv1alpha1.ReasonSourceNotFound, Message: fmt.Sprintf(format, args...)}
}

func buildError(format string, args ...any) *Error {
	return &Error{Reason: trustv1alpha1.ReasonSourceBuildError, Message: fmt.Sprintf(format, args...)}
}

const pemBegin = "-----BEGIN"

// ParseCertificates reads PEM text strictly: every block must be a
// CERTIFICATE without headers holding one X.509 certificate, as
// trust-manager requires, so that a private key pasted by mistake is never
// distributed. Text between blocks (comments) is allowed, a malformed or
// truncated block is not, and non-blank text without any block is an
// error: it is not a bundle.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		i := bytes.Index(rest, []byte(pemBegin))
		if i < 0 {
			break
		}
		block, after := pem.Decode(rest[i:])
		// pem.Decode skips a malformed block and returns the next good one:
		// the block decoded must be the one that starts at i.
		if block == nil || bytes.Count(rest[i:len(rest)-len(after)], []byte(pemBegin)) != 1 {
			return nil, fmt.Errorf("block %d is not well-formed PEM", n)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("block %d is a %q, not a CERTIFICATE", n, block.Type)
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("block %d has PEM headers", n)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", n, err)
		}
		certs = append(certs, c)
		rest = after
	}
	if len(certs) == 0 && len(bytes.TrimSpace(data)) > 0 {
		return nil, fmt.Errorf("no PEM certificate in %d bytes of text", len(data))
	}
	return certs, nil
}

// Input is the data one source contributes, named for messages.
type Input struct {
	// Source names where the data comes from, e.g. `ConfigMap
	// cert-manager/root key "ca.crt"`.
	Source string
	Data   []byte
}

// Options are the controller's certificate filters.
type Options struct {
	// FilterExpired drops certificates that have expired at Now
	// (--filter-expired-certificates).
	FilterExpired bool
	Now           time.Time
}

// Bundle is the built trust bundle.
type Bundle struct {
	// Certificates are deduplicated and sorted by the SHA-256 of their DER,
	// so that the same certificates always give the same bundle.
	Certificates []*x509.Certificate
	// PEM is the certificates as PEM text, one block after another.
	PEM string
}

// Build parses every input and merges the certificates. Invalid PEM is a
// SourceBuildError naming the source; no certificate at all (or none left
// once expired ones are dropped) is SourceNotFound, as in trust-manager.
func Build(inputs []Input, o Options) (*Bundle, error) {
	byHash := map[[32]byte]*x509.Certificate{}
	expired := 0
	for _, in := range inputs {
		certs, err := ParseCertificates(in.Data)
		if err != nil {
			return nil, buildError("%s holds invalid PEM: %v", in.Source, err)
		}
		for _, c := range certs {
			if o.FilterExpired && o.Now.After(c.NotAfter) {
				expired++
				continue
			}
			byHash[sha256.Sum256(c.Raw)] = c
		}
	}
	if len(byHash) == 0 {
		if expired > 0 {
			return nil, notFound("the sources hold no valid certificate: all %d have expired, and --filter-expired-certificates drops them", expired)
		}
		return nil, notFound("the sources hold no certificate")
	}
	hashes := make([][32]byte, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, h)
	}
	slices.SortFunc(hashes, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	b := &Bundle{Certificates: make([]*x509.Certificate, 0, len(hashes))}
	var text strings.Builder
	for _, h := range hashes {
		c := byHash[h]
		b.Certificates = append(b.Certificates, c)
		text.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	b.PEM = text.String()
	return b, nil
}

// FirstExpiry is when the first of the bundle's certificates expires.
func (b *Bundle) FirstExpiry() time.Time {
	var first time.Time
	for _, c := range b.Certificates {
		if first.IsZero() || c.NotAfter.Before(first) {
			first = c.NotAfter
		}
	}
	return first
}
