package certmanager

import (
	"context"
	"crypto/x509"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/controller"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/internal/trustpolicy"
)

// ClusterTrustBundlePublisher publishes the CA of every ready ca Issuer as
// the signer-linked ClusterTrustBundle of issuers.cert-manager.io/<ns>.<name>,
// and of every ready ca ClusterIssuer as that of
// clusterissuers.cert-manager.io/<name>: the root its certificates verify
// against. An issuer that is deleted, not ready, or of another kind has the
// bundles certplane published for it removed.
//
// A request names an Issuer (namespace and name) or a ClusterIssuer (name
// only, no namespace). The issuers are watched, as are the CA Secrets
// certplane caches and the ClusterTrustBundles of these signers, so that a
// bundle changed or deleted by hand is put back and one left from an issuer
// deleted while certplane was down is removed; ready issuers are checked
// again every Interval, which picks up a CA Secret certplane does not cache.
type ClusterTrustBundlePublisher struct {
	// Client reads issuers and reads and writes ClusterTrustBundles.
	Client client.Client
	// Issuers resolves an issuer to its verified CA.
	Issuers *Issuers
	// Interval is how often a ca issuer's bundle is checked. If zero,
	// controller.DefaultTrustBundleInterval.
	Interval time.Duration
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=clustertrustbundles,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*,verbs=attest

// Reconcile publishes or removes one issuer's bundle.
func (r *ClusterTrustBundlePublisher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ref := issuerpolicy.SignerRef{Cluster: req.Namespace == "", Namespace: req.Namespace, Name: req.Name}
	signer := ref.SignerName()
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	iss, err := r.Issuers.Resolve(ctx, req.Namespace, ref.IssuerRef(), now)
	if err != nil {
		return ctrl.Result{}, err
	}
	caIssuer := iss.Spec != nil && iss.Spec.CA != nil
	if !caIssuer || !iss.Readiness.Ready || iss.Readiness.CA == nil {
		if err := controller.RemoveTrustBundles(ctx, r.Client, signer); err != nil {
			return ctrl.Result{}, err
		}
		if caIssuer {
			// It may become ready without an event of its own: its CA
			// Secret is not cached, or has not been issued yet.
			return ctrl.Result{RequeueAfter: r.interval()}, nil
		}
		return ctrl.Result{}, nil
	}
	if err := controller.PublishTrustBundle(ctx, r.Client, signer, []*x509.Certificate{trustAnchor(iss.Readiness)}); err != nil {
		return ctrl.Result{}, err
	}
	after := r.interval()
	if at := iss.Readiness.RecheckAt; !at.IsZero() && at.Sub(now) < after {
		after = max(at.Sub(now), time.Second) // the CA expires: remove its bundle then
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// trustAnchor is the certificate a ready ca issuer's certificates verify
// against: the root of its Secret's ca.crt or the top of its tls.crt, or,
// if that is not a CA certificate, the issuer's CA certificate itself.
func trustAnchor(res issuerpolicy.Readiness) *x509.Certificate {
	if a := res.Anchor; a != nil && a.IsCA && a.BasicConstraintsValid {
		return a
	}
	return res.CA.Certificate
}

func (r *ClusterTrustBundlePublisher) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return controller.DefaultTrustBundleInterval
}

// issuerRequest is the request of the issuer a signer names.
func issuerRequest(ref issuerpolicy.SignerRef) reconcile.Request {
	if ref.Cluster {
		return reconcile.Request{NamespacedName: types.NamespacedName{Name: ref.Name}}
	}
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}}
}

// SetupWithManager watches Issuers and ClusterIssuers, the ClusterTrustBundles
// certplane manages for their signers, and the cached Secrets their CAs are in.
func (r *ClusterTrustBundlePublisher) SetupWithManager(mgr ctrl.Manager) error {
	byBundle := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		b, ok := o.(*certv1.ClusterTrustBundle)
		if !ok || !trustpolicy.Managed(b) {
			return nil
		}
		ref, err := issuerpolicy.ParseSignerName(b.Spec.SignerName)
		if err != nil {
			return nil
		}
		return []reconcile.Request{issuerRequest(ref)}
	})
	bySecret := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, s client.Object) []reconcile.Request {
		return r.issuersOfSecret(ctx, s.GetNamespace(), s.GetName())
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("issuer-clustertrustbundles").
		Watches(&cmv1.Issuer{}, &handler.EnqueueRequestForObject{}).
		Watches(&cmv1.ClusterIssuer{}, &handler.EnqueueRequestForObject{}).
		Watches(&certv1.ClusterTrustBundle{}, byBundle).
		Watches(&corev1.Secret{}, bySecret).
		Complete(r)
}

// issuersOfSecret are the requests of the ca issuers whose CA is in the
// Secret namespace/name.
func (r *ClusterTrustBundlePublisher) issuersOfSecret(ctx context.Context, namespace, name string) []reconcile.Request {
	var reqs []reconcile.Request
	var issuers cmv1.IssuerList
	if err := r.Client.List(ctx, &issuers, client.InNamespace(namespace)); err == nil {
		for _, is := range issuers.Items {
			if is.Spec.CA != nil && is.Spec.CA.SecretName == name {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: is.Namespace, Name: is.Name}})
			}
		}
	}
	if namespace != r.Issuers.ClusterResourceNamespace {
		return reqs
	}
	var clusterIssuers cmv1.ClusterIssuerList
	if err := r.Client.List(ctx, &clusterIssuers); err == nil {
		for _, ci := range clusterIssuers.Items {
			if ci.Spec.CA != nil && ci.Spec.CA.SecretName == name {
				reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: ci.Name}})
			}
		}
	}
	return reqs
}
