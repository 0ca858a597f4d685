package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories={cert-manager,cert-manager-acme}
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.spec.dnsName`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.issuerRef.group`
// +kubebuilder:selectablefield:JSONPath=`.spec.issuerRef.kind`
// +kubebuilder:selectablefield:JSONPath=`.spec.issuerRef.name`

// Challenge is one ACME challenge to solve for an Order's authorization.
type Challenge struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec ChallengeSpec `json:"spec"`
	// +optional
	Status ChallengeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ChallengeList is a list of Challenges.
type ChallengeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []Challenge `json:"items"`
}

// ChallengeSpec is the challenge as the server gave it and the solver
// chosen for it.
type ChallengeSpec struct {
	// URL of the challenge at the server.
	URL string `json:"url"`
	// AuthorizationURL of the challenge's authorization.
	AuthorizationURL string `json:"authorizationURL"`
	// DNSName is the name being validated, without "*.".
	DNSName string `json:"dnsName"`
	// Wildcard is true for a wildcard name.
	// +optional
	Wildcard bool `json:"wildcard"`
	// Type is HTTP-01 or DNS-01.
	Type ACMEChallengeType `json:"type"`
	// Token is the server's token.
	Token string `json:"token"`
	// Key is what is presented: the key authorization for HTTP-01, its
	// base64url SHA-256 for DNS-01.
	Key string `json:"key"`
	// Solver is a copy of the issuer's solver chosen for this challenge.
	Solver cmv1.ACMEChallengeSolver `json:"solver"`
	// IssuerRef is the ACME Issuer or ClusterIssuer.
	IssuerRef cmv1.ObjectReference `json:"issuerRef"`
}

// ACMEChallengeType is HTTP-01 or DNS-01.
// +kubebuilder:validation:Enum=HTTP-01;DNS-01
type ACMEChallengeType string

// The challenge types.
const (
	ACMEChallengeTypeHTTP01 ACMEChallengeType = "HTTP-01"
	ACMEChallengeTypeDNS01  ACMEChallengeType = "DNS-01"
)

// ChallengeStatus is where solving the challenge is.
type ChallengeStatus struct {
	// Processing is true while the controller works on the challenge.
	// +optional
	Processing bool `json:"processing"`
	// Presented is true once the token or record is in place.
	// +optional
	Presented bool `json:"presented"`
	// PresentedAt is when it was put in place.
	// +optional
	PresentedAt *metav1.Time `json:"presentedAt,omitempty"`
	// Reason says what the challenge waits for, or why it failed.
	// +optional
	Reason string `json:"reason,omitempty"`
	// State is the challenge's state at the server.
	// +optional
	State State `json:"state,omitempty"`
}
