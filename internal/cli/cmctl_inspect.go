package cli

import (
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certplane/certplane/pkg/pki"
)

// secretReport is what `inspect secret` shows of a TLS Secret: its
// certificates, whether tls.crt verifies against ca.crt and against this
// computer's roots, and whether tls.key belongs to the certificate. Key
// material is never included.
type secretReport struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	// Certificates are tls.crt's: the leaf, then its chain.
	Certificates []pki.CertificateInfo `json:"certificates"`
	// CA are ca.crt's certificates.
	CA []pki.CertificateInfo `json:"ca,omitempty"`
	// Chain is tls.crt checked against ca.crt when there is one, else
	// against a root it holds itself.
	Chain                 *pki.ChainInfo `json:"chain,omitempty"`
	TrustedByThisComputer bool           `json:"trustedByThisComputer"`
	TrustError            string         `json:"trustError,omitempty"`
	Key                   *pki.KeyInfo   `json:"key,omitempty"`
	KeyMatches            *bool          `json:"keyMatches,omitempty"`
	CRLDistributionPoints []string       `json:"crlDistributionPoints,omitempty"`
	OCSPServers           []string       `json:"ocspServers,omitempty"`
	Problems              []string       `json:"problems,omitempty"`
}

func newInspectSecretCommand(o Options) *cobra.Command {
	var (
		kf     kubeFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "secret NAME [-n NS] [-o json]",
		Short: "Describe the certificate in a kubernetes.io/tls Secret, as cmctl inspect secret",
		Long: `Describe the certificate a TLS Secret holds in tls.crt, as cmctl inspect
secret does: the names and usages it is valid for, its validity period, who
issued it and for whom, its algorithms, serial, SHA-256 fingerprint, CA flag,
CRL and OCSP addresses; then whether tls.crt verifies against the Secret's
ca.crt, whether this computer's roots trust it, and whether tls.key belongs
to it. Key material is never printed. No CRL or OCSP request is made.

Exits non-zero when a certificate has expired or is not yet valid, when
tls.crt does not verify against ca.crt, or when tls.key does not match.
(A file named "secret" is inspected with certplane inspect ./secret.)`,
		Example: `  certplane inspect secret my-crt --namespace my-namespace`,
		Args:    exactName("Secret"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: want text or json", output)
			}
			k, err := kf.connect(o)
			if err != nil {
				return err
			}
			s, err := k.cs.CoreV1().Secrets(k.namespace).Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return apiError("secret", k.namespace, args[0], err)
			}
			rep, leaf, err := inspectSecret(s, o.Now())
			if err != nil {
				return err
			}
			if output == "json" {
				err = writeJSON(o.Out, rep)
			} else {
				err = rep.writeText(o.Out, leaf)
			}
			if err != nil {
				return err
			}
			return problemsError("secret "+nsName(s.Namespace, s.Name), rep.Problems)
		},
	}
	kf.bind(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func inspectSecret(s *corev1.Secret, now time.Time) (*secretReport, *x509.Certificate, error) {
	name := "secret " + nsName(s.Namespace, s.Name)
	crtPEM := s.Data[corev1.TLSCertKey]
	if len(crtPEM) == 0 {
		return nil, nil, fmt.Errorf("%s has no tls.crt", name)
	}
	certs, err := pki.ParseCertificatesPEM(crtPEM)
	if err != nil {
		return nil, nil, pemError(name+" tls.crt", "certificate", crtPEM, err)
	}
	rep := &secretReport{Namespace: s.Namespace, Name: s.Name, Type: string(s.Type)}
	var roots []*x509.Certificate
	if caPEM := s.Data["ca.crt"]; len(caPEM) > 0 {
		if roots, err = pki.ParseCertificatesPEM(caPEM); err != nil {
			return nil, nil, pemError(name+" ca.crt", "certificate", caPEM, err)
		}
		if ca, err := pki.Inspect(caPEM, now); err == nil {
			rep.CA = ca.Certificates
		}
	}
	report, err := pki.InspectWithRoots(crtPEM, now, roots)
	if err != nil {
		return nil, nil, inputError(name+" tls.crt", err)
	}
	rep.Certificates, rep.Chain = report.Certificates, report.Chain
	rep.Problems = report.Problems()
	leaf := certs[0]
	rep.CRLDistributionPoints, rep.OCSPServers = leaf.CRLDistributionPoints, leaf.OCSPServer
	rep.TrustedByThisComputer, rep.TrustError = trustedBySystem(certs, now)
	if keyPEM := s.Data[corev1.TLSPrivateKeyKey]; len(keyPEM) > 0 {
		key, err := pki.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			rep.Problems = append(rep.Problems, "tls.key is not a usable private key: "+plainMessage(err))
		} else {
			alg, size := pki.KeyDescription(key.Public())
			rep.Key = &pki.KeyInfo{Private: true, Algorithm: alg, Size: size}
			m := pki.KeyMatches(leaf.PublicKey, key)
			rep.KeyMatches = &m
			if !m {
				rep.Problems = append(rep.Problems, "tls.key does not belong to the certificate in tls.crt")
			}
		}
	}
	return rep, leaf, nil
}

