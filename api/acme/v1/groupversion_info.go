// Package v1 holds the acme.cert-manager.io/v1 API types certplane serves,
// as cert-manager does: the Orders an ACME issuer places for
// CertificateRequests and the Challenges it solves for them.
//
// +kubebuilder:object:generate=true
// +groupName=acme.cert-manager.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is acme.cert-manager.io/v1.
	GroupVersion = schema.GroupVersion{Group: "acme.cert-manager.io", Version: "v1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Order{}, &OrderList{},
		&Challenge{}, &ChallengeList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
