package cli

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/internal/pkcs11"
	"github.com/certplane/certplane/pkg/pki"
)

// profiles are gencert's usage sets. "key encipherment" is added for RSA
// keys only: it means nothing for ECDSA and Ed25519.
var profiles = map[string][]pki.Usage{
	"server": {pki.UsageDigitalSignature, pki.UsageServerAuth},
	"client": {pki.UsageDigitalSignature, pki.UsageClientAuth},
	"peer":   {pki.UsageDigitalSignature, pki.UsageServerAuth, pki.UsageClientAuth},
}

const (
	defaultCADuration   = 5 * 365 * 24 * time.Hour // cfssl's 43800h
	defaultLeafDuration = 365 * 24 * time.Hour     // cfssl's 8760h
)

type gencertFlags struct {
	initCA   bool
	caFile   string
	caKey    string
	csrFile  string
	profile  string
	usages   []string
	duration time.Duration
	hosts    []string
	bare     string
	rsaPSS   bool
}

func newGencertCommand(o Options) *cobra.Command {
	var f gencertFlags
	cmd := &cobra.Command{
		Use:   "gencert (--initca REQUEST.json | --ca CA.pem --ca-key CA-key.pem (REQUEST.json | --csr FILE))",
		Short: "Make a self-signed CA, or sign a certificate with a CA",
		Long: `Make a self-signed CA from a cfssl JSON request (--initca), or issue a
certificate signed by a CA: for a new key made from a JSON request, or for an
existing PKCS#10 request (--csr), whose signature must verify.

Outputs are named as cfssljson -bare names them: PREFIX.pem, PREFIX-key.pem
(0600) and PREFIX.csr. Existing files are never overwritten, and a CA that
has expired signs nothing. A certificate never outlives its CA: when the
CA's end cuts --duration short, a note on standard error says so.

Profiles: server (digital signature, server auth), client (digital
signature, client auth), peer (both; the default). RSA keys also get key
encipherment. --usages replaces the profile with any of the 23 Kubernetes
usage names.

--ca-key may be the PKCS#11 URI of a key in a hardware token (docs/hsm.md):
the CA signs there. With --initca it makes the CA certificate for that key
(writing PREFIX.pem and PREFIX.csr, no key file). --rsa-pss signs with
RSASSA-PSS instead of PKCS#1 v1.5 (an RSA CA key only).`,
		Example: `  certplane gencert -initca ca-csr.json
  certplane gencert -ca ca.pem -ca-key ca-key.pem -profile server server-csr.json
  certplane gencert --ca ca.pem --ca-key ca-key.pem --profile client --csr jane.csr --duration 24h
  certplane gencert --ca ca.pem --ca-key 'pkcs11:token=ca;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/certplane/pin' server-csr.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("duration") && f.duration <= 0 {
				return fmt.Errorf("--duration %s: want a positive validity, such as 24h or 8760h", f.duration)
			}
			input := ""
			if len(args) == 1 {
				input = args[0]
			}
			if f.initCA {
				return initCA(o, f, input)
			}
			return signCert(o, f, input)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.initCA, "initca", false, "make a self-signed CA from the request")
	fl.StringVar(&f.caFile, "ca", "", "CA certificate (PEM) to sign with")
	fl.StringVar(&f.caKey, "ca-key", "", "CA private key (PEM file), or the PKCS#11 URI of a key in a hardware token")
	fl.StringVar(&f.csrFile, "csr", "", "sign this PKCS#10 request instead of generating a key")
	fl.StringVar(&f.profile, "profile", "peer", "usage profile: server, client or peer")
	fl.StringSliceVar(&f.usages, "usages", nil, `replace the profile's usages with these Kubernetes usage names (comma-separated, e.g. "digital signature,server auth")`)
	fl.DurationVar(&f.duration, "duration", 0, "validity, positive (default 8760h; for a CA, the request's ca.expiry or 43800h); never past the CA's end, which is said when it cuts this short")
	fl.StringSliceVar(&f.hosts, "hostname", nil, "replace the request's hosts (comma-separated DNS names, IPs, URIs, emails)")
	fl.StringVar(&f.bare, "bare", "", "prefix of the output files (default: the input file's name without -csr.json)")
	fl.BoolVar(&f.rsaPSS, "rsa-pss", false, "sign with RSASSA-PSS (SHA-256) instead of PKCS#1 v1.5; the CA key must be RSA")
	return cmd
}

func initCA(o Options, f gencertFlags, input string) error {
	if f.caFile != "" || (f.caKey != "" && !pkcs11.IsURI(f.caKey)) || f.csrFile != "" {
		return errors.New("--initca makes a self-signed CA: it takes no --ca or --csr, and --ca-key only as the PKCS#11 URI of a key in a token")
	}
	if input == "" {
		return errors.New("--initca needs a JSON request")
	}
	prefix, err := barePrefix(f.bare, input)
	if err != nil {
		return err
	}
	req, err := readRequest(o, input)
	if err != nil {
		return err
	}
	if err := overrideHosts(&req.Request, f.hosts); err != nil {
		return err
	}
	var (
		key            crypto.Signer
		keyPEM, csrPEM []byte
	)
	if f.caKey != "" {
		// The key is in a token already; the request's key spec is not used.
		if _, err := checkKeyURI("--ca-key", f.caKey, ""); err != nil {
			return err
		}
		if err := refuseExisting(prefix+".pem", prefix+".csr"); err != nil {
			return err
		}
		if key, err = pkcs11.Open(f.caKey); err != nil {
			return err
		}
		if csrPEM, err = pki.CreateCSR(o.Rand, &req.Request, key); err != nil {
			return err
		}
	} else if key, keyPEM, csrPEM, err = keyAndCSR(o, req); err != nil {
		return err
	}
	tmpl := pki.TemplateFromRequest(&req.Request, nil)
	if err := signatureAlgorithm(f, tmpl, key.Public()); err != nil {
		return err
	}
	tmpl.IsCA = true
	tmpl.Duration = f.duration
	if req.CA != nil {
		tmpl.MaxPathLen = req.CA.MaxPathLen
		if tmpl.Duration == 0 {
			tmpl.Duration = req.CA.Expiry
		}
	}
	if tmpl.Duration == 0 {
		tmpl.Duration = defaultCADuration
	}
	cert, err := pki.SelfSign(o.Rand, o.Now(), tmpl, key)
	if err != nil {
		return inputError(input, err)
	}
	return writeOutputs(o, prefix, cert, keyPEM, csrPEM)
}

func signCert(o Options, f gencertFlags, input string) error {
	if f.caFile == "" || f.caKey == "" {
		return errors.New("give --initca to make a CA, or --ca and --ca-key to sign")
	}
	if (input == "") == (f.csrFile == "") {
		return errors.New("give either a JSON request or --csr FILE")
	}
	usages, ok := profiles[f.profile]
	if !ok {
		return fmt.Errorf("unknown profile %q: want %s", f.profile, strings.Join(profileNames(), ", "))
	}
	if f.usages != nil {
		usages = make([]pki.Usage, len(f.usages))
		for i, u := range f.usages {
			usages[i] = pki.Usage(strings.TrimSpace(u))
		}
		if _, _, err := pki.ParseUsages(usages); err != nil {
			return inputError("--usages", err)
		}
	}
	prefix, err := barePrefix(f.bare, input+f.csrFile)
	if err != nil {
		return err
	}
	ca, err := loadCA(f.caFile, f.caKey)
	if err != nil {
		return err
	}

	var (
		tmpl           *pki.Template
		pub            crypto.PublicKey
		keyPEM, csrPEM []byte
	)
	if f.csrFile != "" {
		data, err := readInput(o, f.csrFile)
		if err != nil {
			return err
		}
		csr, err := pki.ParseCSRPEM(data)
		if err != nil {
			return pemError(f.csrFile, "certificate request", data, err)
		}
		tmpl, pub = pki.TemplateFromCSR(csr, nil), csr.PublicKey
		if f.hosts != nil {
			req := pki.RequestFromCSR(csr)
			if err := overrideHosts(req, f.hosts); err != nil {
				return err
			}
			tmpl.DNSNames, tmpl.IPAddresses, tmpl.URIs, tmpl.EmailAddresses = req.DNSNames, req.IPAddresses, req.URIs, req.EmailAddresses
		}
	} else {
		req, err := readRequest(o, input)
		if err != nil {
			return err
		}
		if err := overrideHosts(&req.Request, f.hosts); err != nil {
			return err
		}
		var key crypto.Signer
		key, keyPEM, csrPEM, err = keyAndCSR(o, req)
		if err != nil {
			return err
		}
		tmpl, pub = pki.TemplateFromRequest(&req.Request, nil), key.Public()
	}
	if err := signatureAlgorithm(f, tmpl, ca.Key.Public()); err != nil {
		return err
	}
	tmpl.Usages = append([]pki.Usage(nil), usages...)
	if _, isRSA := pub.(*rsa.PublicKey); isRSA && f.usages == nil {
		tmpl.Usages = append(tmpl.Usages, pki.UsageKeyEncipherment)
	}
	tmpl.Duration = f.duration
	asked := "--duration " + f.duration.String()
	if tmpl.Duration == 0 {
		tmpl.Duration, asked = defaultLeafDuration, "the default 8760h"
	}
	now := o.Now()
	cert, err := ca.Issue(o.Rand, now, tmpl, pub)
	if err != nil {
		if errors.Is(err, pki.ErrCAExpired) {
			return inputError(f.caFile, err)
		}
		return err
	}
	if err := writeOutputs(o, prefix, cert, keyPEM, csrPEM); err != nil {
		return err
	}
	if end := ca.Certificate.NotAfter; now.Add(tmpl.Duration).After(end) && o.ErrOut != nil {
		fmt.Fprintf(o.ErrOut, "note: %s.pem is valid until %s, when its CA %s ends, not for %s: a certificate never outlives its CA\n",
			prefix, end.UTC().Format(time.RFC3339), f.caFile, asked)
	}
	return nil
}

func loadCA(certFile, keyFile string) (*pki.CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, pemError(certFile, "certificate", certPEM, err)
	}
	if pkcs11.IsURI(keyFile) {
		return tokenCA(certFile, certs[0], keyFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, pemError(keyFile, "private key", keyPEM, err)
	}
	ca, err := pki.NewCA(certs[0], key)
	switch {
	case errors.Is(err, pki.ErrKeyMismatch):
		return nil, &messageError{msg: fmt.Sprintf("%s is not the key of the CA certificate in %s: the private key does not match", keyFile, certFile), err: err}
	case err != nil:
		return nil, inputError(certFile, err)
	}
	return ca, nil
}

func overrideHosts(req *pki.Request, hosts []string) error {
	if hosts == nil {
		return nil
	}
	req.DNSNames, req.IPAddresses, req.URIs, req.EmailAddresses = nil, nil, nil, nil
	if err := req.AddHosts(hosts...); err != nil {
		return inputError("--hostname", err)
	}
	return nil
}

// writeOutputs writes PREFIX.pem, and PREFIX-key.pem and PREFIX.csr when a
// key was generated.
func writeOutputs(o Options, prefix string, cert *x509.Certificate, keyPEM, csrPEM []byte) error {
	out := []files.File{{Path: prefix + ".pem", Data: pki.EncodeCertificatesPEM(cert), Mode: files.Public}}
	if keyPEM != nil {
		out = append(out, files.File{Path: prefix + "-key.pem", Data: keyPEM, Mode: files.Secret})
	}
	if csrPEM != nil {
		out = append(out, files.File{Path: prefix + ".csr", Data: csrPEM, Mode: files.Public})
	}
	if err := files.WriteAll(out...); err != nil {
		return err
	}
	return wrote(o, out)
}

func profileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
