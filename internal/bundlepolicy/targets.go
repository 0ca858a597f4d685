package bundlepolicy

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
)

// Kind is the kind of a target object.
type Kind string

// The target kinds.
const (
	KindConfigMap Kind = "ConfigMap"
	KindSecret    Kind = "Secret"
)

// Kinds lists the target kinds in the order they are written.
var Kinds = []Kind{KindConfigMap, KindSecret}

// Template is the Bundle's template for targets of kind, nil when it
// writes none.
func Template(t *trustv1alpha1.BundleTarget, kind Kind) *trustv1alpha1.TargetTemplate {
	if kind == KindSecret {
		return t.Secret
	}
	return t.ConfigMap
}

// FailedReason is the Synced=False reason when a target of kind cannot be
// written.
func FailedReason(kind Kind) string {
	if kind == KindSecret {
		return trustv1alpha1.ReasonSyncSecretTargetFailed
	}
	return trustv1alpha1.ReasonSyncConfigMapTargetFailed
}

// Keys are the keys the Bundle writes in a target of kind: the PEM key
// first, then the truststores' keys.
func Keys(t *trustv1alpha1.BundleTarget, kind Kind) []string {
	tmpl := Template(t, kind)
	if tmpl == nil {
		return nil
	}
	keys := []string{tmpl.Key}
	if f := t.AdditionalFormats; f != nil {
		if f.JKS != nil {
			keys = append(keys, f.JKS.Key)
		}
		if f.PKCS12 != nil {
			keys = append(keys, f.PKCS12.Key)
		}
	}
	return keys
}

// Hash is the trust.cert-manager.io/hash annotation of a target of kind:
// the hex SHA-256 of everything the target is written from (the PEM text,
// the keys, the truststores' passwords and profile, the template's labels
// and annotations). The truststores themselves are not deterministic
// (random salts), so they are covered by what they are made from. Equal
// hashes mean a target need not be written again.
func Hash(pemText string, t *trustv1alpha1.BundleTarget, kind Kind) string {
	h := sha256.New()
	field := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		_, _ = io.WriteString(h, s)
	}
	field("certplane/v1")
	field(string(kind))
	field(pemText)
	for _, k := range Keys(t, kind) {
		field(k)
	}
	if f := t.AdditionalFormats; f != nil {
		if f.JKS != nil {
			field("jks")
			field(jksPassword(f.JKS))
		}
		if f.PKCS12 != nil {
			field("pkcs12")
			field(pkcs12Password(f.PKCS12))
			field(string(pkcs12Profile(f.PKCS12)))
		}
	}
	if tmpl := Template(t, kind); tmpl != nil {
		writeMap(field, "annotations", tmpl.Metadata.Annotations)
		writeMap(field, "labels", tmpl.Metadata.Labels)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeMap(field func(string), name string, m map[string]string) {
	field(name)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		field(k)
		field(m[k])
	}
}

func jksPassword(j *trustv1alpha1.JKS) string {
	if j.Password == "" {
		return trustv1alpha1.DefaultJKSPassword
	}
	return j.Password
}

func pkcs12Password(p *trustv1alpha1.PKCS12) string {
	if p.Password == nil {
		return trustv1alpha1.DefaultPKCS12Password
	}
	return *p.Password
}

func pkcs12Profile(p *trustv1alpha1.PKCS12) trustv1alpha1.PKCS12Profile {
	if p.Profile == "" {
		return trustv1alpha1.LegacyRC2PKCS12Profile
	}
	return p.Profile
}

