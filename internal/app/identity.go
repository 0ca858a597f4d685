package app

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/certplane/certplane/config"
)

// ControllerUser is the identity certplane's controllers use in `certplane
// up`: a client certificate with this CN and no groups.
const ControllerUser = "certplane:controller"

// GrantControllerRole creates or updates the controllers' ClusterRole (the
// one config/ ships) and binds it to user, so that the controllers run with
// exactly the permissions a cluster deployment gives them.
func GrantControllerRole(ctx context.Context, cs kubernetes.Interface, user string) error {
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(config.ControllerRole, role); err != nil {
		return fmt.Errorf("reading the embedded controller role: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		// Named after the user, apart from config/'s binding to the
		// ServiceAccount of a cluster deployment.
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	roles := cs.RbacV1().ClusterRoles()
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		old, err := roles.Get(ctx, role.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		old.Rules = role.Rules
		if _, err := roles.Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating ClusterRole %s: %w", role.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("creating ClusterRole %s: %w", role.Name, err)
	}
	bindings := cs.RbacV1().ClusterRoleBindings()
	if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		old, err := bindings.Get(ctx, binding.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		old.Subjects = binding.Subjects
		if _, err := bindings.Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating ClusterRoleBinding %s: %w", binding.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("creating ClusterRoleBinding %s: %w", binding.Name, err)
	}
	return nil
}
