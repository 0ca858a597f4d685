// Package policy holds the reconciler of approver-policy's API group,
// policy.cert-manager.io: it compiles each CertificateRequestPolicy with
// internal/requestpolicy, writes its Ready condition, and keeps the
// compiled Ready policies in a registry, Policies, that the approvers
// read.
package policy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/certplane/certplane/internal/requestpolicy"
)

// Policies is the registry of Ready policies, by name. The reconciler
// writes it; approvers read Snapshot. Its zero value is empty and ready
// to use; it is safe for concurrent use.
type Policies struct {
	mu      sync.Mutex
	byName  map[string]*requestpolicy.Policy
	changed chan struct{}

	// snapshot is the sorted list Snapshot returns, replaced on every
	// change so that reading it takes no lock.
	snapshot atomic.Pointer[[]*requestpolicy.Policy]
}

// Snapshot returns the Ready policies sorted by name, as requestpolicy.Decide
// takes them. The slice is shared: callers must not modify it.
func (p *Policies) Snapshot() []*requestpolicy.Policy {
	if s := p.snapshot.Load(); s != nil {
		return *s
	}
	return nil
}

// Get returns the policy named name, or nil.
func (p *Policies) Get(name string) *requestpolicy.Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byName[name]
}

// Set adds a compiled policy, or replaces the one of its name.
func (p *Policies) Set(pol *requestpolicy.Policy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byName[pol.Name()] == pol {
		return
	}
	if p.byName == nil {
		p.byName = map[string]*requestpolicy.Policy{}
	}
	p.byName[pol.Name()] = pol
	p.publish()
}

// Delete removes the policy named name, if there is one.
func (p *Policies) Delete(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byName[name]; !ok {
		return
	}
	delete(p.byName, name)
	p.publish()
}

// Changed returns a channel that is closed at the next change of the
// policies, for an approver that looks again at the requests it could
// not approve.
func (p *Policies) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// publish replaces the snapshot and wakes the waiters of Changed; p.mu is
// held.
func (p *Policies) publish() {
	s := make([]*requestpolicy.Policy, 0, len(p.byName))
	for _, pol := range p.byName {
		s = append(s, pol)
	}
	slices.SortFunc(s, func(a, b *requestpolicy.Policy) int { return strings.Compare(a.Name(), b.Name()) })
	p.snapshot.Store(&s)
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}
