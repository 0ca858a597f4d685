package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	"github.com/certplane/certplane/internal/requestpolicy"
)

// reviewTTL is how long a SubjectAccessReview's answer is reused: a
// RoleBinding's change takes effect within it.
const reviewTTL = 10 * time.Second

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Gate decides issuance requests by the Ready CertificateRequestPolicies,
// as approver-policy does: the policies that select a request and are
// bound to its requester (verb use on the policy, checked with a
// SubjectAccessReview in the request's namespace) decide it. Every path
// that issues asks it: CertificateRequests, Certificates issued in
// process, CertificateSigningRequests and PodCertificateRequests.
type Gate struct {
	Policies *Policies
	// Lister lists the CertificateRequestPolicies (the cache) once, before
	// the first decision, so that nothing is decided on policies not
	// loaded yet (after a restart, say).
	Lister client.Reader
	// Reviews creates SubjectAccessReviews.
	Reviews client.Writer
	// Namespaces reads namespaces for the policies' matchLabels (the
	// cache).
	Namespaces client.Reader
	// Now is the clock. If nil, time.Now.
	Now func() time.Time

	mu      sync.Mutex
	reviews map[string]review

	loadMu sync.Mutex
	loaded bool
}

type review struct {
	allowed bool
	expires time.Time
}

// Decide decides r for who. A request no policy selects has Selected false:
// the caller leaves it to other approvers, or denies it under
// --require-policy. Without policies it costs nothing.
func (g *Gate) Decide(ctx context.Context, r requestpolicy.Request, who authnv1.UserInfo) (requestpolicy.Decision, error) {
	if err := g.load(ctx); err != nil {
		return requestpolicy.Decision{}, err
	}
	policies := g.Policies.Snapshot()
	if len(policies) == 0 {
		return requestpolicy.Decision{}, nil
	}
	if r.Namespace != "" && r.NamespaceLabels == nil && g.Namespaces != nil && requestpolicy.NeedNamespaceLabels(policies) {
		ns := &corev1.Namespace{}
		if err := g.Namespaces.Get(ctx, types.NamespacedName{Name: r.Namespace}, ns); err != nil && !apierrors.IsNotFound(err) {
			return requestpolicy.Decision{}, err
		}
		r.NamespaceLabels = ns.Labels
	}
	var reviewErr error
	d := requestpolicy.Decide(policies, r, func(name string) bool {
		ok, err := g.bound(ctx, name, r.Namespace, who)
		if err != nil && reviewErr == nil {
			reviewErr = err
		}
		return ok
	})
	if reviewErr != nil {
		return requestpolicy.Decision{}, reviewErr
	}
	return d, nil
}

// bound reports whether who may use the policy name in namespace.
func (g *Gate) bound(ctx context.Context, name, namespace string, who authnv1.UserInfo) (bool, error) {
	groups := append([]string(nil), who.Groups...)
	sort.Strings(groups)
	key := strings.Join([]string{who.Username, who.UID, strings.Join(groups, ","), namespace, name}, "\x00")
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	g.mu.Lock()
	if rv, ok := g.reviews[key]; ok && now.Before(rv.expires) {
		g.mu.Unlock()
		return rv.allowed, nil
	}
	g.mu.Unlock()
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range who.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: who.Username, UID: who.UID, Groups: who.Groups, Extra: extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: namespace, Verb: "use", Group: "policy.cert-manager.io", Resource: "certificaterequestpolicies", Name: name,
		},
	}}
	if err := g.Reviews.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("reviewing whether %q may use CertificateRequestPolicy %q: %w", who.Username, name, err)
	}
	g.mu.Lock()
	if g.reviews == nil || len(g.reviews) > 10000 {
		g.reviews = map[string]review{}
	}
	g.reviews[key] = review{allowed: sar.Status.Allowed, expires: now.Add(reviewTTL)}
	g.mu.Unlock()
	return sar.Status.Allowed, nil
}

// load puts every CertificateRequestPolicy that compiles into the registry
// once, from the synced cache, before the first decision: the reconciler
// fills it one policy at a time, and a decision taken before it is done
// would let through what a policy not yet loaded refuses.
func (g *Gate) load(ctx context.Context) error {
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	if g.loaded || g.Lister == nil {
		return nil
	}
	var list policyv1alpha1.CertificateRequestPolicyList
	if err := g.Lister.List(ctx, &list); err != nil {
		return fmt.Errorf("loading the CertificateRequestPolicies: %w", err)
	}
	for i := range list.Items {
		crp := &list.Items[i]
		if crp.DeletionTimestamp != nil {
			continue
		}
		if cur := g.Policies.Get(crp.Name); cur != nil && cur.UID() == crp.UID && cur.Generation() >= crp.Generation {
			continue // the reconciler was first
		}
		if p, err := requestpolicy.Compile(crp); err == nil {
			g.Policies.Set(p)
		}
	}
	g.loaded = true
	return nil
}
