package certpolicy

import (
	"testing"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// TestNewRequestAdmissionRules checks the rules of cert-manager's webhook
// (and certplane's DNS name rule) that the CRDs apply at admission, for
// Certificates that reach the controller without them: each error names
// its field.
func TestNewRequestAdmissionRules(t *testing.T) {
	base := func() cmv1.CertificateSpec {
		return cmv1.CertificateSpec{SecretName: "s", DNSNames: []string{"a.example"}, IssuerRef: cmv1.ObjectReference{Name: "ca"}}
	}
	pw := "secret"
	empty := ""
	ref := cmv1.SecretKeySelector{LocalObjectReference: cmv1.LocalObjectReference{Name: "pw"}}
	tests := []struct {
		name   string
		mutate func(*cmv1.CertificateSpec)
		want   string
	}{
		{"bad host", func(s *cmv1.CertificateSpec) { s.DNSNames = []string{"ok.example", "bad host!!"} },
			`spec.dnsNames[1]: "bad host!!" is not a valid DNS name: label "bad host!!" has ' ', which is not an ASCII letter, digit or '-'`},
		{"leading hyphen", func(s *cmv1.CertificateSpec) { s.DNSNames = []string{"-x-.com"} },
			`spec.dnsNames[0]: "-x-.com" is not a valid DNS name: label "-x-" starts or ends with '-'`},
		{"empty label", func(s *cmv1.CertificateSpec) { s.DNSNames = []string{"a..b"} },
			`spec.dnsNames[0]: "a..b" is not a valid DNS name: it has an empty label`},
		{"bad IPv4", func(s *cmv1.CertificateSpec) { s.IPAddresses = []string{"999.1.1.1"} },
			`spec.ipAddresses[0]: "999.1.1.1" is not an IP address`},
		{"foreign kind, no group", func(s *cmv1.CertificateSpec) { s.IssuerRef.Kind = "FooIssuer" },
			`spec.issuerRef.kind: "FooIssuer" must be one of Issuer or ClusterIssuer (did you forget to set spec.issuerRef.group?)`},
		{"foreign kind, cert-manager group", func(s *cmv1.CertificateSpec) { s.IssuerRef.Kind, s.IssuerRef.Group = "FooIssuer", "cert-manager.io" },
			`spec.issuerRef.kind: "FooIssuer" must be one of Issuer or ClusterIssuer`},
		{"no issuer name", func(s *cmv1.CertificateSpec) { s.IssuerRef.Name = "" }, `spec.issuerRef.name: must be specified`},
		{"no secret name", func(s *cmv1.CertificateSpec) { s.SecretName = "" }, `spec.secretName: must be specified`},
		{"bad secret name", func(s *cmv1.CertificateSpec) { s.SecretName = "../x" },
			`spec.secretName: "../x" is not a valid Secret name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"long common name", func(s *cmv1.CertificateSpec) {
			s.CommonName = "a123456789a123456789a123456789a123456789a123456789a123456789a1234"
		},
			`spec.commonName: must be no more than 64 characters`},
		{"rsa 8193", func(s *cmv1.CertificateSpec) { s.PrivateKey = &cmv1.CertificatePrivateKey{Size: 8200} }, `spec.privateKey: pki: unsupported key: RSA size 8200`},
		{"ecdsa with RSA signature", func(s *cmv1.CertificateSpec) {
			s.PrivateKey = &cmv1.CertificatePrivateKey{Algorithm: "ECDSA"}
			s.SignatureAlgorithm = "SHA256WithRSA"
		}, `spec.signatureAlgorithm: for key algorithm ECDSA the allowed signature algorithms are ECDSAWithSHA256, ECDSAWithSHA384, ECDSAWithSHA512`},
		{"rsa with Ed25519 signature", func(s *cmv1.CertificateSpec) { s.SignatureAlgorithm = "PureEd25519" },
			`spec.signatureAlgorithm: for key algorithm RSA the allowed signature algorithms are SHA256WithRSA, SHA384WithRSA, SHA512WithRSA`},
		{"other name without value", func(s *cmv1.CertificateSpec) { s.OtherNames = []cmv1.OtherName{{OID: "1.3.6.1.4.1.311.20.2.3"}} },
			`spec.otherNames[0].utf8Value: must be set to a valid non-empty UTF8 string`},
		{"other name without oid", func(s *cmv1.CertificateSpec) { s.OtherNames = []cmv1.OtherName{{UTF8Value: "x"}} },
			`spec.otherNames[0].oid: must be specified`},
		{"empty name constraints", func(s *cmv1.CertificateSpec) { s.IsCA, s.NameConstraints = true, &cmv1.NameConstraints{} },
			`spec.nameConstraints: either permitted or excluded must be set`},
		{"duplicate output format", func(s *cmv1.CertificateSpec) {
			s.AdditionalOutputFormats = []cmv1.CertificateAdditionalOutputFormat{{Type: "DER"}, {Type: "DER"}}
		}, `spec.additionalOutputFormats[1].type: duplicate value "DER"`},
		{"jks without password", func(s *cmv1.CertificateSpec) {
			s.Keystores = &cmv1.CertificateKeystores{JKS: &cmv1.JKSKeystore{Create: true}}
		},
			`spec.keystores.jks: exactly one of passwordSecretRef and password must be provided for JKS keystores`},
		{"pkcs12 with both passwords", func(s *cmv1.CertificateSpec) {
			s.Keystores = &cmv1.CertificateKeystores{PKCS12: &cmv1.PKCS12Keystore{Create: true, Password: &pw, PasswordSecretRef: ref}}
		}, `spec.keystores.pkcs12: exactly one of passwordSecretRef and password must be provided for PKCS#12 keystores; cannot set both`},
		{"literal subject and subject", func(s *cmv1.CertificateSpec) {
			s.LiteralSubject, s.Subject = "CN=a", &cmv1.X509Subject{Organizations: []string{"o"}}
		}, `spec.subject: when providing a literalSubject no subject properties may be provided`},
		{"cert-manager annotation in the Secret template", func(s *cmv1.CertificateSpec) {
			s.SecretTemplate = &cmv1.CertificateSecretTemplate{Annotations: map[string]string{"team": "a", "cert-manager.io/issuer-name": "x"}}
		}, `spec.secretTemplate.annotations: "cert-manager.io/issuer-name": cert-manager.io/* annotations are not allowed`},
		{"empty literal password", func(s *cmv1.CertificateSpec) {
			s.Keystores = &cmv1.CertificateKeystores{PKCS12: &cmv1.PKCS12Keystore{Create: true, Password: &empty}}
		}, `spec.keystores.pkcs12.password: literal password cannot be empty if set on PKCS#12 keystores`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.mutate(&s)
			_, err := NewRequest(&s)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("NewRequest() error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestNewRequestAcceptsValidNames checks that what cert-manager accepts
// still passes: wildcards, names of either case, external issuers' kinds,
// a common name given only in literalSubject.
func TestNewRequestAcceptsValidNames(t *testing.T) {
	pw := "secret"
	specs := map[string]cmv1.CertificateSpec{
		"wildcard":        {SecretName: "s", DNSNames: []string{"*.example.com", "Example.COM", "xn--bcher-kva.example"}, IssuerRef: cmv1.ObjectReference{Name: "ca", Kind: "ClusterIssuer"}},
		"external issuer": {SecretName: "s", CommonName: "x", IssuerRef: cmv1.ObjectReference{Name: "step", Kind: "StepClusterIssuer", Group: "certmanager.step.sm"}},
		"literal subject": {SecretName: "s", LiteralSubject: "CN=app,O=example", IssuerRef: cmv1.ObjectReference{Name: "ca"}},
		"literal subject, empty subject": {SecretName: "s", LiteralSubject: "CN=app", Subject: &cmv1.X509Subject{}, IssuerRef: cmv1.ObjectReference{Name: "ca"},
			SecretTemplate: &cmv1.CertificateSecretTemplate{Annotations: map[string]string{"cert-manager.io/allow-direct-injection": "true"}}},
		"literal keystore password": {SecretName: "s", CommonName: "x", IssuerRef: cmv1.ObjectReference{Name: "ca"},
			Keystores: &cmv1.CertificateKeystores{JKS: &cmv1.JKSKeystore{Create: true, Password: &pw}}},
		"ed25519": {SecretName: "s", CommonName: "x", IssuerRef: cmv1.ObjectReference{Name: "ca"},
			PrivateKey: &cmv1.CertificatePrivateKey{Algorithm: "Ed25519", Size: 256}, SignatureAlgorithm: "PureEd25519"},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			if _, err := NewRequest(&spec); err != nil {
				t.Fatal(err)
			}
		})
	}
}