// Truststores encodes the additional formats of the bundle, by key. They
// are made once per bundle and written to every target.
func Truststores(b *Bundle, f *trustv1alpha1.AdditionalFormats, rand io.Reader) (map[string][]byte, error) {
	out := map[string][]byte{}
	if f == nil {
		return out, nil
	}
	if f.JKS != nil {
		ks := keystore.New(keystore.WithOrderedAliases(), keystore.WithCustomRandomNumberGenerator(rand))
		for _, c := range b.Certificates {
			// The creation time is the certificate's, so that the same
			// certificates make the same entries.
			if err := ks.SetTrustedCertificateEntry(alias(c.Raw, c.Subject.String()), keystore.TrustedCertificateEntry{
				CreationTime: c.NotBefore, Certificate: keystore.Certificate{Type: "X509", Content: c.Raw},
			}); err != nil {
				return nil, fmt.Errorf("encoding the JKS truststore: %w", err)
			}
		}
		var buf bytes.Buffer
		if err := ks.Store(&buf, []byte(jksPassword(f.JKS))); err != nil {
			return nil, fmt.Errorf("encoding the JKS truststore: %w", err)
		}
		out[f.JKS.Key] = buf.Bytes()
	}
	if f.PKCS12 != nil {
		var enc *pkcs12.Encoder
		switch pkcs12Profile(f.PKCS12) {
		case trustv1alpha1.LegacyDESPKCS12Profile:
			enc = pkcs12.LegacyDES
		case trustv1alpha1.Modern2023PKCS12Profile:
			enc = pkcs12.Modern2023
		case trustv1alpha1.LegacyRC2PKCS12Profile:
			enc = pkcs12.LegacyRC2
		default:
			return nil, fmt.Errorf("additionalFormats.pkcs12.profile: %q is not LegacyRC2, LegacyDES or Modern2023", f.PKCS12.Profile)
		}
		password := pkcs12Password(f.PKCS12)
		if password == "" {
			// No password: no encryption and no MAC, the truststore Java 18
			// and later read without one.
			enc = pkcs12.Passwordless
		}
		entries := make([]pkcs12.TrustStoreEntry, 0, len(b.Certificates))
		for _, c := range b.Certificates {
			entries = append(entries, pkcs12.TrustStoreEntry{Cert: c, FriendlyName: alias(c.Raw, c.Subject.String())})
		}
		data, err := enc.WithRand(rand).EncodeTrustStoreEntries(entries, password)
		if err != nil {
			return nil, fmt.Errorf("encoding the PKCS#12 truststore: %w", err)
		}
		out[f.PKCS12.Key] = data
	}
	return out, nil
}

// alias names a certificate in a truststore: the start of its SHA-256
// (unique) and its subject (readable in keytool's listing).
func alias(der []byte, subject string) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:4]) + "|" + subject
}

// Namespace is what the namespace selection needs of a namespace.
type Namespace struct {
	Name   string
	Labels map[string]string
	// Terminating namespaces get no target.
	Terminating bool
}

// SelectNamespaces names the namespaces that get a target: those matching
// the selector (all when it is nil), except terminating ones, sorted.
func SelectNamespaces(selector *metav1.LabelSelector, namespaces []Namespace) ([]string, error) {
	sel := labels.Everything()
	if selector != nil {
		s, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return nil, fmt.Errorf("spec.target.namespaceSelector: %w", err)
		}
		sel = s
	}
	var out []string
	for _, ns := range namespaces {
		if !ns.Terminating && sel.Matches(labels.Set(ns.Labels)) {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Want is the target a Bundle wants in each selected namespace.
type Want struct {
	Bundle string
	UID    types.UID
	// Hash is the target's Hash.
	Hash string
	// Keys are the keys the Bundle writes in the target (Keys).
	Keys []string
}

// Target is an existing target as its metadata shows it.
type Target struct {
	Namespace       string
	ResourceVersion string
	Labels          map[string]string
	Annotations     map[string]string
	OwnerReferences []metav1.OwnerReference
	// ManagedFields say who last set which field.
	ManagedFields []metav1.ManagedFieldsEntry
	// Deleting is set once the object has a deletion timestamp.
	Deleting bool
}

// controlledBy reports whether the Bundle with uid is t's controller.
func (t *Target) controlledBy(uid types.UID) bool {
	for _, r := range t.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			return r.UID == uid
		}
	}
	return false
}

// Current reports whether t's metadata proves it holds what w wants: the
// Bundle's label, the hash annotation, the Bundle as its controller, and,
// from the managed fields, every key of the Bundle set by manager (the
// controller's server-side apply) and none set by anyone else since. The
// hash stands for the content of the apply that wrote it; a key changed or
// removed by hand shows in the managed fields.
func Current(w Want, t *Target, manager string) bool {
	if t.Labels[trustv1alpha1.BundleLabelKey] != w.Bundle || t.Annotations[trustv1alpha1.BundleHashAnnotationKey] != w.Hash || !t.controlledBy(w.UID) {
		return false
	}
	o := Owners(t.ManagedFields, manager)
	if o.OthersHash {
		return false
	}
	for _, k := range w.Keys {
		if !o.Ours[k] || o.Others[k] {
			return false
		}
	}
	return true
}

