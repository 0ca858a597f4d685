package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cr;crs,categories=cert-manager
// +kubebuilder:printcolumn:name="Approved",type=string,JSONPath=`.status.conditions[?(@.type=="Approved")].status`
// +kubebuilder:printcolumn:name="Denied",type=string,JSONPath=`.status.conditions[?(@.type=="Denied")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuerRef.name`
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.username`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CertificateRequest is one request to an issuer for a certificate.
type CertificateRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CertificateRequestSpec   `json:"spec"`
	Status CertificateRequestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CertificateRequestList is a list of CertificateRequests.
type CertificateRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CertificateRequest `json:"items"`
}

// CertificateRequestSpec is the request.
type CertificateRequestSpec struct {
	// Duration is the requested lifetime, a Go duration (such as 2160h) of
	// at most 2562047h, the longest that decodes.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(self)",message="must be a duration such as 1h or 90m, at most 2562047h"
	Duration *metav1.Duration `json:"duration,omitempty"`
	// IssuerRef names the issuer.
	IssuerRef ObjectReference `json:"issuerRef"`
	// Request is the PEM PKCS#10 certificate request.
	// +kubebuilder:validation:XValidation:rule="size(self) > 0",message="must be specified"
	Request []byte `json:"request"`
	// +optional
	IsCA bool `json:"isCA,omitempty"`
	// +optional
	Usages []KeyUsage `json:"usages,omitempty"`
	// Username, UID, Groups and Extra name who created the request.
	// +optional
	Username string `json:"username,omitempty"`
	// +optional
	UID string `json:"uid,omitempty"`
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
	// +optional
	Extra map[string][]string `json:"extra,omitempty"`
}

// CertificateRequestStatus is the outcome.
type CertificateRequestStatus struct {
	// Conditions: Ready, InvalidRequest, Approved, Denied.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []CertificateRequestCondition `json:"conditions,omitempty"`
	// Certificate is the PEM issued certificate.
	// +optional
	Certificate []byte `json:"certificate,omitempty"`
	// CA is the PEM CA of the issuer, if known.
	// +optional
	CA []byte `json:"ca,omitempty"`
	// +optional
	FailureTime *metav1.Time `json:"failureTime,omitempty"`
}

// CertificateRequestCondition is a condition of a CertificateRequest.
type CertificateRequestCondition struct {
	Type   string          `json:"type"`
	Status ConditionStatus `json:"status"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}
