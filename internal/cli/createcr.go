package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/pkg/pki"
)

func newCreateCommand(o Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create cert-manager resources, as cmctl create",
	}
	cmd.AddCommand(newCreateCRCommand(o))
	return cmd
}

func newCreateCRCommand(o Options) *cobra.Command {
	var (
		kf                     kubeFlags
		input, keyOut, certOut string
		fetch                  bool
		timeout                time.Duration
	)
	cmd := &cobra.Command{
		Use:     "certificaterequest NAME --from-certificate-file FILE [--fetch-certificate] [--timeout 5m]",
		Aliases: []string{"cr"},
		Short:   "Create a CertificateRequest from a Certificate manifest, with a new key, as cmctl create certificaterequest",
		Long: `Create a cert-manager CertificateRequest named NAME from a Certificate manifest,
as cmctl create certificaterequest does: a new private key as the
Certificate's spec.privateKey asks (written to NAME.key, mode 0600, or
--output-key-file; never over an existing file), a certificate request with
its subject and SANs, and the CertificateRequest with its issuerRef,
duration, isCA, usages, labels and annotations, in the manifest's namespace
(or -n, or the context's).

With --fetch-certificate it waits, up to --timeout, until the request is
issued and writes the certificate to NAME.crt (or --output-certificate-file);
it fails at once when the request is denied or fails.`,
		Example: `  certplane create certificaterequest my-cr --from-certificate-file my-certificate.yaml
  certplane create certificaterequest my-cr --from-certificate-file my-certificate.yaml --fetch-certificate --timeout 20m`,
		Args: exactName("CertificateRequest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			switch {
			case input == "":
				return errors.New("give the Certificate manifest to make the request from with --from-certificate-file FILE")
			case keyOut != "" && keyOut == certOut:
				return errors.New("--output-key-file and --output-certificate-file name the same file")
			case !fetch && certOut != "":
				return errors.New("--output-certificate-file needs --fetch-certificate: the certificate is written only when waited for")
			case timeout <= 0:
				return fmt.Errorf("--timeout %s: want a positive duration such as 5m", timeout)
			}
			data, err := readInput(o, input)
			if err != nil {
				return err
			}
			crt, err := parseCertificateManifest(data)
			if err != nil {
				return inputError(input, err)
			}
			k, err := kf.connect(o)
			if err != nil {
				return err
			}
			ns := k.namespace
			switch {
			case crt.Namespace != "" && kf.namespace != "" && crt.Namespace != kf.namespace:
				return fmt.Errorf("%s is in namespace %s, and --namespace says %s", displayName(input), crt.Namespace, kf.namespace)
			case crt.Namespace != "":
				ns = crt.Namespace
			}
			cr, keyPEM, err := certificateRequestFrom(o, crt, name, ns)
			if err != nil {
				return inputError(input, err)
			}
			if keyOut == "" {
				keyOut = name + ".key"
			}
			if certOut == "" {
				certOut = name + ".crt"
			}
			if fetch {
				if _, err := os.Lstat(certOut); err == nil {
					return fmt.Errorf("%s exists: it is never overwritten; give another --output-certificate-file", certOut)
				}
			}
			if err := files.WriteAll(files.File{Path: keyOut, Data: keyPEM, Mode: files.Secret}); err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := k.cm.Create(ctx, cr); err != nil {
				if apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) || notServed(err) {
					_ = os.Remove(keyOut)
					return apiError("certificaterequest", ns, name, err)
				}
				return fmt.Errorf("creating CertificateRequest %s/%s: %w (the key is kept in %s in case it was created)", ns, name, err, keyOut)
			}
			fmt.Fprintf(o.ErrOut, "Private key written to file %s\n", keyOut)
			fmt.Fprintf(o.ErrOut, "CertificateRequest %s has been created in namespace %s\n", name, ns)
			if !fetch {
				return nil
			}
			fmt.Fprintf(o.ErrOut, "CertificateRequest %s in namespace %s has not been signed yet. Wait until it is signed...\n", name, ns)
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			issued, err := waitCertificateRequest(wctx, k, types.NamespacedName{Namespace: ns, Name: name})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.ErrOut, "CertificateRequest %s in namespace %s has been signed\n", name, ns)
			if err := files.WriteAll(files.File{Path: certOut, Data: issued, Mode: files.Public}); err != nil {
				return err
			}
			fmt.Fprintf(o.ErrOut, "Certificate written to file %s\n", certOut)
			return nil
		},
	}
	kf.bind(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&input, "from-certificate-file", "", "Certificate manifest (YAML or JSON) to make the request from")
	fl.StringVar(&keyOut, "output-key-file", "", "where the new private key is written (default NAME.key)")
	fl.StringVar(&certOut, "output-certificate-file", "", "where the certificate is written with --fetch-certificate (default NAME.crt)")
	fl.BoolVar(&fetch, "fetch-certificate", false, "wait until the request is issued and write the certificate")
	fl.DurationVar(&timeout, "timeout", 5*time.Minute, "how long --fetch-certificate waits")
	return cmd
}

