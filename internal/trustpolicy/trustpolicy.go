// Package trustpolicy decides the signer-linked ClusterTrustBundles
// (certificates.k8s.io/v1) certplane publishes for the signers it runs:
// what a signer's bundle holds and is named, and which bundles to create,
// update or delete given those that exist. It follows the apiserver's rules
// for signer-linked bundles and kube-controller-manager's naming. Nothing
// here does I/O or reads the clock.
package trustpolicy

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	certv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certplane/certplane/pkg/pki"
)

// The label that marks the bundles certplane manages: only those are ever
// updated or deleted.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "certplane"
)

// MaxTrustBundleSize is the apiserver's limit on spec.trustBundle.
const MaxTrustBundleSize = 1 << 20

// hashBytes is how many bytes of the bundle's SHA-256 name it, as
// kube-controller-manager's publisher does (24 hex characters).
const hashBytes = 12

// Errors, checked with errors.Is.
var (
	// ErrSignerName is a signer name that is not "<domain>/<path>".
	ErrSignerName = errors.New("invalid signer name")
	// ErrNoCA is an empty set of CA certificates.
	ErrNoCA = errors.New("no CA certificate")
	// ErrNotCA is a certificate without basic constraints CA=true.
	ErrNotCA = errors.New("not a CA certificate")
	// ErrBundle is a trust bundle the apiserver would refuse.
	ErrBundle = errors.New("invalid trust bundle")
)

// NamePrefix is what the name of every bundle linked to signer starts
// with: the signer name with "/" replaced by ":", and a trailing ":".
func NamePrefix(signer string) string {
	return strings.ReplaceAll(signer, "/", ":") + ":"
}

// checkSignerName checks the form the name rules rely on: one "/" between
// a non-empty domain and path. The apiserver checks the rest.
func checkSignerName(signer string) error {
	domain, path, ok := strings.Cut(signer, "/")
	if !ok || domain == "" || path == "" || strings.Contains(path, "/") || strings.Contains(signer, ":") {
		return fmt.Errorf("%w %q: the form is <domain>/<path>", ErrSignerName, signer)
	}
	return nil
}

// Bundle is the ClusterTrustBundle that publishes cas for signer. Its
// trustBundle holds the certificates once each, sorted by their DER bytes,
// so that the same set always gives the same bundle. Its name is
// NamePrefix(signer) and the hex of the first 12 bytes of the bundle's
// SHA-256, so that a changed CA gives a new name. Every certificate must be
// a CA (basic constraints CA=true), as the apiserver requires.
func Bundle(signer string, cas []*x509.Certificate) (*certv1.ClusterTrustBundle, error) {
	if err := checkSignerName(signer); err != nil {
		return nil, err
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w for signer %s", ErrNoCA, signer)
	}
	certs := make([]*x509.Certificate, 0, len(cas))
	for _, c := range cas {
		if c == nil {
			return nil, fmt.Errorf("%w for signer %s: a nil certificate", ErrNoCA, signer)
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("signer %s: certificate %s: %w", signer, describe(c), ErrNotCA)
		}
		certs = append(certs, c)
	}
	slices.SortFunc(certs, func(a, b *x509.Certificate) int { return bytes.Compare(a.Raw, b.Raw) })
	certs = slices.CompactFunc(certs, func(a, b *x509.Certificate) bool { return bytes.Equal(a.Raw, b.Raw) })
	data := pki.EncodeCertificatesPEM(certs...)
	if len(data) > MaxTrustBundleSize {
		return nil, fmt.Errorf("%w for signer %s: %d bytes, over the apiserver's %d", ErrBundle, signer, len(data), MaxTrustBundleSize)
	}
	sum := sha256.Sum256(data)
	return &certv1.ClusterTrustBundle{
		TypeMeta: metav1.TypeMeta{APIVersion: certv1.SchemeGroupVersion.String(), Kind: "ClusterTrustBundle"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   NamePrefix(signer) + hex.EncodeToString(sum[:hashBytes]),
			Labels: map[string]string{LabelManagedBy: ManagedBy},
		},
		Spec: certv1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: string(data)},
	}, nil
}

