package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/certplane/certplane/internal/app"
	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/internal/localcp"
	"github.com/certplane/certplane/internal/pkcs11"
	"github.com/certplane/certplane/pkg/pki"
)

func newUpCommand(o Options) *cobra.Command {
	var (
		dataDir, binDir, keyAlg, nodeName string
		port                              int
		cf                                controllerFlags
	)
	cmd := &cobra.Command{
		Use:   "up [--data-dir .certplane] [--port 6443]",
		Short: "Run a local control plane: etcd, kube-apiserver, kube-controller-manager and certplane's controllers",
		Long: `Run a real single-node control plane on 127.0.0.1: makes (or reuses) the PKI in
the data directory, starts etcd with client and peer mTLS on the etcd CA and
kube-apiserver with x509 client authentication and RBAC, waits until it is
ready, binds admin.conf's group to cluster-admin, starts
kube-controller-manager on controller-manager.conf as kubeadm does (every
default controller but csrsigning, csrapproving and csrcleaner, which
certplane replaces: namespaces, service accounts, kube-root-ca.crt, garbage
collection, ClusterRole aggregation, ...), and runs certplane's
controllers (the kubernetes.io signers on the cluster CA, the approver, the
cleaner, and the cert-manager.io/v1 Issuers, Certificates and
CertificateRequests, whose CRDs and approval policy it installs) as the user certplane:controller with only the permissions in
config/rbac (--controllers chooses which). Runs until Ctrl-C or SIGTERM, then
stops everything in order: kube-controller-manager first, etcd last.
Started again on the same data directory it brings back the same cluster
with its data. A component that exits (etcd, kube-apiserver,
kube-controller-manager) is started again on the same ports and data after
1s, 2s, 4s, ... (at most 30s), with one line saying so; the fifth exit of
one component within five minutes ends up with an error naming it.

Web view: http://127.0.0.1:6480/ (--web-address; no login on loopback).
Metrics: --metrics-bind-address (off by default).
Logs: DATA/logs/{etcd,kube-apiserver,kube-controller-manager,controllers}.log.
Binaries: --bin-dir,
else $CERTPLANE_ASSETS, $KUBEBUILDER_ASSETS, the project's bin/, then PATH.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC()
			// A wrong --controllers or --log-format is refused before anything starts.
			if _, err := app.EnabledControllers(cf.options()); err != nil {
				return err
			}
			if err := cf.check(); err != nil {
				return err
			}
			if _, err := newLogger(io.Discard, cf.logFormat); err != nil {
				return err
			}
			opts := localcp.Options{DataDir: dataDir, Port: port, BinDir: binDir, NodeName: nodeName, Log: o.Out, ControllerManager: true, OpenKey: pkcs11.Open}
			var err error
			if opts.Key, err = optionalKeySpec(keyAlg); err != nil {
				return err
			}
			ctx := cmd.Context()
			cp, err := localcp.Start(ctx, opts)
			if err != nil {
				return err
			}
			mgrCtx, stopControllers := context.WithCancel(ctx)
			defer stopControllers()
			run, err := runControllers(mgrCtx, o, cp, cf)
			if err != nil {
				stopControllers()
				_ = cp.Stop()
				return err
			}
			if err := cp.WaitControllerManager(ctx); err != nil {
				stopControllers()
				<-run.done
				_ = cp.Stop()
				return err
			}
			fmt.Fprintln(o.Out, "kube-controller-manager: healthy")
			admin, _ := filepath.Abs(cp.Kubeconfig("admin.conf"))
			fmt.Fprintf(o.Out, "certplane is up at %s. Next:\n  export KUBECONFIG=%s\n  kubectl get namespaces\nPress Ctrl-C to stop.\n", cp.URL, admin)
			var failure error
			select {
			case <-ctx.Done():
				fmt.Fprintln(o.Out, "stopping the controllers, kube-apiserver and etcd")
			case <-cp.Exited():
				failure = cp.ExitError()
			case <-run.done:
				failure = fmt.Errorf("controllers stopped: %w", run.err)
			}
			stopControllers()
			<-run.done
			if err := cp.Stop(); err != nil && failure == nil {
				failure = err
			}
			if failure == nil && run.err != nil {
				failure = run.err
			}
			if failure != nil {
				return failure
			}
			fmt.Fprintln(o.Out, "stopped")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", ".certplane", "data directory: PKI, kubeconfigs, etcd data and logs")
	fl.IntVar(&port, "port", 0, "apiserver port on 127.0.0.1 (default: the data directory's, else 6443)")
	fl.StringVar(&binDir, "bin-dir", "", "directory holding etcd, kube-apiserver and kube-controller-manager")
	fl.StringVar(&keyAlg, "key-algorithm", "", "algorithm of a new PKI's keys (default rsa-2048)")
	fl.StringVar(&nodeName, "node-name", "", "node name in a new PKI (default: the host name)")
	cf.bind(fl, false)
	return cmd
}

// defaultUpWebAddress is where `up` serves the web view unless told.
const defaultUpWebAddress = "127.0.0.1:6480"

// defaultUpSolverAddress is where `up` serves HTTP-01 tokens unless told.
const defaultUpSolverAddress = "127.0.0.1:8089"

// upSolver settles the HTTP-01 solver listener of `up`: none when the
// default address is in use (another up runs); the self-check goes to its
// port unless told, since nothing routes port 80 to it.
func upSolver(out io.Writer, a *app.ACMEOptions) error {
	if a.HTTP01SolverAddress == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.HTTP01SolverAddress)
	switch {
	case err != nil && a.HTTP01SolverAddress == defaultUpSolverAddress:
		fmt.Fprintf(out, "acme http-01 solver: none, %s is in use (give --acme-http01-solver-address)\n", a.HTTP01SolverAddress)
		a.HTTP01SolverAddress = ""
		return nil
	case err != nil:
		return fmt.Errorf("--acme-http01-solver-address: %w", err)
	}
	// Kept open and served as it is: another up cannot take the port
	// between this check and the manager's start.
	a.HTTP01SolverListener = ln
	port := ln.Addr().(*net.TCPAddr).Port
	if a.HTTP01SelfCheckPort == 0 {
		a.HTTP01SelfCheckPort = port
	}
	return nil
}

// upWeb settles the web view of `up` and listens for it: without login on
// loopback, behind the apiserver's authentication elsewhere; none when the
// default address is in use (another up runs). It returns the line that
// says where it is.
func upWeb(out io.Writer, w *app.WebOptions) (string, error) {
	if w.Address == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", w.Address)
	switch {
	case err != nil && w.Address == defaultUpWebAddress:
		fmt.Fprintf(out, "web view: none, %s is in use (give --web-address)\n", w.Address)
		w.Address = ""
		return "", nil
	case err != nil:
		return "", fmt.Errorf("--web-address: %w", err)
	}
	w.Listener = ln
	w.Anonymous = app.IsLoopback(w.Address)
	scheme, login := "http", "no login: it listens on loopback only"
	if w.TLSCertFile != "" {
		scheme = "https"
	}
	if !w.Anonymous {
		login = "log in with a bearer token, such as kubectl create token NAME"
	}
	return fmt.Sprintf("web view: %s://%s/ (%s)", scheme, w.Address, login), nil
}

// managerRun is a running controller manager; done is closed when it has
// returned, with err its result.
type managerRun struct {
	done chan struct{}
	err  error
}

// runControllers starts the controllers in this process under their own
// identity, a client certificate for certplane:controller that lives only in
// memory, bound to the ClusterRole of config/rbac. They run until ctx ends.
func runControllers(ctx context.Context, o Options, cp *localcp.ControlPlane, cf controllerFlags) (*managerRun, error) {
	logPath := filepath.Join(cp.DataDir, "logs", "controllers.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			_ = logFile.Close()
		}
	}()
	logger, err := newLogger(logFile, cf.logFormat)
	if err != nil {
		return nil, err
	}
	ctrl.SetLogger(logger)

	superAdmin, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig("super-admin.conf"))
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(superAdmin)
	if err != nil {
		return nil, err
	}
	if err := app.GrantControllerRole(ctx, cs, app.ControllerUser); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(superAdmin)
	if err != nil {
		return nil, err
	}
	// The roles are applied while the CRDs become established.
	roles := make(chan error, 1)
	go func() { roles <- app.InstallAggregatedRoles(ctx, dyn) }()
	if err := app.InstallCRDs(ctx, dyn); err != nil {
		return nil, errors.Join(err, <-roles)
	}
	fmt.Fprintln(o.Out, "crds: cert-manager.io/v1 Certificate, CertificateRequest, Issuer and ClusterIssuer, acme.cert-manager.io/v1 Order and Challenge, policy.cert-manager.io/v1alpha1 CertificateRequestPolicy, and trust.cert-manager.io/v1alpha1 Bundle served")
	// The apiserver takes a moment to apply new admission policies; the
	// controllers start meanwhile, and `up` is up only once they apply.
	admissible := make(chan error, 1)
	go func() { admissible <- app.WaitAdmissible(ctx, dyn) }()
	if err := <-roles; err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Out, "rbac: cert-manager's aggregated ClusterRoles add cert-manager.io to view, edit and admin")
	kubeconfig, err := clusterpki.UserKubeconfig(clusterpki.Options{Dir: cp.DataDir, Key: pki.ECDSAP256, Rand: o.Rand, Now: o.Now, OpenKey: pkcs11.Open}, app.ControllerUser, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("controller identity: %w", err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	opts := cf.options()
	web, err := upWeb(o.Out, &opts.Web)
	if err != nil {
		return nil, err
	}
	if err := upSolver(o.Out, &opts.ACME); err != nil {
		return nil, err
	}
	if opts.SPIFFE.CertFile == "" && opts.SPIFFE.KeyFile == "" && opts.SPIFFE.KeyURI == "" {
		if opts.SPIFFE.CertFile, opts.SPIFFE.KeyFile, err = cp.SPIFFECA(); err != nil {
			return nil, fmt.Errorf("the certplane.io/spiffe CA: %w", err)
		}
	}
	opts.EnableKubernetesSigners = true
	var token string
	if opts.Signing, token, err = clusterSigning(cp.DataDir); err != nil {
		return nil, err
	}
	if token != "" {
		fmt.Fprintf(o.Out, "signers: the kubernetes.io signers sign with the cluster CA's key in a PKCS#11 token, %s\n", token)
	}
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		return nil, err
	}
	run := &managerRun{done: make(chan struct{})}
	started = true
	go func() {
		run.err = mgr.Start(ctx)
		_ = logFile.Close()
		close(run.done)
	}()
	// Wait for the caches, but not forever, and not past a manager that
	// failed to start.
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	go func() {
		select {
		case <-run.done:
			cancel()
		case <-syncCtx.Done():
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		select {
		case <-run.done:
			return nil, fmt.Errorf("controllers did not start: %w (log: %s)", run.err, logPath)
		default:
			return nil, fmt.Errorf("controllers did not start within 2 minutes (log: %s)", logPath)
		}
	}
	if err := <-admissible; err != nil {
		return nil, err
	}
	names, err := app.EnabledControllers(opts)
	if err != nil {
		return nil, err
	}
	running := "none"
	if len(names) > 0 {
		running = strings.Join(names, ", ")
	}
	fmt.Fprintf(o.Out, "controllers: %s running as %s (log: %s)\n", running, app.ControllerUser, logPath)
	if web != "" {
		fmt.Fprintln(o.Out, web)
	}
	return run, nil
}
