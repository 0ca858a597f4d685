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

// VaultIssuer signs through the PKI secrets engine of HashiCorp Vault (or
// a server with its API), as cert-manager's vault issuer does: one request
// to Path per certificate, with the CSR.
// +kubebuilder:validation:XValidation:rule=`size(self.?caBundle.orValue(b"")) == 0 || !has(self.caBundleSecretRef)`,message="specified caBundle and caBundleSecretRef cannot be used together",fieldPath=".caBundle"
// +kubebuilder:validation:XValidation:rule="has(self.clientCertSecretRef) == has(self.clientKeySecretRef)",messageExpression="has(self.clientCertSecretRef) ? 'clientKeySecretRef must be provided when defining the clientCertSecretRef' : 'clientCertSecretRef must be provided when defining the clientKeySecretRef'"
type VaultIssuer struct {
	// Auth is how certplane logs in to Vault: exactly one method.
	Auth VaultAuth `json:"auth"`
	// Server is the Vault server's address, e.g. "https://vault.example.com:8200".
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	Server string `json:"server"`
	// ServerName overrides the name the server's certificate is checked
	// against (and sent as SNI).
	// +optional
	ServerName string `json:"serverName,omitempty"`
	// Path is the signing endpoint after /v1/, e.g. "pki/sign/my-role" or
	// "pki/sign-verbatim/my-role".
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.](/|$)')",message="must not contain '..' path segments"
	Path string `json:"path"`
	// Namespace is the Vault (Enterprise) namespace, sent as
	// X-Vault-Namespace on every request but the health check.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// CABundle is PEM of the CAs that Vault's serving certificate chains
	// to; if neither it nor CABundleSecretRef is set, the system roots.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`
	// CABundleSecretRef is a Secret key holding that bundle (default key
	// ca.crt).
	// +optional
	CABundleSecretRef *SecretKeySelector `json:"caBundleSecretRef,omitempty"`
	// ClientCertSecretRef is the client certificate for mutual TLS to
	// Vault (default key tls.crt).
	// +optional
	ClientCertSecretRef *SecretKeySelector `json:"clientCertSecretRef,omitempty"`
	// ClientKeySecretRef is its private key (default key tls.key).
	// +optional
	ClientKeySecretRef *SecretKeySelector `json:"clientKeySecretRef,omitempty"`
}

// VaultAuth is one of Vault's authentication methods.
// +kubebuilder:validation:XValidation:rule="(has(self.tokenSecretRef) ? 1 : 0) + (has(self.appRole) ? 1 : 0) + (has(self.clientCertificate) ? 1 : 0) + (has(self.kubernetes) ? 1 : 0) + (has(self.aws) ? 1 : 0) == 1",message="exactly one of tokenSecretRef, appRole, clientCertificate, kubernetes and aws must be set"
type VaultAuth struct {
	// TokenSecretRef is a Secret key holding a Vault token (default key
	// token).
	// +optional
	TokenSecretRef *SecretKeySelector `json:"tokenSecretRef,omitempty"`
	// AppRole logs in with a role ID and a secret ID.
	// +optional
	AppRole *VaultAppRole `json:"appRole,omitempty"`
	// ClientCertificate logs in with a TLS client certificate.
	// +optional
	ClientCertificate *VaultClientCertificateAuth `json:"clientCertificate,omitempty"`
	// Kubernetes logs in with a Kubernetes service account token.
	// +optional
	Kubernetes *VaultKubernetesAuth `json:"kubernetes,omitempty"`
	// AWS logs in with AWS IAM credentials. Accepted; certplane reports it
	// as not supported.
	// +optional
	AWS *VaultAWSAuth `json:"aws,omitempty"`
}

// VaultAppRole is Vault's AppRole authentication.
type VaultAppRole struct {
	// Path is where the AppRole method is mounted, e.g. "approle".
	Path string `json:"path"`
	// RoleId is the role's ID.
	RoleId string `json:"roleId"` //nolint:revive // cert-manager's field name
	// SecretRef is a Secret key holding the secret ID.
	SecretRef SecretKeySelector `json:"secretRef"`
}

// VaultClientCertificateAuth is Vault's TLS certificate authentication.
type VaultClientCertificateAuth struct {
	// Path is the login's mount path; default /v1/auth/cert.
	// +optional
	Path string `json:"mountPath,omitempty"`
	// SecretName is a kubernetes.io/tls Secret with the client
	// certificate and key; if empty, those of ClientCertSecretRef and
	// ClientKeySecretRef.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// Name of the certificate role to log in with; if empty, Vault tries
	// each.
	// +optional
	Name string `json:"name,omitempty"`
}

