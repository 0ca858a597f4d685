package certpolicy

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// SecretOwnerReferences are the owner references a Certificate's Secret
// should carry, given the ones it has: with own (cert-manager's
// --enable-certificate-owner-ref), the Certificate as its controller, so
// that the garbage collector deletes the Secret with it; without, no
// reference to the Certificate. References to other owners are kept, and
// so is another controller's: a Secret has one controller at most.
func SecretOwnerReferences(refs []metav1.OwnerReference, crt *cmv1.Certificate, own bool) []metav1.OwnerReference {
	out := slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool { return r.UID == crt.UID })
	if !own || slices.ContainsFunc(out, func(r metav1.OwnerReference) bool { return r.Controller != nil && *r.Controller }) {
		if len(out) == 0 {
			return nil
		}
		return out
	}
	t := true
	return append(out, metav1.OwnerReference{
		APIVersion: cmv1.GroupVersion.String(), Kind: "Certificate", Name: crt.Name, UID: crt.UID,
		Controller: &t, BlockOwnerDeletion: &t,
	})
}

// OwnerReferencesCurrent reports whether refs are already what
// SecretOwnerReferences asks for.
func OwnerReferencesCurrent(refs []metav1.OwnerReference, crt *cmv1.Certificate, own bool) bool {
	want := SecretOwnerReferences(refs, crt, own)
	return slices.EqualFunc(refs, want, func(a, b metav1.OwnerReference) bool {
		return a.UID == b.UID && a.Name == b.Name && a.Kind == b.Kind && a.APIVersion == b.APIVersion &&
			(a.Controller != nil && *a.Controller) == (b.Controller != nil && *b.Controller)
	})
}