// trustedBySystem verifies the chain against this computer's roots, as
// cmctl's "Trusted by this computer".
func trustedBySystem(chain []*x509.Certificate, now time.Time) (bool, string) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		return false, "no system roots: " + plainMessage(err)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return false, plainMessage(err)
	}
	return true, ""
}

func (r *secretReport) writeText(w io.Writer, leaf *x509.Certificate) error {
	c := r.Certificates[0]
	none := func(s []string) string {
		if len(s) == 0 {
			return "<none>"
		}
		return strings.Join(s, ", ")
	}
	one := func(s string) string {
		if s == "" {
			return "<none>"
		}
		return s
	}
	yesNo := func(b bool, why string) string {
		if b {
			return "yes"
		}
		if why != "" {
			return "no: " + why
		}
		return "no"
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Valid for:\n")
	fmt.Fprintf(tw, "  DNS Names:\t%s\n", none(c.DNSNames))
	fmt.Fprintf(tw, "  URIs:\t%s\n", none(c.URIs))
	fmt.Fprintf(tw, "  IP Addresses:\t%s\n", none(c.IPAddresses))
	fmt.Fprintf(tw, "  Email Addresses:\t%s\n", none(c.EmailAddresses))
	fmt.Fprintf(tw, "  Usages:\t%s\n", one(joinUsages(c.Usages)))
	fmt.Fprintf(tw, "\nValidity period:\n")
	fmt.Fprintf(tw, "  Not Before:\t%s\n", c.NotBefore.Format(time.RFC1123))
	fmt.Fprintf(tw, "  Not After:\t%s (%s)\n", c.NotAfter.Format(time.RFC1123), pki.TimeLeft(time.Duration(c.SecondsLeft)*time.Second))
	for _, part := range []struct {
		title string
		name  func() (cn string, o, ou, country []string)
	}{
		{"Issued By", func() (string, []string, []string, []string) {
			return leaf.Issuer.CommonName, leaf.Issuer.Organization, leaf.Issuer.OrganizationalUnit, leaf.Issuer.Country
		}},
		{"Issued For", func() (string, []string, []string, []string) {
			return leaf.Subject.CommonName, leaf.Subject.Organization, leaf.Subject.OrganizationalUnit, leaf.Subject.Country
		}},
	} {
		cn, o, ou, country := part.name()
		fmt.Fprintf(tw, "\n%s:\n", part.title)
		fmt.Fprintf(tw, "  Common Name:\t%s\n", one(cn))
		fmt.Fprintf(tw, "  Organization:\t%s\n", none(o))
		fmt.Fprintf(tw, "  OrganizationalUnit:\t%s\n", none(ou))
		fmt.Fprintf(tw, "  Country:\t%s\n", none(country))
	}
	fmt.Fprintf(tw, "\nCertificate:\n")
	fmt.Fprintf(tw, "  Signing Algorithm:\t%s\n", c.SignatureAlgorithm)
	fmt.Fprintf(tw, "  Public Key Algorithm:\t%s %d\n", c.KeyAlgorithm, c.KeySize)
	fmt.Fprintf(tw, "  Serial Number:\t%s\n", leaf.SerialNumber.String())
	fmt.Fprintf(tw, "  Fingerprints:\tSHA-256 %s\n", c.SHA256Fingerprint)
	fmt.Fprintf(tw, "  Is a CA certificate:\t%t\n", c.IsCA)
	fmt.Fprintf(tw, "  CRL:\t%s\n", none(r.CRLDistributionPoints))
	fmt.Fprintf(tw, "  OCSP:\t%s\n", none(r.OCSPServers))
	fmt.Fprintf(tw, "\nDebugging:\n")
	fmt.Fprintf(tw, "  Trusted by this computer:\t%s\n", yesNo(r.TrustedByThisComputer, r.TrustError))
	fmt.Fprintf(tw, "  Trusted by ca.crt:\t%s\n", r.caTrust())
	if len(r.Certificates) > 1 {
		fmt.Fprintf(tw, "  Chain in tls.crt:\t%d certificates%s\n", len(r.Certificates), r.order())
	}
	if r.Key != nil {
		fmt.Fprintf(tw, "  Private key (tls.key):\t%s %d, %s\n", r.Key.Algorithm, r.Key.Size, map[bool]string{true: "matches the certificate", false: "DOES NOT match the certificate"}[*r.KeyMatches])
	}
	fmt.Fprintf(tw, "  CRL and OCSP status:\tnot checked (no network requests are made)\n")
	return tw.Flush()
}

func (r *secretReport) caTrust() string {
	switch ch := r.Chain; {
	case len(r.CA) == 0:
		return "no ca.crt in the Secret"
	case ch == nil:
		return "not checked"
	case ch.Valid:
		return "yes, up to " + ch.Root
	default:
		return "NO: " + ch.Error
	}
}

func (r *secretReport) order() string {
	if r.Chain == nil || r.Chain.Ordered {
		return ", leaf first"
	}
	return ", NOT in order (leaf first, then each issuer)"
}
