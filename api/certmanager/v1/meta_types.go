package v1

// ObjectReference names an Issuer or ClusterIssuer. For cert-manager.io's
// own group (also when the group is empty) the kind must be Issuer or
// ClusterIssuer; other groups' kinds are the external issuers' business.
// +kubebuilder:validation:XValidation:rule=`!(self.?group.orValue("") in ["", 'cert-manager.io']) || self.?kind.orValue("") in ["", 'Issuer', 'ClusterIssuer']`,messageExpression=`'must be one of Issuer or ClusterIssuer' + (self.?group.orValue("") == "" ? ' (did you forget to set spec.issuerRef.group?)' : "")`,fieldPath=".kind"
type ObjectReference struct {
	// Name of the issuer.
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	Name string `json:"name"`
	// Kind of the issuer: Issuer (the default) or ClusterIssuer.
	// +optional
	Kind string `json:"kind,omitempty"`
	// Group of the issuer: cert-manager.io (the default) or an external issuer's group.
	// +optional
	Group string `json:"group,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string `json:"name"`
}

// SecretKeySelector names a key of a Secret in the same namespace.
type SecretKeySelector struct {
	LocalObjectReference `json:",inline"`
	// Key of the entry in the Secret's data; some fields have a default.
	// +optional
	Key string `json:"key,omitempty"`
}

// ConditionStatus is True, False or Unknown.
// +kubebuilder:validation:Enum=True;False;Unknown
type ConditionStatus string

// Condition statuses.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)
