package acme

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	xacme "golang.org/x/crypto/acme"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	acmeproto "github.com/certplane/certplane/internal/acme"
	"github.com/certplane/certplane/internal/acme/dns01"
	"github.com/certplane/certplane/internal/acme/http01"
	"github.com/certplane/certplane/internal/acmepolicy"
)

// Finalizer is the finalizer of Challenges: their records and routes are
// removed before they go. cert-manager's name, so that its Challenges are
// cleaned up too.
const Finalizer = "acme.cert-manager.io/finalizer"

// legacyFinalizer is cert-manager's older name for it.
const legacyFinalizer = "finalizer.acme.cert-manager.io"

const (
	// ReasonAuthorized is a valid Challenge's reason, as cert-manager's.
	ReasonAuthorized = "Successfully authorized domain"
	// acceptedReason marks a Challenge the server was asked to validate.
	acceptedReason = "Waiting for the ACME server to validate the challenge"
	// challengeTimeout bounds the ACME and DNS calls of one reconcile.
	challengeTimeout = time.Minute
	// authorizationPoll is how soon an accepted Challenge is read again.
	authorizationPoll = 500 * time.Millisecond
)

// HTTP01Options is how HTTP-01 challenges are solved.
type HTTP01Options struct {
	// ServiceName is the FQDN of the Service in front of certplane's
	// solver listener; per-challenge Services are ExternalName Services
	// pointing at it.
	ServiceName string
	// ServicePort is its port.
	ServicePort int32
	// SelfCheck is how the token is checked before the server is asked.
	SelfCheck http01.CheckOptions
}

// ChallengeReconciler presents, checks, accepts and cleans up ACME
// challenges, as cert-manager's challenges controller does, without solver
// Pods: HTTP-01 tokens are served by certplane's own listener from the
// Challenges in the cache.
type ChallengeReconciler struct {
	// Reader reads Challenges and Ingresses (the cache).
	Reader client.Reader
	// Writer adds finalizers and writes the HTTP-01 Services, Ingresses
	// and HTTPRoutes.
	Writer client.Writer
	Status client.SubResourceWriter
	// SecretReader reads DNS provider Secrets from the apiserver.
	SecretReader client.Reader
	Events       eventRecorder
	Accounts     *Accounts
	HTTP01       HTTP01Options
	DNS01        dns01.CheckOptions
	// CheckRetry is how soon a failed self-check is repeated (cert-manager's
	// --dns01-check-retry-period). If zero, 10 seconds.
	CheckRetry time.Duration
	Now        func() time.Time
	// Workers is how many Challenges are handled at once
	// (--max-concurrent-challenges). If zero, 60.
	Workers int
}

// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=challenges,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=challenges/status,verbs=update
// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=challenges/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=services,verbs=get;create;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Reconcile moves one Challenge on.
func (r *ChallengeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ch := &acmev1.Challenge{}
	if err := r.Reader.Get(ctx, req.NamespacedName, ch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx, cancel := context.WithTimeout(ctx, challengeTimeout)
	defer cancel()
	if ch.DeletionTimestamp != nil {
		return ctrl.Result{}, r.finish(ctx, ch)
	}
	if ch.Status.State.Final() {
		if ch.Status.Presented || hasFinalizer(ch) {
			return ctrl.Result{}, r.finish(ctx, ch)
		}
		return ctrl.Result{}, nil
	}
	if !controllerutil.ContainsFinalizer(ch, Finalizer) {
		return ctrl.Result{}, r.patchFinalizers(ctx, ch, func() {
			controllerutil.AddFinalizer(ch, Finalizer)
			controllerutil.RemoveFinalizer(ch, legacyFinalizer)
		})
	}
	iss, err := r.Accounts.Issuer(ctx, ch.Namespace, ch.Spec.IssuerRef)
	var notReady *ErrNotReady
	if errors.As(err, &notReady) {
		return ctrl.Result{RequeueAfter: notReadyRetry}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) { st.Reason = "Waiting for the issuer: " + notReady.Message })
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case !ch.Status.Presented:
		return r.present(ctx, ch, iss)
	case ch.Status.Reason == acceptedReason:
		return r.poll(ctx, ch, iss)
	default:
		return r.checkAndAccept(ctx, ch, iss)
	}
}

