// Package v1 holds the cert-manager.io/v1 API types certplane serves, so
// that existing cert-manager manifests work unchanged: Certificate,
// CertificateRequest, Issuer and ClusterIssuer.
//
// +kubebuilder:object:generate=true
// +groupName=cert-manager.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is cert-manager.io/v1.
	GroupVersion = schema.GroupVersion{Group: "cert-manager.io", Version: "v1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Certificate{}, &CertificateList{},
		&CertificateRequest{}, &CertificateRequestList{},
		&Issuer{}, &IssuerList{},
		&ClusterIssuer{}, &ClusterIssuerList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
