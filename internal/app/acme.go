package app

import (
	"fmt"
	"net"
	"strconv"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/certplane/certplane/internal/acme/dns01"
	"github.com/certplane/certplane/internal/acme/http01"
	acmectrl "github.com/certplane/certplane/internal/controller/acme"
	"github.com/certplane/certplane/internal/controller/certmanager"
	"github.com/certplane/certplane/internal/version"
)

// DefaultACMEHTTP01SolverPort is the port of certplane's HTTP-01 solver
// listener, cert-manager's acmesolver port.
const DefaultACMEHTTP01SolverPort = 8089

// DefaultACMEHTTP01SolverService is the Service config/ ships in front of
// the solver listener.
const DefaultACMEHTTP01SolverService = "certplane-acme-http01-solver.certplane-system.svc.cluster.local"

// ACMEOptions configure the ACME issuer's controllers, with cert-manager's
// flags where it has them.
type ACMEOptions struct {
	// HTTP01SolverAddress is where certplane serves HTTP-01 tokens
	// (--acme-http01-solver-address); "" serves none.
	HTTP01SolverAddress string
	// HTTP01SolverListener, if set, is already listening on
	// HTTP01SolverAddress and is served instead.
	HTTP01SolverListener net.Listener
	// HTTP01SolverNameservers resolve names for the HTTP-01 self-check
	// (--acme-http01-solver-nameservers); the system's when empty.
	HTTP01SolverNameservers []string
	// HTTP01SelfCheckPort is the port the HTTP-01 self-check connects to.
	// If zero, 80, where ACME servers validate.
	HTTP01SelfCheckPort int
	// HTTP01SolverService is the FQDN of the Service in front of the
	// solver listener, which per-challenge Services point at. If empty,
	// DefaultACMEHTTP01SolverService.
	HTTP01SolverService string
	// DNS01RecursiveNameservers find zones and check records
	// (--dns01-recursive-nameservers); /etc/resolv.conf's when empty.
	DNS01RecursiveNameservers []string
	// DNS01RecursiveNameserversOnly checks records at the recursive
	// nameservers instead of the zone's authoritative ones.
	DNS01RecursiveNameserversOnly bool
	// DNS01CheckRetryPeriod is how soon a failed self-check is repeated.
	// If zero, 10 seconds.
	DNS01CheckRetryPeriod time.Duration
	// MaxConcurrentChallenges is how many Challenges are worked on at
	// once. If zero, 60.
	MaxConcurrentChallenges int
}

// newAccounts is the ACME account registry the issuer reconcilers and the
// ACME controllers share.
func newAccounts(mgr ctrl.Manager, o Options) *acmectrl.Accounts {
	return &acmectrl.Accounts{
		Reader: mgr.GetClient(), Secrets: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		ClusterResourceNamespace: o.ClusterResourceNamespace,
		UserAgent:                "certplane/" + version.Version,
		Observe:                  observeACMERequest,
	}
}

// setupACME adds the enabled ACME controllers and the HTTP-01 solver
// listener.
func setupACME(mgr ctrl.Manager, o Options, enabled Controllers, issuers *certmanager.Issuers, accounts *acmectrl.Accounts) error {
	if enabled.Enabled(CertificateRequestsIssuerACME, true) {
		if err := (&certmanager.ACMERequestReconciler{
			Reader: mgr.GetClient(), Writer: mgr.GetClient(), Status: mgr.GetClient().Status(),
			Events: mgr.GetEventRecorder("certplane-certificaterequests-acme"), Issuers: issuers,
		}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if enabled.Enabled(OrdersController, true) {
		if err := (&acmectrl.OrderReconciler{
			Reader: mgr.GetClient(), Writer: mgr.GetClient(), Status: mgr.GetClient().Status(),
			Events: mgr.GetEventRecorder("certplane-orders"), Accounts: accounts,
		}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if !enabled.Enabled(ChallengesController, true) {
		return nil
	}
	a := o.ACME
	recursive, err := dns01.ParseNameservers(a.DNS01RecursiveNameservers)
	if err != nil {
		return fmt.Errorf("--dns01-recursive-nameservers: %w", err)
	}
	service := a.HTTP01SolverService
	if service == "" {
		service = DefaultACMEHTTP01SolverService
	}
	servicePort := int32(DefaultACMEHTTP01SolverPort)
	if a.HTTP01SolverAddress != "" {
		_, p, err := net.SplitHostPort(a.HTTP01SolverAddress)
		if err != nil {
			return fmt.Errorf("--acme-http01-solver-address: %w", err)
		}
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			servicePort = int32(n)
		}
	}
	if err := (&acmectrl.ChallengeReconciler{
		Reader: mgr.GetClient(), Writer: mgr.GetClient(), Status: mgr.GetClient().Status(), SecretReader: mgr.GetAPIReader(),
		Events: mgr.GetEventRecorder("certplane-challenges"), Accounts: accounts,
		HTTP01: acmectrl.HTTP01Options{
			ServiceName: service, ServicePort: servicePort,
			SelfCheck: http01.CheckOptions{Nameservers: a.HTTP01SolverNameservers, Port: a.HTTP01SelfCheckPort},
		},
		DNS01:      dns01.CheckOptions{RecursiveNameservers: recursive, RecursiveOnly: a.DNS01RecursiveNameserversOnly},
		CheckRetry: a.DNS01CheckRetryPeriod,
		Workers:    a.MaxConcurrentChallenges,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := acmectrl.IndexTokens(mgr); err != nil {
		return err
	}
	if a.HTTP01SolverAddress != "" {
		// Every replica serves every token from its cache: not only the
		// leader.
		tokens := &acmectrl.Tokens{Reader: mgr.GetClient()}
		server := http01.NewServer(a.HTTP01SolverAddress, tokens)
		if a.HTTP01SolverListener != nil {
			server = http01.NewServerOn(a.HTTP01SolverListener, tokens)
		}
		if err := mgr.Add(server); err != nil {
			return err
		}
	}
	return nil
}
