package acme

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	xacme "golang.org/x/crypto/acme"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	acmeproto "github.com/certplane/certplane/internal/acme"
	"github.com/certplane/certplane/internal/acmepolicy"
	"github.com/certplane/certplane/pkg/pki"
)

const (
	// orderTimeout bounds the ACME calls of one reconcile.
	orderTimeout = time.Minute
	// notReadyRetry is how soon an Order whose issuer has no account yet
	// looks again.
	notReadyRetry = 10 * time.Second
	// serverPoll is how soon an Order the server is still working on (all
	// challenges done, or finalizing) is read again.
	serverPoll = time.Second
	// indexChallengeOrder indexes Challenges by the Order that owns them.
	indexChallengeOrder = "metadata.ownerReferences.order"
)

// OrderReconciler places ACME orders, creates a Challenge for each
// authorization still to be done, and finalizes the order once the server
// says it is ready, as cert-manager's orders controller does.
type OrderReconciler struct {
	// Reader reads Orders and Challenges (the cache).
	Reader client.Reader
	// Writer creates and deletes Challenges.
	Writer   client.Writer
	Status   client.SubResourceWriter
	Events   eventRecorder
	Accounts *Accounts
	Now      func() time.Time
	// Workers is how many Orders are handled at once. If zero, 8.
	Workers int
}

// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=orders,verbs=get;list;watch
// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=orders/status,verbs=update
// +kubebuilder:rbac:groups=acme.cert-manager.io,resources=challenges,verbs=get;list;watch;create;delete

// Reconcile moves one Order on.
func (r *OrderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	order := &acmev1.Order{}
	if err := r.Reader.Get(ctx, req.NamespacedName, order); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if order.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if order.Status.State.Final() {
		if order.Status.State == acmev1.Valid {
			return ctrl.Result{}, r.deleteChallenges(ctx, order)
		}
		return ctrl.Result{}, nil
	}
	iss, err := r.Accounts.Issuer(ctx, order.Namespace, order.Spec.IssuerRef)
	var notReady *ErrNotReady
	if errors.As(err, &notReady) {
		return ctrl.Result{RequeueAfter: notReadyRetry}, r.setReason(ctx, order, "Waiting for the issuer: "+notReady.Message)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, orderTimeout)
	defer cancel()
	if order.Status.URL == "" {
		return r.create(ctx, order, iss)
	}
	if order.Status.State == acmev1.Pending || order.Status.State == "" {
		// While Challenges are being solved the server has nothing new to
		// say: ask it only once they are all valid.
		if res, waiting, err := r.pending(ctx, order, iss); waiting || err != nil {
			return res, err
		}
	}
	o, err := iss.Client.GetOrder(ctx, order.Status.URL)
	if err != nil {
		return r.serverError(ctx, order, "Failed to get order", err)
	}
	switch o.Status {
	case xacme.StatusPending:
		// The server has not noticed the last validation yet.
		return ctrl.Result{RequeueAfter: serverPoll}, nil
	case xacme.StatusReady:
		return r.finalize(ctx, order, iss, "")
	case xacme.StatusValid:
		return r.finalize(ctx, order, iss, o.CertURL)
	case xacme.StatusInvalid:
		return ctrl.Result{}, r.fail(ctx, order, acmev1.Invalid, r.invalidReason(ctx, iss, o))
	default: // processing
		return ctrl.Result{RequeueAfter: serverPoll}, nil
	}
}

