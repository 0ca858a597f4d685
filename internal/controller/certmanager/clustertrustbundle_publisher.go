package certmanager

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/pager"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/internal/trustpolicy"
)

// ClusterTrustBundlePublisher publishes the CA of every ready ca Issuer as
// the signer-linked ClusterTrustBundle of issuers.cert-manager.io/<ns>.<name>,
// and of every ready ca ClusterIssuer as that of
// clusterissuers.cert-manager.io/<name>: the root its certificates verify
// against. An issuer that is deleted or of another kind has the bundles
// certplane published for it removed.
//
// When an issuer's CA is rotated (its Secret renewed with a new key, or the
// issuer pointed at another Secret), the old CA stays in the bundle beside
// the new one until no unexpired certificate of it is seen, and never past
// its own NotAfter (see certificates.PublishTrustBundle): the certificates
// are those of the Secrets of Certificates (read live, a page at a time,
// only while an old CA is kept) and the
// issuer's CertificateSigningRequests and PodCertificateRequests. A ca
// issuer that is not ready keeps only such old CAs, and has its bundles
// removed when none is needed.
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
	// Secrets lists the Secrets of Certificates, whose certificates the
	// cache does not hold, while an old CA is kept: the apiserver. If nil,
	// Client.
	Secrets client.Reader
	// Issuers resolves an issuer to its verified CA.
	Issuers *Issuers
	// Interval is how often a ca issuer's bundle is checked. If zero,
	// certificates.DefaultTrustBundleInterval.
	Interval time.Duration
	// CSRs and PodCertificateRequests say whether the issuers' issued
	// CertificateSigningRequests and PodCertificateRequests are read, with
	// the Secrets certplane caches, to find the certificates of an old CA;
	// set them only where other controllers cache these kinds already.
	CSRs, PodCertificateRequests bool
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
	if iss.Spec == nil || iss.Spec.CA == nil {
		// Deleted, or not a ca issuer: its bundles go.
		return ctrl.Result{}, certificates.RemoveTrustBundles(ctx, r.Client, signer)
	}
	var current []*x509.Certificate
	if iss.Readiness.Ready && iss.Readiness.CA != nil {
		current = []*x509.Certificate{trustAnchor(iss.Readiness)}
	}
	// A ca issuer that is not ready (its Secret missing or being replaced)
	// publishes no CA of its own, but keeps the old ones its certificates
	// still need; with none, its bundles go.
	recheck, err := certificates.PublishTrustBundle(ctx, r.Client, signer, current, r.issued(ref), now)
	if err != nil {
		return ctrl.Result{}, err
	}
	// A ca issuer is checked again every interval: it may become ready
	// without an event of its own (its CA Secret is not cached, or not yet
	// issued), and an old CA's last certificates may be renewed or go.
	// Also when the CA expires, to remove its bundle then, and when an old
	// CA's retention ends.
	return ctrl.Result{RequeueAfter: certificates.RecheckAfter(r.interval(), now, iss.Readiness.RecheckAt, recheck)}, nil
}

// issued lists the certificates certplane can see that the issuer ref may
// have issued, for an old CA of its bundle: the Secrets of Certificates
// (labelled controller.cert-manager.io/fao, in the Issuer's namespace, or
// anywhere for a ClusterIssuer), read from the apiserver a page at a time
// since the cache holds none of their data, and, when set, the issued
// CertificateSigningRequests and PodCertificateRequests of its signer
// name. Which of them an old CA issued is decided by trustpolicy.Retain.
func (r *ClusterTrustBundlePublisher) issued(ref issuerpolicy.SignerRef) certificates.IssuedLister {
	signer := ref.SignerName()
	listers := []certificates.IssuedLister{func(ctx context.Context) ([]trustpolicy.Issued, error) {
		namespace := ref.Namespace
		if ref.Cluster {
			namespace = ""
		}
		var out []trustpolicy.Issued
		err := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := &corev1.SecretList{}
			return list, r.secrets().List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{certpolicy.LabelCached: "true"},
				client.Limit(opts.Limit), client.Continue(opts.Continue))
		}).EachListItem(ctx, metav1.ListOptions{}, func(o runtime.Object) error {
			s, ok := o.(*corev1.Secret)
			if !ok {
				return nil
			}
			is, ok := certificates.ParseIssued(s.Data[corev1.TLSCertKey])
			if !ok {
				return nil
			}
			if ca, ok := certificates.ParseIssued(s.Data["ca.crt"]); ok {
				is.Chain = append(append(is.Chain, ca.Certificate), ca.Chain...)
			}
			out = append(out, is)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing Secrets: %w", err)
		}
		return out, nil
	}}
	if r.CSRs {
		listers = append(listers, certificates.IssuedCSRs(r.Client, signer))
	}
	if r.PodCertificateRequests {
		listers = append(listers, certificates.IssuedPodCertificates(r.Client, signer))
	}
	return certificates.AllIssued(listers...)
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

func (r *ClusterTrustBundlePublisher) secrets() client.Reader {
	if r.Secrets != nil {
		return r.Secrets
	}
	return r.Client
}

func (r *ClusterTrustBundlePublisher) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return certificates.DefaultTrustBundleInterval
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
