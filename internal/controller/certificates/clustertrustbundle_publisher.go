package certificates

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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
// of signer (see trustpolicy.Bundle for its name and content), and returns
// when to look again: zero unless an old CA is kept.
//
// A rotated CA never leaves a gap: the CAs of the bundles already published
// for the signer that are not in cas are old, and each stays in the bundle
// until the latest NotAfter of the unexpired certificates issued lists that
// lead to it, never past its own NotAfter (trustpolicy.Retain); the time
// returned is the earliest such end. issued is called only when there is an
// old CA; nil sees no certificates. cas may be empty (a signer with no
// usable CA now): then only old CAs still needed stay, and the signer's
// bundles go when there are none.
//
// When the CAs changed, the new bundle is created first and the signer's
// other bundles that certplane manages are deleted after it, so that the
// signer is never without one. Bundles others made are left alone. When the
// bundle is already published, nothing is written. Writing a signer-linked
// bundle needs the attest verb on the signer.
func PublishTrustBundle(ctx context.Context, c client.Client, signer string, cas []*x509.Certificate, issued IssuedLister, now time.Time) (time.Time, error) {
	existing, err := trustBundles(ctx, c, "")
	if err != nil {
		return time.Time{}, err
	}
	published := trustpolicy.PublishedCAs(signer, existing)
	var seen []trustpolicy.Issued
	if issued != nil && hasOldCA(cas, published) {
		if seen, err = issued(ctx); err != nil {
			return time.Time{}, fmt.Errorf("signer %s: listing the certificates of its old CAs: %w", signer, err)
		}
	}
	overlap := trustpolicy.Retain(cas, published, seen, now)
	if len(overlap.CAs) == 0 {
		return time.Time{}, applyTrustBundles(ctx, c, signer, trustpolicy.Plan(signer, nil, existing))
	}
	want, err := trustpolicy.Bundle(signer, overlap.CAs)
	if err != nil {
		return time.Time{}, err
	}
	if existing, err = withNamed(ctx, c, existing, want.Name); err != nil {
		return time.Time{}, err
	}
	changes := trustpolicy.Plan(signer, want, existing)
	if !changes.Empty() {
		log := logf.FromContext(ctx)
		for _, k := range overlap.Kept {
			log.Info("keeping a rotated-out CA in the ClusterTrustBundle while its certificates are valid", "signer", signer,
				"ca", k.CA.Subject.String(), "until", k.Until.UTC().Format(time.RFC3339))
		}
	}
	return overlap.RecheckAt, applyTrustBundles(ctx, c, signer, changes)
}

// hasOldCA reports whether published holds a CA that is not in current.
func hasOldCA(current, published []*x509.Certificate) bool {
	for _, p := range published {
		if !slices.ContainsFunc(current, func(c *x509.Certificate) bool { return c != nil && bytes.Equal(c.Raw, p.Raw) }) {
			return true
		}
	}
	return false
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
	return withNamed(ctx, c, list.Items, name)
}

// withNamed is bundles and, when name is set and none of them has it, the
// bundle of that name whoever made it, if it exists.
func withNamed(ctx context.Context, c client.Client, bundles []certv1.ClusterTrustBundle, name string) ([]certv1.ClusterTrustBundle, error) {
	if name == "" || slices.ContainsFunc(bundles, func(b certv1.ClusterTrustBundle) bool { return b.Name == name }) {
		return bundles, nil
	}
	var b certv1.ClusterTrustBundle
	switch err := c.Get(ctx, types.NamespacedName{Name: name}, &b); {
	case err == nil:
		return append(bundles, b), nil
	case apierrors.IsNotFound(err):
		return bundles, nil
	default:
		return nil, fmt.Errorf("reading ClusterTrustBundle %s: %w", name, err)
	}
}

// IssuedLister lists the certificates certplane can see that a signer
// issued, for PublishTrustBundle to tell which old CAs are still needed.
type IssuedLister func(ctx context.Context) ([]trustpolicy.Issued, error)

// AllIssued lists what each of listers lists; nil when there are none.
func AllIssued(listers ...IssuedLister) IssuedLister {
	if len(listers) == 0 {
		return nil
	}
	return func(ctx context.Context) ([]trustpolicy.Issued, error) {
		var all []trustpolicy.Issued
		for _, l := range listers {
			got, err := l(ctx)
			if err != nil {
				return nil, err
			}
			all = append(all, got...)
		}
		return all, nil
	}
}

