package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/crpolicy"
)

// newDecideCRCommand is `approve` or `deny` of a cert-manager
// CertificateRequest, as cmctl's.
func newDecideCRCommand(o Options, approve bool) *cobra.Command {
	verb, condType, past := "deny", crpolicy.ConditionDenied, "denied"
	if approve {
		verb, condType, past = "approve", crpolicy.ConditionApproved, "approved"
	}
	var (
		kf              kubeFlags
		reason, message string
	)
	cmd := &cobra.Command{
		Use:   verb + " NAME [-n NS] [--reason R] [--message M]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a cert-manager CertificateRequest, as cmctl " + verb,
		Long: `Mark a cert-manager CertificateRequest as ` + strings.ToUpper(past[:1]) + past[1:] + ` through its status subresource, as cmctl
` + verb + ` does (for a CertificateSigningRequest, use certplane csr ` + verb + `). It needs
the ` + verb + ` verb on the signer of the request's issuer
(signers.cert-manager.io). A request already approved or denied is left as it is.`,
		Example: `  certplane ` + verb + ` my-cr --namespace default --reason ManualReview --message "checked by the PKI team"`,
		Args:    exactName("CertificateRequest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("--reason is empty: give who %s this CertificateRequest", past)
			}
			if message == "" {
				return fmt.Errorf("--message is empty: give why this CertificateRequest is %s", past)
			}
			k, err := kf.connect(o)
			if err != nil {
				return err
			}
			if err := decideCR(cmd.Context(), k, args[0], condType, reason, message); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "%s CertificateRequest '%s/%s'\n", strings.ToUpper(past[:1])+past[1:], k.namespace, args[0])
			return err
		},
	}
	kf.bind(cmd.Flags())
	defaultReason := "CertplaneDeny"
	if approve {
		defaultReason = "CertplaneApprove"
	}
	cmd.Flags().StringVar(&reason, "reason", defaultReason, "the condition's reason: who "+past+" it")
	cmd.Flags().StringVar(&message, "message", `manually `+past+` by "certplane"`, "the condition's message: why it was "+past)
	return cmd
}

var errDecided = errors.New("the CertificateRequest is already approved or denied")

func decideCR(ctx context.Context, k *kube, name, condType, reason, message string) error {
	cr := &cmv1.CertificateRequest{}
	if err := k.cm.Get(ctx, types.NamespacedName{Namespace: k.namespace, Name: name}, cr); err != nil {
		return apiError("certificaterequest", k.namespace, name, err)
	}
	st := crpolicy.StateOf(cr)
	switch {
	case st.Approved:
		return &messageError{msg: fmt.Sprintf("CertificateRequest %s/%s is already approved", cr.Namespace, cr.Name), err: errDecided}
	case st.Denied:
		return &messageError{msg: fmt.Sprintf("CertificateRequest %s/%s is already denied", cr.Namespace, cr.Name), err: errDecided}
	}
	now := metav1.Now()
	cr.Status.Conditions = append(cr.Status.Conditions, cmv1.CertificateRequestCondition{
		Type: condType, Status: cmv1.ConditionTrue, Reason: reason, Message: message, LastTransitionTime: &now,
	})
	if err := k.cm.Status().Update(ctx, cr); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("CertificateRequest %s/%s changed while being decided; run again: %w", cr.Namespace, cr.Name, err)
		}
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return &messageError{msg: fmt.Sprintf("CertificateRequest %s/%s: %s", cr.Namespace, cr.Name, admissionMessage(err)), err: err}
		}
		return err
	}
	return nil
}

// admissionMessage is what an admission policy or the RBAC check said,
// without the apiserver's preamble.
func admissionMessage(err error) string {
	msg := err.Error()
	for _, marker := range []string{"denied request: ", "forbidden: "} {
		if i := strings.LastIndex(msg, marker); i >= 0 {
			return "refused: " + msg[i+len(marker):]
		}
	}
	return msg
}
