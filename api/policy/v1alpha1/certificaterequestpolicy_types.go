package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The policy's condition type and its reasons, as approver-policy's.
const (
	// ConditionReady is True when the policy compiled and is used to
	// evaluate requests; False (reason NotReady) says why it is not.
	ConditionReady = "Ready"

	// ReasonReady: the policy is used.
	ReasonReady = "Ready"
	// ReasonNotReady: the policy is invalid or asks for something certplane
	// does not support (plugins), and selects no request.
	ReasonNotReady = "NotReady"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=crp,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=`.status.conditions[?(@.type == "Ready")].status`,description="CertificateRequestPolicy is ready for evaluation"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="Timestamp CertificateRequestPolicy was created"

// CertificateRequestPolicy approves the certificate requests it selects
// (spec.selector) when they ask for no more than it allows (spec.allowed)
// and meet its constraints (spec.constraints), provided the requester may
// use it: RBAC verb "use" on this certificaterequestpolicies name.
type CertificateRequestPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec CertificateRequestPolicySpec `json:"spec"`
	// +optional
	Status CertificateRequestPolicyStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// CertificateRequestPolicyList is a list of CertificateRequestPolicies.
type CertificateRequestPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CertificateRequestPolicy `json:"items"`
}

// CertificateRequestPolicySpec selects requests and says what they may ask
// for.
type CertificateRequestPolicySpec struct {
	// Allowed is what a request may ask for: a request may ask for less,
	// never more. An omitted field means the request must leave that
	// attribute empty.
	// +optional
	Allowed *Allowed `json:"allowed,omitempty"`

	// Constraints are conditions a request must meet; an omitted field
	// places no restriction.
	// +optional
	Constraints *Constraints `json:"constraints,omitempty"`

	// Plugins configure approver-policy's compiled-in plugin approvers.
	// certplane has none: the field is accepted so that manifests apply,
	// but a policy with plugins is not Ready and approves nothing.
	// +optional
	Plugins map[string]PluginData `json:"plugins,omitempty"`

	// Selector picks the requests this policy evaluates; all of its
	// parts must match.
	Selector Selector `json:"selector"`
}

// Allowed is what a request may ask for.
type Allowed struct {
	// CommonName is the X.509 common name that may be requested.
	// +optional
	CommonName *AllowedString `json:"commonName,omitempty"`

	// DNSNames are the DNS subject alternative names that may be requested.
	// +optional
	DNSNames *AllowedStringSlice `json:"dnsNames,omitempty"`

	// IPAddresses are the IP subject alternative names that may be
	// requested, in their text form.
	// +optional
	IPAddresses *AllowedStringSlice `json:"ipAddresses,omitempty"`

	// URIs are the URI subject alternative names that may be requested.
	// +optional
	URIs *AllowedStringSlice `json:"uris,omitempty"`

	// EmailAddresses are the email subject alternative names that may be
	// requested.
	// +optional
	EmailAddresses *AllowedStringSlice `json:"emailAddresses,omitempty"`

	// IsCA true lets a request ask for a CA certificate; false or unset
	// means it may not.
	// +optional
	IsCA *bool `json:"isCA,omitempty"`

	// Usages are the key usages a request may name in spec.usages; unset
	// or empty means it may name none.
	// +optional
	// +kubebuilder:validation:items:Enum=signing;digital signature;content commitment;key encipherment;key agreement;data encipherment;cert sign;crl sign;encipher only;decipher only;any;server auth;client auth;code signing;email protection;s/mime;ipsec end system;ipsec tunnel;ipsec user;timestamping;ocsp signing;microsoft sgc;netscape sgc
	Usages *[]string `json:"usages,omitempty"`

	// Subject is the X.509 subject attributes that may be requested;
	// omitted means none.
	// +optional
	Subject *AllowedSubject `json:"subject,omitempty"`

	// OtherNames are the otherName subject alternative names that may be
	// requested, by OID. An otherName whose OID is not listed is refused,
	// as are directoryName, x400Address, ediPartyName and registeredID
	// names.
	// +optional
	// +listType=map
	// +listMapKey=oid
	OtherNames []AllowedOIDValues `json:"otherNames,omitempty"`
}