// IssuedCSRs lists the certificates of signer's issued
// CertificateSigningRequests (status.certificate) that r holds: read from
// the manager's cache, which the CSR controllers fill already.
func IssuedCSRs(r client.Reader, signer string) IssuedLister {
	return func(ctx context.Context) ([]trustpolicy.Issued, error) {
		var list certv1.CertificateSigningRequestList
		if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing CertificateSigningRequests: %w", err)
		}
		var out []trustpolicy.Issued
		for i := range list.Items {
			csr := &list.Items[i]
			if csr.Spec.SignerName != signer || len(csr.Status.Certificate) == 0 {
				continue
			}
			if is, ok := ParseIssued(csr.Status.Certificate); ok {
				out = append(out, is)
			}
		}
		return out, nil
	}
}

// IssuedPodCertificates lists the certificates of signer's issued
// PodCertificateRequests (status.certificateChain) that r holds: read from
// the manager's cache, which the PodCertificateRequest controller fills
// already. A cluster that does not serve them has none.
func IssuedPodCertificates(r client.Reader, signer string) IssuedLister {
	return func(ctx context.Context) ([]trustpolicy.Issued, error) {
		var list certv1.PodCertificateRequestList
		if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			if meta.IsNoMatchError(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("listing PodCertificateRequests: %w", err)
		}
		var out []trustpolicy.Issued
		for i := range list.Items {
			pcr := &list.Items[i]
			if pcr.Spec.SignerName != signer || pcr.Status.CertificateChain == "" {
				continue
			}
			if is, ok := ParseIssued([]byte(pcr.Status.CertificateChain)); ok {
				out = append(out, is)
			}
		}
		return out, nil
	}
}

// ParseIssued reads an issued chain, PEM: its first certificate is the
// one issued, the others its chain. Other blocks are skipped; false when
// there is no certificate.
func ParseIssued(chainPEM []byte) (trustpolicy.Issued, bool) {
	var (
		certs []*x509.Certificate
		rest  = chainPEM
	)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return trustpolicy.Issued{}, false
	}
	return trustpolicy.Issued{Certificate: certs[0], Chain: certs[1:]}, true
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
//
// When a CA file is replaced by a new CA, the old CA stays in the bundle
// beside the new one while an unexpired certificate of it is seen among the
// signer's issued CertificateSigningRequests and PodCertificateRequests
// (see PublishTrustBundle); each signer is checked again when the
// retention of an old CA ends, if that comes before the next Interval.
type ClusterTrustBundlePublisher struct {
	// Client reads and writes ClusterTrustBundles, and reads the signers'
	// requests (the manager's cache).
	Client client.Client
	// CAs maps each signer to publish to its CA.
	CAs map[string]CASource
	// CSRs and PodCertificateRequests say whether the signers' issued
	// CertificateSigningRequests and PodCertificateRequests are read to
	// find the certificates of an old CA; set them only where other
	// controllers cache these kinds already, so none is cached for this.
	CSRs, PodCertificateRequests bool
	// Interval is how often each signer's bundle is checked. If zero,
	// DefaultTrustBundleInterval.
	Interval time.Duration
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
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
	var issued []IssuedLister
	if r.CSRs {
		issued = append(issued, IssuedCSRs(r.Client, signer))
	}
	if r.PodCertificateRequests {
		issued = append(issued, IssuedPodCertificates(r.Client, signer))
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	recheck, err := PublishTrustBundle(ctx, r.Client, signer, []*x509.Certificate{ca.Certificate}, AllIssued(issued...), now)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: RecheckAfter(r.interval(), now, recheck)}, nil
}

// RecheckAfter is how long to wait before checking a bundle again: interval,
// or less when one of at (zero ones ignored) comes sooner, but at least a
// second.
func RecheckAfter(interval time.Duration, now time.Time, at ...time.Time) time.Duration {
	after := interval
	for _, t := range at {
		if !t.IsZero() && t.Sub(now) < after {
			after = max(t.Sub(now), time.Second)
		}
	}
	return after
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
