// Package v1alpha1 holds trust-manager's trust.cert-manager.io/v1alpha1 API
// as certplane serves it, so that existing Bundle manifests work unchanged:
// one cluster-scoped Bundle gathers CA certificates from its sources and
// writes them to a ConfigMap or Secret in every selected namespace.
//
// +kubebuilder:object:generate=true
// +groupName=trust.cert-manager.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is trust.cert-manager.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "trust.cert-manager.io", Version: "v1alpha1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Bundle{}, &BundleList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
