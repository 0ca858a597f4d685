package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	authzv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
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
		kubeconfigPath, out, keyAlg, csrName string
		groups                               []string
		expiration, timeout                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "add NAME [--group G]... [--expiration 24h] --out NAME.kubeconfig",
		Short: "Give a user a client certificate and a kubeconfig, through a CertificateSigningRequest",
		Long: `Onboard a user with an X.509 client certificate, all in one: a new key, a
CertificateSigningRequest for kubernetes.io/kube-apiserver-client (CN the
user, O each group), approval when you may approve that signer (otherwise it
waits, and says who must approve), the issued certificate, and a kubeconfig
(mode 0600) with the certificate, the key and the cluster's CA embedded. The
key exists only in that kubeconfig.`,
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
			cs, cfg, err := clientset(kubeconfigPath)
			if err != nil {
				return err
			}
			caPEM, err := clusterCA(cfg)
			if err != nil {
				return err
			}
			key, err := pki.GenerateKey(o.Rand, spec)
			if err != nil {
				return err
			}
			keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
			if err != nil {
				return err
			}
			request, err := pki.CreateCSR(o.Rand, &pki.Request{CommonName: user, Organization: groups}, key)
			if err != nil {
				return err
			}
			if csrName == "" {
				csrName = user
			}
			obj := &certv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: csrName},
				Spec: certv1.CertificateSigningRequestSpec{
					Request:    request,
					SignerName: csrpolicy.KubeAPIServerClient,
					Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth},
				},
			}
			if obj.Spec.ExpirationSeconds, err = expirationSeconds(expiration); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if _, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "created certificatesigningrequest %s for user %q in groups %v\n", csrName, user, groups)
			mayApprove, err := canApprove(ctx, cs, csrpolicy.KubeAPIServerClient)
			if err != nil {
				return err
			}
			if mayApprove {
				if err := decide(ctx, cs, csrName, certv1.CertificateApproved, "CertplaneUserAdd",
					"Approved by certplane user add for "+user+".", o.Out); err != nil {
					return err
				}
			}
			cert, err := waitIssued(ctx, cs, csrName, func() {
				fmt.Fprintf(o.Out, "waiting for approval: someone allowed to approve signer %s must run: kubectl certificate approve %s\n",
					csrpolicy.KubeAPIServerClient, csrName)
			})
			if err != nil {
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
	fl.StringVar(&csrName, "csr-name", "", "name of the CertificateSigningRequest (default: the user name)")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for approval and issuance")
	return cmd
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
