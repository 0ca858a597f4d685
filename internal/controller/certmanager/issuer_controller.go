package certmanager

import (
	"context"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	acmectrl "github.com/certplane/certplane/internal/controller/acme"
	"github.com/certplane/certplane/internal/issuerpolicy"
)

// notReadyRecheck is how often an issuer that is not ready looks again at
// its CA Secret, so that it recovers by itself once the Secret is fixed.
const notReadyRecheck = 10 * time.Second

// IssuerReconciler keeps the Ready condition of Issuers, or of
// ClusterIssuers when Cluster is set.
type IssuerReconciler struct {
	Reader client.Reader
	// SecretReader reads CA Secrets straight from the apiserver, so that no
	// Secret is cached.
	SecretReader client.Reader
	Status       client.SubResourceWriter
	Events       eventRecorder
	// Keys opens the keys that ca issuers' Secrets name in PKCS#11 tokens.
	Keys *CAKeys
	// Cluster makes this the ClusterIssuer reconciler.
	Cluster bool
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers.
	ClusterResourceNamespace string
	// Writer creates the account key Secrets of ACME issuers.
	Writer client.Writer
	// Accounts parses ACME account keys and keeps ACME clients.
	Accounts *acmectrl.Accounts
	// Vaults keeps the Vault clients of vault issuers.
	Vaults *Vaults
	Now    func() time.Time
	// Rand is the entropy for account keys. If nil, crypto/rand.
	Rand io.Reader

	vaultFailures vaultFailures
}

// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers/status;clusterissuers/status,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create

// Reconcile sets one issuer's Ready condition.
func (r *IssuerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var (
		obj       client.Object
		spec      *cmv1.IssuerSpec
		status    *cmv1.IssuerStatus
		namespace = req.Namespace
	)
	if r.Cluster {
		ci := &cmv1.ClusterIssuer{}
		obj, spec, status, namespace = ci, &ci.Spec, &ci.Status, r.ClusterResourceNamespace
	} else {
		is := &cmv1.Issuer{}
		obj, spec, status = is, &is.Spec, &is.Status
	}
	if err := r.Reader.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if obj.GetDeletionTimestamp() != nil {
		return ctrl.Result{}, nil
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if spec.ACME != nil && issuerpolicy.CheckSpec(spec) == nil {
		return r.reconcileACME(ctx, obj, spec.ACME, status, namespace, now)
	}
	if spec.Vault != nil && issuerpolicy.Kind(spec) == "vault" && r.Vaults != nil {
		return r.reconcileVault(ctx, obj, spec.Vault, status, namespace, now)
	}
	var (
		secret     *corev1.Secret
		secretName string
	)
	if spec.CA != nil && issuerpolicy.CheckSpec(spec) == nil {
		secretName = spec.CA.SecretName
		s := &corev1.Secret{}
		err := r.SecretReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secretName}, s)
		switch {
		case err == nil:
			secret = s
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
	}
	res, err := evaluateCAIssuer(ctx, r.Keys, spec, secretName, secret, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	cond := cmv1.IssuerCondition{
		Type: "Ready", Status: cmv1.ConditionFalse, Reason: res.Reason, Message: res.Message, ObservedGeneration: obj.GetGeneration(),
	}
	if res.Ready {
		cond.Status = cmv1.ConditionTrue
	}
	if setIssuerCondition(status, cond, now) {
		if err := r.Status.Update(ctx, obj); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		eventType := corev1.EventTypeNormal
		if !res.Ready {
			eventType = corev1.EventTypeWarning
		}
		r.Events.Eventf(obj, nil, eventType, res.Reason, "Verify", "%s", cond.Message)
	}
	switch {
	case !res.Ready && spec.CA != nil && res.Reason != issuerpolicy.ReasonInvalidConfig:
		return ctrl.Result{RequeueAfter: notReadyRecheck}, nil
	case !res.RecheckAt.IsZero():
		return ctrl.Result{RequeueAfter: res.RecheckAt.Sub(now)}, nil
	}
	return ctrl.Result{}, nil
}

// setIssuerCondition puts cond into status and reports whether anything
// changed; the transition time moves only when the status does.
func setIssuerCondition(status *cmv1.IssuerStatus, cond cmv1.IssuerCondition, now time.Time) bool {
	t := metav1.NewTime(now)
	for i, c := range status.Conditions {
		if c.Type != cond.Type {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message && c.ObservedGeneration == cond.ObservedGeneration {
			return false
		}
		cond.LastTransitionTime = c.LastTransitionTime
		if c.Status != cond.Status || cond.LastTransitionTime == nil {
			cond.LastTransitionTime = &t
		}
		status.Conditions[i] = cond
		return true
	}
	cond.LastTransitionTime = &t
	status.Conditions = append(status.Conditions, cond)
	return true
}

const indexCASecret = "issuer.secretName"

// SetupWithManager watches Issuers or ClusterIssuers, and the cached
// Secrets their ca issuers name, so that an issuer becomes ready as soon as
// the CA Secret it waits for is issued.
func (r *IssuerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	var (
		obj  client.Object     = &cmv1.Issuer{}
		list client.ObjectList = &cmv1.IssuerList{}
		name                   = "issuers"
	)
	if r.Cluster {
		obj, list, name = &cmv1.ClusterIssuer{}, &cmv1.ClusterIssuerList{}, "clusterissuers"
	}
	err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, indexCASecret, func(o client.Object) []string {
		var spec cmv1.IssuerSpec
		switch i := o.(type) {
		case *cmv1.Issuer:
			spec = i.Spec
		case *cmv1.ClusterIssuer:
			spec = i.Spec
		}
		switch {
		case spec.CA != nil:
			return []string{spec.CA.SecretName}
		case spec.ACME != nil:
			return []string{spec.ACME.PrivateKey.Name}
		}
		return nil
	})
	if err != nil {
		return err
	}
	bySecret := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, s client.Object) []reconcile.Request {
		opts := []client.ListOption{client.MatchingFields{indexCASecret: s.GetName()}}
		if r.Cluster {
			if s.GetNamespace() != r.ClusterResourceNamespace {
				return nil
			}
		} else {
			opts = append(opts, client.InNamespace(s.GetNamespace()))
		}
		l := list.DeepCopyObject().(client.ObjectList)
		if err := mgr.GetClient().List(ctx, l, opts...); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		_ = meta.EachListItem(l, func(o runtime.Object) error {
			co := o.(client.Object)
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: co.GetNamespace(), Name: co.GetName()}})
			return nil
		})
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).For(obj).Watches(&corev1.Secret{}, bySecret).Named(name).Complete(r)
}