// present puts the token or record in place.
func (r *ChallengeReconciler) present(ctx context.Context, ch *acmev1.Challenge, iss *Issuer) (ctrl.Result, error) {
	// A challenge the server already decided is found out at Accept,
	// which answers with its state: no request is spent on it here.
	var err error
	switch ch.Spec.Type {
	case acmev1.ACMEChallengeTypeHTTP01:
		err = r.presentHTTP01(ctx, ch)
	case acmev1.ACMEChallengeTypeDNS01:
		err = r.dns01(ctx, ch, iss, true)
	default:
		err = fmt.Errorf("challenge type %q is not supported", ch.Spec.Type)
	}
	if err != nil {
		msg := "Error presenting challenge: " + err.Error()
		r.Events.Eventf(ch, nil, corev1.EventTypeWarning, "PresentError", "Present", "%s", msg)
		return ctrl.Result{RequeueAfter: r.checkRetry()}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) {
			st.Processing, st.Reason = true, msg
			if st.State == "" {
				st.State = acmev1.Pending
			}
		})
	}
	now := metav1.NewTime(r.now())
	r.Events.Eventf(ch, nil, corev1.EventTypeNormal, "Presented", "Present", "Presented challenge using %s challenge mechanism", ch.Spec.Type)
	return ctrl.Result{}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) {
		st.Processing, st.Presented, st.PresentedAt, st.State = true, true, &now, acmev1.Pending
		st.Reason = "Presented; checking that it can be reached"
	})
}

// checkAndAccept runs the self-check (or waits as the solver asks) and,
// once it passes, asks the server to validate.
func (r *ChallengeReconciler) checkAndAccept(ctx context.Context, ch *acmev1.Challenge, iss *Issuer) (ctrl.Result, error) {
	if wait := ch.Spec.Solver.WaitInsteadOfSelfCheck; wait != nil {
		if ch.Status.PresentedAt != nil {
			if left := ch.Status.PresentedAt.Add(wait.Duration).Sub(r.now()); left > 0 {
				return ctrl.Result{RequeueAfter: left}, nil
			}
		}
	} else if err := r.selfCheck(ctx, ch, iss); err != nil {
		msg := fmt.Sprintf("Waiting for %s challenge propagation: %s", ch.Spec.Type, err.Error())
		return ctrl.Result{RequeueAfter: r.checkRetry()}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) { st.Reason = msg })
	}
	c, err := iss.Client.Accept(ctx, &xacme.Challenge{URI: ch.Spec.URL, Type: strings.ToLower(string(ch.Spec.Type))})
	if err != nil {
		return r.acmeError(ctx, ch, "Accepting challenge", err)
	}
	if c.Status == xacme.StatusValid || c.Status == xacme.StatusInvalid {
		return r.serverState(ctx, ch, iss, acmev1.State(c.Status), c.Error)
	}
	return ctrl.Result{RequeueAfter: authorizationPoll}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) {
		st.State, st.Reason = acmev1.Processing, acceptedReason
	})
}

// poll reads the authorization of an accepted Challenge.
func (r *ChallengeReconciler) poll(ctx context.Context, ch *acmev1.Challenge, iss *Issuer) (ctrl.Result, error) {
	a, err := iss.Client.GetAuthorization(ctx, ch.Spec.AuthorizationURL)
	if err != nil {
		return r.acmeError(ctx, ch, "Getting the authorization", err)
	}
	switch a.Status {
	case xacme.StatusValid:
		return r.serverState(ctx, ch, iss, acmev1.Valid, nil)
	case xacme.StatusInvalid, xacme.StatusDeactivated, xacme.StatusExpired, xacme.StatusRevoked:
		var problem error
		for _, c := range a.Challenges {
			if c.URI == ch.Spec.URL && c.Error != nil {
				problem = c.Error
			}
		}
		state := acmev1.Invalid
		if a.Status == xacme.StatusExpired {
			state = acmev1.Expired
		}
		return r.serverState(ctx, ch, iss, state, problem)
	}
	wait := authorizationPoll
	if ch.Status.PresentedAt != nil && r.now().Sub(ch.Status.PresentedAt.Time) > 30*time.Second {
		wait = 5 * time.Second
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// serverState records a final state the server gave.
func (r *ChallengeReconciler) serverState(ctx context.Context, ch *acmev1.Challenge, _ *Issuer, state acmev1.State, problem error) (ctrl.Result, error) {
	reason := ReasonAuthorized
	if state == acmev1.Valid {
		r.Events.Eventf(ch, nil, corev1.EventTypeNormal, "DomainVerified", "Validate", "Domain %q verified with %q validation", ch.Spec.DNSName, ch.Spec.Type)
	} else {
		reason = fmt.Sprintf("Accepting challenge authorization failed: the server says the challenge is %s", state)
		if problem != nil {
			reason += ": " + acmeproto.Describe(problem)
		}
		r.Events.Eventf(ch, nil, corev1.EventTypeWarning, "Failed", "Validate", "%s", reason)
	}
	// Final now: clean up first, so that one status write says both.
	presented := ch.Status.Presented
	if presented {
		if err := r.cleanUp(ctx, ch); err == nil {
			presented = false
		}
	}
	return ctrl.Result{}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) {
		st.State, st.Reason, st.Processing, st.Presented = state, reason, false, presented
	})
}

