package app

import (
	"context"
	"fmt"
	"sync"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	policyctrl "github.com/certplane/certplane/internal/controller/policy"
)

// policySetup is the CertificateRequestPolicies' gate, which every path
// that issues asks, and the channels that tell the paths a policy changed.
type policySetup struct {
	gate    *policyctrl.Gate
	require bool
	// self is the username the controllers have, from a SelfSubjectReview.
	self string

	mu   sync.Mutex
	subs []chan event.GenericEvent
}

// changes is a new channel that gets an event after each change of the
// policies.
func (p *policySetup) changes() <-chan event.GenericEvent {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan event.GenericEvent, 1)
	p.subs = append(p.subs, ch)
	return ch
}

// Self is the controllers' username, "" without policies.
func (p *policySetup) Self() string {
	if p == nil {
		return ""
	}
	return p.self
}

// Gate returns the gate, or nil when no policies are enforced (a typed nil
// would not be nil in the consumers' interfaces).
func (p *policySetup) Gate() *policyctrl.Gate {
	if p == nil {
		return nil
	}
	return p.gate
}

// setupPolicies adds the CertificateRequestPolicy controller where the
// cluster serves the API; nil when it is off or not served.
func setupPolicies(mgr ctrl.Manager, cfg *rest.Config, o Options, enabled Controllers) (*policySetup, error) {
	if !enabled.Enabled(CertificateRequestPoliciesController, true) {
		return nil, nil
	}
	served, err := resourceServed(cfg, policyv1alpha1.GroupVersion.String(), "certificaterequestpolicies")
	if err != nil || !served {
		return nil, err
	}
	if err := policyv1alpha1.AddToScheme(mgr.GetScheme()); err != nil {
		return nil, err
	}
	policies := &policyctrl.Policies{}
	if err := (&policyctrl.CertificateRequestPolicyReconciler{
		Reader: mgr.GetClient(), Status: mgr.GetClient().Status(), Policies: policies,
	}).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	// Who certplane is: its CertificateRequests for Certificates are
	// decided for the Certificates' requesters.
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("asking the apiserver who certplane is (SelfSubjectReview): %w", err)
	}
	p := &policySetup{
		self:    review.Status.UserInfo.Username,
		gate:    &policyctrl.Gate{Policies: policies, Lister: mgr.GetClient(), Reviews: mgr.GetClient(), Namespaces: mgr.GetClient()},
		require: o.RequirePolicy,
	}
	// Tell every subscriber of each change; a subscriber that has not
	// taken the last event yet gets no second one.
	err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-policies.Changed():
			}
			p.mu.Lock()
			for _, ch := range p.subs {
				select {
				case ch <- event.GenericEvent{Object: &policyv1alpha1.CertificateRequestPolicy{}}:
				default:
				}
			}
			p.mu.Unlock()
		}
	}))
	return p, err
}