// AllowedSubject is the X.509 subject attributes a request may ask for.
type AllowedSubject struct {
	// Organizations (O) that may be requested.
	// +optional
	Organizations *AllowedStringSlice `json:"organizations,omitempty"`
	// Countries (C) that may be requested.
	// +optional
	Countries *AllowedStringSlice `json:"countries,omitempty"`
	// OrganizationalUnits (OU) that may be requested.
	// +optional
	OrganizationalUnits *AllowedStringSlice `json:"organizationalUnits,omitempty"`
	// Localities (L) that may be requested.
	// +optional
	Localities *AllowedStringSlice `json:"localities,omitempty"`
	// Provinces (ST) that may be requested.
	// +optional
	Provinces *AllowedStringSlice `json:"provinces,omitempty"`
	// StreetAddresses that may be requested.
	// +optional
	StreetAddresses *AllowedStringSlice `json:"streetAddresses,omitempty"`
	// PostalCodes that may be requested.
	// +optional
	PostalCodes *AllowedStringSlice `json:"postalCodes,omitempty"`
	// SerialNumber is the subject serial number attribute that may be
	// requested (not the certificate's serial number).
	// +optional
	SerialNumber *AllowedString `json:"serialNumber,omitempty"`

	// OtherAttributes are further subject attributes that may be
	// requested, by OID, such as 1.2.840.113549.1.9.1 (emailAddress). An
	// attribute that is neither one of the named ones nor listed here is
	// refused.
	// +optional
	// +listType=map
	// +listMapKey=oid
	OtherAttributes []AllowedOIDValues `json:"otherAttributes,omitempty"`
}

// AllowedString is the value a single-valued attribute may take. A request
// that sets the attribute needs value or validations here.
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !self.required || has(self.value) || (has(self.validations) && size(self.validations) > 0)",message="at least one of 'value' or 'validations' must be defined if field is 'required'",fieldPath=".value"
type AllowedString struct {
	// Value is the pattern the requested value must match: "*" matches
	// any run of characters.
	// +optional
	Value *string `json:"value,omitempty"`

	// Required means the request must set the attribute.
	// +optional
	Required *bool `json:"required,omitempty"`

	// Validations are CEL rules the requested value must pass, all of them.
	// +optional
	// +listType=map
	// +listMapKey=rule
	Validations []ValidationRule `json:"validations,omitempty"`
}

// AllowedStringSlice is the values a multi-valued attribute may take. A
// request that sets the attribute needs values or validations here.
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !self.required || has(self.values) || (has(self.validations) && size(self.validations) > 0)",message="at least one of 'values' or 'validations' must be defined if field is 'required'",fieldPath=".values"
type AllowedStringSlice struct {
	// Values are patterns ("*" matches any run of characters); every
	// requested value must match one. values: [] with required: true
	// approves nothing, which makes a deny-by-default policy.
	// +optional
	Values *[]string `json:"values,omitempty"`

	// Required means the request must ask for at least one value.
	// +optional
	Required *bool `json:"required,omitempty"`

	// Validations are CEL rules every requested value must pass, all of
	// them.
	// +optional
	// +listType=map
	// +listMapKey=rule
	Validations []ValidationRule `json:"validations,omitempty"`
}

// AllowedOIDValues is the values an attribute or name, identified by its
// OID, may take.
// +kubebuilder:validation:XValidation:rule="!has(self.required) || !self.required || has(self.values) || (has(self.validations) && size(self.validations) > 0)",message="at least one of 'values' or 'validations' must be defined if field is 'required'",fieldPath=".values"
type AllowedOIDValues struct {
	// OID is the dotted object identifier, such as 1.3.6.1.4.1.311.20.2.3
	// (Microsoft user principal name).
	// +kubebuilder:validation:Pattern=`^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$`
	OID string `json:"oid"`

	// Values are patterns ("*" matches any run of characters); every
	// requested value with this OID must match one.
	// +optional
	Values *[]string `json:"values,omitempty"`

	// Required means the request must carry this OID.
	// +optional
	Required *bool `json:"required,omitempty"`

	// Validations are CEL rules every requested value with this OID must
	// pass.
	// +optional
	// +listType=map
	// +listMapKey=rule
	Validations []ValidationRule `json:"validations,omitempty"`
}

// ValidationRule is a CEL expression a requested value must satisfy. The
// expression sees the value as self (a string) and the request as cr, a
// map with the keys namespace and name: for example
// self.endsWith(cr.namespace + '.svc.cluster.local').
type ValidationRule struct {
	// Rule is the CEL expression; it must evaluate to a bool.
	// +kubebuilder:validation:MinLength=1
	Rule string `json:"rule"`

	// Message is reported when the rule fails; if unset,
	// "failed rule: <rule>".
	// +optional
	Message string `json:"message,omitempty"`
}