// acmeError records a failed ACME call: malformed means the challenge is
// gone (expired), another 4xx that it cannot succeed (errored); network
// errors and server failures are retried.
func (r *ChallengeReconciler) acmeError(ctx context.Context, ch *acmev1.Challenge, step string, err error) (ctrl.Result, error) {
	msg := fmt.Sprintf("%s: %s", step, acmeproto.Describe(err))
	if !acmeproto.ClientError(err) {
		_ = r.update(ctx, ch, func(st *acmev1.ChallengeStatus) { st.Reason = msg })
		return ctrl.Result{}, fmt.Errorf("%s: %w", step, err)
	}
	state := acmev1.Errored
	if acmeproto.ProblemType(err) == "malformed" {
		state = acmev1.Expired
	}
	r.Events.Eventf(ch, nil, corev1.EventTypeWarning, "Failed", "Validate", "%s", msg)
	return ctrl.Result{}, r.update(ctx, ch, func(st *acmev1.ChallengeStatus) {
		st.State, st.Reason, st.Processing = state, msg, false
	})
}

// selfCheck checks that the token or record can be seen as the server
// will see it.
func (r *ChallengeReconciler) selfCheck(ctx context.Context, ch *acmev1.Challenge, iss *Issuer) error {
	switch ch.Spec.Type {
	case acmev1.ACMEChallengeTypeHTTP01:
		return http01.SelfCheck(ctx, ch.Spec.DNSName, ch.Spec.Token, ch.Spec.Key, r.HTTP01.SelfCheck)
	case acmev1.ACMEChallengeTypeDNS01:
		fqdn, err := r.recordName(ctx, ch)
		if err != nil {
			return err
		}
		ok, detail, err := dns01.CheckTXT(ctx, fqdn, ch.Spec.Key, r.DNS01)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New(detail)
		}
		return nil
	}
	return fmt.Errorf("challenge type %q is not supported", ch.Spec.Type)
}

// finish cleans up a Challenge that is final or being deleted, then lets
// it go.
func (r *ChallengeReconciler) finish(ctx context.Context, ch *acmev1.Challenge) error {
	// A Challenge that was cleaned up when it became final has Presented
	// false; one deleted before it was final may have been presented in
	// part.
	if ch.Status.Presented || (ch.DeletionTimestamp != nil && !ch.Status.State.Final()) {
		if err := r.cleanUp(ctx, ch); err != nil {
			r.Events.Eventf(ch, nil, corev1.EventTypeWarning, "CleanUpError", "CleanUp", "Error cleaning up challenge: %s", err.Error())
			if ch.DeletionTimestamp == nil || !errors.Is(err, errIssuerGone) {
				return err
			}
		}
		if ch.Status.Presented && ch.DeletionTimestamp == nil {
			if err := r.update(ctx, ch, func(st *acmev1.ChallengeStatus) { st.Presented, st.Processing = false, false }); err != nil {
				return err
			}
		}
	}
	if !hasFinalizer(ch) {
		return nil
	}
	return r.patchFinalizers(ctx, ch, func() {
		controllerutil.RemoveFinalizer(ch, Finalizer)
		controllerutil.RemoveFinalizer(ch, legacyFinalizer)
	})
}

// patchFinalizers writes the finalizers change makes with a merge patch,
// which does not conflict with the status written just before.
func (r *ChallengeReconciler) patchFinalizers(ctx context.Context, ch *acmev1.Challenge, change func()) error {
	base := ch.DeepCopy()
	change()
	return client.IgnoreNotFound(r.Writer.Patch(ctx, ch, client.MergeFrom(base)))
}

var errIssuerGone = errors.New("the issuer is gone")

