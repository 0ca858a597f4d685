// Package v1alpha1 holds approver-policy's policy.cert-manager.io/v1alpha1
// API as certplane serves it, so that existing CertificateRequestPolicy
// manifests apply unchanged: a cluster-scoped CertificateRequestPolicy says
// which requests it selects (by issuer and namespace) and what they may ask
// for; a requester bound to it (verb use) gets its requests approved when
// they stay within it.
//
// +kubebuilder:object:generate=true
// +groupName=policy.cert-manager.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is policy.cert-manager.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "policy.cert-manager.io", Version: "v1alpha1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &CertificateRequestPolicy{}, &CertificateRequestPolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
