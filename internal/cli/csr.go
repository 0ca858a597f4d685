package cli

import (
	"context"

	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/pkg/pki"
)

func newCSRCommand(o Options) *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "csr",
		Short: "Create, inspect, approve, deny, wait for and fetch CertificateSigningRequests",
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	client := func() (*kubernetes.Clientset, error) {
		cs, _, err := clientset(kubeconfig)
		return cs, err
	}
	cmd.AddCommand(
		newCSRCreateCommand(o, client),
		newCSRGetCommand(o, client),
		newCSRDescribeCommand(o, client),
		newCSRDecideCommand(o, client, true),
		newCSRDecideCommand(o, client, false),
		newCSRWaitCommand(o, client),
		newCSRFetchCommand(o, client),
	)
	return cmd
}

type clientFunc func() (*kubernetes.Clientset, error)

func getCSR(ctx context.Context, client clientFunc, name string) (*certv1.CertificateSigningRequest, error) {
	cs, err := client()
	if err != nil {
		return nil, err
	}
	return cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
}

func newCSRCreateCommand(o Options, client clientFunc) *cobra.Command {
	var (
		csrFile, keyFile, genkey, signer, cn, keyOut string
		usages, groups, hosts                        []string
		expiration                                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create NAME (--csr FILE | --key FILE | --genkey REQUEST.json) --signer S --usages U,...",
		Short: "Create a CertificateSigningRequest from a CSR, from a key, or from a new key",
		Long: `Create a CertificateSigningRequest object. The request comes from a PKCS#10 file
(--csr), is made for an existing key (--key, with --cn, --group and --hosts),
or is made with a new key from a cfssl JSON request (--genkey; the key is
written to NAME-key.pem, mode 0600, or --key-out). Prints the name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			given := 0
			for _, s := range []string{csrFile, keyFile, genkey} {
				if s != "" {
					given++
				}
			}
			if given != 1 {
				return errors.New("give exactly one of --csr, --key and --genkey")
			}
			if signer == "" || len(usages) == 0 {
				return errors.New("--signer and --usages are required")
			}
			spec := certv1.CertificateSigningRequestSpec{SignerName: signer}
			for _, u := range usages {
				u = strings.TrimSpace(u)
				if _, _, err := pki.ParseUsages([]pki.Usage{pki.Usage(u)}); err != nil {
					return inputError("--usages", err)
				}
				spec.Usages = append(spec.Usages, certv1.KeyUsage(u))
			}
			var err error
			if spec.ExpirationSeconds, err = expirationSeconds(expiration); err != nil {
				return err
			}
			var newKey []files.File
			switch {
			case csrFile != "":
				data, err := readInput(o, csrFile)
				if err != nil {
					return err
				}
				if _, err := pki.ParseCSRPEM(data); err != nil {
					return pemError(csrFile, "certificate request", data, err)
				}
				spec.Request = data
			case keyFile != "":
				data, err := readInput(o, keyFile)
				if err != nil {
					return err
				}
				key, err := pki.ParsePrivateKeyPEM(data)
				if err != nil {
					return pemError(keyFile, "private key", data, err)
				}
				req := &pki.Request{CommonName: cn, Organization: groups}
				if err := req.AddHosts(hosts...); err != nil {
					return inputError("--hosts", err)
				}
				if spec.Request, err = pki.CreateCSR(o.Rand, req, key); err != nil {
					return err
				}
			default:
				req, err := readRequest(o, genkey)
				if err != nil {
					return err
				}
				var keyPEM []byte
				if _, keyPEM, spec.Request, err = keyAndCSR(o, req); err != nil {
					return err
				}
				if keyOut == "" {
					keyOut = name + "-key.pem"
				}
				newKey = []files.File{{Path: keyOut, Data: keyPEM, Mode: files.Secret}}
			}
			cs, err := client()
			if err != nil {
				return err
			}
			if err := files.WriteAll(newKey...); err != nil {
				return err
			}
			obj := &certv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
			if _, err := cs.CertificatesV1().CertificateSigningRequests().Create(cmd.Context(), obj, metav1.CreateOptions{}); err != nil {
				if len(newKey) == 0 {
					return err
				}
				// Remove the new key only when the request was surely not
				// created; after a timeout it may have been, and may be signed.
				if apierrors.IsInvalid(err) || apierrors.IsAlreadyExists(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) {
					_ = os.Remove(newKey[0].Path)
					return err
				}
				return fmt.Errorf("%w (the new key is kept in %s in case the request was created)", err, newKey[0].Path)
			}
			_, err = fmt.Fprintln(o.Out, name)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&csrFile, "csr", "", "PKCS#10 request file")
	fl.StringVar(&keyFile, "key", "", "private key to make the request for")
	fl.StringVar(&genkey, "genkey", "", "cfssl JSON request to make a new key and request from")
	fl.StringVar(&keyOut, "key-out", "", "where --genkey writes the new key (default NAME-key.pem)")
	fl.StringVar(&signer, "signer", "", "signer name, such as kubernetes.io/kube-apiserver-client")
	fl.StringSliceVar(&usages, "usages", nil, `key usages, such as "digital signature,key encipherment,client auth"`)
	fl.StringVar(&cn, "cn", "", "common name (with --key)")
	fl.StringSliceVarP(&groups, "group", "O", nil, "organization (with --key; repeatable)")
	fl.StringSliceVar(&hosts, "hosts", nil, "DNS names, IPs, URIs and emails (with --key)")
	fl.DurationVar(&expiration, "expiration", 0, "requested validity (spec.expirationSeconds)")
	return cmd
}

// expirationSeconds turns --expiration into spec.expirationSeconds: nil for
// zero, an error outside [10m, 2^31-1 s].
func expirationSeconds(d time.Duration) (*int32, error) {
	if d == 0 {
		return nil, nil
	}
	if d < csrpolicy.MinDuration || d > (1<<31-1)*time.Second {
		return nil, fmt.Errorf("--expiration %s: want at least 10m and at most 596523h", d)
	}
	secs := int32(d / time.Second)
	return &secs, nil
}

func condition(csr *certv1.CertificateSigningRequest) string {
	var parts []string
	for _, c := range csr.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			parts = append(parts, string(c.Type))
		}
	}
	if len(csr.Status.Certificate) > 0 {
		parts = append(parts, "Issued")
	}
	if len(parts) == 0 {
		return "Pending"
	}
	return strings.Join(parts, ",")
}

func newCSRGetCommand(o Options, client clientFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "get [NAME]",
		Short: "List CertificateSigningRequests as kubectl get csr does",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := client()
			if err != nil {
				return err
			}
			var items []certv1.CertificateSigningRequest
			if len(args) == 1 {
				csr, err := cs.CertificatesV1().CertificateSigningRequests().Get(cmd.Context(), args[0], metav1.GetOptions{})
				if err != nil {
					return err
				}
				items = append(items, *csr)
			} else {
				list, err := cs.CertificatesV1().CertificateSigningRequests().List(cmd.Context(), metav1.ListOptions{})
				if err != nil {
					return err
				}
				items = list.Items
			}
			tw := tabwriter.NewWriter(o.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAGE\tSIGNERNAME\tREQUESTOR\tREQUESTEDDURATION\tCONDITION")
			for i := range items {
				c := &items[i]
				requested := "<none>"
				if c.Spec.ExpirationSeconds != nil {
					requested = duration.HumanDuration(time.Duration(*c.Spec.ExpirationSeconds) * time.Second)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, duration.HumanDuration(o.Now().Sub(c.CreationTimestamp.Time)),
					c.Spec.SignerName, c.Spec.Username, requested, condition(c))
			}
			return tw.Flush()
		},
	}
}

func newCSRDescribeCommand(o Options, client clientFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a CertificateSigningRequest: requester, signer, status, subject, SANs, usages, certificate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			csr, err := getCSR(cmd.Context(), client, args[0])
			if err != nil {
				return err
			}
			return describeCSR(o, csr)
		},
	}
}

func describeCSR(o Options, csr *certv1.CertificateSigningRequest) error {
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", csr.Name)
	fmt.Fprintf(tw, "CreationTimestamp:\t%s\n", csr.CreationTimestamp.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(tw, "Requesting User:\t%s\n", csr.Spec.Username)
	fmt.Fprintf(tw, "Signer:\t%s\n", csr.Spec.SignerName)
	if csr.Spec.ExpirationSeconds != nil {
		fmt.Fprintf(tw, "Requested Duration:\t%s\n", duration.HumanDuration(time.Duration(*csr.Spec.ExpirationSeconds)*time.Second))
	}
	fmt.Fprintf(tw, "Status:\t%s\n", condition(csr))
	for _, c := range csr.Status.Conditions {
		fmt.Fprintf(tw, "  %s:\t%s: %s\n", c.Type, c.Reason, c.Message)
	}
	usages := make([]string, len(csr.Spec.Usages))
	for i, u := range csr.Spec.Usages {
		usages[i] = string(u)
	}
	fmt.Fprintf(tw, "Usages:\t%s\n", strings.Join(usages, ", "))
	if parsed, err := pki.ParseCSRPEM(csr.Spec.Request); err == nil {
		fmt.Fprintf(tw, "Subject:\t\n")
		fmt.Fprintf(tw, "  Common Name:\t%s\n", parsed.Subject.CommonName)
		for _, org := range parsed.Subject.Organization {
			fmt.Fprintf(tw, "  Organization:\t%s\n", org)
		}
		sans := append([]string(nil), parsed.DNSNames...)
		for _, ip := range parsed.IPAddresses {
			sans = append(sans, ip.String())
		}
		for _, u := range parsed.URIs {
			sans = append(sans, u.String())
		}
		sans = append(sans, parsed.EmailAddresses...)
		if len(sans) > 0 {
			fmt.Fprintf(tw, "Subject Alternative Names:\t%s\n", strings.Join(sans, ", "))
		}
	} else {
		fmt.Fprintf(tw, "Request:\tinvalid: %v\n", err)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(csr.Status.Certificate) > 0 {
		report, err := pki.Inspect(csr.Status.Certificate, o.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(o.Out, "Issued:")
		return report.WriteText(o.Out)
	}
	return nil
}

func newCSRDecideCommand(o Options, client clientFunc, approve bool) *cobra.Command {
	verb, ctype, reason := "deny", certv1.CertificateDenied, "CertplaneDeny"
	if approve {
		verb, ctype, reason = "approve", certv1.CertificateApproved, "CertplaneApprove"
	}
	var message string
	cmd := &cobra.Command{
		Use:   verb + " NAME [--reason R] [--message M]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a CertificateSigningRequest (needs " + verb + " on its signer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := client()
			if err != nil {
				return err
			}
			if message == "" {
				message = "This CSR was " + map[bool]string{true: "approved", false: "denied"}[approve] + " by certplane csr " + verb + "."
			}
			return decide(cmd.Context(), cs, args[0], ctype, reason, message, o.Out)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", reason, "condition reason")
	cmd.Flags().StringVar(&message, "message", "", "condition message")
	return cmd
}

// decide adds an Approved or Denied condition through /approval.
func decide(ctx context.Context, cs kubernetes.Interface, name string, ctype certv1.RequestConditionType, reason, message string, out io.Writer) error {
	api := cs.CertificatesV1().CertificateSigningRequests()
	csr, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	st := csrpolicy.StateOf(csr)
	if st.Approved || st.Denied {
		return fmt.Errorf("certificatesigningrequest %s is already %s", name, condition(csr))
	}
	now := metav1.Now()
	csr.Status.Conditions = append(csr.Status.Conditions, certv1.CertificateSigningRequestCondition{
		Type: ctype, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now,
	})
	if _, err := api.UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "certificatesigningrequest %s %s\n", name, strings.ToLower(string(ctype)))
	return err
}

func newCSRWaitCommand(o Options, client clientFunc) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME [--timeout 5m]",
		Short: "Wait until a CertificateSigningRequest is issued; fail if it is denied or fails",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if _, err := waitIssued(ctx, cs, args[0], nil); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "certificatesigningrequest %s issued\n", args[0])
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

// errRefused is what waitIssued's error wraps when the request is Denied
// or Failed: it will never be issued.
var errRefused = errors.New("the request was denied or failed")

// waitIssued watches a request until it has a certificate. A Denied or
// Failed condition ends the wait with its reason and message. pending, if
// set, is called once when the request is seen still waiting for approval.
func waitIssued(ctx context.Context, cs kubernetes.Interface, name string, pending func()) ([]byte, error) {
	api := cs.CertificatesV1().CertificateSigningRequests()
	check := func(csr *certv1.CertificateSigningRequest) ([]byte, bool, error) {
		for _, c := range csr.Status.Conditions {
			if c.Status == corev1.ConditionTrue && (c.Type == certv1.CertificateDenied || c.Type == certv1.CertificateFailed) {
				return nil, true, &messageError{msg: fmt.Sprintf("certificatesigningrequest %s is %s: %s: %s", name, c.Type, c.Reason, c.Message), err: errRefused}
			}
		}
		if len(csr.Status.Certificate) > 0 {
			return csr.Status.Certificate, true, nil
		}
		return nil, false, nil
	}
	told := false
	for {
		csr, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if cert, done, err := check(csr); done {
			return cert, err
		}
		if pending != nil && !told && !csrpolicy.StateOf(csr).Approved {
			pending()
			told = true
		}
		w, err := api.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: csr.ResourceVersion})
		if err != nil {
			return nil, err
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				w.Stop()
				return nil, fmt.Errorf("certificatesigningrequest %s was deleted", name)
			}
			if c, ok := ev.Object.(*certv1.CertificateSigningRequest); ok {
				if cert, done, err := check(c); done {
					w.Stop()
					return cert, err
				}
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for certificatesigningrequest %s: %w", name, ctx.Err())
		}
	}
}

func newCSRFetchCommand(o Options, client clientFunc) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "fetch NAME [--out FILE]",
		Short: "Write the issued certificate of a CertificateSigningRequest (to standard output without --out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			csr, err := getCSR(cmd.Context(), client, args[0])
			if err != nil {
				return err
			}
			if len(csr.Status.Certificate) == 0 {
				return fmt.Errorf("certificatesigningrequest %s has no certificate yet (%s)", args[0], condition(csr))
			}
			if out == "" {
				_, err = o.Out.Write(csr.Status.Certificate)
				return err
			}
			return files.WriteAll(files.File{Path: out, Data: csr.Status.Certificate, Mode: files.Public})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (never overwritten)")
	return cmd
}
