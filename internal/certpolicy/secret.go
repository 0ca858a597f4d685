package certpolicy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	corev1 "k8s.io/api/core/v1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// Keys of the Secret's data beside tls.crt, tls.key and ca.crt.
const (
	KeyPKCS12Keystore   = "keystore.p12"
	KeyPKCS12Truststore = "truststore.p12"
	KeyJKSKeystore      = "keystore.jks"
	KeyJKSTruststore    = "truststore.jks"
	KeyDER              = "key.der"
	KeyCombinedPEM      = "tls-combined.pem"
	KeyCA               = "ca.crt"
)

// Issued is a certificate ready to be written into its Secret.
type Issued struct {
	Key       crypto.Signer
	KeyFormat pki.KeyFormat
	// Chain is the leaf followed by the intermediates, without the root.
	Chain []*x509.Certificate
	// CA is what goes into ca.crt; nil when the issuer does not know it.
	CA *x509.Certificate
	// CABundle, if set, is written to ca.crt as it is (an external
	// issuer's status.ca, which may hold several roots).
	CABundle []byte
	// Revision and RequestHash are recorded in the Secret's annotations.
	Revision    int
	RequestHash string
}

// Passwords are the keystore passwords the spec refers to.
type Passwords struct {
	PKCS12, JKS string
}

// SecretData is the data of a Certificate's Secret: tls.crt, tls.key and
// ca.crt, and the keystores and additional formats the spec asks for.
func SecretData(spec *cmv1.CertificateSpec, in *Issued, pw Passwords, rand io.Reader) (map[string][]byte, error) {
	keyPEM, err := pki.MarshalPrivateKeyPEM(in.Key, in.KeyFormat)
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{
		corev1.TLSCertKey:       pki.EncodeCertificatesPEM(in.Chain...),
		corev1.TLSPrivateKeyKey: keyPEM,
	}
	if in.CA != nil {
		data[KeyCA] = pki.EncodeCertificatesPEM(in.CA)
	}
	if len(in.CABundle) > 0 {
		data[KeyCA] = in.CABundle
	}
	for _, f := range spec.AdditionalOutputFormats {
		switch f.Type {
		case "DER":
			block, _ := pem.Decode(keyPEM)
			data[KeyDER] = block.Bytes
		case "CombinedPEM":
			data[KeyCombinedPEM] = append(append(bytes.Clone(keyPEM), '\n'), data[corev1.TLSCertKey]...)
		default:
			return nil, fmt.Errorf("spec.additionalOutputFormats: %q is not DER or CombinedPEM", f.Type)
		}
	}
	ks := spec.Keystores
	if ks == nil {
		return data, nil
	}
	var cas []*x509.Certificate
	if in.CA != nil {
		cas = []*x509.Certificate{in.CA}
	}
	if p := ks.PKCS12; p != nil && p.Create {
		enc, err := pkcs12Encoder(p.Profile)
		if err != nil {
			return nil, err
		}
		enc = enc.WithRand(rand)
		// The keystore's CA list holds the intermediates and the CA, as
		// cert-manager writes it.
		if data[KeyPKCS12Keystore], err = enc.Encode(in.Key, in.Chain[0], append(slices.Clone(in.Chain[1:]), cas...), pw.PKCS12); err != nil {
			return nil, fmt.Errorf("encoding the PKCS#12 keystore: %w", err)
		}
		if len(cas) > 0 {
			if data[KeyPKCS12Truststore], err = enc.EncodeTrustStore(cas, pw.PKCS12); err != nil {
				return nil, fmt.Errorf("encoding the PKCS#12 truststore: %w", err)
			}
		}
	}
	if j := ks.JKS; j != nil && j.Create {
		alias := DefaultJKSAlias
		if j.Alias != nil && *j.Alias != "" {
			alias = *j.Alias
		}
		if data[KeyJKSKeystore], data[KeyJKSTruststore], err = jks(in, cas, alias, pw.JKS, rand); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func pkcs12Encoder(profile string) (*pkcs12.Encoder, error) {
	switch profile {
	case "", "LegacyRC2":
		return pkcs12.LegacyRC2, nil
	case "LegacyDES":
		return pkcs12.LegacyDES, nil
	case "Modern2023":
		return pkcs12.Modern2023, nil
	case "Modern2026":
		return pkcs12.Modern2026, nil
	default:
		return nil, fmt.Errorf("spec.keystores.pkcs12.profile: %q is not LegacyRC2, LegacyDES, Modern2023 or Modern2026", profile)
	}
}

func jks(in *Issued, cas []*x509.Certificate, alias, password string, rand io.Reader) (keystoreData, truststoreData []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(in.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the JKS keystore: %w", err)
	}
	now := time.Unix(0, 0)
	if len(in.Chain) > 0 {
		now = in.Chain[0].NotBefore
	}
	entry := keystore.PrivateKeyEntry{CreationTime: now, PrivateKey: der}
	for _, c := range in.Chain {
		entry.CertificateChain = append(entry.CertificateChain, keystore.Certificate{Type: "X509", Content: c.Raw})
	}
	ks := keystore.New(keystore.WithCustomRandomNumberGenerator(rand))
	if err := ks.SetPrivateKeyEntry(alias, entry, []byte(password)); err != nil {
		return nil, nil, fmt.Errorf("encoding the JKS keystore: %w", err)
	}
	if len(cas) > 0 {
		// As cert-manager does, the keystore also trusts the CA.
		if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
			CreationTime: now, Certificate: keystore.Certificate{Type: "X509", Content: cas[0].Raw},
		}); err != nil {
			return nil, nil, fmt.Errorf("encoding the JKS keystore: %w", err)
		}
	}
	var kb bytes.Buffer
	if err := ks.Store(&kb, []byte(password)); err != nil {
		return nil, nil, fmt.Errorf("encoding the JKS keystore: %w", err)
	}
	if len(cas) == 0 {
		return kb.Bytes(), nil, nil
	}
	ts := keystore.New(keystore.WithCustomRandomNumberGenerator(rand))
	if err := ts.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
		CreationTime: now, Certificate: keystore.Certificate{Type: "X509", Content: cas[0].Raw},
	}); err != nil {
		return nil, nil, fmt.Errorf("encoding the JKS truststore: %w", err)
	}
	var tb bytes.Buffer
	if err := ts.Store(&tb, []byte(password)); err != nil {
		return nil, nil, fmt.Errorf("encoding the JKS truststore: %w", err)
	}
	return kb.Bytes(), tb.Bytes(), nil
}

