package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The label and annotation trust-manager puts on every target, and the
// kind of a target's controller owner reference.
const (
	// BundleLabelKey names, on a target ConfigMap or Secret, the Bundle it
	// belongs to.
	BundleLabelKey = "trust.cert-manager.io/bundle"
	// BundleHashAnnotationKey holds, on a target, the hex SHA-256 of what
	// it was written from, so that a current target is not written again.
	BundleHashAnnotationKey = "trust.cert-manager.io/hash"
	// BundleKind is the kind of a target's owner.
	BundleKind = "Bundle"
)

// The Bundle's condition type and its reasons, as trust-manager's.
const (
	// BundleConditionSynced is True when every selected namespace holds the
	// current bundle.
	BundleConditionSynced = "Synced"

	// ReasonSynced: every target is current.
	ReasonSynced = "Synced"
	// ReasonSourceNotFound: a source object or key does not exist, or the
	// sources hold no usable certificate.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonSourceBuildError: a source holds something other than PEM
	// certificates.
	ReasonSourceBuildError = "SourceBuildError"
	// ReasonSyncConfigMapTargetFailed and ReasonSyncSecretTargetFailed: a
	// target could not be written.
	ReasonSyncConfigMapTargetFailed = "SyncConfigMapTargetFailed"
	ReasonSyncSecretTargetFailed    = "SyncSecretTargetFailed"
)

// Defaults of the additional formats' passwords.
const (
	// DefaultJKSPassword is Java's conventional truststore password.
	DefaultJKSPassword = "changeit"
	// DefaultPKCS12Password is none: a PKCS#12 truststore without
	// encryption or MAC, as Java 18 and later read by default.
	DefaultPKCS12Password = ""
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="ConfigMap Target",type="string",JSONPath=".spec.target.configMap.key",description="Bundle ConfigMap Target Key"
// +kubebuilder:printcolumn:name="Secret Target",type="string",JSONPath=".spec.target.secret.key",description="Bundle Secret Target Key"
// +kubebuilder:printcolumn:name="Synced",type="string",JSONPath=`.status.conditions[?(@.type == "Synced")].status`,description="Bundle has been synced"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=`.status.conditions[?(@.type == "Synced")].reason`,description="Reason Bundle has Synced status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="Timestamp Bundle was created"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.target) || !has(self.spec.target.configMap) || self.spec.sources.all(s, !has(s.configMap) || !has(s.configMap.name) || !has(s.configMap.key) || s.configMap.name != self.metadata.name || s.configMap.key != self.spec.target.configMap.key)",message="spec.sources: a configMap source may not be the target (the Bundle's name and the target key)"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.target) || !has(self.spec.target.secret) || self.spec.sources.all(s, !has(s.secret) || !has(s.secret.name) || !has(s.secret.key) || s.secret.name != self.metadata.name || s.secret.key != self.spec.target.secret.key)",message="spec.sources: a secret source may not be the target (the Bundle's name and the target key)"

// Bundle gathers CA certificates from its sources and writes them, as one
// deduplicated, sorted PEM bundle (and optionally JKS and PKCS#12
// truststores), to a ConfigMap or Secret named as the Bundle in every
// selected namespace.
type Bundle struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BundleSpec `json:"spec"`
	// +optional
	Status BundleStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// BundleList is a list of Bundles.
type BundleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Bundle `json:"items"`
}

// BundleSpec says where the certificates come from and where they go.
// +kubebuilder:validation:XValidation:rule="self.sources.exists(s, !has(s.useDefaultCAs) || s.useDefaultCAs)",message="spec.sources: must define at least one source"
// +kubebuilder:validation:XValidation:rule="self.sources.filter(s, has(s.useDefaultCAs)).size() <= 1",message="spec.sources: useDefaultCAs may be given at most once"
type BundleSpec struct {
	// Sources are appended together; certificates found twice are written
	// once.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Sources []BundleSource `json:"sources"`

	// Target is the ConfigMap and/or Secret written in each selected
	// namespace.
	// +optional
	Target BundleTarget `json:"target,omitzero"`
}

