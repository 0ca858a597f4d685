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
// +kubebuilder:validation:XValidation:rule="[has(self.acme), has(self.ca), has(self.selfSigned), has(self.vault), has(self.venafi)].filter(x, x).size() <= 1",message="may not specify more than one issuer type"
// +kubebuilder:validation:XValidation:rule="has(self.acme) || has(self.ca) || has(self.selfSigned) || has(self.vault) || has(self.venafi)",message="at least one issuer must be configured"
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
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	// +kubebuilder:validation:XValidation:rule=`self == "" || !format.dns1123Subdomain().validate(self).hasValue()`,message="must be a valid Secret name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
	SecretName string `json:"secretName"`
	// +optional
	// +listType=atomic
	CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:XValidation:rule=`self != ""`,message="must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org"
	OCSPServers []string `json:"ocspServers,omitempty"`
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:XValidation:rule=`self != ""`,message="must be a valid URL"
	IssuingCertificateURLs []string `json:"issuingCertificateURLs,omitempty"`
}

// VaultIssuer signs through HashiCorp Vault. Accepted; not yet implemented.
// +kubebuilder:validation:XValidation:rule=`size(self.?caBundle.orValue(b"")) == 0 || !has(self.caBundleSecretRef)`,message="specified caBundle and caBundleSecretRef cannot be used together",fieldPath=".caBundle"
// +kubebuilder:validation:XValidation:rule="has(self.clientCertSecretRef) == has(self.clientKeySecretRef)",messageExpression="has(self.clientCertSecretRef) ? 'clientKeySecretRef must be provided when defining the clientCertSecretRef' : 'clientCertSecretRef must be provided when defining the clientKeySecretRef'"
type VaultIssuer struct {
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	Server string `json:"server"`
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.](/|$)')",message="must not contain '..' path segments"
	Path string `json:"path"`
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
// +kubebuilder:validation:XValidation:rule=`size(self.?caBundle.orValue(b"")) == 0 || !self.?skipTLSVerify.orValue(false)`,message="caBundle and skipTLSVerify are mutually exclusive and cannot both be set",fieldPath=".caBundle"
// +kubebuilder:validation:XValidation:rule=`self.privateKeySecretRef.name != ""`,message="private key secret name is a required field",fieldPath=".privateKeySecretRef.name"
type ACMEIssuer struct {
	// +optional
	Email string `json:"email,omitempty"`
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="acme server URL is a required field"
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
