package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/internal/pkcs11"
	"github.com/certplane/certplane/pkg/pki"
)

func newPKICommand(o Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Make and maintain a cluster's PKI as kubeadm lays it out",
		Long: `Make and maintain a cluster's PKI as kubeadm lays it out: certificates and keys
under DIR/pki (kubeadm's /etc/kubernetes/pki), kubeconfigs in DIR.`,
	}
	cmd.AddCommand(newPKIInitCommand(o), newPKICheckExpirationCommand(o), newPKIRenewCommand(o), newPKIKubeconfigCommand(o))
	return cmd
}

// pkiFlags are the tree options shared by init and up.
type pkiFlags struct {
	dir        string
	config     string
	nodeName   string
	advertise  string
	serviceNet string
	dnsDomain  string
	certSANs   []string
	keyAlg     string
	validity   time.Duration
	caValidity time.Duration
}

func (f *pkiFlags) bind(cmd *cobra.Command, withDir bool) {
	fl := cmd.Flags()
	if withDir {
		fl.StringVar(&f.dir, "dir", "", "the tree's directory: certificates in DIR/pki, kubeconfigs in DIR (required)")
	}
	fl.StringVar(&f.config, "config", "", "YAML file with nodeName, advertiseAddress, serviceCIDR, dnsDomain, certSANs, keyAlgorithm, validity, caValidity (flags win)")
	fl.StringVar(&f.nodeName, "node-name", "", "node name in the apiserver and etcd certificates and kubelet.conf (default: the host name)")
	fl.StringVar(&f.advertise, "advertise-address", "", "the apiserver's address (default 127.0.0.1)")
	fl.StringVar(&f.serviceNet, "service-cidr", "", "service network; its first address is an apiserver SAN (default 10.96.0.0/12)")
	fl.StringVar(&f.dnsDomain, "dns-domain", "", "cluster DNS domain (default cluster.local)")
	fl.StringSliceVar(&f.certSANs, "cert-sans", nil, "extra apiserver SANs: IP addresses or DNS names")
	fl.StringVar(&f.keyAlg, "key-algorithm", "", "rsa-2048 (default), rsa-3072, rsa-4096, ecdsa-p256 or ecdsa-p384")
	fl.DurationVar(&f.validity, "validity", 0, "validity of leaf certificates (default 8760h)")
	fl.DurationVar(&f.caValidity, "ca-validity", 0, "validity of new CAs (default 87600h)")
}

