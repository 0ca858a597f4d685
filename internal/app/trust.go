package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
	"github.com/certplane/certplane/internal/bundlepolicy"
	"github.com/certplane/certplane/internal/controller/trust"
)

// BundlesController is trust-manager's Bundle controller.
const BundlesController = "bundles"

// The machine's public CA bundle and the dpkg database that says which
// version of Debian's ca-certificates made it.
const (
	defaultCAsFile = "/etc/ssl/certs/ca-certificates.crt"
	dpkgStatusFile = "/var/lib/dpkg/status"
)

// TrustOptions configure trust-manager's Bundle controller.
type TrustOptions struct {
	// Namespace is the trust namespace, the only one Bundle sources are
	// read from (--trust-namespace). If empty, "cert-manager".
	Namespace string
	// FilterExpiredCertificates drops expired certificates from every
	// bundle (--filter-expired-certificates).
	FilterExpiredCertificates bool
}

// setupTrust adds the Bundle controller where the cluster serves
// trust.cert-manager.io/v1alpha1 bundles.
//
// Its caches keep memory flat with the number of namespaces and of
// unrelated objects: targets (ConfigMaps and Secrets labelled
// trust.cert-manager.io/bundle) and namespaces are cached as metadata
// only, so a thousand copies of a 200 kB bundle cost a thousand small
// metadata records; sources are cached only for the trust namespace. The
// manager's own cache, which holds only certplane's Secrets, is left as
// it is.
func setupTrust(mgr ctrl.Manager, o Options, enabled Controllers) error {
	if !enabled.Enabled(BundlesController, true) {
		return nil
	}
	served, err := resourceServed(mgr.GetConfig(), trustv1alpha1.GroupVersion.String(), "bundles")
	if err != nil || !served {
		return err
	}
	if err := trustv1alpha1.AddToScheme(mgr.GetScheme()); err != nil {
		return err
	}
	ns := o.Trust.Namespace
	if ns == "" {
		ns = "cert-manager"
	}
	labelled, err := labels.NewRequirement(trustv1alpha1.BundleLabelKey, selection.Exists, nil)
	if err != nil {
		return err
	}
	onlyTargets := labels.NewSelector().Add(*labelled)
	noCopy := true
	targets, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		// Targets keep their managed fields: they tell whether anyone
		// changed a key since the controller's apply. Namespaces do not.
		// Lists hand out the cached objects themselves, not copies: the
		// reconciler only reads them, and a copy of a thousand targets'
		// metadata per reconcile would be garbage at once.
		ByObject: map[client.Object]cache.ByObject{
			trust.Metadata("ConfigMap"): {Label: onlyTargets, Transform: keep, UnsafeDisableDeepCopy: &noCopy},
			trust.Metadata("Secret"):    {Label: onlyTargets, Transform: keep, UnsafeDisableDeepCopy: &noCopy},
		},
		DefaultUnsafeDisableDeepCopy: &noCopy,
		DefaultTransform:             cache.TransformStripManagedFields(),
		ReaderFailOnMissingInformer:  true,
	})
	if err != nil {
		return fmt.Errorf("the Bundle targets' cache: %w", err)
	}
	sources, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultNamespaces:           map[string]cache.Config{ns: {}},
		DefaultTransform:            cache.TransformStripManagedFields(),
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return fmt.Errorf("the Bundle sources' cache: %w", err)
	}
	for _, c := range []cache.Cache{targets, sources} {
		if err := mgr.Add(c); err != nil {
			return err
		}
	}
	defaults, err := loadDefaultCAs(defaultCAsFile, dpkgStatusFile)
	if err != nil {
		// Only Bundles with useDefaultCAs need it: they report
		// SourceNotFound, the other controllers run.
		ctrl.Log.WithName("bundles").Error(err, "no default CAs for useDefaultCAs")
	}
	core, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return err
	}
	return (&trust.BundleReconciler{
		Reader: mgr.GetClient(), Sources: sources, Targets: targets, Live: mgr.GetAPIReader(),
		Writer: trust.RESTWriter{Client: core.CoreV1().RESTClient()}, Status: mgr.GetClient().Status(), Events: mgr.GetEventRecorder("certplane-bundles"),
		Namespace: ns, DefaultCAs: defaults, FilterExpired: o.Trust.FilterExpiredCertificates,
	}).SetupWithManager(mgr, targets, sources)
}

func keep(o any) (any, error) { return o, nil }

// loadDefaultCAs reads the machine's CA bundle for useDefaultCAs, with the
// version of the ca-certificates package that made it; nil when the
// machine has none (Bundles that use it then report SourceNotFound).
func loadDefaultCAs(bundleFile, statusFile string) (*bundlepolicy.DefaultCAs, error) {
	pem, err := os.ReadFile(bundleFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the default CA bundle: %w", err)
	}
	if _, err := bundlepolicy.ParseCertificates(pem); err != nil {
		return nil, fmt.Errorf("the default CA bundle %s: %w", bundleFile, err)
	}
	status, err := os.ReadFile(statusFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the version of the default CA bundle: %w", err)
	}
	version := bundlepolicy.DebianPackageVersion(status, bundlepolicy.DefaultCAsPackage)
	return &bundlepolicy.DefaultCAs{PEM: pem, Version: bundlepolicy.DefaultCAVersion(bundlepolicy.DefaultCAsPackage, version, pem)}, nil
}
