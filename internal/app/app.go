// Package app composes certplane's controllers into a controller-runtime
// manager: the one place that knows every controller, used by `certplane
// controller` and `certplane up`.
package app

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/controller/certmanager"
	"github.com/certplane/certplane/internal/csrpolicy"
)

// Options configure the controllers. The zero value runs the approver and
// the cleaner, no signer, no leader election, no metrics or probe server.
type Options struct {
	// EnableKubernetesSigners runs the signer for the kubernetes.io
	// signers. In a real cluster kube-controller-manager already does.
	EnableKubernetesSigners bool
	// Signing are the --cluster-signing-* files.
	Signing certificates.SigningFiles
	// SigningDuration is --cluster-signing-duration. If zero, 8760h.
	SigningDuration time.Duration
	// ApproveKubeletServing approves kubelet serving requests whose node
	// exists and owns every SAN.
	ApproveKubeletServing bool
	// Retention is how long the cleaner keeps requests.
	Retention csrpolicy.Retention
	// LeaderElection makes one replica of several active, through the
	// Lease LeaderElectionID in LeaderElectionNamespace, timed by Leader.
	LeaderElection          bool
	LeaderElectionNamespace string
	Leader                  LeaderTiming
	// MetricsAddr serves Prometheus /metrics; "" or "0" serves none.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz; "" serves none.
	ProbeAddr string
	// PprofAddr serves Go's /debug/pprof; "" serves none.
	PprofAddr string
	// Workers is how many requests the signer handles at once. If zero, 32.
	Workers int
	// ClusterResourceNamespace holds the Secrets ClusterIssuers refer to.
	// If empty, cert-manager's default, "cert-manager".
	ClusterResourceNamespace string
	// QPS and Burst limit the controllers' requests on the client side. If
	// QPS is zero or negative, there is no client-side limit.
	QPS   float32
	Burst int
	// MinBackoff and MaxBackoff bound the wait after a Certificate's failed
	// issuances. If zero, cert-manager's 1h and 32h.
	MinBackoff, MaxBackoff time.Duration
	// DisableCertificateRequestApprover turns off the built-in approver of
	// cert-manager.io CertificateRequests, for clusters that run their own
	// (approver-policy), as -certificaterequests-approver in Controllers
	// does. Certificates of every issuer then go through a
	// CertificateRequest and wait for its approval.
	DisableCertificateRequestApprover bool
	// Controllers is the --controllers list (see ParseControllers). If nil,
	// "*": every controller that is on by default. csrsigning is on by
	// default only with EnableKubernetesSigners.
	Controllers []string
	// CertificateOwnerRef makes each Certificate the controller owner of
	// its Secret, so that the Secret is garbage-collected with it
	// (cert-manager's --enable-certificate-owner-ref).
	CertificateOwnerRef bool
	// SPIFFE are the files of the certplane.io/spiffe signer's CA, its key
	// a file or (KeyURI) in a PKCS#11 token, opened with OpenKey unless
	// SPIFFE.OpenKey is set; without them that signer does not run.
	SPIFFE certificates.SigningFiles
	// SPIFFETrustDomain names the trust domain of pods' SPIFFE IDs. If
	// empty, cluster.local.
	SPIFFETrustDomain string
	// PodCertificateMaxDuration caps the lifetime of pod certificates. If
	// zero, a day.
	PodCertificateMaxDuration time.Duration
	// Trust configures trust-manager's Bundle controller.
	Trust TrustOptions
	// Web configures the web view; its zero value serves none.
	Web WebOptions
	// ACME configures the ACME issuer's controllers.
	ACME ACMEOptions
	// RequirePolicy approves and issues nothing that no
	// CertificateRequestPolicy selects (--require-policy).
	RequirePolicy bool
	// OpenKey opens the key URIs of PKCS#11 tokens: Signing's and SPIFFE's,
	// when they have any, and those ca issuers' Secrets name. If nil, keys in tokens
	// cannot be used.
	OpenKey func(uri string) (crypto.Signer, error)
	// IssuerPKCS11Modules are the PKCS#11 modules the key URIs of ca
	// issuers' Secrets may name (--issuer-pkcs11-modules). If empty, none:
	// a Secret must not make certplane load any library on its machine.
	IssuerPKCS11Modules []string
}