// options turns flags, over the --config file, into tree options.
func (f *pkiFlags) options(o Options) (clusterpki.Options, error) {
	var opts clusterpki.Options
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return opts, err
		}
		if opts, err = clusterpki.ParseConfig(data); err != nil {
			return opts, fmt.Errorf("%s: %w", f.config, err)
		}
	}
	opts.Dir, opts.Now, opts.Rand = f.dir, o.Now, o.Rand
	opts.CertSANs = append(opts.CertSANs, f.certSANs...)
	for _, s := range []struct {
		flag string
		to   *string
	}{
		{f.nodeName, &opts.NodeName}, {f.serviceNet, &opts.ServiceCIDR}, {f.dnsDomain, &opts.DNSDomain},
	} {
		if s.flag != "" {
			*s.to = s.flag
		}
	}
	if f.validity != 0 {
		opts.Validity = f.validity
	}
	if f.caValidity != 0 {
		opts.CAValidity = f.caValidity
	}
	if f.advertise != "" {
		if opts.AdvertiseAddress = net.ParseIP(f.advertise); opts.AdvertiseAddress == nil {
			return opts, fmt.Errorf("advertise address %q is not an IP address", f.advertise)
		}
	}
	if f.keyAlg != "" { // else the --config file's, if any
		var err error
		if opts.Key, err = optionalKeySpec(f.keyAlg); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// minValidity is the shortest validity pki init takes without
// --allow-short-validity: below it, a cluster's certificates expire before
// anyone notices.
const minValidity = time.Hour

func newPKIInitCommand(o Options) *cobra.Command {
	var (
		f          pkiFlags
		allowShort bool
		keyURIs    = map[string]*string{}
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create kubeadm's certificate tree, filling in what is missing and checking what is there",
		Long: `Create kubeadm's tree: the cluster, etcd and front-proxy CAs; the apiserver,
apiserver-kubelet-client, front-proxy-client, etcd server, peer and
healthcheck-client and apiserver-etcd-client certificates; sa.key and sa.pub;
and admin.conf, super-admin.conf, controller-manager.conf, scheduler.conf and
kubelet.conf. Names, usages, validity and file modes are kubeadm's; the
apiserver also gets 127.0.0.1 and localhost as SANs.

It never overwrites: it fills in what is missing and checks what is there.
A certificate signed by the wrong CA, a key that does not match, an expired
certificate, a certificate without a SAN asked for (as kubeadm checks), or
kubelet.conf of another node is an error naming the file, and then nothing
is written.

Validities under an hour are refused unless --allow-short-validity is given.

With --ca-key-uri (--etcd-ca-key-uri, --front-proxy-ca-key-uri) a CA's key
is a key already in a hardware token, named by its PKCS#11 URI (RFC 7512,
see docs/hsm.md): the CA certificate is made for it (or, if there is one,
checked against it), no key file is written, and the URI is remembered in
DIR/pki/<ca>.key-uri (mode 0600) for renew, kubeconfig and up. A CA's key
is a file or in a token, never both.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.dir == "" {
				return errors.New("--dir is required")
			}
			opts, err := f.options(o)
			if err != nil {
				return err
			}
			if err := checkValidity(f, opts, allowShort); err != nil {
				return err
			}
			var warnings []string
			for _, name := range clusterpki.CANames() {
				uri := keyURIs[name]
				if *uri == "" {
					continue
				}
				base, _ := clusterpki.CABase(name)
				warning, err := checkKeyURI("--"+name+"-key-uri", *uri, filepath.Join(f.dir, "pki", base+".key-uri"))
				if err != nil {
					return err
				}
				if warning != "" {
					warnings = append(warnings, warning)
				}
				if opts.CAKeyURIs == nil {
					opts.CAKeyURIs = map[string]string{}
				}
				opts.CAKeyURIs[name] = *uri
			}
			opts.OpenKey = pkcs11.Open
			res, err := clusterpki.Init(opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "created %d files, checked %d in %s\n", len(res.Created), len(res.Checked), f.dir)
			for _, c := range res.Created {
				fmt.Fprintf(o.Out, "  created %s\n", c)
			}
			for _, w := range warnings {
				if o.ErrOut != nil {
					fmt.Fprintln(o.ErrOut, w)
				}
			}
			return nil
		},
	}
	f.bind(cmd, true)
	cmd.Flags().BoolVar(&allowShort, "allow-short-validity", false, "allow --validity or --ca-validity under an hour (for tests of expiry)")
	for _, ca := range []struct{ name, what string }{{"ca", "the cluster CA"}, {"etcd-ca", "the etcd CA"}, {"front-proxy-ca", "the front-proxy CA"}} {
		keyURIs[ca.name] = new(string)
		cmd.Flags().StringVar(keyURIs[ca.name], ca.name+"-key-uri", "", "PKCS#11 URI of the key of "+ca.what+" in a hardware token, instead of a key file (docs/hsm.md)")
	}
	return cmd
}

// checkValidity refuses negative validities, and ones under minValidity
// unless allowShort, naming where they were given.
func checkValidity(f pkiFlags, opts clusterpki.Options, allowShort bool) error {
	for _, v := range []struct {
		flag, field string
		fromFlag    bool
		d           time.Duration
	}{
		{"--validity", "validity", f.validity != 0, opts.Validity},
		{"--ca-validity", "caValidity", f.caValidity != 0, opts.CAValidity},
	} {
		if v.d == 0 || v.d >= minValidity || (allowShort && v.d > 0) {
			continue
		}
		where := v.flag + " " + v.d.String()
		if !v.fromFlag {
			where = fmt.Sprintf("%s %s in %s", v.field, v.d, f.config)
		}
		if v.d < 0 {
			return fmt.Errorf("%s is negative: want a validity such as 8760h", where)
		}
		return fmt.Errorf("%s is under an hour, so the certificates would expire almost at once: give --allow-short-validity if that is what you want", where)
	}
	return nil
}

func newPKICheckExpirationCommand(o Options) *cobra.Command {
	var (
		dir    string
		output string
		warn   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check-expiration --dir DIR",
		Short: "Show when the tree's certificates expire; fail if any is missing or expires soon",
		Long: `Print kubeadm's two tables, the certificates (kubeconfigs included, kubelet.conf
excluded) and the CAs. Exits non-zero when a certificate is missing or
expires within --warn. The HSM column marks CAs whose key is in a hardware
token (pki init --ca-key-uri); the token is not opened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--dir is required")
			}
			if output != "text" && output != "json" && output != "yaml" {
				return fmt.Errorf("unknown output format %q: want text, json or yaml", output)
			}
			now := o.Now()
			r, err := clusterpki.CheckExpiration(dir, now, nil)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				err = writeJSON(o.Out, r)
			case "yaml":
				var data []byte
				if data, err = yaml.Marshal(r); err == nil {
					_, err = o.Out.Write(data)
				}
			default:
				err = writeExpirationTables(o, r)
			}
			if err != nil {
				return err
			}
			if bad := r.ExpiringWithin(warn); len(bad) > 0 {
				return fmt.Errorf("missing or expiring within %s: %s", duration.ShortHumanDuration(warn), strings.Join(bad, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the tree's directory (required)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, json or yaml")
	cmd.Flags().DurationVar(&warn, "warn", 30*24*time.Hour, "fail when anything expires within this")
	return cmd
}

func writeExpirationTables(o Options, r *clusterpki.ExpirationReport) error {
	const date = "Jan 02, 2006 15:04 MST"
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	tw := tabwriter.NewWriter(o.Out, 10, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED")
	for _, e := range r.Certificates {
		if e.Missing {
			fmt.Fprintf(tw, "!MISSING! %s\t\t\t\t\n", e.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.ExpirationDate.Format(date), residual(e.ResidualTime), e.CertificateAuthority, yesNo(e.ExternallyManaged))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED\tHSM")
	for _, e := range r.CertificateAuthorities {
		if e.Missing {
			fmt.Fprintf(tw, "!MISSING! %s\t\t\t\t\n", e.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.ExpirationDate.Format(date), residual(e.ResidualTime), yesNo(e.ExternallyManaged), yesNo(e.HSM))
	}
	return tw.Flush()
}

func residual(d time.Duration) string {
	if d < 0 {
		return "<invalid>"
	}
	return duration.ShortHumanDuration(d)
}

func newPKIRenewCommand(o Options) *cobra.Command {
	var (
		dir      string
		validity time.Duration
		keyAlg   string
	)
	cmd := &cobra.Command{
		Use:   "renew all|NAME --dir DIR",
		Short: "Renew certificates and kubeconfigs as kubeadm certs renew does",
		Long: `Renew as kubeadm does: a new key; CN, O, SANs and extended usages kept from the
old certificate; the same CA. Kubeconfigs are renewed too (not kubelet.conf);
CAs never are, whether their key is a file or in a token (for a CA whose key
is in a token, leaves are signed there). Refuses when a CA key is absent or
its token cannot be opened. The replaced files are kept
under DIR/backup/<time>/. Restart the components that use them afterwards.

Names: ` + strings.Join(clusterpki.RenewableNames(), ", "),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("--dir is required")
			}
			opts := clusterpki.Options{Dir: dir, Validity: validity, Now: o.Now, Rand: o.Rand, OpenKey: pkcs11.Open}
			var err error
			if opts.Key, err = optionalKeySpec(keyAlg); err != nil {
				return err
			}
			res, err := clusterpki.Renew(opts, args)
			if err != nil {
				return err
			}
			for _, n := range res.Renewed {
				fmt.Fprintf(o.Out, "renewed %s\n", n)
			}
			fmt.Fprintf(o.Out, "old files kept in %s; restart kube-apiserver, kube-controller-manager, kube-scheduler and etcd to use the new ones\n", res.BackupDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the tree's directory (required)")
	cmd.Flags().DurationVar(&validity, "validity", 0, "validity of the renewed certificates (default 8760h)")
	cmd.Flags().StringVar(&keyAlg, "key-algorithm", "", "algorithm of the new keys (default: that of the keys they replace)")
	return cmd
}

func newPKIKubeconfigCommand(o Options) *cobra.Command {
	var (
		dir, user, out, server string
		groups                 []string
		validity               time.Duration
		keyAlg                 string
	)
	cmd := &cobra.Command{
		Use:   "kubeconfig --dir DIR --user NAME [--group G]... --out FILE",
		Short: "Issue a client certificate from the cluster CA and write a kubeconfig with it",
		Long: `Issue a client certificate from the cluster CA, CN the user and O each group,
and write a kubeconfig (mode 0600) with the certificate, its key and the
cluster CA embedded. The server is admin.conf's unless --server is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || user == "" || out == "" {
				return errors.New("--dir, --user and --out are required")
			}
			opts := clusterpki.Options{Dir: dir, Server: server, Now: o.Now, Rand: o.Rand, OpenKey: pkcs11.Open}
			var err error
			if opts.Key, err = optionalKeySpec(keyAlg); err != nil {
				return err
			}
			data, err := clusterpki.UserKubeconfig(opts, user, groups, validity)
			if err != nil {
				return err
			}
			if err := files.WriteAll(files.File{Path: out, Data: data, Mode: files.Secret}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "wrote %s for user %q in groups %v\n", out, user, groups)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "", "the tree's directory (required)")
	fl.StringVar(&user, "user", "", "user name, the certificate's CN (required)")
	fl.StringSliceVar(&groups, "group", nil, "group, a certificate O (repeatable)")
	fl.DurationVar(&validity, "validity", 0, "validity (default 8760h)")
	fl.StringVar(&out, "out", "", "kubeconfig file to write (required; never overwritten)")
	fl.StringVar(&server, "server", "", "apiserver URL (default: admin.conf's)")
	fl.StringVar(&keyAlg, "key-algorithm", "", "key algorithm (default rsa-2048)")
	return cmd
}

// optionalKeySpec parses a --key-algorithm value; empty means the zero spec,
// which each command documents as its default.
func optionalKeySpec(name string) (pki.KeySpec, error) {
	if name == "" {
		return pki.KeySpec{}, nil
	}
	return pki.ParseKeySpec(name)
}
