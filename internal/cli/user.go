package cli

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	authzv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

func newUserCommand(o Options) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Onboard users with client certificates"}
	cmd.AddCommand(newUserAddCommand(o))
	return cmd
}

func newUserAddCommand(o Options) *cobra.Command {
	var (
		kubeconfigPath, out, keyAlg, keyFile, csrName string
		groups                                        []string
		expiration, timeout                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "add NAME [--group G]... [--expiration 24h] --out NAME.kubeconfig",
		Short: "Give a user a client certificate and a kubeconfig, through a CertificateSigningRequest",
		Long: `Onboard a user with an X.509 client certificate, all in one: a new key, a
CertificateSigningRequest for kubernetes.io/kube-apiserver-client (CN the
user, O each group), approval when you may approve that signer, the issued
certificate, and a kubeconfig (mode 0600) with the certificate, the key and
the cluster's CA embedded.

When you may not approve, it says who must, keeps the new key beside the
kubeconfig (NAME-key.pem, mode 0600) and waits. If it stops before the
certificate is issued, run it again with --key NAME-key.pem: it picks up the
request it made and writes the kubeconfig once the request is issued.

The groups kubeadm:cluster-admins and system:masters make the user a cluster
admin; it says so.`,
		Example: `  certplane user add jane --group dev --expiration 24h --out jane.kubeconfig
  certplane user add jane --group dev --key jane-key.pem --out jane.kubeconfig   # finish an earlier one`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			user := args[0]
			if out == "" {
				return errors.New("--out is required")
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("refusing to overwrite %s: %w", out, files.ErrExists)
			}
			spec, err := pki.ParseKeySpec(keyAlg)
			if err != nil {
				return err
			}
			if csrName == "" {
				csrName = user
			}
			expSeconds, err := expirationSeconds(expiration)
			if err != nil {
				return err
			}
			cs, cfg, err := clientset(kubeconfigPath)
			if err != nil {
				return err
			}
			caPEM, err := clusterCA(cfg)
			if err != nil {
				return err
			}
			for _, g := range groups {
				if w := adminGroupWarning(user, g); w != "" && o.ErrOut != nil {
					fmt.Fprintln(o.ErrOut, "warning: "+w)
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			mayApprove, err := canApprove(ctx, cs, csrpolicy.KubeAPIServerClient)
			if err != nil {
				return err
			}

			var (
				key    crypto.Signer
				keyPEM []byte
				keyOut string // the key file this run writes, if any
			)
			if keyFile != "" {
				if keyPEM, err = readInput(o, keyFile); err != nil {
					return err
				}
				if key, err = pki.ParsePrivateKeyPEM(keyPEM); err != nil {
					return pemError(keyFile, "private key", keyPEM, err)
				}
			} else {
				if key, err = pki.GenerateKey(o.Rand, spec); err != nil {
					return err
				}
				if keyPEM, err = pki.MarshalPrivateKeyPEM(key, pki.FormatDefault); err != nil {
					return err
				}
			}
			finish := finishCommand(user, groups, kubeconfigPath, out)
			if !mayApprove && keyFile == "" {
				keyOut = keyBeside(out)
				if err := files.WriteAll(files.File{Path: keyOut, Data: keyPEM, Mode: files.Secret}); err != nil {
					if errors.Is(err, files.ErrExists) {
						return fmt.Errorf("refusing to overwrite %s, the key of an earlier user add: to finish that one, run %s --key %s", keyOut, finish, keyOut)
					}
					return err
				}
			}
			dropKey := func() {
				if keyOut != "" {
					_ = os.Remove(keyOut)
				}
			}

			approved := false
			existing, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, csrName, metav1.GetOptions{})
			switch {
			case err == nil && keyFile != "" && sameRequest(existing, user, groups, key):
				approved = csrpolicy.StateOf(existing).Approved
				fmt.Fprintf(o.Out, "found certificatesigningrequest %s for user %q made for %s (%s)\n", csrName, user, keyFile, condition(existing))
			case err == nil:
				dropKey()
				return fmt.Errorf("certificatesigningrequest %s already exists: name this one with --csr-name, or delete that one with kubectl delete csr %s", csrName, csrName)
			case !apierrors.IsNotFound(err):
				dropKey()
				return err
			default:
				request, err := pki.CreateCSR(o.Rand, &pki.Request{CommonName: user, Organization: groups}, key)
				if err != nil {
					dropKey()
					return err
				}
				obj := &certv1.CertificateSigningRequest{
					ObjectMeta: metav1.ObjectMeta{Name: csrName},
					Spec: certv1.CertificateSigningRequestSpec{
						Request:    request,
						SignerName: csrpolicy.KubeAPIServerClient,
						Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth},
					},
				}
				obj.Spec.ExpirationSeconds = expSeconds
				if _, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
					if apierrors.IsAlreadyExists(err) {
						dropKey()
						return fmt.Errorf("certificatesigningrequest %s already exists: name this one with --csr-name, or delete that one with kubectl delete csr %s", csrName, csrName)
					}
					// Remove the new key only when the request was surely
					// not created; after a timeout it may have been.
					if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) {
						dropKey()
					}
					return err
				}
				fmt.Fprintf(o.Out, "created certificatesigningrequest %s for user %q in groups %v\n", csrName, user, groups)
			}
			if keyOut != "" {
				fmt.Fprintf(o.Out, "wrote %s (mode 0600): the new key, kept until %s is written\n", keyOut, out)
			}
			if mayApprove && !approved {
				if err := decide(ctx, cs, csrName, certv1.CertificateApproved, "CertplaneUserAdd",
					"Approved by certplane user add for "+user+".", o.Out); err != nil {
					return err
				}
			}
			keyNow := keyFile
			if keyOut != "" {
				keyNow = keyOut
			}
			cert, err := waitIssued(ctx, cs, csrName, func() {
				fmt.Fprintf(o.Out, "waiting for approval: someone allowed to approve signer %s must run: kubectl certificate approve %s\n",
					csrpolicy.KubeAPIServerClient, csrName)
				if keyNow != "" {
					fmt.Fprintf(o.Out, "if this command stops before then, the request and %s stay; finish with:\n", keyNow)
					fmt.Fprintf(o.Out, "  certplane csr wait %s%s   # until it is approved and issued\n", csrName, kubeconfigFlag(kubeconfigPath))
					fmt.Fprintf(o.Out, "  %s --key %s%s   # writes %s from the issued request\n", finish, keyNow, csrNameFlag(csrName, user), out)
					fmt.Fprintf(o.Out, "  (or only the certificate: certplane csr fetch %s --out %s.crt%s)\n", csrName, csrName, kubeconfigFlag(kubeconfigPath))
				}
			})
			if errors.Is(err, errRefused) {
				dropKey() // it will never be issued
				return err
			}
			if err != nil && ctx.Err() == context.DeadlineExceeded && cmd.Context().Err() == nil {
				err = &messageError{msg: fmt.Sprintf("certificatesigningrequest %s was not issued within --timeout %s", csrName, timeout), err: err}
			}
			if err != nil {
				if keyNow != "" {
					return fmt.Errorf("%w; the request stays and its key is in %s: finish with %s --key %s%s", err, keyNow, finish, keyNow, csrNameFlag(csrName, user))
				}
				return err
			}
			data, err := kubeconfig.Spec{
				ClusterName: clusterName(cfg), Server: cfg.Host, CA: caPEM,
				User: user, Certificate: cert, Key: keyPEM,
			}.Marshal()
			if err != nil {
				return err
			}
			if err := files.WriteAll(files.File{Path: out, Data: data, Mode: files.Secret}); err != nil {
				return err
			}
			if keyOut != "" {
				dropKey() // the key is in the kubeconfig now
			}
			_, err = fmt.Fprintf(o.Out, "wrote %s: kubectl --kubeconfig %s auth whoami\n", out, out)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kubeconfigPath, "kubeconfig", "", "your kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	fl.StringSliceVar(&groups, "group", nil, "group, a certificate O (repeatable)")
	fl.DurationVar(&expiration, "expiration", 0, "requested validity (default: the signer's maximum)")
	fl.StringVar(&out, "out", "", "kubeconfig to write (required; never overwritten)")
	fl.StringVar(&keyAlg, "key-algorithm", "ecdsa-p256", "key algorithm")
	fl.StringVar(&keyFile, "key", "", "use this private key instead of a new one, and pick up the request an earlier run made for it")
	fl.StringVar(&csrName, "csr-name", "", "name of the CertificateSigningRequest (default: the user name)")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for approval and issuance")
	return cmd
}