// SecretMetadata are the labels and annotations certplane puts on a
// Certificate's Secret: cert-manager's annotations describing the issued
// certificate, the secretTemplate's, and the label that lets certplane
// cache the Secret.
func SecretMetadata(crt *cmv1.Certificate, in *Issued) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	if t := crt.Spec.SecretTemplate; t != nil {
		maps.Copy(labels, t.Labels)
		maps.Copy(annotations, t.Annotations)
	}
	labels[LabelCached] = "true"
	maps.Copy(annotations, IssuerAnnotations(crt.Spec.IssuerRef))
	leaf := in.Chain[0]
	annotations[AnnotationCertName] = crt.Name
	maps.Copy(annotations, nameAnnotations(leaf))
	s := leaf.Subject
	for name, values := range map[string][]string{
		"organizations": s.Organization, "organizationalunits": s.OrganizationalUnit, "countries": s.Country,
		"provinces": s.Province, "localities": s.Locality, "postalcodes": s.PostalCode, "streetaddresses": s.StreetAddress,
	} {
		if len(values) > 0 {
			annotations["cert-manager.io/subject-"+name] = strings.Join(values, ",")
		}
	}
	if s.SerialNumber != "" {
		annotations["cert-manager.io/subject-serialnumber"] = s.SerialNumber
	}
	annotations[AnnotationRevision] = strconv.Itoa(in.Revision)
	annotations[AnnotationRequestHash] = in.RequestHash
	if t := crt.Spec.SecretTemplate; t != nil {
		var keys []string
		for k := range t.Labels {
			keys = append(keys, "label:"+k)
		}
		for k := range t.Annotations {
			keys = append(keys, "annotation:"+k)
		}
		slices.Sort(keys)
		if len(keys) > 0 {
			annotations[AnnotationTemplateKeys] = strings.Join(keys, ",")
		}
	}
	return labels, annotations
}

