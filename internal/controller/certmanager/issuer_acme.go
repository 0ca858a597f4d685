package certmanager

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"

	xacme "golang.org/x/crypto/acme"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	acmeproto "github.com/certplane/certplane/internal/acme"
	"github.com/certplane/certplane/internal/acmepolicy"
	"github.com/certplane/certplane/internal/certpolicy"
	acmectrl "github.com/certplane/certplane/internal/controller/acme"
)

// acmeRegisterTimeout bounds one registration with the ACME server.
const acmeRegisterTimeout = time.Minute

// acmeRetry is how soon an ACME issuer whose server could not be reached,
// or whose Secret is missing, tries again.
const acmeRetry = 15 * time.Second

// acmeOutcome is the Ready condition of an ACME issuer, its account status
// and when to look again.
type acmeOutcome struct {
	ready   bool
	reason  string
	message string
	account *cmv1.ACMEIssuerStatus
	clear   bool // status.acme.uri must be cleared
	requeue time.Duration
}

// acmeAccount registers (or verifies) the ACME account of an issuer, as
// cert-manager's acme issuer setup does: it skips the server when the
// account is registered for this server, email and key.
func (r *IssuerReconciler) acmeAccount(ctx context.Context, spec *cmv1.ACMEIssuer, status *cmv1.IssuerStatus, namespace string) (acmeOutcome, error) {
	if reason, msg, ok := acmepolicy.CheckServer(spec.Server); !ok {
		return acmeOutcome{reason: reason, message: msg}, nil
	}
	if err := acmepolicy.CheckSolvers(spec); err != nil {
		return acmeOutcome{reason: acmepolicy.ReasonInvalidSolver, message: err.Error()}, nil
	}
	key, hash, err := r.Accounts.Key(ctx, namespace, spec)
	if err != nil {
		if isAPIError(err) {
			return acmeOutcome{}, err
		}
		return acmeOutcome{reason: acmepolicy.ReasonErrVerifyACMEAccount, message: "Failed to verify ACME account: " + err.Error()}, nil
	}
	if key == nil {
		if spec.DisableAccountKeyGeneration {
			return acmeOutcome{reason: acmepolicy.ReasonErrVerifyACMEAccount, requeue: acmeRetry,
				message: fmt.Sprintf("Failed to verify ACME account: the account key Secret %q does not exist and disableAccountKeyGeneration is set", spec.PrivateKey.Name)}, nil
		}
		if key, err = r.generateAccountKey(ctx, namespace, spec); err != nil {
			return acmeOutcome{reason: acmepolicy.ReasonErrVerifyACMEAccount, message: "Failed to verify ACME account: " + err.Error(), requeue: acmeRetry}, nil
		}
		if key == nil {
			// The Secret exists without the key (or another writer made
			// it meanwhile): never replace it.
			entry := spec.PrivateKey.Key
			if entry == "" {
				entry = acmectrl.DefaultKeyName
			}
			return acmeOutcome{reason: acmepolicy.ReasonErrVerifyACMEAccount, requeue: acmeRetry,
				message: fmt.Sprintf("Failed to verify ACME account: Secret %q has no key %q", spec.PrivateKey.Name, entry)}, nil
		}
		hash = acmepolicy.KeyHash(x509.MarshalPKCS1PrivateKey(key))
	}
	current, clearURI := acmepolicy.AccountCurrent(status, acmeIssuerReady(status), spec, hash)
	if current {
		return acmeOutcome{ready: true, reason: acmepolicy.ReasonAccountRegistered, message: acmepolicy.MessageAccountRegistered, account: status.ACME}, nil
	}
	var eab *xacme.ExternalAccountBinding
	if b := spec.ExternalAccountBinding; b != nil {
		eab, err = r.eab(ctx, namespace, b)
		if err != nil {
			return acmeOutcome{reason: acmepolicy.ReasonErrRegisterACMEAccount, message: "Failed to register ACME account: " + err.Error(), requeue: acmeRetry, clear: clearURI}, nil
		}
	}
	c, err := r.Accounts.Client(spec, key, hash, "")
	if err != nil {
		return acmeOutcome{reason: acmepolicy.ReasonErrRegisterACMEAccount, message: "Failed to register ACME account: " + err.Error(), clear: clearURI}, nil
	}
	rctx, cancel := context.WithTimeout(ctx, acmeRegisterTimeout)
	defer cancel()
	acct, err := acmeproto.Register(rctx, c, spec.Email, eab)
	if err != nil {
		out := acmeOutcome{reason: acmepolicy.ReasonErrRegisterACMEAccount, message: "Failed to register ACME account: " + acmeproto.Describe(err), clear: clearURI}
		if !acmeproto.ClientError(err) {
			out.requeue = acmeRetry // the server may be back soon; a 4xx needs a new spec
		}
		return out, nil
	}
	return acmeOutcome{ready: true, reason: acmepolicy.ReasonAccountRegistered, message: acmepolicy.MessageAccountRegistered,
		account: &cmv1.ACMEIssuerStatus{URI: acct.URI, LastRegisteredEmail: spec.Email, LastPrivateKeyHash: hash}}, nil
}