// documentSeparator splits a YAML stream into its documents.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// parseCertificateManifest reads the one cert-manager.io/v1 Certificate a
// manifest holds.
func parseCertificateManifest(data []byte) (*cmv1.Certificate, error) {
	var docs [][]byte
	for _, d := range documentSeparator.Split(string(data), -1) {
		if len(bytes.TrimSpace(stripComments([]byte(d)))) > 0 {
			docs = append(docs, []byte(d))
		}
	}
	switch len(docs) {
	case 0:
		return nil, errors.New("holds no object: want one Certificate")
	case 1:
	default:
		return nil, fmt.Errorf("holds %d objects: want one Certificate", len(docs))
	}
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(docs[0], &meta); err != nil {
		return nil, fmt.Errorf("not a Kubernetes manifest: %w", err)
	}
	if meta.Kind != "Certificate" || meta.APIVersion != cmv1.GroupVersion.String() {
		return nil, fmt.Errorf("holds %s %s: want a Certificate of %s", meta.APIVersion, meta.Kind, cmv1.GroupVersion)
	}
	crt := &cmv1.Certificate{}
	if err := yaml.Unmarshal(docs[0], crt); err != nil {
		return nil, fmt.Errorf("reading the Certificate: %w", err)
	}
	return crt, nil
}

func stripComments(d []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(d, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// certificateRequestFrom makes the key, the CSR and the CertificateRequest
// for crt's spec.
func certificateRequestFrom(o Options, crt *cmv1.Certificate, name, ns string) (*cmv1.CertificateRequest, []byte, error) {
	spec := crt.Spec.DeepCopy()
	if spec.SecretName == "" {
		spec.SecretName = name // not used: the request writes no Secret
	}
	req, err := certpolicy.NewRequest(spec)
	if err != nil {
		return nil, nil, err
	}
	key, err := pki.GenerateKey(o.Rand, req.Key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, req.KeyFormat)
	if err != nil {
		return nil, nil, err
	}
	csrPEM, err := pki.CreateTemplateCSR(o.Rand, req.Template, key)
	if err != nil {
		return nil, nil, err
	}
	cr := &cmv1.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: crt.Labels, Annotations: crt.Annotations},
		Spec: cmv1.CertificateRequestSpec{
			Request: csrPEM, Duration: spec.Duration, IssuerRef: spec.IssuerRef, IsCA: spec.IsCA, Usages: spec.Usages,
		},
	}
	return cr, keyPEM, nil
}

// waitCertificateRequest polls a request until it is issued, and fails as
// soon as it is denied, invalid or failed.
func waitCertificateRequest(ctx context.Context, k *kube, key types.NamespacedName) ([]byte, error) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		cr := &cmv1.CertificateRequest{}
		err := k.cm.Get(ctx, key, cr)
		switch {
		case err == nil:
			st := crpolicy.StateOf(cr)
			if st.Ready && len(cr.Status.Certificate) > 0 {
				return cr.Status.Certificate, nil
			}
			for _, c := range cr.Status.Conditions {
				if (c.Type == crpolicy.ConditionInvalidRequest && c.Status == cmv1.ConditionTrue) ||
					(c.Type == crpolicy.ConditionReady && c.Status == cmv1.ConditionFalse && st.Failed) ||
					(c.Type == crpolicy.ConditionDenied && c.Status == cmv1.ConditionTrue) {
					return nil, fmt.Errorf("CertificateRequest %s will not be signed: %s: %s: %s", key, c.Type, c.Reason, c.Message)
				}
			}
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("CertificateRequest %s was deleted while waiting for it", key)
		case apierrors.IsForbidden(err):
			return nil, apiError("certificaterequest", key.Namespace, key.Name, err)
		}
		// Any other error passes: try again until the timeout.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CertificateRequest %s not signed within --timeout: %w", key, ctx.Err())
		case <-tick.C:
		}
	}
}