// AnnotationTemplateKeys lists the labels and annotations a Secret got from
// its Certificate's secretTemplate, so that those dropped from the template
// are dropped from the Secret too.
const AnnotationTemplateKeys = "certplane.io/template-keys"

// StaleMetadata names the labels and annotations certplane once put on the
// Secret that the Certificate no longer asks for: secretTemplate entries
// since removed, and subject annotations the certificate no longer has.
func StaleMetadata(secret *corev1.Secret, wantLabels, wantAnnotations map[string]string) (labels, annotations []string) {
	for _, k := range strings.Split(secret.Annotations[AnnotationTemplateKeys], ",") {
		switch {
		case strings.HasPrefix(k, "label:"):
			if name := strings.TrimPrefix(k, "label:"); !hasKey(wantLabels, name) && hasKey(secret.Labels, name) {
				labels = append(labels, name)
			}
		case strings.HasPrefix(k, "annotation:"):
			if name := strings.TrimPrefix(k, "annotation:"); !hasKey(wantAnnotations, name) && hasKey(secret.Annotations, name) {
				annotations = append(annotations, name)
			}
		}
	}
	for k := range secret.Annotations {
		if (strings.HasPrefix(k, "cert-manager.io/subject-") || k == AnnotationTemplateKeys) && !hasKey(wantAnnotations, k) && !slices.Contains(annotations, k) {
			annotations = append(annotations, k)
		}
	}
	slices.Sort(labels)
	slices.Sort(annotations)
	return labels, annotations
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// SecretCurrent reports whether secret already carries the metadata and
// data layout that SecretMetadata and SecretData would give it for in, so
// that a Secret whose certificate is fine but whose annotations, key
// encoding or extra outputs are out of date is rewritten without reissuing.
// Keystores are salted, so only their presence is compared.
func SecretCurrent(secret *corev1.Secret, crt *cmv1.Certificate, in *Issued) bool {
	labels, annotations := SecretMetadata(crt, in)
	if staleL, staleA := StaleMetadata(secret, labels, annotations); len(staleL)+len(staleA) > 0 {
		return false
	}
	for k, v := range labels {
		if secret.Labels[k] != v {
			return false
		}
	}
	for k, v := range annotations {
		if secret.Annotations[k] != v {
			return false
		}
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(in.Key, in.KeyFormat)
	if err != nil || !bytes.Equal(secret.Data[corev1.TLSPrivateKeyKey], keyPEM) {
		return false
	}
	want := map[string]bool{}
	for _, f := range crt.Spec.AdditionalOutputFormats {
		switch f.Type {
		case "DER":
			want[KeyDER] = true
		case "CombinedPEM":
			want[KeyCombinedPEM] = true
		}
	}
	if ks := crt.Spec.Keystores; ks != nil {
		if ks.PKCS12 != nil && ks.PKCS12.Create {
			want[KeyPKCS12Keystore], want[KeyPKCS12Truststore] = true, in.CA != nil
		}
		if ks.JKS != nil && ks.JKS.Create {
			want[KeyJKSKeystore], want[KeyJKSTruststore] = true, in.CA != nil
		}
	}
	for _, k := range []string{KeyDER, KeyCombinedPEM, KeyPKCS12Keystore, KeyPKCS12Truststore, KeyJKSKeystore, KeyJKSTruststore} {
		if _, has := secret.Data[k]; has != want[k] {
			return false
		}
	}
	if want[KeyCombinedPEM] && !bytes.HasPrefix(secret.Data[KeyCombinedPEM], keyPEM) {
		return false
	}
	return true
}