// NewManager builds a manager running the CSR controllers against the
// cluster cfg points at.
func NewManager(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	if o.Signing.OpenKey == nil {
		o.Signing.OpenKey = o.OpenKey
	}
	if o.SigningDuration < 0 || o.Retention.Pending < 0 || o.Retention.Approved < 0 || o.Retention.Denied < 0 {
		return nil, errors.New("durations and retention periods may not be negative")
	}
	if o.Controllers == nil {
		o.Controllers = []string{controllersAll}
	}
	enabled, err := ParseControllers(o.Controllers)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := cmv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := acmev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "certplane-controller"
	// kube-apiserver gzips long-lived watch streams for clients that accept
	// it: measured, about 9% of the CSR signer's CPU and 3% of
	// kube-apiserver's, for bytes that mostly travel over loopback or a
	// cluster network. kube-controller-manager's watches are not compressed
	// either.
	cfg.DisableCompression = true
	// client-go's default of 5 requests a second would make 200 approved
	// requests wait 40 s for their status updates. By default certplane does
	// not throttle itself at all, as cert-manager 1.21 does on apiservers
	// with API Priority and Fairness (GA since Kubernetes 1.29): the server
	// protects itself, and a client-side limit only idles the controllers.
	cfg.QPS, cfg.Burst = o.QPS, o.Burst
	if cfg.QPS == 0 {
		cfg.QPS = -1
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = "0"
	}
	var (
		lock    resourcelock.Interface
		timing  = o.Leader.withDefaults()
		elected = &leaderEvents{}
	)
	if o.LeaderElection {
		if err := o.Leader.Validate(); err != nil {
			return nil, err
		}
		if lock, err = leaderLock(cfg, o.LeaderElectionNamespace, timing.RenewDeadline, elected); err != nil {
			return nil, err
		}
	}
	cached := labels.SelectorFromSet(labels.Set{certpolicy.LabelCached: "true"})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		// Only the Secrets certplane writes are cached, so memory does not
		// grow with the cluster's other Secrets; the rest are read live.
		// The cached ones are cached without their data (slimSecret).
		// Managed fields are dropped from cached objects: nothing reads them;
		// from Certificates kubectl's last-applied copy too, and Certificates
		// and Secrets share their recurring values (cacheTransform).
		// That is the default transform, not a ByObject entry for
		// Certificates: a ByObject entry needs the Certificate's REST mapping
		// when the manager is made, and `certplane controller` runs on
		// clusters without cert-manager's CRDs.
		Cache: cache.Options{
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Label: cached},
			},
			DefaultTransform: cacheTransform(newInterner(internLimit)),
		},
		Metrics:                             metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:              o.ProbeAddr,
		PprofBindAddress:                    o.PprofAddr,
		LeaderElection:                      o.LeaderElection,
		LeaderElectionID:                    LeaderElectionID,
		LeaderElectionNamespace:             o.LeaderElectionNamespace,
		LeaderElectionResourceLockInterface: lock,
		LeaseDuration:                       &timing.LeaseDuration,
		RenewDeadline:                       &timing.RenewDeadline,
		RetryPeriod:                         &timing.RetryPeriod,
		LeaderElectionReleaseOnCancel:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if mgr, err = withProtobufEvents(mgr, cfg); err != nil {
		return nil, err
	}
	elected.rec = mgr.GetEventRecorder(LeaderElectionID)
	// Every controller set up from here on counts its reconciles (metrics.go).
	mgr = syncCountingManager{Manager: mgr}
	collectors := append(append(append(certificates.Metrics(), certmanager.Metrics()...), certificates.PodCertificateMetrics()...), certificates.IssuanceMetrics()...)
	if err := registerMetrics(metrics.Registry, append(collectors, controllerMetrics()...)...); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := addMemoryReleaser(mgr); err != nil {
		return nil, err
	}

	if enabled.Enabled(CSRSigning, onByDefault(CSRSigning, o)) {
		files, err := o.Signing.CAs()
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, errors.New("the kubernetes.io signers need a CA: give --cluster-signing-cert-file and --cluster-signing-key-file")
		}
		cas := map[string]certificates.CASource{}
		for signer, f := range files {
			cas[signer] = f
		}
		if err := (&certificates.CSRSigningReconciler{
			Reader: mgr.GetClient(), Status: mgr.GetClient().Status(), Events: mgr.GetEventRecorder("certplane-csr-signer"),
			CAs: cas, MaxDuration: o.SigningDuration, Workers: o.Workers,
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	policies, err := setupPolicies(mgr, cfg, o, enabled)
	if err != nil {
		return nil, err
	}
	if gate := policies.Gate(); gate != nil {
		if err := (&certificates.CSRPolicyApprover{
			Reader: mgr.GetClient(), Approval: mgr.GetClient().SubResource("approval"),
			Events: mgr.GetEventRecorder("certplane-csr-policy-approver"), Policy: gate,
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	if enabled.Enabled(CSRApproving, true) {
		if err := (&certificates.CSRApprovingReconciler{
			Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Creator: mgr.GetClient(),
			Approval: mgr.GetClient().SubResource("approval"), Events: mgr.GetEventRecorder("certplane-csr-approver"),
			ApproveKubeletServing: o.ApproveKubeletServing,
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	if enabled.Enabled(CSRCleaner, true) {
		if err := (&certificates.CSRCleanerReconciler{
			Reader: mgr.GetClient(), Deleter: mgr.GetClient(), Retention: o.Retention,
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	// Without the cert-manager.io CRDs only the certificates.k8s.io controllers run.
	served, err := resourceServed(cfg, cmv1.GroupVersion.String(), "certificates")
	if err != nil {
		return nil, err
	}
	var issuers *certmanager.Issuers
	if served {
		if issuers, err = setupCertManager(mgr, o, enabled, policies); err != nil {
			return nil, err
		}
	}
	if err := setupPodCertificates(mgr, cfg, o, enabled, issuers, policies); err != nil {
		return nil, err
	}
	if err := setupTrust(mgr, o, enabled); err != nil {
		return nil, err
	}
	if err := setupTrustBundles(mgr, cfg, o, enabled, issuers); err != nil {
		return nil, err
	}
	if err := setupWeb(mgr, o); err != nil {
		return nil, err
	}
	return mgr, nil
}

// setupPodCertificates adds the PodCertificateRequest signers: certplane.io/spiffe
// when its CA is given, and the cert-manager issuers when their API is
// served; only where the cluster serves podcertificaterequests.
func setupPodCertificates(mgr ctrl.Manager, cfg *rest.Config, o Options, enabled Controllers, issuers *certmanager.Issuers, policies *policySetup) error {
	if !enabled.Enabled(PodCertificateRequests, true) {
		return nil
	}
	served, err := resourceServed(cfg, certv1.SchemeGroupVersion.String(), "podcertificaterequests")
	if err != nil || !served {
		return err
	}
	trustDomain := o.SPIFFETrustDomain
	if trustDomain == "" {
		trustDomain = "cluster.local"
	}
	if o.PodCertificateMaxDuration != 0 && o.PodCertificateMaxDuration < time.Hour {
		return errors.New("--pod-certificate-max-duration must be at least 1h, the shortest lifetime kube-apiserver accepts")
	}
	var signers []certificates.PodSigner
	ca, err := SPIFFECA(o.spiffe())
	if err != nil {
		return err
	}
	if ca != nil {
		if _, err := ca.CA(); err != nil {
			return fmt.Errorf("certplane.io/spiffe: %w", err)
		}
		signers = append(signers, &certificates.SPIFFESigner{CA: ca, TrustDomain: trustDomain, MaxLifetime: o.PodCertificateMaxDuration})
	}
	if issuers != nil {
		signers = append(signers, &certmanager.IssuerPodSigner{Issuers: issuers, TrustDomain: trustDomain, MaxLifetime: o.PodCertificateMaxDuration})
	}
	if len(signers) == 0 {
		return nil
	}
	r := &certificates.PodCertificateRequestReconciler{
		Reader: mgr.GetClient(), Status: mgr.GetClient().Status(), Events: mgr.GetEventRecorder("certplane-podcertificaterequests"),
		Signers: signers, RequirePolicy: o.RequirePolicy,
	}
	if gate := policies.Gate(); gate != nil {
		r.Policy = gate
	}
	return r.SetupWithManager(mgr)
}

// setupCertManager adds the enabled cert-manager.io controllers, and
// returns the issuer resolver they share.
func setupCertManager(mgr ctrl.Manager, o Options, enabled Controllers, policies *policySetup) (*certmanager.Issuers, error) {
	if o.ClusterResourceNamespace == "" {
		o.ClusterResourceNamespace = "cert-manager"
	}
	vaults := &certmanager.Vaults{Secrets: mgr.GetAPIReader(), Tokens: mgr.GetClient()}
	keys := &certmanager.CAKeys{Secrets: mgr.GetAPIReader(), Open: o.OpenKey, Modules: o.IssuerPKCS11Modules}
	issuers := &certmanager.Issuers{
		Keys:   keys,
		Reader: mgr.GetClient(), Secrets: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterResourceNamespace: o.ClusterResourceNamespace,
		Vaults: vaults,
	}
	accounts := newAccounts(mgr, o)
	for _, cluster := range []bool{false, true} {
		if name := map[bool]string{false: IssuersController, true: ClusterIssuersController}[cluster]; !enabled.Enabled(name, true) {
			continue
		}
		if err := (&certmanager.IssuerReconciler{
			Reader: mgr.GetClient(), SecretReader: mgr.GetAPIReader(), Status: mgr.GetClient().Status(), Keys: keys,
			Events: mgr.GetEventRecorder("certplane-issuers"), Cluster: cluster, ClusterResourceNamespace: o.ClusterResourceNamespace,
			Writer: mgr.GetClient(), Accounts: accounts, Vaults: vaults,
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	approver := enabled.Enabled(CertificateRequestsApprover, onByDefault(CertificateRequestsApprover, o))
	if enabled.Enabled(CertificatesController, true) {
		if err := metrics.Registry.Register(&certmanager.CertificateCollector{Cache: mgr.GetCache()}); err != nil && !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
			return nil, err
		}
		r := &certmanager.CertificateReconciler{
			Reader: mgr.GetClient(), Secrets: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Writer: mgr.GetClient(),
			Status: mgr.GetClient().Status(), Events: mgr.GetEventRecorder("certplane-certificates"), Issuers: issuers,
			MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff, OwnerRef: o.CertificateOwnerRef,
			// Without the built-in approver, another approver decides:
			// every issuance waits for its CertificateRequest's approval.
			ThroughRequests: !approver,
			RequirePolicy:   o.RequirePolicy,
			PolicyChanged:   policies.changes(),
		}
		if gate := policies.Gate(); gate != nil {
			r.Policy = gate
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	// The approver runs for the built-in approval, and for the policies'
	// decisions when the built-in approval is off.
	if gate := policies.Gate(); approver || gate != nil {
		a := &certmanager.CertificateRequestApprover{
			Reader: mgr.GetClient(), Status: mgr.GetClient().Status(), Events: mgr.GetEventRecorder("certplane-certificaterequests-approver"),
			PolicyOnly: !approver, RequirePolicy: o.RequirePolicy, PolicyChanged: policies.changes(), Self: policies.Self(),
		}
		if gate != nil {
			a.Policy = gate
		}
		if err := a.SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	if enabled.Enabled(CertificateRequestsIssuer, true) {
		if err := (&certmanager.CertificateRequestReconciler{
			Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Status: mgr.GetClient().Status(),
			Events: mgr.GetEventRecorder("certplane-certificaterequests"), Issuers: issuers,
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	// CertificateSigningRequests whose signer is an issuer, as with
	// cert-manager's ExperimentalCertificateSigningRequestControllers.
	if enabled.Enabled(CertificateSigningRequestsIssuer, true) {
		if err := (&certmanager.CSRIssuerReconciler{
			Reader: mgr.GetClient(), Status: mgr.GetClient().Status(), Creator: mgr.GetClient(),
			Issuers: issuers, Events: mgr.GetEventRecorder("certplane-csr-issuers"),
		}).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	if err := setupACME(mgr, o, enabled, issuers, accounts); err != nil {
		return nil, err
	}
	return issuers, nil
}

// resourceServed reports whether the cluster serves resource in
// groupVersion.
func resourceServed(cfg *rest.Config, groupVersion, resource string) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	list, err := dc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}
