package cli

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

func newCheckCommand(o Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that the cert-manager API is ready, as cmctl check",
	}
	cmd.AddCommand(newCheckAPICommand(o))
	return cmd
}

func newCheckAPICommand(o Options) *cobra.Command {
	var (
		kf             kubeFlags
		wait, interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "api [--wait DURATION] [--interval 5s]",
		Short: "Check that the cert-manager API is served and admits requests, as cmctl check api",
		Long: `Check that the cluster serves the cert-manager.io/v1 API and that its admission
works, as cmctl check api does: the Certificate, CertificateRequest, Issuer
and ClusterIssuer resources are served, and a server-side dry-run create of
a CertificateRequest (with a fresh ECDSA key's request) is admitted and
comes back with the requester's identity recorded, as cert-manager's webhook
and certplane's admission policy record it. Nothing is created.

Prints "The cert-manager API is ready" and exits 0, or exits 1 with the
reason. With --wait it tries every --interval until ready or the wait is
over.`,
		Example: `  certplane check api
  certplane check api --wait 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wait < 0 || interval <= 0 {
				return errors.New("--wait must not be negative and --interval must be positive")
			}
			k, err := kf.connect(o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			deadline := time.Now().Add(wait)
			for {
				err = checkAPI(ctx, o, k)
				if err == nil {
					_, err = fmt.Fprintln(o.Out, "The cert-manager API is ready")
					return err
				}
				if !time.Now().Add(interval).Before(deadline) {
					if wait > 0 {
						return fmt.Errorf("not ready after %s: %w", wait, err)
					}
					return err
				}
				select {
				case <-ctx.Done():
					return err
				case <-time.After(interval):
				}
			}
		},
	}
	kf.bind(cmd.Flags())
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait until the API is ready, up to this long (0: check once)")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between checks while waiting")
	return cmd
}

// errAPINotReady is what checkAPI's errors wrap.
var errAPINotReady = errors.New("the cert-manager API is not ready")

func notReady(format string, args ...any) error {
	return &messageError{msg: fmt.Sprintf(format, args...), err: errAPINotReady}
}

// checkAPI looks for the cert-manager.io/v1 resources, then dry-runs the
// create of a CertificateRequest in k's namespace.
func checkAPI(ctx context.Context, o Options, k *kube) error {
	res, err := k.cs.Discovery().ServerResourcesForGroupVersion(cmv1.GroupVersion.String())
	switch {
	case apierrors.IsNotFound(err):
		return notReady("the cert-manager CRDs are not installed: the cluster does not serve %s", cmv1.GroupVersion)
	case err != nil:
		return fmt.Errorf("reading the cluster's API: %w", err)
	}
	var served []string
	for _, r := range res.APIResources {
		served = append(served, r.Name)
	}
	for _, want := range []string{"certificates", "certificaterequests", "issuers", "clusterissuers"} {
		if !slices.Contains(served, want) {
			return notReady("the cluster serves %s without %s: the CRDs are incomplete", cmv1.GroupVersion, want)
		}
	}
	key, err := pki.GenerateKey(o.Rand, pki.ECDSAP256)
	if err != nil {
		return err
	}
	csr, err := pki.CreateTemplateCSR(o.Rand, &pki.Template{Subject: pkix.Name{CommonName: "certplane-check-api"}, DNSNames: []string{"certplane-check-api.example"}}, key)
	if err != nil {
		return err
	}
	cr := &cmv1.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.namespace, GenerateName: "certplane-check-api-"},
		Spec: cmv1.CertificateRequestSpec{
			Request:   csr,
			IssuerRef: cmv1.ObjectReference{Name: "certplane-check-api", Kind: "Issuer", Group: cmv1.GroupVersion.Group},
			Usages:    []cmv1.KeyUsage{"digital signature", "server auth"},
		},
	}
	if err := k.cm.Create(ctx, cr, client.DryRunAll); err != nil {
		switch {
		case apierrors.IsForbidden(err):
			return &messageError{msg: fmt.Sprintf("a dry-run create of a CertificateRequest in namespace %s was refused: %s", k.namespace, admissionMessage(err)), err: err}
		case apierrors.IsNotFound(err):
			return fmt.Errorf("namespace %s: %w (give -n NAMESPACE)", k.namespace, err)
		case notServed(err):
			return notReady("the cert-manager CRDs are not installed: the cluster does not serve certificaterequests.%s", cmv1.GroupVersion.Group)
		}
		return &messageError{msg: "a dry-run create of a CertificateRequest failed: " + err.Error(), err: errors.Join(errAPINotReady, err)}
	}
	if cr.Spec.Username == "" {
		return notReady("a CertificateRequest is admitted without its requester's identity: the admission that records it (cert-manager's webhook, or certplane's policy certplane-certificaterequest-identity) is not in effect yet")
	}
	return nil
}