// describe names a certificate in an error: its subject and the start of
// its SHA-256 fingerprint, which tells apart certificates of one subject.
func describe(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	subject := c.Subject.String()
	if subject == "" {
		subject = "with an empty subject"
	}
	return fmt.Sprintf("%q (SHA-256 %s…)", subject, hex.EncodeToString(sum[:8]))
}

// ParseBundle reads a trustBundle with the apiserver's rules: only
// CERTIFICATE blocks without headers, each an X.509 CA certificate, no
// duplicates, at least one, at most MaxTrustBundleSize bytes. Text between
// blocks is allowed, as the apiserver allows it. Errors are ErrBundle and
// name the block (counted from 1).
func ParseBundle(trustBundle string) ([]*x509.Certificate, error) {
	if len(trustBundle) > MaxTrustBundleSize {
		return nil, fmt.Errorf("%w: %d bytes, over the apiserver's %d", ErrBundle, len(trustBundle), MaxTrustBundleSize)
	}
	var (
		certs []*x509.Certificate
		seen  = map[string]int{}
		rest  = []byte(trustBundle)
	)
	for i := 1; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type != "CERTIFICATE":
			return nil, fmt.Errorf("%w: block %d is a %q, not a CERTIFICATE", ErrBundle, i, b.Type)
		case len(b.Headers) != 0:
			return nil, fmt.Errorf("%w: block %d has PEM headers", ErrBundle, i)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: block %d: %w", ErrBundle, i, err)
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("%w: block %d: certificate %s: %w", ErrBundle, i, describe(c), ErrNotCA)
		}
		if first, dup := seen[string(b.Bytes)]; dup {
			return nil, fmt.Errorf("%w: block %d repeats block %d", ErrBundle, i, first)
		}
		seen[string(b.Bytes)] = i
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate", ErrBundle)
	}
	return certs, nil
}

// Managed reports whether certplane manages the bundle: only those are
// updated or deleted.
func Managed(b *certv1.ClusterTrustBundle) bool {
	return b.Labels[LabelManagedBy] == ManagedBy
}

// Changes are the writes that bring a signer's bundles to what certplane
// publishes. Create or Update come first, Delete after, so that the signer
// always has a bundle: a rotated CA is published under its new name before
// the old bundle goes.
type Changes struct {
	// Create is a bundle to create, or nil.
	Create *certv1.ClusterTrustBundle
	// Update is an existing bundle, modified, to write back, or nil.
	Update *certv1.ClusterTrustBundle
	// Delete names the managed bundles to delete, sorted.
	Delete []string
}

// Empty reports whether nothing needs writing.
func (c Changes) Empty() bool {
	return c.Create == nil && c.Update == nil && len(c.Delete) == 0
}

// Plan compares the bundle to publish for a signer, want (from Bundle), with
// the existing bundles (of any signer; others are ignored) and says what to
// write. A nil want removes the signer's bundles.
//
//   - No bundle named want.Name: create want.
//   - One with want's name but other content or without certplane's label
//     (written by hand under the name only certplane's convention makes):
//     update its trustBundle and labels, keeping its other metadata.
//   - Every other bundle of the signer that certplane manages is deleted;
//     bundles of the signer that others made are left alone.
//
// Nothing to write when want already exists as it should.
func Plan(signer string, want *certv1.ClusterTrustBundle, existing []certv1.ClusterTrustBundle) Changes {
	var (
		c     Changes
		found bool
	)
	for i := range existing {
		b := &existing[i]
		if b.Spec.SignerName != signer {
			continue
		}
		if want != nil && b.Name == want.Name {
			found = true
			if b.Spec.TrustBundle != want.Spec.TrustBundle || !Managed(b) {
				u := b.DeepCopy()
				u.Spec.TrustBundle = want.Spec.TrustBundle
				if u.Labels == nil {
					u.Labels = map[string]string{}
				}
				maps.Copy(u.Labels, want.Labels)
				c.Update = u
			}
			continue
		}
		if Managed(b) {
			c.Delete = append(c.Delete, b.Name)
		}
	}
	if want != nil && !found {
		c.Create = want.DeepCopy()
	}
	slices.Sort(c.Delete)
	c.Delete = slices.Compact(c.Delete)
	return c
}