// create places the order at the server and records its authorizations.
func (r *OrderReconciler) create(ctx context.Context, order *acmev1.Order, iss *Issuer) (ctrl.Result, error) {
	var ids []xacme.AuthzID
	for _, n := range order.Spec.DNSNames {
		ids = append(ids, xacme.AuthzID{Type: "dns", Value: n})
	}
	for _, ip := range order.Spec.IPAddresses {
		ids = append(ids, xacme.AuthzID{Type: "ip", Value: ip})
	}
	var (
		opts     []xacme.OrderOption
		notAfter time.Time
		o        *xacme.Order
		err      error
	)
	if order.Spec.Duration != nil {
		notAfter = r.now().Add(order.Spec.Duration.Duration)
		opts = append(opts, xacme.WithOrderNotAfter(notAfter))
	}
	if order.Spec.Profile != "" {
		var url string
		url, err = acmeproto.OrderWithProfile(ctx, iss.Client, ids, order.Spec.Profile, notAfter)
		if err == nil {
			o, err = iss.Client.GetOrder(ctx, url)
		}
		if errors.Is(err, acmeproto.ErrNoProfiles) || errors.Is(err, acmeproto.ErrProfileNotOffered) {
			return ctrl.Result{}, r.fail(ctx, order, acmev1.Errored, "Failed to create Order: "+err.Error())
		}
	} else {
		o, err = iss.Client.AuthorizeOrder(ctx, ids, opts...)
	}
	if err != nil {
		return r.serverError(ctx, order, "Failed to create Order", err)
	}
	next := order.DeepCopy()
	next.Status.URL, next.Status.FinalizeURL, next.Status.State, next.Status.Reason = o.URI, o.FinalizeURL, acmev1.State(o.Status), ""
	next.Status.Authorizations = nil
	for _, u := range o.AuthzURLs {
		a, err := iss.Client.GetAuthorization(ctx, u)
		if err != nil {
			return r.serverError(ctx, order, "Failed to get authorization", err)
		}
		wildcard := a.Wildcard
		authz := acmev1.ACMEAuthorization{URL: u, Identifier: a.Identifier.Value, Wildcard: &wildcard, InitialState: acmev1.State(a.Status)}
		for _, c := range a.Challenges {
			authz.Challenges = append(authz.Challenges, acmev1.ACMEChallenge{URL: c.URI, Token: c.Token, Type: c.Type})
		}
		next.Status.Authorizations = append(next.Status.Authorizations, authz)
	}
	if err := r.Status.Update(ctx, next); err != nil {
		// The order exists at the server but is not recorded: a retry
		// places another, which the server keeps apart.
		return ctrl.Result{}, ignoreConflict(err)
	}
	return ctrl.Result{}, nil
}

// pending makes sure every authorization still to be done has its
// Challenge, and fails the Order when one of them failed for good. waiting
// is false once every authorization is valid, for the caller to ask the
// server.
func (r *OrderReconciler) pending(ctx context.Context, order *acmev1.Order, iss *Issuer) (res ctrl.Result, waiting bool, err error) {
	existing, err := r.challenges(ctx, order)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	allValid, noSolver := true, ""
	for _, authz := range order.Status.Authorizations {
		if authz.InitialState == acmev1.Valid {
			continue
		}
		solver, chal, ok := acmepolicy.PickChallenge(iss.Spec.Solvers, order.Labels, authz)
		if !ok {
			noSolver = fmt.Sprintf("%s (for %s)", acmepolicy.NoSolverMessage, authz.Identifier)
			allValid = false
			continue
		}
		solver, err := acmepolicy.ApplySolverOverrides(order.Annotations, solver)
		if err != nil {
			return ctrl.Result{}, true, r.fail(ctx, order, acmev1.Errored, "Invalid solver override: "+err.Error())
		}
		key, err := challengeKey(iss.Client, chal)
		if err != nil {
			return ctrl.Result{}, true, r.fail(ctx, order, acmev1.Errored, err.Error())
		}
		spec := acmepolicy.ChallengeSpec(order, authz, chal, solver, key)
		name := acmepolicy.ChallengeName(order.Name, spec)
		ch, found := existing[name]
		if !found {
			ch = &acmev1.Challenge{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: order.Namespace, Name: name, Labels: order.Labels,
					OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(order, acmev1.GroupVersion.WithKind("Order"))},
				},
				Spec: spec,
			}
			switch err := r.Writer.Create(ctx, ch); {
			case apierrors.IsAlreadyExists(err):
				// Created before; the cache had not seen it yet.
				allValid = false
				continue
			case err != nil:
				return ctrl.Result{}, true, err
			}
			r.Events.Eventf(order, ch, corev1.EventTypeNormal, "Created", "Solve", "Created Challenge resource %q for domain %q", name, spec.DNSName)
			allValid = false
			continue
		}
		if ch.Status.State.Failed() {
			// The server's order would stay pending for ever: fail it, so
			// that the request fails and the Certificate retries with a
			// new Order after its backoff.
			return ctrl.Result{}, true, r.fail(ctx, order, acmev1.Errored, fmt.Sprintf("Challenge %s for %q is %s: %s", name, spec.DNSName, ch.Status.State, ch.Status.Reason))
		}
		if ch.Status.State != acmev1.Valid {
			allValid = false
		}
	}
	if noSolver != "" {
		if order.Status.Reason != noSolver {
			r.Events.Eventf(order, nil, corev1.EventTypeWarning, "Solver", "Solve", "%s", noSolver)
		}
		return ctrl.Result{}, true, r.setReason(ctx, order, noSolver)
	}
	if allValid {
		return ctrl.Result{}, false, nil
	}
	return ctrl.Result{}, true, r.setReason(ctx, order, "")
}

