package controller

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/certplane/certplane/internal/trustpolicy"
)

// PublishTrustBundle publishes cas as the signer-linked ClusterTrustBundle
// of signer (see trustpolicy.Bundle for its name and content). When the CAs
// changed, the new bundle is created first and the signer's other bundles
// that certplane manages are deleted after it, so that the signer is never
// without one. Bundles others made are left alone. When the bundle is
// already published, nothing is written. Writing a signer-linked bundle
// needs the attest verb on the signer.
func PublishTrustBundle(ctx context.Context, c client.Client, signer string, cas []*x509.Certificate) error {
	want, err := trustpolicy.Bundle(signer, cas)
	if err != nil {
		return err
	}
	existing, err := trustBundles(ctx, c, want.Name)
	if err != nil {
		return err
	}
	return applyTrustBundles(ctx, c, signer, trustpolicy.Plan(signer, want, existing))
}

// RemoveTrustBundles deletes the ClusterTrustBundles of signer that
// certplane manages; the others stay. Nothing is written when there are
// none.
func RemoveTrustBundles(ctx context.Context, c client.Client, signer string) error {
	existing, err := trustBundles(ctx, c, "")
	if err != nil {
		return err
	}
	return applyTrustBundles(ctx, c, signer, trustpolicy.Plan(signer, nil, existing))
}

// trustBundles lists the bundles certplane manages and, when name is set,
// the bundle of that name whoever made it.
func trustBundles(ctx context.Context, c client.Client, name string) ([]certv1.ClusterTrustBundle, error) {
	var list certv1.ClusterTrustBundleList
	if err := c.List(ctx, &list, client.MatchingLabels{trustpolicy.LabelManagedBy: trustpolicy.ManagedBy}); err != nil {
		return nil, fmt.Errorf("listing ClusterTrustBundles: %w", err)
	}
	if name == "" {
		return list.Items, nil
	}
	for _, b := range list.Items {
		if b.Name == name {
			return list.Items, nil
		}
	}
	var b certv1.ClusterTrustBundle
	switch err := c.Get(ctx, types.NamespacedName{Name: name}, &b); {
	case err == nil:
		return append(list.Items, b), nil
	case apierrors.IsNotFound(err):
		return list.Items, nil
	default:
		return nil, fmt.Errorf("reading ClusterTrustBundle %s: %w", name, err)
	}
}

// applyTrustBundles writes the changes: the create or update first, the
// deletions after. A bundle that another writer created meanwhile, or that
// is already gone, is no error.
func applyTrustBundles(ctx context.Context, c client.Client, signer string, ch trustpolicy.Changes) error {
	log := logf.FromContext(ctx)
	if ch.Create != nil {
		switch err := c.Create(ctx, ch.Create); {
		case err == nil:
			log.Info("published ClusterTrustBundle", "clusterTrustBundle", ch.Create.Name, "signer", signer)
		case !apierrors.IsAlreadyExists(err):
			return fmt.Errorf("creating ClusterTrustBundle %s: %w", ch.Create.Name, err)
		}
	}
	if ch.Update != nil {
		if err := c.Update(ctx, ch.Update); err != nil {
			return fmt.Errorf("updating ClusterTrustBundle %s: %w", ch.Update.Name, err)
		}
		log.Info("updated ClusterTrustBundle", "clusterTrustBundle", ch.Update.Name, "signer", signer)
	}
	for _, name := range ch.Delete {
		b := &certv1.ClusterTrustBundle{}
		b.Name = name
		switch err := c.Delete(ctx, b); {
		case err == nil:
			log.Info("deleted ClusterTrustBundle", "clusterTrustBundle", name, "signer", signer)
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("deleting ClusterTrustBundle %s: %w", name, err)
		}
	}
	return nil
}

// DefaultTrustBundleInterval is how often the publishers check that the
// bundles they publish are current, when not told otherwise.
const DefaultTrustBundleInterval = 30 * time.Second

// ClusterTrustBundlePublisher publishes the CA of each signer certplane
// signs with from files (the kubernetes.io signers, certplane.io/spiffe) as
// a signer-linked ClusterTrustBundle, on start, whenever one of the
// signer's bundles changes or goes, and every Interval, which picks up a CA
// whose files were replaced. A request names a signer. It does nothing else.
type ClusterTrustBundlePublisher struct {
	// Client reads and writes ClusterTrustBundles.
	Client client.Client
	// CAs maps each signer to publish to its CA.
	CAs map[string]CASource
	// Interval is how often each signer's bundle is checked. If zero,
	// DefaultTrustBundleInterval.
	Interval time.Duration
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=clustertrustbundles,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=certplane.io/spiffe;kubernetes.io/kube-apiserver-client;kubernetes.io/kube-apiserver-client-kubelet;kubernetes.io/kubelet-serving;kubernetes.io/legacy-unknown,verbs=attest

// Reconcile publishes one signer's CA. A CA that cannot be read leaves the
// published bundle as it is and is retried.
func (r *ClusterTrustBundlePublisher) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	signer := req.Name
	src, ok := r.CAs[signer]
	if !ok {
		return ctrl.Result{}, nil
	}
	ca, err := src.CA()
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("signer %s: %w", signer, err)
	}
	if err := PublishTrustBundle(ctx, r.Client, signer, []*x509.Certificate{ca.Certificate}); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.interval()}, nil
}

func (r *ClusterTrustBundlePublisher) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultTrustBundleInterval
}

// SetupWithManager queues every signer once at start and watches
// ClusterTrustBundles, so that a bundle of one of the signers that is
// changed or deleted is put back at once.
func (r *ClusterTrustBundlePublisher) SetupWithManager(mgr ctrl.Manager) error {
	signerRequest := func(signer string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Name: signer}}
	}
	start := source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		for signer := range r.CAs {
			q.Add(signerRequest(signer))
		}
		return nil
	})
	byBundle := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		b, ok := o.(*certv1.ClusterTrustBundle)
		if !ok {
			return nil
		}
		if _, served := r.CAs[b.Spec.SignerName]; !served {
			return nil
		}
		return []reconcile.Request{signerRequest(b.Spec.SignerName)}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("clustertrustbundles").
		WatchesRawSource(start).
		Watches(&certv1.ClusterTrustBundle{}, byBundle).
		Complete(r)
}
