package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/certplane/certplane/internal/app"
	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/internal/pkcs11"
)

// controllerFlags are the controllers' settings, shared by `controller` and
// `up`.
type controllerFlags struct {
	opts         app.Options
	perSigner    map[string]*[2]string
	perSignerURI map[string]*string
	logFormat    string
}

func (f *controllerFlags) bind(fl *pflag.FlagSet, cluster bool) {
	if cluster {
		fl.BoolVar(&f.opts.EnableKubernetesSigners, "enable-kubernetes-signers", false, "sign the kubernetes.io signers (kube-controller-manager does in a real cluster)")
		fl.StringVar(&f.opts.Signing.CertFile, "cluster-signing-cert-file", "", "CA certificate for all kubernetes.io signers")
		fl.StringVar(&f.opts.Signing.KeyFile, "cluster-signing-key-file", "", "CA key for all kubernetes.io signers")
		fl.StringVar(&f.opts.Signing.KeyURI, "cluster-signing-key-uri", "", "PKCS#11 URI of the CA key for all kubernetes.io signers, in a hardware token, instead of --cluster-signing-key-file (docs/hsm.md)")
		f.perSigner, f.perSignerURI = map[string]*[2]string{}, map[string]*string{}
		for flag, signer := range map[string]string{
			"kubelet-serving": csrpolicy.KubeletServing, "kubelet-client": csrpolicy.KubeAPIServerClientKubelet,
			"kube-apiserver-client": csrpolicy.KubeAPIServerClient, "legacy-unknown": csrpolicy.LegacyUnknown,
		} {
			pair := &[2]string{}
			f.perSigner[signer] = pair
			fl.StringVar(&pair[0], "cluster-signing-"+flag+"-cert-file", "", "CA certificate for "+signer)
			fl.StringVar(&pair[1], "cluster-signing-"+flag+"-key-file", "", "CA key for "+signer)
			uri := new(string)
			f.perSignerURI[signer] = uri
			fl.StringVar(uri, "cluster-signing-"+flag+"-key-uri", "", "PKCS#11 URI of the CA key for "+signer+", instead of its key file")
		}
		fl.BoolVar(&f.opts.LeaderElection, "leader-elect", true, "run one active replica, elected through a Lease")
		fl.StringVar(&f.opts.LeaderElectionNamespace, "leader-election-namespace", "certplane-system", "namespace of the leader election Lease")
		fl.DurationVar(&f.opts.Leader.LeaseDuration, "leader-election-lease-duration", 60*time.Second, "how long a standby waits, from the last renewal it saw, before it takes the Lease over")
		fl.DurationVar(&f.opts.Leader.RenewDeadline, "leader-election-renew-deadline", 40*time.Second, "how long the leader tries to renew the Lease before it stops leading (and exits); shorter than the lease duration")
		fl.DurationVar(&f.opts.Leader.RetryPeriod, "leader-election-retry-period", 15*time.Second, "wait between tries to acquire or renew the Lease; under the renew deadline divided by 1.2")
		fl.StringVar(&f.opts.ProbeAddr, "health-probe-bind-address", ":8081", `address of /healthz and /readyz ("" for none)`)
	}
	// up serves no metrics unless asked (several may run on one machine),
	// and its web view on loopback, without login; controller serves the
	// view only when asked, behind the apiserver's authentication.
	metricsAddr, webAddr, webAuth := ":8080", "", "every request needs a bearer token the apiserver accepts, and shows what its user may list"
	if !cluster {
		metricsAddr, webAddr, webAuth = "0", defaultUpWebAddress, "on loopback without login; elsewhere, as in controller, behind a bearer token the apiserver accepts"
	}
	fl.StringVar(&f.opts.MetricsAddr, "metrics-bind-address", metricsAddr, `address of Prometheus /metrics, such as 127.0.0.1:9402 ("0" for none)`)
	fl.StringVar(&f.opts.Web.Address, "web-address", webAddr, `address of the web view ("" for none): `+webAuth)
	fl.StringVar(&f.opts.Web.TLSCertFile, "web-tls-cert-file", "", "serve the web view over HTTPS with this certificate")
	fl.StringVar(&f.opts.Web.TLSKeyFile, "web-tls-key-file", "", "key of --web-tls-cert-file")
	signing := "csrsigning is on by default"
	if cluster {
		signing = "csrsigning is on only when named or with --enable-kubernetes-signers"
	}
	fl.StringSliceVar(&f.opts.Controllers, "controllers", []string{"*"},
		`controllers to run, as kube-controller-manager takes them: "*" for all, "name" to add one, "-name" to leave one out; an empty value runs none. `+
			"Names: "+strings.Join(app.ControllerNames, ", ")+" ("+signing+"; -certificaterequests-approver sends every Certificate through an approved CertificateRequest)")
	fl.BoolVar(&f.opts.CertificateOwnerRef, "enable-certificate-owner-ref", false,
		"make each Certificate the owner of its Secret, so that the Secret is deleted with it (as cert-manager's flag)")
	solverAddr, selfCheck := ":8089", "80: ACME servers validate on port 80, through your ingress"
	if !cluster {
		solverAddr, selfCheck = defaultUpSolverAddress, "the solver's own port: up has no ingress in front of it"
	}
	fl.StringVar(&f.opts.ACME.HTTP01SolverAddress, "acme-http01-solver-address", solverAddr, `address where certplane serves every pending HTTP-01 token ("" for none)`)
	fl.StringSliceVar(&f.opts.ACME.HTTP01SolverNameservers, "acme-http01-solver-nameservers", nil, "host:port of the nameservers that resolve names for the HTTP-01 self-check (default: the system's)")
	fl.IntVar(&f.opts.ACME.HTTP01SelfCheckPort, "acme-http01-self-check-port", 0, "port the HTTP-01 self-check connects to (default "+selfCheck+")")
	fl.StringVar(&f.opts.ACME.HTTP01SolverService, "acme-http01-solver-service", app.DefaultACMEHTTP01SolverService, "FQDN of the Service in front of the HTTP-01 solver; each challenge's Ingress or HTTPRoute reaches it through an ExternalName Service")
	fl.StringSliceVar(&f.opts.ACME.DNS01RecursiveNameservers, "dns01-recursive-nameservers", nil, "host:port of the recursive nameservers that find zones and check DNS-01 records (default: /etc/resolv.conf's)")
	fl.BoolVar(&f.opts.ACME.DNS01RecursiveNameserversOnly, "dns01-recursive-nameservers-only", false, "check DNS-01 records at --dns01-recursive-nameservers instead of the zone's authoritative nameservers")
	fl.DurationVar(&f.opts.ACME.DNS01CheckRetryPeriod, "dns01-check-retry-period", 10*time.Second, "wait before repeating a failed DNS-01 or HTTP-01 self-check")
	fl.IntVar(&f.opts.ACME.MaxConcurrentChallenges, "max-concurrent-challenges", 60, "how many ACME challenges are worked on at once")
	fl.BoolVar(&f.opts.RequirePolicy, "require-policy", false,
		"approve and issue nothing that no CertificateRequestPolicy (policy.cert-manager.io) selects: Certificates, CertificateRequests and PodCertificateRequests are denied without one")
	fl.StringVar(&f.logFormat, "log-format", "text", `log format: "text" (RFC 3339 times) or "json"`)
	spiffeDefault := ""
	if !cluster {
		spiffeDefault = " (default: DATA/pki/spiffe-ca.crt, made on first start)"
	}
	fl.StringVar(&f.opts.SPIFFE.CertFile, "spiffe-signing-cert-file", "", "CA certificate of the certplane.io/spiffe pod certificate signer"+spiffeDefault)
	fl.StringVar(&f.opts.SPIFFE.KeyFile, "spiffe-signing-key-file", "", "CA key of the certplane.io/spiffe pod certificate signer")
	fl.StringVar(&f.opts.SPIFFE.KeyURI, "spiffe-signing-key-uri", "", "PKCS#11 URI of the CA key of the certplane.io/spiffe pod certificate signer, in a hardware token, instead of --spiffe-signing-key-file (with --spiffe-signing-cert-file; docs/hsm.md)")
	fl.StringVar(&f.opts.SPIFFETrustDomain, "spiffe-trust-domain", "cluster.local", "trust domain of pods' SPIFFE IDs, spiffe://DOMAIN/ns/NAMESPACE/sa/SERVICEACCOUNT")
	fl.DurationVar(&f.opts.PodCertificateMaxDuration, "pod-certificate-max-duration", 24*time.Hour, "longest lifetime of a pod certificate (at least 1h; a request's maxExpirationSeconds may ask for less)")
	fl.StringSliceVar(&f.opts.IssuerPKCS11Modules, "issuer-pkcs11-modules", nil,
		"PKCS#11 modules (absolute file names) that the key URIs of CA Issuers' Secrets (tls.key-uri) may name; none by default (docs/hsm.md)")
	fl.StringVar(&f.opts.ClusterResourceNamespace, "cluster-resource-namespace", "cert-manager", "namespace of the Secrets ClusterIssuers refer to")
	fl.StringVar(&f.opts.Trust.Namespace, "trust-namespace", "cert-manager", "namespace of the ConfigMaps and Secrets trust.cert-manager.io Bundles read their sources from (as trust-manager's flag)")
	fl.BoolVar(&f.opts.Trust.FilterExpiredCertificates, "filter-expired-certificates", false, "leave expired certificates out of Bundle targets (as trust-manager's flag)")
	fl.StringVar(&f.opts.PprofAddr, "pprof-bind-address", "", `address of Go's /debug/pprof profiles ("" for none)`)
	fl.Float32Var(&f.opts.QPS, "kube-api-qps", -1, "client-side limit of requests per second to the apiserver (-1: none; API Priority and Fairness protects the server)")
	fl.IntVar(&f.opts.Burst, "kube-api-burst", 0, "burst above --kube-api-qps")
	fl.DurationVar(&f.opts.MinBackoff, "certificate-request-minimum-backoff-duration", time.Hour, "wait after a Certificate's first failed issuance; doubled after each further failure")
	fl.DurationVar(&f.opts.MaxBackoff, "certificate-request-maximum-backoff-duration", 32*time.Hour, "longest wait between a Certificate's failed issuances")
	fl.BoolVar(&f.opts.DisableCertificateRequestApprover, "disable-certificaterequest-approver", false,
		"do not approve cert-manager.io CertificateRequests (for clusters that run their own approver, such as approver-policy)")
	fl.DurationVar(&f.opts.SigningDuration, "cluster-signing-duration", 8760*time.Hour, "longest validity a signed certificate gets")
	fl.BoolVar(&f.opts.ApproveKubeletServing, "approve-kubelet-serving", false,
		"approve kubelet-serving requests whose Node exists and owns every SAN (nodes report their own addresses: sign kubelet-serving with a CA of its own, --cluster-signing-kubelet-serving-*, that clients do not trust for other servers)")
	fl.DurationVar(&f.opts.Retention.Pending, "csr-pending-retention", 24*time.Hour, "delete pending requests this long after creation")
	fl.DurationVar(&f.opts.Retention.Approved, "csr-approved-retention", time.Hour, "delete issued requests this long after approval")
	fl.DurationVar(&f.opts.Retention.Denied, "csr-denied-retention", time.Hour, "delete denied and failed requests this long after the condition")
}