// Constraints are conditions a request must meet.
type Constraints struct {
	// MinDuration is the shortest validity a request may ask for,
	// inclusive. A request that names no duration asks for the issuer's
	// default, 90 days. A Go duration, at most 2562047h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(self)",message="must be a duration such as 1h or 90m, at most 2562047h"
	MinDuration *metav1.Duration `json:"minDuration,omitempty"`

	// MaxDuration is the longest validity a request may ask for,
	// inclusive. A Go duration, at most 2562047h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(self)",message="must be a duration such as 1h or 90m, at most 2562047h"
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`

	// PrivateKey constrains the request's key.
	// +optional
	PrivateKey *PrivateKeyConstraints `json:"privateKey,omitempty"`
}

// PrivateKeyAlgorithm names a key algorithm as cert-manager does.
// +kubebuilder:validation:Enum=RSA;ECDSA;Ed25519
type PrivateKeyAlgorithm string

// The key algorithms.
const (
	RSAKeyAlgorithm     PrivateKeyAlgorithm = "RSA"
	ECDSAKeyAlgorithm   PrivateKeyAlgorithm = "ECDSA"
	Ed25519KeyAlgorithm PrivateKeyAlgorithm = "Ed25519"
)

// PrivateKeyConstraints constrain a request's key: its algorithm and size
// (RSA modulus bits, ECDSA curve bits).
// +kubebuilder:validation:XValidation:rule="!has(self.minSize) || !has(self.maxSize) || self.maxSize >= self.minSize",message="maxSize must be the same value as minSize or larger",fieldPath=".maxSize"
// +kubebuilder:validation:XValidation:rule="!has(self.algorithm) || self.algorithm != 'Ed25519' || (!has(self.minSize) && !has(self.maxSize))",message="minSize and maxSize cannot be defined with algorithm constraint Ed25519"
type PrivateKeyConstraints struct {
	// Algorithm is the one key algorithm allowed; unset allows any.
	// +optional
	Algorithm *PrivateKeyAlgorithm `json:"algorithm,omitempty"`

	// MinSize is the smallest key size allowed, inclusive.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=8192
	MinSize *int `json:"minSize,omitempty"`

	// MaxSize is the largest key size allowed, inclusive.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=8192
	MaxSize *int `json:"maxSize,omitempty"`
}

// PluginData is one plugin's configuration.
type PluginData struct {
	// Values are the plugin's settings.
	// +optional
	Values map[string]string `json:"values,omitempty"`
}

// Selector picks the requests a policy evaluates: every part that is set
// must match.
// +kubebuilder:validation:XValidation:rule="has(self.issuerRef) || has(self.namespace)",message="one of issuerRef or namespace must be defined, hint: `{}` on either matches everything"
type Selector struct {
	// IssuerRef matches the request's issuer; {} matches every issuer.
	// +optional
	IssuerRef *IssuerRefSelector `json:"issuerRef,omitempty"`

	// Namespace matches the request's namespace; {} matches every
	// namespace.
	// +optional
	Namespace *NamespaceSelector `json:"namespace,omitempty"`
}

// IssuerRefSelector matches a request's issuerRef. Each field is a pattern
// ("*" matches any run of characters); an unset field matches anything. A
// request's unset kind is Issuer and its unset group cert-manager.io.
type IssuerRefSelector struct {
	// Name matches the issuer's name.
	// +optional
	Name *string `json:"name,omitempty"`
	// Kind matches the issuer's kind.
	// +optional
	Kind *string `json:"kind,omitempty"`
	// Group matches the issuer's API group.
	// +optional
	Group *string `json:"group,omitempty"`
}

// NamespaceSelector matches a request's namespace: by name, by the
// namespace's labels, or both.
type NamespaceSelector struct {
	// MatchNames are patterns ("*" matches any run of characters); the
	// namespace's name must match one. Empty matches every name.
	// +optional
	MatchNames []string `json:"matchNames,omitempty"`

	// MatchLabels must all be labels of the namespace.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// CertificateRequestPolicyStatus is what the controller last observed.
type CertificateRequestPolicyStatus struct {
	// Conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
