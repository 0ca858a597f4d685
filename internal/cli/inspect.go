package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

func newInspectCommand(o Options) *cobra.Command {
	var output, caFile string
	cmd := &cobra.Command{
		Use:   "inspect FILE|- [--ca ROOT.pem]",
		Short: "Describe a certificate, bundle, CSR, key or kubeconfig",
		Long: `Describe what a file holds: certificates (subject, issuer, serial, validity
and time left, SANs, usages, key, CA flag, fingerprints) and whether a bundle
forms a chain; certificate requests and whether their signature verifies;
private keys by type and size only; a kubeconfig's client certificates and
cluster CAs. Key material is never printed.

A bundle that stops short of its root, as a Kubernetes tls.crt does (leaf and
intermediates), is called complete up to a root that is not included; --ca
verifies the certificates against a root.

Exits non-zero when a certificate has expired or is not yet valid, when a
request's signature does not verify, or when the certificates do not verify
against --ca.`,
		Example: `  certplane inspect server.pem
  certplane inspect --ca ca.crt tls.crt
  certplane inspect -o json admin.conf`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: want text or json", output)
			}
			var roots []*x509.Certificate
			if caFile != "" {
				data, err := readInput(o, caFile)
				if err != nil {
					return err
				}
				if roots, err = pki.ParseCertificatesPEM(data); err != nil {
					return pemError(caFile, "certificate", data, err)
				}
			}
			data, err := readInput(o, args[0])
			if err != nil {
				return err
			}
			now := o.Now()
			report, err := pki.InspectWithRoots(data, now, roots)
			if err == nil {
				if roots != nil && len(report.Certificates) == 0 {
					return fmt.Errorf("%s holds no certificate to verify against --ca %s", displayName(args[0]), caFile)
				}
				if output == "json" {
					err = writeJSON(o.Out, report)
				} else {
					err = report.WriteText(o.Out)
				}
				if err != nil {
					return err
				}
				return problemsError(args[0], report.Problems())
			}
			if !errors.Is(err, pki.ErrNoPEM) {
				return pemError(args[0], "", data, err)
			}
			base, _ := os.Getwd()
			if args[0] != "-" {
				base = filepath.Dir(args[0])
			}
			kc, kerr := kubeconfig.Parse(data, base)
			if kerr != nil {
				if errors.Is(kerr, kubeconfig.ErrNotKubeconfig) || !looksLikeKubeconfig(data) {
					return fmt.Errorf("%s: no certificate, certificate request, key or kubeconfig found", displayName(args[0]))
				}
				return inputError(args[0], kerr)
			}
			if roots != nil {
				return fmt.Errorf("%s is a kubeconfig: --ca verifies certificate files only", displayName(args[0]))
			}
			kr, err := inspectKubeconfig(kc, now)
			if err != nil {
				return fmt.Errorf("%s: %w", displayName(args[0]), err)
			}
			if output == "json" {
				err = writeJSON(o.Out, kr)
			} else {
				err = kr.writeText(o.Out)
			}
			if err != nil {
				return err
			}
			return problemsError(args[0], kr.problems())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&caFile, "ca", "", "root certificate(s) (PEM) to verify the certificates against")
	cmd.AddCommand(newInspectSecretCommand(o))
	return cmd
}

// problemsError is the one-line error for what Report.Problems found: the
// first problem, and how many more there are.
func problemsError(name string, problems []string) error {
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s: %s", displayName(name), problems[0])
	default:
		return fmt.Errorf("%s: %s (and %d more problems, shown above)", displayName(name), problems[0], len(problems)-1)
	}
}

