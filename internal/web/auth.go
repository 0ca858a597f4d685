package web

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// User is who a request comes from, as the apiserver authenticated its
// bearer token.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Access is one permission: Verb on Group/Resource in Namespace ("" for
// every namespace, or a cluster-scoped resource).
type Access struct {
	Verb, Group, Resource, Namespace string
}

// Auth authenticates the bearer tokens of requests and authorizes what
// their users read.
type Auth interface {
	// Authenticate returns the token's user; nil and no error when the
	// token is refused.
	Authenticate(ctx context.Context, token string) (*User, error)
	// Allowed reports whether u may do a.
	Allowed(ctx context.Context, u *User, a Access) (bool, error)
}

// creator is what APIServerAuth needs of a client.
type creator interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// APIServerAuth asks the apiserver, as kube-rbac-proxy does: a TokenReview
// for each token, a SubjectAccessReview for each permission; answers are
// kept for TTL so that a page and its live updates do not ask again.
type APIServerAuth struct {
	Client creator
	// TTL is how long an answer is kept. If zero, 10 s.
	TTL time.Duration
	// Now is the clock. If nil, time.Now.
	Now func() time.Time

	mu        sync.Mutex
	tokens    map[[sha256.Size]byte]cachedUser
	decisions map[string]cachedDecision
}

type cachedUser struct {
	user    *User
	expires time.Time
}

type cachedDecision struct {
	allowed bool
	expires time.Time
}

// maxCached bounds each cache: past it, the cache starts over.
const maxCached = 10000

// Authenticate sends a TokenReview; a token is kept only as its SHA-256.
func (a *APIServerAuth) Authenticate(ctx context.Context, token string) (*User, error) {
	key := sha256.Sum256([]byte(token))
	now := a.now()
	a.mu.Lock()
	if c, ok := a.tokens[key]; ok && now.Before(c.expires) {
		a.mu.Unlock()
		return c.user, nil
	}
	a.mu.Unlock()
	review := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}
	if err := a.Client.Create(ctx, review); err != nil {
		return nil, fmt.Errorf("reviewing the token: %w", err)
	}
	var u *User
	if st := review.Status; st.Authenticated {
		u = &User{Name: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Extra: map[string][]string{}}
		for k, v := range st.User.Extra {
			u.Extra[k] = v
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tokens == nil || len(a.tokens) >= maxCached {
		a.tokens = map[[sha256.Size]byte]cachedUser{}
	}
	a.tokens[key] = cachedUser{user: u, expires: now.Add(a.ttl())}
	return u, nil
}

// Allowed sends a SubjectAccessReview.
func (a *APIServerAuth) Allowed(ctx context.Context, u *User, acc Access) (bool, error) {
	key := strings.Join([]string{u.Name, u.UID, strings.Join(u.Groups, ","), acc.Verb, acc.Group, acc.Resource, acc.Namespace}, "\x00")
	now := a.now()
	a.mu.Lock()
	if c, ok := a.decisions[key]; ok && now.Before(c.expires) {
		a.mu.Unlock()
		return c.allowed, nil
	}
	a.mu.Unlock()
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: u.Name, UID: u.UID, Groups: u.Groups, Extra: map[string]authzv1.ExtraValue{},
		ResourceAttributes: &authzv1.ResourceAttributes{Verb: acc.Verb, Group: acc.Group, Resource: acc.Resource, Namespace: acc.Namespace},
	}}
	for k, v := range u.Extra {
		sar.Spec.Extra[k] = v
	}
	if err := a.Client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("reviewing access to %s: %w", acc.Resource, err)
	}
	allowed := sar.Status.Allowed && !sar.Status.Denied
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.decisions == nil || len(a.decisions) >= maxCached {
		a.decisions = map[string]cachedDecision{}
	}
	a.decisions[key] = cachedDecision{allowed: allowed, expires: now.Add(a.ttl())}
	return allowed, nil
}

func (a *APIServerAuth) ttl() time.Duration {
	if a.TTL > 0 {
		return a.TTL
	}
	return 10 * time.Second
}

func (a *APIServerAuth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
