package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cert;certs,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.spec.secretName`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuerRef.name`,priority=1
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Certificate asks for an X.509 certificate, kept current in a Secret.
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CertificateSpec   `json:"spec"`
	Status CertificateStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CertificateList is a list of Certificates.
type CertificateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Certificate `json:"items"`
}

// CertificateSpec is what the certificate should be.
type CertificateSpec struct {
	// Subject holds the distinguished name's fields other than the common name.
	// +optional
	Subject *X509Subject `json:"subject,omitempty"`
	// LiteralSubject is an RFC 4514 subject, used instead of commonName and subject.
	// +optional
	LiteralSubject string `json:"literalSubject,omitempty"`
	// CommonName of the certificate.
	// +optional
	CommonName string `json:"commonName,omitempty"`
	// Duration is the requested lifetime. Default 90 days (2160h); at least 1h.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// RenewBefore is how long before expiry the certificate is renewed; at least 5m.
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`
	// RenewBeforePercentage is renewBefore as a percentage of the lifetime.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=99
	RenewBeforePercentage *int32 `json:"renewBeforePercentage,omitempty"`
	// Renewal controls when renewal may happen.
	// +optional
	Renewal *CertificateRenewal `json:"renewal,omitempty"`
	// +optional
	// +listType=atomic
	DNSNames []string `json:"dnsNames,omitempty"`
	// +optional
	// +listType=atomic
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// +optional
	// +listType=atomic
	URIs []string `json:"uris,omitempty"`
	// +optional
	// +listType=atomic
	OtherNames []OtherName `json:"otherNames,omitempty"`
	// +optional
	// +listType=atomic
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// SecretName is the Secret the certificate and its key are stored in.
	SecretName string `json:"secretName"`
	// SecretTemplate holds labels and annotations copied onto the Secret.
	// +optional
	SecretTemplate *CertificateSecretTemplate `json:"secretTemplate,omitempty"`
	// Keystores are extra formats written into the Secret.
	// +optional
	Keystores *CertificateKeystores `json:"keystores,omitempty"`
	// IssuerRef names the issuer.
	IssuerRef ObjectReference `json:"issuerRef"`
	// IsCA makes a CA certificate.
	// +optional
	IsCA bool `json:"isCA,omitempty"`
	// Usages of the certificate. Default: digital signature, key encipherment.
	// +optional
	Usages []KeyUsage `json:"usages,omitempty"`
	// PrivateKey describes the key.
	// +optional
	PrivateKey *CertificatePrivateKey `json:"privateKey,omitempty"`
	// SignatureAlgorithm of the certificate.
	// +optional
	SignatureAlgorithm SignatureAlgorithm `json:"signatureAlgorithm,omitempty"`
	// EncodeUsagesInRequest puts the usages into the CSR. Default true.
	// +optional
	EncodeUsagesInRequest *bool `json:"encodeUsagesInRequest,omitempty"`
	// RevisionHistoryLimit is how many CertificateRequests are kept. At least 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// AdditionalOutputFormats are extra keys written into the Secret.
	// +optional
	// +listType=atomic
	AdditionalOutputFormats []CertificateAdditionalOutputFormat `json:"additionalOutputFormats,omitempty"`
	// NameConstraints for a CA certificate.
	// +optional
	NameConstraints *NameConstraints `json:"nameConstraints,omitempty"`
}

// X509Subject is the distinguished name without the common name.
type X509Subject struct {
	// +optional
	// +listType=atomic
	Organizations []string `json:"organizations,omitempty"`
	// +optional
	// +listType=atomic
	Countries []string `json:"countries,omitempty"`
	// +optional
	// +listType=atomic
	OrganizationalUnits []string `json:"organizationalUnits,omitempty"`
	// +optional
	// +listType=atomic
	Localities []string `json:"localities,omitempty"`
	// +optional
	// +listType=atomic
	Provinces []string `json:"provinces,omitempty"`
	// +optional
	// +listType=atomic
	StreetAddresses []string `json:"streetAddresses,omitempty"`
	// +optional
	// +listType=atomic
	PostalCodes []string `json:"postalCodes,omitempty"`
	// +optional
	SerialNumber string `json:"serialNumber,omitempty"`
}

// OtherName is an otherName SAN.
type OtherName struct {
	// OID of the name's type.
	// +optional
	OID string `json:"oid,omitempty"`
	// UTF8Value is the name, a UTF8String.
	// +optional
	UTF8Value string `json:"utf8Value,omitempty"`
}

// CertificateRenewal controls renewal.
type CertificateRenewal struct {
	// Policy is RenewBefore (the default) or Disabled.
	// +optional
	// +kubebuilder:validation:Enum=RenewBefore;Disabled
	Policy string `json:"policy,omitempty"`
	// Windows are cron-scheduled windows renewal may happen in.
	// +optional
	// +listType=atomic
	Windows []RenewalWindow `json:"windows,omitempty"`
}

// RenewalWindow is a cron-scheduled renewal window.
type RenewalWindow struct {
	Cron string `json:"cron"`
	// +optional
	TimeZone string `json:"timezone,omitempty"`
	// +optional
	WindowDuration *metav1.Duration `json:"windowDuration,omitempty"`
}

// CertificateSecretTemplate holds labels and annotations for the Secret.
type CertificateSecretTemplate struct {
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// CertificateKeystores are keystore formats written into the Secret.
type CertificateKeystores struct {
	// +optional
	JKS *JKSKeystore `json:"jks,omitempty"`
	// +optional
	PKCS12 *PKCS12Keystore `json:"pkcs12,omitempty"`
}

// JKSKeystore writes keystore.jks and truststore.jks.
type JKSKeystore struct {
	Create bool `json:"create"`
	// +optional
	PasswordSecretRef SecretKeySelector `json:"passwordSecretRef,omitempty"`
	// +optional
	Password *string `json:"password,omitempty"`
	// Alias of the key entry. Default "certificate".
	// +optional
	Alias *string `json:"alias,omitempty"`
}

// PKCS12Keystore writes keystore.p12 and truststore.p12.
type PKCS12Keystore struct {
	Create bool `json:"create"`
	// +optional
	PasswordSecretRef SecretKeySelector `json:"passwordSecretRef,omitempty"`
	// +optional
	Password *string `json:"password,omitempty"`
	// Profile is the encryption: LegacyRC2, LegacyDES, Modern2023 or Modern2026.
	// +optional
	// +kubebuilder:validation:Enum=LegacyRC2;LegacyDES;Modern2023;Modern2026
	Profile string `json:"profile,omitempty"`
}

// CertificatePrivateKey describes the private key.
type CertificatePrivateKey struct {
	// RotationPolicy is Always (the default) or Never.
	// +optional
	// +kubebuilder:validation:Enum=Never;Always
	RotationPolicy string `json:"rotationPolicy,omitempty"`
	// Encoding is PKCS1 (the default) or PKCS8.
	// +optional
	// +kubebuilder:validation:Enum=PKCS1;PKCS8
	Encoding string `json:"encoding,omitempty"`
	// Algorithm is RSA (the default), ECDSA or Ed25519.
	// +optional
	// +kubebuilder:validation:Enum=RSA;ECDSA;Ed25519
	Algorithm string `json:"algorithm,omitempty"`
	// Size is the RSA modulus or ECDSA curve size.
	// +optional
	Size int `json:"size,omitempty"`
}

// SignatureAlgorithm names a signature algorithm.
// +kubebuilder:validation:Enum=SHA256WithRSA;SHA384WithRSA;SHA512WithRSA;ECDSAWithSHA256;ECDSAWithSHA384;ECDSAWithSHA512;PureEd25519
type SignatureAlgorithm string

// CertificateAdditionalOutputFormat is an extra key in the Secret.
type CertificateAdditionalOutputFormat struct {
	// Type is DER (key.der) or CombinedPEM (tls-combined.pem).
	// +kubebuilder:validation:Enum=DER;CombinedPEM
	Type string `json:"type"`
}

// NameConstraints limit the names a CA may certify.
type NameConstraints struct {
	// +optional
	Critical bool `json:"critical,omitempty"`
	// +optional
	Permitted *NameConstraintItem `json:"permitted,omitempty"`
	// +optional
	Excluded *NameConstraintItem `json:"excluded,omitempty"`
}

// NameConstraintItem lists names by kind.
type NameConstraintItem struct {
	// +optional
	// +listType=atomic
	DNSDomains []string `json:"dnsDomains,omitempty"`
	// +optional
	// +listType=atomic
	IPRanges []string `json:"ipRanges,omitempty"`
	// +optional
	// +listType=atomic
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// +optional
	// +listType=atomic
	URIDomains []string `json:"uriDomains,omitempty"`
}

// KeyUsage is one of the 23 Kubernetes usage names.
// +kubebuilder:validation:Enum=signing;digital signature;content commitment;key encipherment;key agreement;data encipherment;cert sign;crl sign;encipher only;decipher only;any;server auth;client auth;code signing;email protection;s/mime;ipsec end system;ipsec tunnel;ipsec user;timestamping;ocsp signing;microsoft sgc;netscape sgc
type KeyUsage string

// CertificateStatus is what the controller reports.
type CertificateStatus struct {
	// Conditions: Ready and Issuing.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []CertificateCondition `json:"conditions,omitempty"`
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`
	// +optional
	Revision *int `json:"revision,omitempty"`
	// +optional
	NextPrivateKeySecretName *string `json:"nextPrivateKeySecretName,omitempty"`
	// +optional
	FailedIssuanceAttempts *int `json:"failedIssuanceAttempts,omitempty"`
}

// CertificateCondition is a condition of a Certificate.
type CertificateCondition struct {
	// Type is Ready or Issuing.
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