// Ownership is who set a target's keys (data and binaryData) and its hash
// annotation, by the managed fields.
type Ownership struct {
	// Ours are the keys the manager owns, Others those another manager
	// owns.
	Ours, Others map[string]bool
	// OthersHash is set when another manager owns the hash annotation.
	OthersHash bool
}

// Owners reads the ownership of a target's keys from its managed fields.
// An entry it cannot read counts as someone else's claim on nothing.
func Owners(entries []metav1.ManagedFieldsEntry, manager string) Ownership {
	o := Ownership{Ours: map[string]bool{}, Others: map[string]bool{}}
	for _, e := range entries {
		if e.FieldsV1 == nil || e.Subresource != "" {
			continue
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(e.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		ours := e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply
		set := o.Others
		if ours {
			set = o.Ours
		}
		for _, field := range []string{"f:data", "f:binaryData"} {
			var keys map[string]json.RawMessage
			if json.Unmarshal(fields[field], &keys) != nil {
				continue
			}
			for k := range keys {
				if name, ok := strings.CutPrefix(k, "f:"); ok {
					set[name] = true
				}
			}
		}
		var meta struct {
			Annotations map[string]json.RawMessage `json:"f:annotations"`
		}
		if !ours && json.Unmarshal(fields["f:metadata"], &meta) == nil {
			if _, ok := meta.Annotations["f:"+trustv1alpha1.BundleHashAnnotationKey]; ok {
				o.OthersHash = true
			}
		}
	}
	return o
}

// Record is what the controller last wrote to a target: the hash and the
// resourceVersion kube-apiserver answered.
type Record struct {
	Hash            string
	ResourceVersion string
}

// Action is what to do with one target.
type Action int

// The actions.
const (
	// Skip: the target is current.
	Skip Action = iota
	// Write: apply the target.
	Write
	// Verify: the cache may lag behind the controller's own write; read
	// the target's metadata from the apiserver and decide with Current.
	Verify
	// Remove: the namespace is no longer selected; take the Bundle's keys
	// out of the target, deleting it when nothing else is left.
	Remove
)

func (a Action) String() string {
	return [...]string{"skip", "write", "verify", "remove"}[a]
}

// Decide says what to do with the target in a selected namespace: cached
// is what the metadata cache holds (nil if none), rec what the controller
// last wrote there (zero if nothing). Targets' data is not cached (only
// their metadata, to keep memory flat), and never needs to be read:
//   - a target whose metadata proves it current (Current) is skipped,
//     after a restart too;
//   - a target that looks stale or missing is written, unless the
//     controller itself wrote what it wants at a version the cache has not
//     shown yet: then its metadata is read first, so that a lagging cache
//     never causes a second write.
func Decide(w Want, cached *Target, rec Record, manager string) Action {
	wroteThis := rec.Hash == w.Hash && rec.ResourceVersion != ""
	switch {
	case cached == nil:
		if wroteThis {
			return Verify
		}
		return Write
	case Current(w, cached, manager):
		return Skip
	case wroteThis && rec.ResourceVersion != cached.ResourceVersion:
		return Verify
	}
	return Write
}

// Step is one target's action.
type Step struct {
	Namespace string
	Action    Action
}

// Plan decides every target of one kind: selected are the namespaces that
// get one, cached the targets the cache holds with the Bundle's label,
// records what the controller wrote, by namespace. Targets in namespaces
// no longer selected are removed when the Bundle controls them (never
// someone else's object). Skips are left out.
func Plan(w Want, selected []string, cached []Target, records map[string]Record, manager string) []Step {
	byNS := make(map[string]*Target, len(cached))
	for i := range cached {
		byNS[cached[i].Namespace] = &cached[i]
	}
	var steps []Step
	want := make(map[string]bool, len(selected))
	for _, ns := range selected {
		want[ns] = true
		if a := Decide(w, byNS[ns], records[ns], manager); a != Skip {
			steps = append(steps, Step{Namespace: ns, Action: a})
		}
	}
	for _, t := range cached {
		if !want[t.Namespace] && !t.Deleting && t.controlledBy(w.UID) {
			steps = append(steps, Step{Namespace: t.Namespace, Action: Remove})
		}
	}
	slices.SortStableFunc(steps, func(a, b Step) int { return strings.Compare(a.Namespace, b.Namespace) })
	return steps
}

// OthersLeft reports whether a target holds keys set by another manager:
// then removing the Bundle's keys leaves the object in place, otherwise it
// is deleted.
func OthersLeft(t *Target, manager string) bool {
	return len(Owners(t.ManagedFields, manager).Others) > 0
}