func (f *controllerFlags) options() app.Options {
	o := f.opts
	if f.perSigner != nil {
		o.Signing.PerSigner = map[string][2]string{}
		for signer, pair := range f.perSigner {
			o.Signing.PerSigner[signer] = *pair
		}
	}
	for signer, uri := range f.perSignerURI {
		if *uri != "" {
			if o.Signing.PerSignerKeyURI == nil {
				o.Signing.PerSignerKeyURI = map[string]string{}
			}
			o.Signing.PerSignerKeyURI[signer] = *uri
		}
	}
	o.OpenKey, o.Signing.OpenKey, o.SPIFFE.OpenKey = pkcs11.Open, pkcs11.Open, pkcs11.Open
	return o
}

// check refuses, before anything connects or starts, flags that cannot go
// together.
func (f *controllerFlags) check() error {
	_, err := app.SPIFFECA(f.opts.SPIFFE)
	return err
}

func newControllerCommand(o Options) *cobra.Command {
	var (
		f          controllerFlags
		kubeconfig string
	)
	cmd := &cobra.Command{
		Use:   "controller [--kubeconfig FILE]",
		Short: "Run certplane's controllers against a cluster",
		Long: `Run the certificates.k8s.io controllers against any cluster: the approver
(kubelet client requests after a SubjectAccessReview; kubelet serving requests
behind --approve-kubelet-serving), the cleaner, and, with
--enable-kubernetes-signers, the signer of the kubernetes.io signers.
Leader election on a Lease, /healthz and /readyz, Prometheus /metrics,
logs on standard error (--log-format text or json). With --web-address, a
read-only web view of the cluster's certificates, behind the apiserver's
authentication (a bearer token; each user sees what RBAC lets them list).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC()
			if err := f.check(); err != nil {
				return err
			}
			if f.opts.LeaderElection {
				// Refused before anything connects.
				if err := f.opts.Leader.Validate(); err != nil {
					return err
				}
			}
			logger, err := newLogger(o.ErrOut, f.logFormat)
			if err != nil {
				return err
			}
			ctrl.SetLogger(logger)
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			mgr, err := app.NewManager(cfg, f.options())
			if err != nil {
				return err
			}
			return mgr.Start(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	f.bind(cmd.Flags(), true)
	return cmd
}

// tuneGC collects garbage at half the heap growth Go defaults to, unless
// GOGC says otherwise: the controllers' heap is mostly short-lived request
// buffers, so a long-running process trades a little CPU for a smaller
// resident set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// newLogger writes the controllers' logs to w: readable lines with RFC 3339
// times, or JSON for machines.
func newLogger(w io.Writer, format string) (logr.Logger, error) {
	timeFormat := func(ec *zapcore.EncoderConfig) { ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder }
	switch format {
	case "text":
		return zap.New(zap.WriteTo(w), zap.ConsoleEncoder(timeFormat)), nil
	case "json":
		return zap.New(zap.WriteTo(w), zap.JSONEncoder(timeFormat)), nil
	}
	return logr.Logger{}, fmt.Errorf("--log-format %q: use text or json", format)
}