// cleanUp removes what present put in place.
func (r *ChallengeReconciler) cleanUp(ctx context.Context, ch *acmev1.Challenge) error {
	switch ch.Spec.Type {
	case acmev1.ACMEChallengeTypeHTTP01:
		return r.cleanUpHTTP01(ctx, ch)
	case acmev1.ACMEChallengeTypeDNS01:
		iss, err := r.Accounts.Issuer(ctx, ch.Namespace, ch.Spec.IssuerRef)
		var notReady *ErrNotReady
		if errors.As(err, &notReady) {
			// Without the issuer there are no credentials to remove the
			// record with; the record is harmless once validated.
			return fmt.Errorf("%w: %s", errIssuerGone, notReady.Message)
		}
		if err != nil {
			return err
		}
		return r.dns01(ctx, ch, iss, false)
	}
	return nil
}

// presentHTTP01 routes the token path to certplane's solver when the
// solver asks for an Ingress or HTTPRoute; the token itself is served from
// the Challenge.
func (r *ChallengeReconciler) presentHTTP01(ctx context.Context, ch *acmev1.Challenge) error {
	h := ch.Spec.Solver.HTTP01
	if h == nil || (h.Ingress == nil && h.GatewayHTTPRoute == nil) {
		return nil
	}
	name := acmepolicy.SolverObjectName(ch)
	if err := r.Writer.Create(ctx, acmepolicy.SolverService(ch, r.HTTP01.ServiceName, r.HTTP01.ServicePort)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Service %s: %w", name, err)
	}
	switch {
	case h.GatewayHTTPRoute != nil:
		route := acmepolicy.SolverHTTPRoute(ch, name, r.HTTP01.ServicePort)
		if err := r.Writer.Create(ctx, route); err != nil && !apierrors.IsAlreadyExists(err) {
			if meta.IsNoMatchError(err) {
				return errors.New("creating HTTPRoute: the Gateway API (gateway.networking.k8s.io/v1 HTTPRoute) is not served by this cluster")
			}
			return fmt.Errorf("creating HTTPRoute %s: %w", name, err)
		}
	case h.Ingress.Name != "":
		ing := &networkingv1.Ingress{}
		if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ch.Namespace, Name: h.Ingress.Name}, ing); err != nil {
			return fmt.Errorf("reading Ingress %s to add the challenge path to: %w", h.Ingress.Name, err)
		}
		if acmepolicy.AddIngressPath(ing, ch, name, r.HTTP01.ServicePort) {
			if err := r.Writer.Update(ctx, ing); err != nil {
				return fmt.Errorf("adding the challenge path to Ingress %s: %w", h.Ingress.Name, err)
			}
		}
	default:
		if err := r.Writer.Create(ctx, acmepolicy.SolverIngress(ch, name, r.HTTP01.ServicePort)); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Ingress %s: %w", name, err)
		}
	}
	return nil
}

func (r *ChallengeReconciler) cleanUpHTTP01(ctx context.Context, ch *acmev1.Challenge) error {
	h := ch.Spec.Solver.HTTP01
	if h == nil || (h.Ingress == nil && h.GatewayHTTPRoute == nil) {
		return nil
	}
	name := acmepolicy.SolverObjectName(ch)
	var objs []client.Object
	switch {
	case h.GatewayHTTPRoute != nil:
		route := &unstructured.Unstructured{}
		route.SetAPIVersion("gateway.networking.k8s.io/v1")
		route.SetKind("HTTPRoute")
		route.SetNamespace(ch.Namespace)
		route.SetName(name)
		objs = append(objs, route)
	case h.Ingress.Name != "":
		ing := &networkingv1.Ingress{}
		err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ch.Namespace, Name: h.Ingress.Name}, ing)
		if err == nil && acmepolicy.RemoveIngressPath(ing, ch) {
			if err := r.Writer.Update(ctx, ing); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("removing the challenge path from Ingress %s: %w", h.Ingress.Name, err)
			}
		} else if client.IgnoreNotFound(err) != nil {
			return err
		}
	default:
		objs = append(objs, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ch.Namespace, Name: name}})
	}
	objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ch.Namespace, Name: name}})
	for _, o := range objs {
		if err := r.Writer.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			return fmt.Errorf("deleting %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, name, err)
		}
	}
	return nil
}

