package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Issuer issues certificates for Certificates in its namespace.
type Issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IssuerSpec   `json:"spec"`
	Status IssuerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// IssuerList is a list of Issuers.
type IssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Issuer `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterIssuer issues certificates for Certificates in any namespace.
type ClusterIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IssuerSpec   `json:"spec"`
	Status IssuerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterIssuerList is a list of ClusterIssuers.
type ClusterIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterIssuer `json:"items"`
}

// IssuerSpec configures an issuer: exactly one of its kinds.
type IssuerSpec struct {
	IssuerConfig `json:",inline"`
}

// IssuerConfig holds the issuer kinds.
type IssuerConfig struct {
	// +optional
	ACME *ACMEIssuer `json:"acme,omitempty"`
	// +optional
	CA *CAIssuer `json:"ca,omitempty"`
	// +optional
	Vault *VaultIssuer `json:"vault,omitempty"`
	// +optional
	SelfSigned *SelfSignedIssuer `json:"selfSigned,omitempty"`
	// +optional
	Venafi *VenafiIssuer `json:"venafi,omitempty"`
}

// SelfSignedIssuer signs each certificate with its own key.
type SelfSignedIssuer struct {
	// +optional
	// +listType=atomic
	CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`
}

// CAIssuer signs with a CA held in a Secret (tls.crt, tls.key).
type CAIssuer struct {
	// SecretName of the CA; for a ClusterIssuer, in the cluster resource namespace.
	SecretName string `json:"secretName"`
	// +optional
	// +listType=atomic
	CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`
	// +optional
	// +listType=atomic
	OCSPServers []string `json:"ocspServers,omitempty"`
	// +optional
	// +listType=atomic
	IssuingCertificateURLs []string `json:"issuingCertificateURLs,omitempty"`
}

// VaultIssuer signs through HashiCorp Vault. Accepted; not yet implemented.
type VaultIssuer struct {
	Server string `json:"server"`
	Path   string `json:"path"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	ServerName string `json:"serverName,omitempty"`
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`
	// +optional
	CABundleSecretRef *SecretKeySelector `json:"caBundleSecretRef,omitempty"`
	// +optional
	ClientCertSecretRef *SecretKeySelector `json:"clientCertSecretRef,omitempty"`
	// +optional
	ClientKeySecretRef *SecretKeySelector `json:"clientKeySecretRef,omitempty"`
	// Auth is how certplane authenticates to Vault: tokenSecretRef, appRole,
	// clientCertificate, kubernetes or aws.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Auth runtime.RawExtension `json:"auth"`
}

// VenafiIssuer signs through CyberArk Certificate Manager (Venafi).
// Accepted; not yet implemented.
type VenafiIssuer struct {
	Zone string `json:"zone"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	TPP *runtime.RawExtension `json:"tpp,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Cloud *runtime.RawExtension `json:"cloud,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	NGTS *runtime.RawExtension `json:"ngts,omitempty"`
}

// ACMEIssuer obtains certificates from an ACME server. Accepted; not yet
// implemented.
type ACMEIssuer struct {
	// +optional
	Email  string `json:"email,omitempty"`
	Server string `json:"server"`
	// +optional
	PreferredChain string `json:"preferredChain,omitempty"`
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`
	// +optional
	SkipTLSVerify bool `json:"skipTLSVerify,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	ExternalAccountBinding *runtime.RawExtension `json:"externalAccountBinding,omitempty"`
	PrivateKey             SecretKeySelector     `json:"privateKeySecretRef"`
	// Solvers are the HTTP-01 and DNS-01 challenge solvers.
	// +optional
	// +listType=atomic
	Solvers []ACMEChallengeSolver `json:"solvers,omitempty"`
	// +optional
	DisableAccountKeyGeneration bool `json:"disableAccountKeyGeneration,omitempty"`
	// +optional
	EnableDurationFeature bool `json:"enableDurationFeature,omitempty"`
	// +optional
	Profile string `json:"profile,omitempty"`
}

// ACMEChallengeSolver picks a challenge type and its provider for the
// names its selector matches.
type ACMEChallengeSolver struct {
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Selector *runtime.RawExtension `json:"selector,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	HTTP01 *runtime.RawExtension `json:"http01,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	DNS01 *runtime.RawExtension `json:"dns01,omitempty"`
}

// IssuerStatus is what the controller reports.
type IssuerStatus struct {
	// Conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []IssuerCondition `json:"conditions,omitempty"`
	// ACME account details.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	ACME *runtime.RawExtension `json:"acme,omitempty"`
}

// IssuerCondition is a condition of an issuer.
type IssuerCondition struct {
	Type   string          `json:"type"`
	Status ConditionStatus `json:"status"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}