// challengeKey is what a Challenge presents: the key authorization for
// HTTP-01, its DNS record value for DNS-01.
func challengeKey(c *xacme.Client, chal acmev1.ACMEChallenge) (string, error) {
	if strings.EqualFold(chal.Type, acmepolicy.TypeDNS01) {
		return c.DNS01ChallengeRecord(chal.Token)
	}
	return c.HTTP01ChallengeResponse(chal.Token)
}

// finalize sends the request (when certURL is empty) and records the
// certificate chain, the preferred one when the issuer names one.
func (r *OrderReconciler) finalize(ctx context.Context, order *acmev1.Order, iss *Issuer, certURL string) (ctrl.Result, error) {
	var (
		ders [][]byte
		err  error
	)
	if certURL == "" {
		block, _ := pem.Decode(order.Spec.Request)
		if block == nil {
			return ctrl.Result{}, r.fail(ctx, order, acmev1.Errored, "Failed to finalize Order: spec.request is not a PEM certificate request")
		}
		ders, certURL, err = iss.Client.CreateOrderCert(ctx, order.Status.FinalizeURL, block.Bytes, true)
		if err != nil {
			return r.serverError(ctx, order, "Failed to finalize Order", err)
		}
	} else {
		ders, err = iss.Client.FetchCert(ctx, certURL, true)
		if err != nil {
			return r.serverError(ctx, order, "Failed to fetch the certificate", err)
		}
	}
	chains := [][][]byte{ders}
	if iss.Spec.PreferredChain != "" {
		alts, err := iss.Client.ListCertAlternates(ctx, certURL)
		if err != nil {
			return r.serverError(ctx, order, "Failed to list alternate chains", err)
		}
		for _, u := range alts {
			alt, err := iss.Client.FetchCert(ctx, u, true)
			if err != nil {
				return r.serverError(ctx, order, "Failed to fetch an alternate chain", err)
			}
			chains = append(chains, alt)
		}
	}
	parsed := make([][]*x509.Certificate, 0, len(chains))
	for _, c := range chains {
		var certs []*x509.Certificate
		for _, der := range c {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return ctrl.Result{}, r.fail(ctx, order, acmev1.Errored, "Failed to parse the certificate the server issued: "+err.Error())
			}
			certs = append(certs, cert)
		}
		if len(certs) == 0 {
			return ctrl.Result{}, r.fail(ctx, order, acmev1.Errored, "The server issued an empty certificate chain")
		}
		parsed = append(parsed, certs)
	}
	chain := parsed[acmepolicy.SelectChain(parsed, iss.Spec.PreferredChain)]
	next := order.DeepCopy()
	next.Status.Certificate = pki.EncodeCertificatesPEM(chain...)
	next.Status.State, next.Status.Reason = acmev1.Valid, ""
	if err := r.Status.Update(ctx, next); err != nil {
		return ctrl.Result{}, ignoreConflict(err)
	}
	r.Events.Eventf(order, nil, corev1.EventTypeNormal, "Complete", "Finalize", "Order completed successfully")
	return ctrl.Result{}, nil
}