// dns01 presents (or, with present false, removes) the TXT record.
func (r *ChallengeReconciler) dns01(ctx context.Context, ch *acmev1.Challenge, iss *Issuer, present bool) error {
	d := ch.Spec.Solver.DNS01
	if d == nil {
		return errors.New("the solver has no dns01 configuration")
	}
	if d.RFC2136 == nil {
		return fmt.Errorf("DNS-01 provider %q is not supported by certplane yet (supported: rfc2136)", dnsProvider(d))
	}
	p, err := r.rfc2136(ctx, d.RFC2136, iss.Namespace)
	if err != nil {
		return err
	}
	fqdn, err := r.recordName(ctx, ch)
	if err != nil {
		return err
	}
	zone, err := dns01.FindZone(ctx, fqdn, r.DNS01.RecursiveNameservers)
	if err != nil {
		return err
	}
	if present {
		return p.Present(ctx, fqdn, zone, ch.Spec.Key)
	}
	return p.CleanUp(ctx, fqdn, zone, ch.Spec.Key)
}

// recordName is the name of the challenge's TXT record, CNAMEs followed
// when the solver says so.
func (r *ChallengeReconciler) recordName(ctx context.Context, ch *acmev1.Challenge) (string, error) {
	fqdn := dns01.ChallengeFQDN(ch.Spec.DNSName)
	if d := ch.Spec.Solver.DNS01; d != nil && d.CNAMEStrategy == "Follow" {
		return dns01.FollowCNAME(ctx, fqdn, r.DNS01.RecursiveNameservers)
	}
	return fqdn, nil
}

// rfc2136 is the provider of spec with its TSIG secret read.
func (r *ChallengeReconciler) rfc2136(ctx context.Context, spec *cmv1.ACMEIssuerDNS01ProviderRFC2136, namespace string) (*dns01.RFC2136, error) {
	p := &dns01.RFC2136{Nameserver: spec.Nameserver, TSIGKeyName: spec.TSIGKeyName, TSIGAlgorithm: spec.TSIGAlgorithm, Protocol: spec.Protocol}
	if ref := spec.TSIGSecret; ref.Name != "" {
		s := &corev1.Secret{}
		if err := r.SecretReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("TSIG Secret %s/%s not found", namespace, ref.Name)
			}
			return nil, fmt.Errorf("reading TSIG Secret %s/%s: %w", namespace, ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return nil, fmt.Errorf("TSIG Secret %s/%s has no key %q", namespace, ref.Name, ref.Key)
		}
		p.TSIGSecret = strings.TrimSpace(string(v))
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// dnsProvider names the provider a dns01 solver configures.
func dnsProvider(d *cmv1.ACMEChallengeSolverDNS01) string {
	for name, set := range map[string]bool{
		"akamai": d.Akamai != nil, "cloudDNS": d.CloudDNS != nil, "cloudflare": d.Cloudflare != nil, "route53": d.Route53 != nil,
		"azureDNS": d.AzureDNS != nil, "digitalocean": d.DigitalOcean != nil, "acmeDNS": d.AcmeDNS != nil, "webhook": d.Webhook != nil,
	} {
		if set {
			return name
		}
	}
	return "none"
}

// update writes the status change made by change, when it changes
// anything.
func (r *ChallengeReconciler) update(ctx context.Context, ch *acmev1.Challenge, change func(*acmev1.ChallengeStatus)) error {
	next := ch.DeepCopy()
	change(&next.Status)
	if equalStatus(ch.Status, next.Status) {
		return nil
	}
	return ignoreConflict(r.Status.Update(ctx, next))
}

func equalStatus(a, b acmev1.ChallengeStatus) bool {
	return a.Processing == b.Processing && a.Presented == b.Presented && a.Reason == b.Reason && a.State == b.State &&
		((a.PresentedAt == nil) == (b.PresentedAt == nil)) && (a.PresentedAt == nil || a.PresentedAt.Equal(b.PresentedAt))
}

func hasFinalizer(ch *acmev1.Challenge) bool {
	return controllerutil.ContainsFinalizer(ch, Finalizer) || controllerutil.ContainsFinalizer(ch, legacyFinalizer)
}

func (r *ChallengeReconciler) checkRetry() time.Duration {
	if r.CheckRetry > 0 {
		return r.CheckRetry
	}
	return 10 * time.Second
}

func (r *ChallengeReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager watches Challenges, and indexes them by token for the
// HTTP-01 solver.
func (r *ChallengeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.Workers
	if workers <= 0 {
		workers = 60
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&acmev1.Challenge{}).
		Named("challenges").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}
