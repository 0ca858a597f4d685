package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

func newInspectCommand(o Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "inspect FILE|-",
		Short: "Describe a certificate, bundle, CSR, key or kubeconfig",
		Long: `Describe what a file holds: certificates (subject, issuer, serial, validity
and time left, SANs, usages, key, CA flag, fingerprints) and whether a bundle
forms a chain; certificate requests and whether their signature verifies;
private keys by type and size only; a kubeconfig's client certificates and
cluster CAs. Key material is never printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: want text or json", output)
			}
			data, err := readInput(o, args[0])
			if err != nil {
				return err
			}
			now := o.Now()
			report, err := pki.Inspect(data, now)
			if err == nil {
				if output == "json" {
					return writeJSON(o.Out, report)
				}
				return report.WriteText(o.Out)
			}
			if !errors.Is(err, pki.ErrNoPEM) {
				return fmt.Errorf("%s: %w", displayName(args[0]), err)
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
				return fmt.Errorf("%s: %w", displayName(args[0]), kerr)
			}
			kr, err := inspectKubeconfig(kc, now)
			if err != nil {
				return fmt.Errorf("%s: %w", displayName(args[0]), err)
			}
			if output == "json" {
				return writeJSON(o.Out, kr)
			}
			return kr.writeText(o.Out)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
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
				return nil, fmt.Errorf("user %q: client certificate: %w", u.Name, err)
			}
			ur.Certificate = &rep.Certificates[0]
		}
		if len(u.Key) > 0 {
			rep, err := pki.Inspect(u.Key, now)
			if err == nil && len(rep.Keys) == 0 {
				err = fmt.Errorf("%w: want a private key", pki.ErrNoPEM)
			}
			if err != nil {
				return nil, fmt.Errorf("user %q: client key: %w", u.Name, err)
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
				return nil, fmt.Errorf("cluster %q: certificate authority: %w", c.Name, err)
			}
			cr.CertificateAuthority = rep.Certificates
		}
		r.Clusters = append(r.Clusters, cr)
	}
	return r, nil
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