// adminGroupWarning says plainly when a group makes user a cluster admin.
func adminGroupWarning(user, group string) string {
	switch group {
	case "kubeadm:cluster-admins":
		return fmt.Sprintf("group %s makes %s a cluster admin: kubeadm and certplane up bind it to the cluster-admin ClusterRole, which may do anything in every namespace", group, user)
	case "system:masters":
		return fmt.Sprintf("group %s makes %s a cluster admin that no RBAC rule can limit and that cannot be revoked before the certificate expires; kube-apiserver refuses to have it signed by %s", group, user, csrpolicy.KubeAPIServerClient)
	}
	return ""
}

// keyBeside is where user add keeps a new key while it waits: beside the
// kubeconfig, NAME-key.pem for NAME.kubeconfig.
func keyBeside(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + "-key.pem"
}

// finishCommand is the user add command line that finishes this one.
func finishCommand(user string, groups []string, kubeconfigPath, out string) string {
	s := "certplane user add " + user
	for _, g := range groups {
		s += " --group " + g
	}
	return s + kubeconfigFlag(kubeconfigPath) + " --out " + out
}

func kubeconfigFlag(path string) string {
	if path == "" {
		return ""
	}
	return " --kubeconfig " + path
}

func csrNameFlag(csrName, user string) string {
	if csrName == user {
		return ""
	}
	return " --csr-name " + csrName
}

// sameRequest reports whether csr is the request user add makes for user
// in groups with key: the kube-apiserver-client signer, that subject, and
// key's public key.
func sameRequest(csr *certv1.CertificateSigningRequest, user string, groups []string, key crypto.Signer) bool {
	if csr.Spec.SignerName != csrpolicy.KubeAPIServerClient {
		return false
	}
	req, err := pki.ParseCSRPEM(csr.Spec.Request)
	if err != nil {
		return false
	}
	return req.Subject.CommonName == user && slices.Equal(req.Subject.Organization, groups) && pki.KeyMatches(req.PublicKey, key)
}

// canApprove asks whether the caller may approve requests for signer.
func canApprove(ctx context.Context, cs kubernetes.Interface, signer string) (bool, error) {
	for _, attrs := range []authzv1.ResourceAttributes{
		{Group: "certificates.k8s.io", Resource: "signers", Name: signer, Verb: "approve"},
		{Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval", Verb: "update"},
	} {
		review := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}
		res, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		if !res.Status.Allowed {
			return false, nil
		}
	}
	return true, nil
}

// clusterCA is the CA bundle the caller's kubeconfig trusts for the cluster.
func clusterCA(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile != "" {
		return os.ReadFile(cfg.CAFile)
	}
	return nil, errors.New("your kubeconfig names no cluster CA to put in the new kubeconfig")
}

func clusterName(cfg *rest.Config) string {
	if cfg.ServerName != "" {
		return cfg.ServerName
	}
	return "kubernetes"
}