// BundleSource is one source of certificates: exactly one of its fields.
// +structType=atomic
// +kubebuilder:validation:XValidation:rule="[has(self.configMap), has(self.secret), has(self.inLine), has(self.useDefaultCAs)].filter(x, x).size() == 1",message="must define exactly one source type: configMap, secret, inLine or useDefaultCAs"
type BundleSource struct {
	// ConfigMap selects ConfigMaps in the trust namespace, by name or by
	// labels, and their key or all their keys.
	// +optional
	ConfigMap *SourceObjectKeySelector `json:"configMap,omitempty"`

	// Secret selects Secrets in the trust namespace, by name or by labels,
	// and their key or all their keys.
	// +optional
	Secret *SourceObjectKeySelector `json:"secret,omitempty"`

	// InLine is PEM text given in the Bundle itself.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1048576
	InLine string `json:"inLine,omitempty"`

	// UseDefaultCAs adds the public CAs of the controller's machine or image
	// (Debian's ca-certificates package); status.defaultCAVersion names the
	// package version used.
	// +optional
	UseDefaultCAs *bool `json:"useDefaultCAs,omitempty"`
}

// BundleTarget is what is written in each selected namespace.
// +kubebuilder:validation:XValidation:rule="has(self.configMap) || has(self.secret)",message="must define at least one of configMap and secret"
// +kubebuilder:validation:XValidation:rule="!has(self.additionalFormats) || !has(self.additionalFormats.jks) || ((!has(self.configMap) || self.configMap.key != self.additionalFormats.jks.key) && (!has(self.secret) || self.secret.key != self.additionalFormats.jks.key))",message="additionalFormats.jks.key: must differ from every target key"
// +kubebuilder:validation:XValidation:rule="!has(self.additionalFormats) || !has(self.additionalFormats.pkcs12) || ((!has(self.configMap) || self.configMap.key != self.additionalFormats.pkcs12.key) && (!has(self.secret) || self.secret.key != self.additionalFormats.pkcs12.key))",message="additionalFormats.pkcs12.key: must differ from every target key"
// +kubebuilder:validation:XValidation:rule="!has(self.additionalFormats) || !has(self.additionalFormats.jks) || !has(self.additionalFormats.pkcs12) || self.additionalFormats.jks.key != self.additionalFormats.pkcs12.key",message="additionalFormats: jks and pkcs12 need different keys"
type BundleTarget struct {
	// ConfigMap is a ConfigMap named as the Bundle: the PEM bundle under
	// key in data, the additional formats in binaryData.
	// +optional
	ConfigMap *TargetTemplate `json:"configMap,omitempty"`

	// Secret is a Secret named as the Bundle: the PEM bundle and the
	// additional formats in data.
	// +optional
	Secret *TargetTemplate `json:"secret,omitempty"`

	// AdditionalFormats are truststores written beside the PEM bundle.
	// +optional
	AdditionalFormats *AdditionalFormats `json:"additionalFormats,omitempty"`

	// NamespaceSelector picks the namespaces that get the target; unset
	// means every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// AdditionalFormats are truststore formats written beside the PEM bundle.
// +kubebuilder:validation:XValidation:rule="has(self.jks) || has(self.pkcs12)",message="must define at least one of jks and pkcs12"
type AdditionalFormats struct {
	// JKS writes a Java KeyStore of trusted certificates. Deprecated by
	// trust-manager in favour of PKCS#12, which Java reads too.
	// +optional
	JKS *JKS `json:"jks,omitempty"`

	// PKCS12 writes a PKCS#12 truststore, by default without a password.
	// +optional
	PKCS12 *PKCS12 `json:"pkcs12,omitempty"`
}

// JKS is the JKS truststore's key and password.
// +structType=atomic
// +kubebuilder:validation:MinProperties=1
type JKS struct {
	KeySelector `json:",inline"`

	// Password of the keystore; "changeit" if unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:default=changeit
	Password string `json:"password,omitempty"`
}

// PKCS12 is the PKCS#12 truststore's key, password and algorithms.
// +structType=atomic
// +kubebuilder:validation:MinProperties=1
type PKCS12 struct {
	KeySelector `json:",inline"`

	// Password of the truststore; none if unset or empty.
	// +optional
	// +kubebuilder:validation:MinLength=0
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:default=""
	Password *string `json:"password,omitempty"`

	// Profile chooses the encryption and MAC algorithms: LegacyRC2 (the
	// default; OpenSSL 3 needs -legacy to read it when it has a password),
	// LegacyDES, or Modern2023 (AES-256 and SHA-256).
	// +optional
	Profile PKCS12Profile `json:"profile,omitempty"`
}

// PKCS12Profile names a set of PKCS#12 algorithms, as go-pkcs12 does.
// +kubebuilder:validation:Enum=LegacyRC2;LegacyDES;Modern2023
type PKCS12Profile string

// The PKCS#12 profiles.
const (
	LegacyRC2PKCS12Profile  PKCS12Profile = "LegacyRC2"
	LegacyDESPKCS12Profile  PKCS12Profile = "LegacyDES"
	Modern2023PKCS12Profile PKCS12Profile = "Modern2023"
)

// SourceObjectKeySelector selects ConfigMaps or Secrets in the trust
// namespace, by name or by labels, and the key or all the keys read from
// each.
// +structType=atomic
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.selector)",message="must define exactly one of name and selector"
// +kubebuilder:validation:XValidation:rule="has(self.key) != (has(self.includeAllKeys) && self.includeAllKeys)",message="must define exactly one of key and includeAllKeys: true"
type SourceObjectKeySelector struct {
	// Name of the object in the trust namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// Selector picks the objects in the trust namespace by label.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Key is the one key read from each object (a ConfigMap's binaryData
	// when data lacks it).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`

	// IncludeAllKeys reads every key of each object. Refused for
	// kubernetes.io/tls Secrets, which hold a private key.
	// +optional
	IncludeAllKeys *bool `json:"includeAllKeys,omitempty"`
}