// invalidReason explains an invalid order from its error or the failed
// challenges of its authorizations.
func (r *OrderReconciler) invalidReason(ctx context.Context, iss *Issuer, o *xacme.Order) string {
	if o.Error != nil {
		return "Order is invalid: " + acmeproto.Describe(o.Error)
	}
	for _, u := range o.AuthzURLs {
		a, err := iss.Client.GetAuthorization(ctx, u)
		if err != nil || a.Status != xacme.StatusInvalid {
			continue
		}
		for _, c := range a.Challenges {
			if c.Error != nil {
				return fmt.Sprintf("Authorization for %q is invalid: %s", a.Identifier.Value, acmeproto.Describe(c.Error))
			}
		}
		return fmt.Sprintf("Authorization for %q is invalid", a.Identifier.Value)
	}
	return "Order is invalid"
}

// serverError records an ACME server's refusal (4xx) as an errored Order,
// or returns err for the workqueue's backoff when the server could not be
// reached, failed (5xx) or kept refusing nonces, after the client's own
// retries.
func (r *OrderReconciler) serverError(ctx context.Context, order *acmev1.Order, step string, err error) (ctrl.Result, error) {
	if acmeproto.ClientError(err) {
		return ctrl.Result{}, r.fail(ctx, order, acmev1.Errored, step+": "+acmeproto.Describe(err))
	}
	var (
		ne net.Error
		ae *xacme.Error
	)
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ae) {
		_ = r.setReason(ctx, order, step+": "+err.Error())
		return ctrl.Result{}, fmt.Errorf("%s: %w", step, err)
	}
	// Not a problem document: a malformed answer. Retrying would see the
	// same; fail and let the Certificate back off.
	return ctrl.Result{}, r.fail(ctx, order, acmev1.Errored, step+": unexpected non-ACME API error: "+err.Error())
}

// fail puts the Order in a final failure state.
func (r *OrderReconciler) fail(ctx context.Context, order *acmev1.Order, state acmev1.State, reason string) error {
	next := order.DeepCopy()
	now := metav1.NewTime(r.now())
	next.Status.State, next.Status.Reason, next.Status.FailureTime = state, reason, &now
	if err := r.Status.Update(ctx, next); err != nil {
		return ignoreConflict(err)
	}
	r.Events.Eventf(order, nil, corev1.EventTypeWarning, "Failed", "Order", "%s", reason)
	return nil
}

// setReason records why the Order waits, when it changed.
func (r *OrderReconciler) setReason(ctx context.Context, order *acmev1.Order, reason string) error {
	if order.Status.Reason == reason {
		return nil
	}
	next := order.DeepCopy()
	next.Status.Reason = reason
	return ignoreConflict(r.Status.Update(ctx, next))
}

// challenges are the Order's Challenges by name.
func (r *OrderReconciler) challenges(ctx context.Context, order *acmev1.Order) (map[string]*acmev1.Challenge, error) {
	var list acmev1.ChallengeList
	if err := r.Reader.List(ctx, &list, client.InNamespace(order.Namespace), client.MatchingFields{indexChallengeOrder: order.Name}); err != nil {
		return nil, err
	}
	out := make(map[string]*acmev1.Challenge, len(list.Items))
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], order) {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out, nil
}

// deleteChallenges removes a valid Order's Challenges, as cert-manager does.
func (r *OrderReconciler) deleteChallenges(ctx context.Context, order *acmev1.Order) error {
	chs, err := r.challenges(ctx, order)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		if ch.DeletionTimestamp != nil {
			continue
		}
		if err := r.Writer.Delete(ctx, ch); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

func (r *OrderReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// ignoreConflict drops the errors after which the watch brings a newer
// version: a conflict, or an object deleted meanwhile.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// SetupWithManager watches Orders and the Challenges they own.
func (r *OrderReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexChallengesByOrder(mgr); err != nil {
		return err
	}
	workers := r.Workers
	if workers <= 0 {
		workers = 8
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&acmev1.Order{}).
		Owns(&acmev1.Challenge{}).
		Named("orders").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// indexChallengesByOrder indexes Challenges by their controlling Order.
func indexChallengesByOrder(mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(context.Background(), &acmev1.Challenge{}, indexChallengeOrder, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Order" {
			return []string{ref.Name}
		}
		return nil
	})
}
