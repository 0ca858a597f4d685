package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/certplane/certplane/config"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs applies the embedded CRDs with server-side apply, all at
// once, and waits until each is Established, so that their APIs are served
// when it returns; then the admission policies of CertificateRequests
// (config/policy). WaitAdmissible tells when the apiserver applies those.
func InstallCRDs(ctx context.Context, dyn dynamic.Interface) error {
	files, err := fs.Glob(config.CRDs, "crd/bases/*.yaml")
	if err != nil {
		return err
	}
	api := dyn.Resource(crdResource)
	names := make([]string, 0, len(files))
	for _, f := range files {
		data, err := config.CRDs.ReadFile(f)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if _, err := api.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "certplane", Force: true}); err != nil {
			return fmt.Errorf("installing CRD %s: %w", obj.GetName(), err)
		}
		names = append(names, obj.GetName())
	}
	for _, name := range names {
		if err := waitEstablished(ctx, dyn, name); err != nil {
			return err
		}
	}
	return installPolicies(ctx, dyn)
}

// WaitAdmissible waits until a CertificateRequest passes admission with the
// identity policy applied (tried with a server-side dry run that claims
// another user): the apiserver loads new policies and learns the types of a
// new custom resource a moment after they are created, and meanwhile it
// either skips the policy or refuses the request.
func WaitAdmissible(ctx context.Context, dyn dynamic.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
		"metadata": map[string]any{"generateName": "certplane-admission-check-", "namespace": "default"},
		"spec":     map[string]any{"request": "Y2hlY2s=", "issuerRef": map[string]any{"name": "check"}, "username": "certplane-admission-check"},
	}}
	res := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}).Namespace("default")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := res.Create(ctx, cr, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			if user, _, _ := unstructured.NestedString(out.Object, "spec", "username"); user != "certplane-admission-check" {
				return nil
			}
			err = errors.New("the identity policy is not applied yet")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CertificateRequests are not admitted yet: %w", err)
		case <-tick.C:
		}
	}
}

// policyResources are the resources of the kinds in config/policy.
var policyResources = map[string]schema.GroupVersionResource{
	"ValidatingAdmissionPolicy":        {Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"},
	"ValidatingAdmissionPolicyBinding": {Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"},
	"MutatingAdmissionPolicy":          {Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingadmissionpolicies"},
	"MutatingAdmissionPolicyBinding":   {Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingadmissionpolicybindings"},
}

var clusterRoleResource = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}

// InstallAggregatedRoles applies cert-manager's aggregated ClusterRoles
// (config/rbac/aggregated_roles.yaml) with server-side apply.
// kube-controller-manager's clusterrole-aggregation controller then adds
// their rules to view, edit and admin.
func InstallAggregatedRoles(ctx context.Context, dyn dynamic.Interface) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(config.AggregatedRoles)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rbac/aggregated_roles.yaml: %w", err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return fmt.Errorf("rbac/aggregated_roles.yaml: %w", err)
		}
		if obj.GetKind() != "ClusterRole" {
			return fmt.Errorf("rbac/aggregated_roles.yaml: unexpected kind %q", obj.GetKind())
		}
		if _, err := dyn.Resource(clusterRoleResource).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "certplane", Force: true}); err != nil {
			return fmt.Errorf("installing ClusterRole %s: %w", obj.GetName(), err)
		}
	}
}

// installPolicies applies the embedded admission policies of
// CertificateRequests and their bindings, each policy first, with
// server-side apply.
func installPolicies(ctx context.Context, dyn dynamic.Interface) error {
	for _, f := range []string{
		"policy/certificaterequest-approval-policy.yaml", "policy/certificaterequest-approval-binding.yaml",
		"policy/certificaterequest-identity-policy.yaml", "policy/certificaterequest-identity-binding.yaml",
		"policy/certificate-identity-policy.yaml", "policy/certificate-identity-binding.yaml",
	} {
		data, err := config.Policies.ReadFile(f)
		if err != nil {
			return err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		gvr, ok := policyResources[obj.GetKind()]
		if !ok {
			return fmt.Errorf("%s: unexpected kind %s", f, obj.GetKind())
		}
		if _, err := dyn.Resource(gvr).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "certplane", Force: true}); err != nil {
			return fmt.Errorf("installing %s %s (needs kube-apiserver 1.30 or later): %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		crd, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}