// TargetTemplate is a target object's key and extra metadata.
type TargetTemplate struct {
	// Key under which the PEM bundle is written.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`

	// Metadata are labels and annotations added to the target.
	// +optional
	Metadata TargetMetadata `json:"metadata,omitzero"`
}

// KeySelector names a key of the target.
type KeySelector struct {
	// Key under which the truststore is written.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// TargetMetadata are labels and annotations copied to each target.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!has(self.labels) || self.labels.all(k, !k.startsWith('trust.cert-manager.io/') && !k.startsWith('trust-manager.io/'))",message="labels: trust.cert-manager.io/ and trust-manager.io/ keys are reserved"
// +kubebuilder:validation:XValidation:rule="!has(self.annotations) || self.annotations.all(k, !k.startsWith('trust.cert-manager.io/') && !k.startsWith('trust-manager.io/'))",message="annotations: trust.cert-manager.io/ and trust-manager.io/ keys are reserved"
type TargetMetadata struct {
	// Annotations added to each target.
	// +optional
	// +kubebuilder:validation:MinProperties=1
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels added to each target.
	// +optional
	// +kubebuilder:validation:MinProperties=1
	Labels map[string]string `json:"labels,omitempty"`
}

// BundleStatus is what the controller last observed.
type BundleStatus struct {
	// Conditions: Synced.
	// +listType=map
	// +listMapKey=type
	// +optional
	// +kubebuilder:validation:MaxItems=10
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// DefaultCAPackageVersion names the default CA package the bundle was
	// built from when a source has useDefaultCAs: package, version and the
	// start of the bundle's SHA-256, as trust-manager reports it.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DefaultCAPackageVersion string `json:"defaultCAVersion,omitempty"`
}