// VaultKubernetesAuth is Vault's Kubernetes authentication.
// +kubebuilder:validation:XValidation:rule=`has(self.serviceAccountRef) != (self.?secretRef.name.orValue("") != "")`,message="exactly one of secretRef.name and serviceAccountRef must be set"
type VaultKubernetesAuth struct {
	// Path is the login's mount path; default /v1/auth/kubernetes.
	// +optional
	Path string `json:"mountPath,omitempty"`
	// SecretRef is a Secret key holding a service account token (default
	// key token).
	// +optional
	SecretRef SecretKeySelector `json:"secretRef,omitempty"`
	// ServiceAccountRef names a service account in the issuer's namespace
	// whose token certplane requests through the TokenRequest API.
	// +optional
	ServiceAccountRef *ServiceAccountRef `json:"serviceAccountRef,omitempty"`
	// Role is the Vault role to log in as.
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="must be specified"
	Role string `json:"role"`
}

// ServiceAccountRef names a service account whose tokens are requested for
// an issuer.
type ServiceAccountRef struct {
	// Name of the service account.
	Name string `json:"name"`
	// TokenAudiences are added to the token's default audiences.
	// +optional
	// +listType=atomic
	TokenAudiences []string `json:"audiences,omitempty"`
}

// VaultAWSAuth is Vault's AWS IAM authentication (kept as written).
type VaultAWSAuth struct {
	// +optional
	Path string `json:"mountPath,omitempty"`
	// +optional
	Region string `json:"region,omitempty"`
	Role   string `json:"role"`
	// +optional
	IAMRoleARN string `json:"iamRoleArn,omitempty"`
	// +optional
	ServiceAccountRef *ServiceAccountRef `json:"serviceAccountRef,omitempty"`
	// +optional
	VaultHeaderValue string `json:"vaultHeaderValue,omitempty"`
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

// ACMEIssuer obtains certificates from an ACME server (RFC 8555), such as
// Let's Encrypt, as cert-manager's acme issuer does.
// +kubebuilder:validation:XValidation:rule=`size(self.?caBundle.orValue(b"")) == 0 || !self.?skipTLSVerify.orValue(false)`,message="caBundle and skipTLSVerify are mutually exclusive and cannot both be set",fieldPath=".caBundle"
// +kubebuilder:validation:XValidation:rule=`self.privateKeySecretRef.name != ""`,message="private key secret name is a required field",fieldPath=".privateKeySecretRef.name"
type ACMEIssuer struct {
	// Email is the account's contact, sent as mailto:<email>.
	// +optional
	Email string `json:"email,omitempty"`
	// Server is the ACME server's directory URL.
	// +kubebuilder:validation:XValidation:rule=`self != ""`,message="acme server URL is a required field"
	Server string `json:"server"`
	// PreferredChain picks, among the chains the server offers, the first
	// whose root-most issuer has this common name.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PreferredChain string `json:"preferredChain,omitempty"`
	// CABundle is the PEM of the CAs the server's TLS certificate is
	// checked against; the system's when empty.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`
	// SkipTLSVerify turns off the check of the server's TLS certificate.
	// +optional
	SkipTLSVerify bool `json:"skipTLSVerify,omitempty"`
	// ExternalAccountBinding binds the ACME account to an account the CA
	// already knows.
	// +optional
	ExternalAccountBinding *ACMEExternalAccountBinding `json:"externalAccountBinding,omitempty"`
	// PrivateKey is the Secret holding the account's private key (key
	// tls.key by default); an RSA 2048 key is generated when it is missing.
	PrivateKey SecretKeySelector `json:"privateKeySecretRef"`
	// Solvers are the HTTP-01 and DNS-01 challenge solvers.
	// +optional
	// +listType=atomic
	Solvers []ACMEChallengeSolver `json:"solvers,omitempty"`
	// DisableAccountKeyGeneration makes a missing account key an error
	// instead of generating one.
	// +optional
	DisableAccountKeyGeneration bool `json:"disableAccountKeyGeneration,omitempty"`
	// EnableDurationFeature asks the server for the requested duration.
	// +optional
	EnableDurationFeature bool `json:"enableDurationFeature,omitempty"`
	// Profile is the ACME certificate profile to ask for.
	// +optional
	Profile string `json:"profile,omitempty"`
}

// ACMEExternalAccountBinding is an external account binding (RFC 8555
// section 7.3.4): a key id and an HMAC key the CA issued.
type ACMEExternalAccountBinding struct {
	// KeyID is the key id the CA gave.
	KeyID string `json:"keyID"`
	// KeySecretRef names the Secret entry holding the HMAC key, encoded as
	// unpadded base64url.
	KeySecretRef SecretKeySelector `json:"keySecretRef"`
	// KeyAlgorithm is deprecated and ignored: the binding is signed with
	// HS256, as cert-manager does.
	// +optional
	// +kubebuilder:validation:Enum=HS256;HS384;HS512
	KeyAlgorithm string `json:"keyAlgorithm,omitempty"`
}

// ACMEChallengeSolver picks a challenge type and its provider for the
// names its selector matches.
// +kubebuilder:validation:XValidation:rule=`has(self.http01) != has(self.dns01)`,message="exactly one of http01 and dns01 must be set in a solver"
type ACMEChallengeSolver struct {
	// Selector chooses the names this solver is used for; none means all.
	// +optional
	Selector *CertificateDNSNameSelector `json:"selector,omitempty"`
	// HTTP01 solves challenges by serving a token over HTTP.
	// +optional
	HTTP01 *ACMEChallengeSolverHTTP01 `json:"http01,omitempty"`
	// DNS01 solves challenges with a TXT record.
	// +optional
	DNS01 *ACMEChallengeSolverDNS01 `json:"dns01,omitempty"`
	// WaitInsteadOfSelfCheck skips the self-check and waits this long after
	// presenting before asking the server to validate; a Go duration, at
	// most 2562047h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration(self)",message="must be a duration such as 1h or 90m, at most 2562047h"
	WaitInsteadOfSelfCheck *metav1.Duration `json:"waitInsteadOfSelfCheck,omitempty"`
}

// CertificateDNSNameSelector selects names by the Certificate's labels, by
// exact name, or by zone.
type CertificateDNSNameSelector struct {
	// MatchLabels must all be labels of the Certificate (and so of its
	// request and Order).
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// DNSNames are names this solver is for, exactly.
	// +optional
	// +listType=atomic
	DNSNames []string `json:"dnsNames,omitempty"`
	// DNSZones are zones whose names (and subdomains) this solver is for;
	// the most specific match wins.
	// +optional
	// +listType=atomic
	DNSZones []string `json:"dnsZones,omitempty"`
}

// ACMEChallengeSolverHTTP01 routes the HTTP-01 token path to the solver:
// through an Ingress or a Gateway API HTTPRoute.
// +kubebuilder:validation:XValidation:rule=`has(self.ingress) != has(self.gatewayHTTPRoute)`,message="exactly one of ingress and gatewayHTTPRoute must be set"
type ACMEChallengeSolverHTTP01 struct {
	// +optional
	Ingress *ACMEChallengeSolverHTTP01Ingress `json:"ingress,omitempty"`
	// +optional
	GatewayHTTPRoute *ACMEChallengeSolverHTTP01GatewayHTTPRoute `json:"gatewayHTTPRoute,omitempty"`
}

// ACMEChallengeSolverHTTP01Ingress is the Ingress that routes a challenge's
// path to the solver.
// +kubebuilder:validation:XValidation:rule=`!(has(self.ingressClassName) && has(self.class)) && !(has(self.ingressClassName) && has(self.name)) && !(has(self.class) && has(self.name))`,message="only one of 'ingressClassName', 'name' or 'class' should be specified"
type ACMEChallengeSolverHTTP01Ingress struct {
	// ServiceType is kept for cert-manager's manifests; certplane's solver
	// is one Service for all challenges.
	// +optional
	ServiceType string `json:"serviceType,omitempty"`
	// IngressClassName is the new Ingress's spec.ingressClassName.
	// +optional
	IngressClassName *string `json:"ingressClassName,omitempty"`
	// Class is the new Ingress's kubernetes.io/ingress.class annotation.
	// +optional
	Class *string `json:"class,omitempty"`
	// Name is an existing Ingress to add the challenge's path to.
	// +optional
	Name string `json:"name,omitempty"`
	// PodTemplate is kept for cert-manager's manifests: certplane runs no
	// solver Pods.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	PodTemplate *runtime.RawExtension `json:"podTemplate,omitempty"`
	// IngressTemplate adds labels and annotations to the new Ingress.
	// +optional
	IngressTemplate *ACMEChallengeSolverHTTP01IngressTemplate `json:"ingressTemplate,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressTemplate is metadata for solver Ingresses.
type ACMEChallengeSolverHTTP01IngressTemplate struct {
	// +optional
	Metadata ObjectMetaTemplate `json:"metadata,omitempty"`
}

// ObjectMetaTemplate is the labels and annotations to add to an object.
type ObjectMetaTemplate struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ACMEChallengeSolverHTTP01GatewayHTTPRoute is the Gateway API HTTPRoute
// that routes a challenge's path to the solver.
type ACMEChallengeSolverHTTP01GatewayHTTPRoute struct {
	// +optional
	ServiceType string `json:"serviceType,omitempty"`
	// Labels of the HTTPRoute.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// ParentRefs are the Gateways the HTTPRoute attaches to.
	// +optional
	// +listType=atomic
	ParentRefs []ParentReference `json:"parentRefs,omitempty"`
	// PodTemplate is kept for cert-manager's manifests: certplane runs no
	// solver Pods.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	PodTemplate *runtime.RawExtension `json:"podTemplate,omitempty"`
}

// ParentReference is a Gateway API parentRef.
type ParentReference struct {
	// +optional
	Group *string `json:"group,omitempty"`
	// +optional
	Kind *string `json:"kind,omitempty"`
	// +optional
	Namespace *string `json:"namespace,omitempty"`
	Name      string  `json:"name"`
	// +optional
	SectionName *string `json:"sectionName,omitempty"`
	// +optional
	Port *int32 `json:"port,omitempty"`
}

// ACMEChallengeSolverDNS01 presents a TXT record through a DNS provider.
// certplane implements rfc2136; the other providers are accepted as written
// and their challenges report that they are not supported yet.
type ACMEChallengeSolverDNS01 struct {
	// CNAMEStrategy Follow presents the record where
	// _acme-challenge.<name> points to.
	// +optional
	// +kubebuilder:validation:Enum=None;Follow
	CNAMEStrategy string `json:"cnameStrategy,omitempty"`
	// +optional
	RFC2136 *ACMEIssuerDNS01ProviderRFC2136 `json:"rfc2136,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Akamai *runtime.RawExtension `json:"akamai,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	CloudDNS *runtime.RawExtension `json:"cloudDNS,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Cloudflare *runtime.RawExtension `json:"cloudflare,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Route53 *runtime.RawExtension `json:"route53,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	AzureDNS *runtime.RawExtension `json:"azureDNS,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	DigitalOcean *runtime.RawExtension `json:"digitalocean,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	AcmeDNS *runtime.RawExtension `json:"acmeDNS,omitempty"`
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Webhook *runtime.RawExtension `json:"webhook,omitempty"`
}

// ACMEIssuerDNS01ProviderRFC2136 sends RFC 2136 dynamic updates, signed
// with TSIG, to a DNS server.
type ACMEIssuerDNS01ProviderRFC2136 struct {
	// Nameserver is host[:port] (IPv6 in brackets) of the server that takes
	// the updates.
	Nameserver string `json:"nameserver"`
	// TSIGSecret names the Secret entry holding the TSIG secret, base64 as
	// in a BIND key file.
	// +optional
	TSIGSecret SecretKeySelector `json:"tsigSecretSecretRef,omitempty"`
	// TSIGKeyName is the TSIG key's name.
	// +optional
	TSIGKeyName string `json:"tsigKeyName,omitempty"`
	// TSIGAlgorithm is HMACMD5 (the default), HMACSHA1, HMACSHA256 or
	// HMACSHA512.
	// +optional
	TSIGAlgorithm string `json:"tsigAlgorithm,omitempty"`
	// Protocol is UDP (the default) or TCP.
	// +optional
	// +kubebuilder:validation:Enum=TCP;UDP
	Protocol string `json:"protocol,omitempty"`
}

// ACMEIssuerStatus is what the ACME account looks like at the server.
type ACMEIssuerStatus struct {
	// URI is the account's URL at the server.
	// +optional
	URI string `json:"uri,omitempty"`
	// LastRegisteredEmail is the email the account was registered with.
	// +optional
	LastRegisteredEmail string `json:"lastRegisteredEmail,omitempty"`
	// LastPrivateKeyHash is the base64 SHA-256 of the account key
	// registered.
	// +optional
	LastPrivateKeyHash string `json:"lastPrivateKeyHash,omitempty"`
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
	ACME *ACMEIssuerStatus `json:"acme,omitempty"`
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
