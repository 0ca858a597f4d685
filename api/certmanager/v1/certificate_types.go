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

// CertificateSpec is what the certificate should be. The rules below are
// those of cert-manager's validating webhook (and certplane's for DNS names),
// applied by the apiserver at admission since certplane runs no webhook;
// internal/certpolicy applies them again to what reaches the controller.
//
// +kubebuilder:validation:XValidation:rule=`self.?commonName.orValue("") != "" || self.?literalSubject.orValue("") != "" || size(self.?dnsNames.orValue([])) + size(self.?uris.orValue([])) + size(self.?emailAddresses.orValue([])) + size(self.?ipAddresses.orValue([])) + size(self.?otherNames.orValue([])) > 0`,message="at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set"
// +kubebuilder:validation:XValidation:rule=`self.?literalSubject.orValue("") == "" || self.?commonName.orValue("") == ""`,message="when providing a literalSubject no commonName may be provided",fieldPath=".commonName"
// +kubebuilder:validation:XValidation:rule=`self.?literalSubject.orValue("") == "" || !has(self.subject) || (size(self.subject.?organizations.orValue([])) + size(self.subject.?countries.orValue([])) + size(self.subject.?organizationalUnits.orValue([])) + size(self.subject.?localities.orValue([])) + size(self.subject.?provinces.orValue([])) + size(self.subject.?streetAddresses.orValue([])) + size(self.subject.?postalCodes.orValue([])) == 0 && self.subject.?serialNumber.orValue("") == "")`,message="when providing a literalSubject no subject properties may be provided",fieldPath=".subject"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.renewBeforePercentage)",message="renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set",fieldPath=".renewBefore"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !self.renewBefore.matches('^[-+]?(0|(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$') || !(has(self.duration) ? self.duration : '2160h').matches('^[-+]?(0|(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$') || duration(self.renewBefore) < duration((has(self.duration) ? self.duration : '2160h'))",messageExpression="'certificate duration ' + (has(self.duration) ? self.duration : '2160h') + ' must be greater than renewBefore ' + self.renewBefore",fieldPath=".renewBefore"
// +kubebuilder:validation:XValidation:rule=`!has(self.signatureAlgorithm) || (self.?privateKey.?algorithm.orValue("") in ["", 'RSA'] ? self.signatureAlgorithm in ['SHA256WithRSA', 'SHA384WithRSA', 'SHA512WithRSA'] : self.privateKey.algorithm == 'ECDSA' ? self.signatureAlgorithm in ['ECDSAWithSHA256', 'ECDSAWithSHA384', 'ECDSAWithSHA512'] : self.signatureAlgorithm == 'PureEd25519')`,messageExpression=`self.?privateKey.?algorithm.orValue("") in ["", 'RSA'] ? 'for key algorithm RSA the allowed signature algorithms are SHA256WithRSA, SHA384WithRSA, SHA512WithRSA' : self.privateKey.algorithm == 'ECDSA' ? 'for key algorithm ECDSA the allowed signature algorithms are ECDSAWithSHA256, ECDSAWithSHA384, ECDSAWithSHA512' : 'for key algorithm Ed25519 the allowed signature algorithms are PureEd25519'`,fieldPath=".signatureAlgorithm"
// +kubebuilder:validation:XValidation:rule="!has(self.nameConstraints) || self.?isCA.orValue(false)",message="isCA should be true when nameConstraints is set",fieldPath=".nameConstraints"
type CertificateSpec struct {
	// Subject holds the distinguished name's fields other than the common name.
	// +optional
	Subject *X509Subject `json:"subject,omitempty"`
	// LiteralSubject is an RFC 4514 subject, used instead of commonName and subject.
	// +optional
	LiteralSubject string `json:"literalSubject,omitempty"`
	// CommonName of the certificate, at most 64 characters.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	CommonName string `json:"commonName,omitempty"`
	// Duration is the requested lifetime. Default 90 days (2160h); at least 1h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-+]?(0|(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",message="must be a duration such as 2160h or 90m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[-+]?(0|(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$') || duration(self) >= duration('1h')",message="certificate duration must be greater than 1h0m0s"
	Duration *metav1.Duration `json:"duration,omitempty"`
	// RenewBefore is how long before expiry the certificate is renewed; at
	// least 5m, less than the duration.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-+]?(0|(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$')",message="must be a duration such as 360h or 90m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[-+]?(0|(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$') || duration(self) >= duration('5m')",message="certificate renewBefore must be greater than 5m0s"
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`
	// RenewBeforePercentage is renewBefore as a percentage of the lifetime.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=99
	RenewBeforePercentage *int32 `json:"renewBeforePercentage,omitempty"`
	// Renewal controls when renewal may happen.
	// +optional
	Renewal *CertificateRenewal `json:"renewal,omitempty"`
	// DNSNames are DNS names (RFC 1123 host names; the first label may be
	// the wildcard '*').
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^([*][.])?([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?[.])*[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$') && !self.matches('(^|[.])[0-9]+$')",message="must be a valid DNS name: labels of ASCII letters, digits and '-', separated by '.', each of 1 to 63 characters that starts and ends with a letter or digit; the first label may be '*', the last may not be all digits"
	DNSNames []string `json:"dnsNames,omitempty"`
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",message="invalid IP address"
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// +optional
	// +listType=atomic
	URIs []string `json:"uris,omitempty"`
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	OtherNames []OtherName `json:"otherNames,omitempty"`
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=320
	// +kubebuilder:validation:items:XValidation:rule="self.indexOf('@') > 0 && self.indexOf('@') < size(self) - 1",message="invalid email address"
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// SecretName is the Secret the certificate and its key are stored in.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	// +kubebuilder:validation:XValidation:rule=`self == "" || !format.dns1123Subdomain().validate(self).hasValue()`,message="a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
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
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:XValidation:rule="size(self) < 2 || self[0].type != self[1].type",message="each type may be listed only once"
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
// +kubebuilder:validation:XValidation:rule=`self.?oid.orValue("") != ""`,message="must be specified",fieldPath=".oid"
// +kubebuilder:validation:XValidation:rule=`self.?oid.orValue("") == "" || self.oid.matches('^[0-2]([.][0-9]+)+$')`,message="invalid oid syntax",fieldPath=".oid"
// +kubebuilder:validation:XValidation:rule=`self.?utf8Value.orValue("") != ""`,message="must be set to a valid non-empty UTF8 string",fieldPath=".utf8Value"
type OtherName struct {
	// OID of the name's type.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	OID string `json:"oid,omitempty"`
	// UTF8Value is the name, a UTF8String.
	// +optional
	UTF8Value string `json:"utf8Value,omitempty"`
}

// CertificateRenewal controls renewal.
// +kubebuilder:validation:XValidation:rule=`self.?policy.orValue("") != 'Disabled' || size(self.?windows.orValue([])) == 0`,message="windows cannot be set when renewal.policy is set to Disabled",fieldPath=".windows"
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
// +kubebuilder:validation:XValidation:rule="has(self.windowDuration)",message="windowDuration must be specified and should be greater than 0",fieldPath=".windowDuration"
type RenewalWindow struct {
	Cron string `json:"cron"`
	// +optional
	TimeZone string `json:"timezone,omitempty"`
	// WindowDuration is how long the window lasts, a Go duration of at
	// most 2562047h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(self)",message="must be a duration such as 1h or 90m, at most 2562047h"
	WindowDuration *metav1.Duration `json:"windowDuration,omitempty"`
}

// CertificateSecretTemplate holds labels and annotations for the Secret.
// +kubebuilder:validation:XValidation:rule="!has(self.annotations) || self.annotations.all(k, !k.startsWith('cert-manager.io/') || k == 'cert-manager.io/allow-direct-injection')",message="cert-manager.io/* annotations are not allowed",fieldPath=".annotations"
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
// +kubebuilder:validation:XValidation:rule=`!has(self.password) || self.?passwordSecretRef.?name.orValue("") == ""`,message="exactly one of passwordSecretRef and password must be provided for JKS keystores; cannot set both"
// +kubebuilder:validation:XValidation:rule=`has(self.password) || self.?passwordSecretRef.?name.orValue("") != ""`,message="exactly one of passwordSecretRef and password must be provided for JKS keystores"
// +kubebuilder:validation:XValidation:rule=`!has(self.password) || self.password != ""`,message="literal password cannot be empty if set on JKS keystores",fieldPath=".password"
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
// +kubebuilder:validation:XValidation:rule=`!has(self.password) || self.?passwordSecretRef.?name.orValue("") == ""`,message="exactly one of passwordSecretRef and password must be provided for PKCS#12 keystores; cannot set both"
// +kubebuilder:validation:XValidation:rule=`has(self.password) || self.?passwordSecretRef.?name.orValue("") != ""`,message="exactly one of passwordSecretRef and password must be provided for PKCS#12 keystores"
// +kubebuilder:validation:XValidation:rule=`!has(self.password) || self.password != ""`,message="literal password cannot be empty if set on PKCS#12 keystores",fieldPath=".password"
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
// +kubebuilder:validation:XValidation:rule=`!(self.?algorithm.orValue("") in ["", 'RSA']) || self.?size.orValue(0) == 0 || (self.size >= 2048 && self.size <= 8192)`,message="must be between 2048 and 8192 for rsa keyAlgorithm",fieldPath=".size"
// +kubebuilder:validation:XValidation:rule=`self.?algorithm.orValue("") != 'ECDSA' || self.?size.orValue(0) in [0, 256, 384, 521]`,message="supported values for ECDSA: 256, 384, 521",fieldPath=".size"
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
	// Size is the RSA modulus (2048 to 8192, default 2048) or ECDSA curve
	// size (256, 384 or 521, default 256); ignored for Ed25519.
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
// +kubebuilder:validation:XValidation:rule="has(self.permitted) || has(self.excluded)",message="either permitted or excluded must be set"
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
