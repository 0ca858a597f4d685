package app

import (
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
)

// interner hands out one shared copy of the strings and label sets that
// recur across the cached objects: annotation and label keys, issuer
// references, condition reasons. Each decoded object brings its own copy of them; at 100,000
// Certificates and their Secrets the copies are tens of megabytes.
//
// Its tables are bounded, so objects with many distinct values cost at most
// the bound; past it a value is kept as decoded. Shared values are safe
// because the cache hands out deep copies (and its no-copy readers only
// read).
type interner struct {
	mu   sync.Mutex
	strs map[string]string
	// labels are whole label sets: every certplane Secret carries the same
	// one or few, and a Go map costs some 300 bytes however short it is.
	labels map[string]map[string]string
	max    int
}

// newInterner returns an interner of at most max strings and max label
// sets.
func newInterner(max int) *interner {
	return &interner{strs: map[string]string{}, labels: map[string]map[string]string{}, max: max}
}

// str returns the shared copy of s, making s the shared copy when there is
// none and the table has room.
func (in *interner) str(s string) string {
	if s == "" {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) < in.max {
		in.strs[s] = s
	}
	return s
}

// sharedValues are the annotations whose values recur from object to
// object; the values of the others (names, SANs, hashes) are each their
// own, and a table of them would only cost memory.
var sharedValues = map[string]bool{
	certpolicy.AnnotationIssuerName:  true,
	certpolicy.AnnotationIssuerKind:  true,
	certpolicy.AnnotationIssuerGroup: true,
	certpolicy.AnnotationIPSANs:      true,
	certpolicy.AnnotationURISANs:     true,
	certpolicy.AnnotationRevision:    true,
}

// meta interns an object's namespace, label set, annotation keys (and the
// values of sharedValues) and owner references' kinds.
func (in *interner) meta(m *metav1.ObjectMeta) {
	m.Namespace = in.str(m.Namespace)
	m.Labels = in.labelSet(m.Labels)
	m.Annotations = in.stringMap(m.Annotations, func(k string) bool { return sharedValues[k] })
	for i := range m.OwnerReferences {
		r := &m.OwnerReferences[i]
		r.APIVersion, r.Kind = in.str(r.APIVersion), in.str(r.Kind)
	}
}

// requesterAnnotations are the annotations the apiserver records on every
// Certificate (config/policy/certificate-identity-policy.yaml): the same
// for all the Certificates one user or controller creates.
var requesterAnnotations = map[string]bool{
	certpolicy.AnnotationRequester:       true,
	certpolicy.AnnotationRequesterUID:    true,
	certpolicy.AnnotationRequesterGroups: true,
}

// certificateAnnotations shares a Certificate's annotations as a whole set
// when they are only the requester's, and otherwise as meta does.
func (in *interner) certificateAnnotations(m map[string]string) map[string]string {
	for k := range m {
		if !requesterAnnotations[k] {
			return in.stringMap(m, func(k string) bool { return sharedValues[k] })
		}
	}
	return in.labelSet(m)
}

// labelSet returns the shared copy of the label set m (keys and values),
// making a copy of m with shared strings the shared one when there is none
// and the table has room. It serves annotation sets too.
func (in *interner) labelSet(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var id strings.Builder
	for _, k := range keys {
		id.WriteString(k)
		id.WriteByte(0)
		id.WriteString(m[k])
		id.WriteByte(0)
	}
	in.mu.Lock()
	shared, ok := in.labels[id.String()]
	full := len(in.labels) >= in.max
	in.mu.Unlock()
	if ok {
		return shared
	}
	out := in.stringMap(m, func(string) bool { return true })
	if !full {
		in.mu.Lock()
		if shared, ok := in.labels[id.String()]; ok {
			out = shared
		} else {
			in.labels[id.String()] = out
		}
		in.mu.Unlock()
	}
	return out
}

// stringMap rebuilds m with shared keys, and shared values where
// sharedValue says so. A map is rebuilt rather than changed in place: Go
// cannot swap a key of a map it iterates.
func (in *interner) stringMap(m map[string]string, sharedValue func(string) bool) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if sharedValue(k) {
			v = in.str(v)
		}
		out[in.str(k)] = v
	}
	return out
}

// secret interns a cached Secret's metadata and type. Its data is not
// cached (slimSecret).
func (in *interner) secret(s *corev1.Secret) {
	in.meta(&s.ObjectMeta)
	s.Type = corev1.SecretType(in.str(string(s.Type)))
}

// certificate interns a cached Certificate: its metadata (the requester's
// annotations as a whole set), issuer reference, key settings, usages and
// conditions.
func (in *interner) certificate(c *cmv1.Certificate) {
	annotations := c.Annotations
	c.Annotations = nil
	in.meta(&c.ObjectMeta)
	c.Annotations = in.certificateAnnotations(annotations)
	c.APIVersion, c.Kind = in.str(c.APIVersion), in.str(c.Kind)
	ref := &c.Spec.IssuerRef
	ref.Name, ref.Kind, ref.Group = in.str(ref.Name), in.str(ref.Kind), in.str(ref.Group)
	if k := c.Spec.PrivateKey; k != nil {
		k.Algorithm, k.Encoding, k.RotationPolicy = in.str(k.Algorithm), in.str(k.Encoding), in.str(k.RotationPolicy)
	}
	for i, u := range c.Spec.Usages {
		c.Spec.Usages[i] = cmv1.KeyUsage(in.str(string(u)))
	}
	for i := range c.Status.Conditions {
		cond := &c.Status.Conditions[i]
		cond.Type, cond.Reason = in.str(cond.Type), in.str(cond.Reason)
		cond.Status = cmv1.ConditionStatus(in.str(string(cond.Status)))
		// The message of a true condition is the same for every Certificate
		// at rest; a false one names what went wrong, and would only fill
		// the table.
		if cond.Status == cmv1.ConditionTrue {
			cond.Message = in.str(cond.Message)
		}
	}
}
