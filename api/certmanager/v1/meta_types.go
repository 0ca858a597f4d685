package v1

// ObjectReference names an Issuer or ClusterIssuer.
type ObjectReference struct {
	// Name of the issuer.
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
