package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories={cert-manager,cert-manager-acme}
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuerRef.name`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.issuerRef.group`
// +kubebuilder:selectablefield:JSONPath=`.spec.issuerRef.kind`
// +kubebuilder:selectablefield:JSONPath=`.spec.issuerRef.name`

// Order is an ACME order for the certificate of one CertificateRequest.
type Order struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec OrderSpec `json:"spec"`
	// +optional
	Status OrderStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// OrderList is a list of Orders.
type OrderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Order `json:"items"`
}

// OrderSpec is what is ordered. It does not change after creation.
type OrderSpec struct {
	// Request is the PEM certificate signing request to finalize with.
	Request []byte `json:"request"`
	// IssuerRef is the ACME Issuer or ClusterIssuer.
	IssuerRef cmv1.ObjectReference `json:"issuerRef"`
	// CommonName is the request's common name; it must be one of the
	// dnsNames or ipAddresses.
	// +optional
	CommonName string `json:"commonName,omitempty"`
	// DNSNames are the DNS identifiers ordered.
	// +optional
	// +listType=atomic
	DNSNames []string `json:"dnsNames,omitempty"`
	// IPAddresses are the IP identifiers ordered.
	// +optional
	// +listType=atomic
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// Duration is sent as the order's notAfter when the issuer's
	// enableDurationFeature is on; a Go duration, at most 2562047h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(self)",message="must be a duration such as 1h or 90m, at most 2562047h"
	Duration *metav1.Duration `json:"duration,omitempty"`
	// Profile is the ACME profile asked for.
	// +optional
	Profile string `json:"profile,omitempty"`
}

// OrderStatus is the order as the ACME server last described it.
type OrderStatus struct {
	// URL of the order at the server.
	// +optional
	URL string `json:"url,omitempty"`
	// FinalizeURL is where the request is sent once the order is ready.
	// +optional
	FinalizeURL string `json:"finalizeURL,omitempty"`
	// Authorizations the server asks for.
	// +optional
	// +listType=atomic
	Authorizations []ACMEAuthorization `json:"authorizations,omitempty"`
	// Certificate is the PEM chain, once issued.
	// +optional
	Certificate []byte `json:"certificate,omitempty"`
	// State is the order's state.
	// +optional
	State State `json:"state,omitempty"`
	// Reason says why the order is in its state.
	// +optional
	Reason string `json:"reason,omitempty"`
	// FailureTime is when the order failed.
	// +optional
	FailureTime *metav1.Time `json:"failureTime,omitempty"`
}

// ACMEAuthorization is one authorization of an order.
type ACMEAuthorization struct {
	// URL of the authorization.
	URL string `json:"url"`
	// Identifier is the DNS name or IP, without "*.".
	// +optional
	Identifier string `json:"identifier,omitempty"`
	// Wildcard is true for a wildcard name's authorization.
	// +optional
	Wildcard *bool `json:"wildcard,omitempty"`
	// InitialState is the authorization's state when first read.
	// +optional
	InitialState State `json:"initialState,omitempty"`
	// Challenges the server offers.
	// +optional
	// +listType=atomic
	Challenges []ACMEChallenge `json:"challenges,omitempty"`
}

// ACMEChallenge is one challenge the server offers.
type ACMEChallenge struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	// Type is the challenge type, such as http-01 or dns-01.
	Type string `json:"type"`
}

// State is the state of an ACME order, authorization or challenge.
// +kubebuilder:validation:Enum=valid;ready;pending;processing;invalid;expired;errored
type State string

// The states of RFC 8555, and errored for failures outside it.
const (
	Unknown    State = ""
	Valid      State = "valid"
	Ready      State = "ready"
	Pending    State = "pending"
	Processing State = "processing"
	Invalid    State = "invalid"
	Expired    State = "expired"
	Errored    State = "errored"
)

// Final reports whether no more changes happen in this state.
func (s State) Final() bool {
	return s == Valid || s == Invalid || s == Expired || s == Errored
}

// Failed reports whether the state is a failure.
func (s State) Failed() bool {
	return s == Invalid || s == Expired || s == Errored
}
