package bundlepolicy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
)

// SourceSelector is the label selector of a configMap or secret source, or
// nil when it names one object.
func SourceSelector(ref *trustv1alpha1.SourceObjectKeySelector) (labels.Selector, error) {
	if ref.Selector == nil {
		return nil, nil
	}
	s, err := metav1.LabelSelectorAsSelector(ref.Selector)
	if err != nil {
		return nil, buildError("selector %v: %v", ref.Selector, err)
	}
	return s, nil
}

// Selects reports whether a configMap or secret source reads the object
// named name with labels lbls in the trust namespace.
func Selects(ref *trustv1alpha1.SourceObjectKeySelector, name string, lbls map[string]string) bool {
	if ref == nil {
		return false
	}
	if ref.Name != "" {
		return ref.Name == name
	}
	s, err := SourceSelector(ref)
	return err == nil && s != nil && s.Matches(labels.Set(lbls))
}

// ConfigMapInputs is the data a configMap source reads from the ConfigMaps
// it selects in namespace: found is what the reconciler fetched (for a
// source by name, none when it does not exist). A missing object or key is
// SourceNotFound; a selector matching nothing contributes nothing.
func ConfigMapInputs(ref *trustv1alpha1.SourceObjectKeySelector, namespace string, found []corev1.ConfigMap) ([]Input, error) {
	if ref.Name != "" && len(found) == 0 {
		return nil, notFound("ConfigMap %s/%s not found", namespace, ref.Name)
	}
	var in []Input
	for _, cm := range sortedByName(found, func(c corev1.ConfigMap) string { return c.Name }) {
		name := func(key string) string { return fmt.Sprintf("ConfigMap %s/%s key %q", cm.Namespace, cm.Name, key) }
		if !allKeys(ref) {
			// data first, then binaryData (trust-manager v0.24).
			if v, ok := cm.Data[ref.Key]; ok {
				in = append(in, Input{Source: name(ref.Key), Data: []byte(v)})
			} else if v, ok := cm.BinaryData[ref.Key]; ok {
				in = append(in, Input{Source: name(ref.Key), Data: v})
			} else {
				return nil, notFound("ConfigMap %s/%s has no key %q", cm.Namespace, cm.Name, ref.Key)
			}
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
			in = append(in, Input{Source: name(k), Data: []byte(cm.Data[k])})
		}
		for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
			in = append(in, Input{Source: name(k), Data: cm.BinaryData[k]})
		}
	}
	return in, nil
}

// SecretInputs is as ConfigMapInputs for a secret source. includeAllKeys
// on a kubernetes.io/tls Secret is a SourceBuildError: it would distribute
// the private key.
func SecretInputs(ref *trustv1alpha1.SourceObjectKeySelector, namespace string, found []corev1.Secret) ([]Input, error) {
	if ref.Name != "" && len(found) == 0 {
		return nil, notFound("Secret %s/%s not found", namespace, ref.Name)
	}
	var in []Input
	for _, s := range sortedByName(found, func(s corev1.Secret) string { return s.Name }) {
		name := func(key string) string { return fmt.Sprintf("Secret %s/%s key %q", s.Namespace, s.Name, key) }
		if !allKeys(ref) {
			v, ok := s.Data[ref.Key]
			if !ok {
				return nil, notFound("Secret %s/%s has no key %q", s.Namespace, s.Name, ref.Key)
			}
			in = append(in, Input{Source: name(ref.Key), Data: v})
			continue
		}
		if s.Type == corev1.SecretTypeTLS {
			return nil, buildError("Secret %s/%s is a kubernetes.io/tls Secret: includeAllKeys would include its private key; name the key", s.Namespace, s.Name)
		}
		for _, k := range slices.Sorted(maps.Keys(s.Data)) {
			in = append(in, Input{Source: name(k), Data: s.Data[k]})
		}
	}
	return in, nil
}

// InLineInput is the data of the inLine source at index i of the spec.
func InLineInput(i int, text string) Input {
	return Input{Source: fmt.Sprintf("spec.sources[%d].inLine", i), Data: []byte(text)}
}

func allKeys(ref *trustv1alpha1.SourceObjectKeySelector) bool {
	return ref.Key == "" && ref.IncludeAllKeys != nil && *ref.IncludeAllKeys
}

func sortedByName[T any](items []T, name func(T) string) []T {
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	return out
}