// looksLikeKubeconfig tells a broken kubeconfig, whose parse error is worth
// showing, from input that is no kubeconfig at all.
func looksLikeKubeconfig(data []byte) bool {
	for _, key := range []string{"kind: Config", `"kind": "Config"`, "clusters:", "users:", "contexts:"} {
		if bytes.Contains(data, []byte(key)) {
			return true
		}
	}
	return false
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type kubeconfigReport struct {
	CurrentContext string          `json:"currentContext,omitempty"`
	Users          []userReport    `json:"users,omitempty"`
	Clusters       []clusterReport `json:"clusters,omitempty"`
}

type userReport struct {
	Name        string               `json:"name"`
	Current     bool                 `json:"current,omitempty"`
	Token       bool                 `json:"token,omitempty"`
	Certificate *pki.CertificateInfo `json:"certificate,omitempty"`
	Key         *pki.KeyInfo         `json:"key,omitempty"`
	// KeyMatches says whether the client key belongs to the certificate.
	KeyMatches *bool `json:"keyMatches,omitempty"`
}

type clusterReport struct {
	Name                 string                `json:"name"`
	Server               string                `json:"server"`
	CertificateAuthority []pki.CertificateInfo `json:"certificateAuthority,omitempty"`
}

func inspectKubeconfig(kc *kubeconfig.Config, now time.Time) (*kubeconfigReport, error) {
	r := &kubeconfigReport{CurrentContext: kc.CurrentContext}
	for _, u := range kc.Users {
		ur := userReport{Name: u.Name, Current: u.Name == kc.CurrentUser, Token: u.Token}
		if len(u.Certificate) > 0 {
			rep, err := pki.Inspect(u.Certificate, now)
			if err == nil && len(rep.Certificates) == 0 {
				err = fmt.Errorf("%w: want a certificate", pki.ErrNoPEM)
			}
			if err != nil {
				return nil, pemError(fmt.Sprintf("user %q's client-certificate", u.Name), "certificate", u.Certificate, err)
			}
			ur.Certificate = &rep.Certificates[0]
		}
		if len(u.Key) > 0 {
			rep, err := pki.Inspect(u.Key, now)
			if err == nil && len(rep.Keys) == 0 {
				err = fmt.Errorf("%w: want a private key", pki.ErrNoPEM)
			}
			if err != nil {
				return nil, pemError(fmt.Sprintf("user %q's client-key", u.Name), "private key", u.Key, err)
			}
			ur.Key = &rep.Keys[0]
			if certs, err := pki.ParseCertificatesPEM(u.Certificate); err == nil {
				if key, err := pki.ParsePrivateKeyPEM(u.Key); err == nil {
					m := pki.KeyMatches(certs[0].PublicKey, key)
					ur.KeyMatches = &m
				}
			}
		}
		r.Users = append(r.Users, ur)
	}
	for _, c := range kc.Clusters {
		cr := clusterReport{Name: c.Name, Server: c.Server}
		if len(c.CA) > 0 {
			rep, err := pki.Inspect(c.CA, now)
			if err != nil {
				return nil, pemError(fmt.Sprintf("cluster %q's certificate-authority", c.Name), "certificate", c.CA, err)
			}
			cr.CertificateAuthority = rep.Certificates
		}
		r.Clusters = append(r.Clusters, cr)
	}
	return r, nil
}

// problems says which client certificates and cluster CAs have expired or
// are not yet valid.
func (r *kubeconfigReport) problems() []string {
	var out []string
	for _, u := range r.Users {
		if u.Certificate != nil {
			for _, p := range (&pki.Report{Certificates: []pki.CertificateInfo{*u.Certificate}}).Problems() {
				out = append(out, fmt.Sprintf("user %q's client certificate%s", u.Name, strings.TrimPrefix(p, "the certificate")))
			}
		}
	}
	for _, c := range r.Clusters {
		for _, p := range (&pki.Report{Certificates: c.CertificateAuthority}).Problems() {
			out = append(out, fmt.Sprintf("cluster %q's certificate authority: %s", c.Name, p))
		}
	}
	return out
}

func (r *kubeconfigReport) writeText(w io.Writer) error {
	for _, u := range r.Users {
		current := ""
		if u.Current {
			current = " (current context " + r.CurrentContext + ")"
		}
		fmt.Fprintf(w, "User %q%s\n", u.Name, current)
		switch {
		case u.Certificate != nil:
			if err := (&pki.Report{Certificates: []pki.CertificateInfo{*u.Certificate}}).WriteText(w); err != nil {
				return err
			}
		case u.Token:
			fmt.Fprintln(w, "  authenticates with a bearer token")
		default:
			fmt.Fprintln(w, "  no client certificate")
		}
		if u.Key != nil {
			match := ""
			if u.KeyMatches != nil && *u.KeyMatches {
				match = ", matches the certificate"
			} else if u.KeyMatches != nil {
				match = ", DOES NOT match the certificate"
			}
			fmt.Fprintf(w, "Client key\n  Type:  %s %d%s\n", u.Key.Algorithm, u.Key.Size, match)
		}
	}
	for _, c := range r.Clusters {
		fmt.Fprintf(w, "Cluster %q (%s)\n", c.Name, c.Server)
		if len(c.CertificateAuthority) == 0 {
			fmt.Fprintln(w, "  no certificate authority (system roots)")
			continue
		}
		if err := (&pki.Report{Certificates: c.CertificateAuthority}).WriteText(w); err != nil {
			return err
		}
	}
	return nil
}