// isAPIError reports whether err came from the apiserver rather than from
// the key's content.
func isAPIError(err error) bool {
	_, ok := err.(apierrors.APIStatus)
	return ok
}

func acmeIssuerReady(status *cmv1.IssuerStatus) bool {
	for _, c := range status.Conditions {
		if c.Type == "Ready" {
			return c.Status == cmv1.ConditionTrue
		}
	}
	return false
}

// generateAccountKey writes a new RSA 2048 account key, as cert-manager
// does, into a new Secret, and returns it; nil when the Secret exists. It
// never replaces an existing Secret: one that exists without the key entry
// is left for the user to fix.
func (r *IssuerReconciler) generateAccountKey(ctx context.Context, namespace string, spec *cmv1.ACMEIssuer) (*rsa.PrivateKey, error) {
	entry := spec.PrivateKey.Key
	if entry == "" {
		entry = acmectrl.DefaultKeyName
	}
	random := r.Rand
	if random == nil {
		random = rand.Reader
	}
	key, err := acmeproto.GenerateAccountKey(random)
	if err != nil {
		return nil, fmt.Errorf("generating an ACME account key: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: spec.PrivateKey.Name,
			Labels: map[string]string{certpolicy.LabelCached: "true", "app.kubernetes.io/managed-by": "certplane"},
		},
		Data: map[string][]byte{entry: acmeproto.EncodeAccountKey(key)},
	}
	if err := r.Writer.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("creating the ACME account key Secret %s/%s: %w", namespace, spec.PrivateKey.Name, err)
	}
	return key, nil
}

// eab reads the external account binding's HMAC key.
func (r *IssuerReconciler) eab(ctx context.Context, namespace string, b *cmv1.ACMEExternalAccountBinding) (*xacme.ExternalAccountBinding, error) {
	s, err := readSecret(ctx, types.NamespacedName{Namespace: namespace, Name: b.KeySecretRef.Name}, r.SecretReader)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("external account binding Secret %q not found", b.KeySecretRef.Name)
	}
	data, ok := s.Data[b.KeySecretRef.Key]
	if !ok {
		return nil, fmt.Errorf("external account binding Secret %q has no key %q", b.KeySecretRef.Name, b.KeySecretRef.Key)
	}
	key, err := acmepolicy.ParseEABKey(data)
	if err != nil {
		return nil, fmt.Errorf("external account binding Secret %q key %q: %w", b.KeySecretRef.Name, b.KeySecretRef.Key, err)
	}
	return &xacme.ExternalAccountBinding{KID: b.KeyID, Key: key}, nil
}

// reconcileACME keeps an ACME issuer's account and Ready condition.
func (r *IssuerReconciler) reconcileACME(ctx context.Context, obj client.Object, spec *cmv1.ACMEIssuer, status *cmv1.IssuerStatus, namespace string, now time.Time) (ctrl.Result, error) {
	out, err := r.acmeAccount(ctx, spec, status, namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	cond := cmv1.IssuerCondition{Type: "Ready", Status: cmv1.ConditionFalse, Reason: out.reason, Message: out.message, ObservedGeneration: obj.GetGeneration()}
	if out.ready {
		cond.Status = cmv1.ConditionTrue
	}
	changed := setIssuerCondition(status, cond, now)
	switch {
	case out.account != nil && (status.ACME == nil || *status.ACME != *out.account):
		status.ACME, changed = out.account.DeepCopy(), true
	case out.clear && status.ACME != nil && status.ACME.URI != "":
		status.ACME.URI, changed = "", true
	}
	if changed {
		if err := r.Status.Update(ctx, obj); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		eventType := corev1.EventTypeNormal
		if !out.ready {
			eventType = corev1.EventTypeWarning
		}
		r.Events.Eventf(obj, nil, eventType, out.reason, "Verify", "%s", out.message)
	}
	return ctrl.Result{RequeueAfter: out.requeue}, nil
}
