package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// The Issuing condition a manual renewal sets, as cmctl renew sets it.
const (
	reasonManuallyTriggered  = "ManuallyTriggered"
	messageManuallyTriggered = "Certificate re-issuance manually triggered"
)

func newRenewCommand(o Options) *cobra.Command {
	var (
		kf            kubeFlags
		all, allNS    bool
		labelSelector string
	)
	cmd := &cobra.Command{
		Use:   "renew (NAME... | --all | -l SELECTOR) [-n NS | -A]",
		Short: "Mark Certificates for manual renewal, as cmctl renew",
		Long: `Mark cert-manager Certificates for renewal now: set their Issuing condition
to True with reason ManuallyTriggered, through the status subresource, as
cmctl renew does. The controller issues each again and clears the condition.

Give Certificate names, --all, or a label selector (-l), one of the three;
-A works across namespaces with --all or -l.`,
		Example: `  certplane renew my-app vault
  certplane renew --namespace kube-system --all
  certplane renew --all-namespaces -l app=my-service`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateRenew(args, all, labelSelector, allNS); err != nil {
				return err
			}
			var sel labels.Selector
			if labelSelector != "" {
				var err error
				if sel, err = labels.Parse(labelSelector); err != nil {
					return fmt.Errorf("--selector %q: %w", labelSelector, err)
				}
			}
			k, err := kf.connect(o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var targets []types.NamespacedName
			if len(args) > 0 {
				for _, name := range args {
					targets = append(targets, types.NamespacedName{Namespace: k.namespace, Name: name})
				}
			} else {
				var list cmv1.CertificateList
				opts := []client.ListOption{}
				if !allNS {
					opts = append(opts, client.InNamespace(k.namespace))
				}
				if sel != nil {
					opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
				}
				if err := k.cm.List(ctx, &list, opts...); err != nil {
					return apiError("certificates", "", "", err)
				}
				for _, c := range list.Items {
					targets = append(targets, types.NamespacedName{Namespace: c.Namespace, Name: c.Name})
				}
				if len(targets) == 0 {
					if allNS {
						fmt.Fprintln(o.ErrOut, "No Certificates found")
					} else {
						fmt.Fprintf(o.ErrOut, "No Certificates found in %s namespace.\n", k.namespace)
					}
					return nil
				}
			}
			var errs []error
			for _, t := range targets {
				if err := renewCertificate(ctx, k.cm, t); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(o.Out, "Manually triggered issuance of Certificate %s\n", t)
			}
			return errors.Join(errs...)
		},
	}
	kf.bind(cmd.Flags())
	cmd.Flags().StringVarP(&labelSelector, "selector", "l", "", "renew the Certificates whose labels match, such as app=web")
	cmd.Flags().BoolVarP(&allNS, "all-namespaces", "A", false, "in every namespace (with --all or -l)")
	cmd.Flags().BoolVar(&all, "all", false, "renew every Certificate in the namespace, or in every namespace with -A")
	return cmd
}

// validateRenew applies cmctl renew's rules: exactly one of names, --all
// and a selector; -A not with names.
func validateRenew(args []string, all bool, selector string, allNS bool) error {
	var given []string
	if len(args) > 0 {
		given = append(given, fmt.Sprintf("the Certificate names %q", args))
	}
	if all {
		given = append(given, "--all")
	}
	if selector != "" {
		given = append(given, "a label selector")
	}
	switch {
	case len(given) > 1:
		return fmt.Errorf("cannot give %s together with %s", given[0], strings.Join(given[1:], " and "))
	case len(given) == 0:
		return errors.New("give one or more Certificate names, a label selector (-l), or --all")
	case allNS && len(args) > 0:
		return errors.New("cannot give Certificate names with --all-namespaces")
	}
	return nil
}

// renewCertificate sets the Issuing condition, retrying when the
// Certificate changed in between.
func renewCertificate(ctx context.Context, c client.Client, key types.NamespacedName) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		crt := &cmv1.Certificate{}
		if err := c.Get(ctx, key, crt); err != nil {
			return err
		}
		now := metav1.Now()
		cond := cmv1.CertificateCondition{Type: "Issuing", Status: cmv1.ConditionTrue, Reason: reasonManuallyTriggered,
			Message: messageManuallyTriggered, LastTransitionTime: &now, ObservedGeneration: crt.Generation}
		replaced := false
		for i := range crt.Status.Conditions {
			if crt.Status.Conditions[i].Type == cond.Type {
				if crt.Status.Conditions[i].Status == cond.Status {
					cond.LastTransitionTime = crt.Status.Conditions[i].LastTransitionTime
				}
				crt.Status.Conditions[i], replaced = cond, true
			}
		}
		if !replaced {
			crt.Status.Conditions = append(crt.Status.Conditions, cond)
		}
		return c.Status().Update(ctx, crt)
	})
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || notServed(err) {
			return apiError("certificate", key.Namespace, key.Name, err)
		}
		return fmt.Errorf("triggering issuance of Certificate %s: %w", key, err)
	}
	return nil
}
