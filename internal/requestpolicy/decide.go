package requestpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// NoPolicyMessage is the message for a request no policy selects, for a
// caller that denies such requests.
const NoPolicyMessage = "No CertificateRequestPolicy selects this request"

// messageNotBound stands, in a denial, for the violations of a policy the
// requester may not use: those are not shown.
const messageNotBound = "not bound to the requester"

// Decision is the outcome for one request.
type Decision struct {
	// Selected: some policy selects the request. If none does, the
	// request is not approved and Message is NoPolicyMessage: the caller
	// leaves it to other approvers or denies it.
	Selected bool
	// Approved: a selecting policy the requester is bound to allows it.
	Approved bool
	// Policy names the policy that approved it.
	Policy string
	// Message is for the request's Approved or Denied condition:
	// `Approved by CertificateRequestPolicy: "name"`, or
	// `No policy approved this request: [a: violation, violation] [b: not bound to the requester]`
	// with the selecting policies by name.
	Message string
}

// Decide approves r when a policy that selects it, and that the requester
// is bound to, has no violations; the first such policy by name is the
// one named. bound reports whether the requester may use the named policy
// (RBAC verb "use" on certificaterequestpolicies, which the caller asks
// of a SubjectAccessReview); it is called only for selecting policies,
// first for those that would approve, at most once each, and not at all
// after an approval. A nil bound binds every policy.
//
// When no bound policy allows r, the message lists each selecting policy
// by name with its violations, or "not bound to the requester" for one
// the requester may not use, whose contents stay hidden.
func Decide(policies []*Policy, r Request, bound func(name string) bool) Decision {
	byName := func(a, b *Policy) int { return strings.Compare(a.name, b.name) }
	if !slices.IsSortedFunc(policies, byName) {
		policies = slices.SortedFunc(slices.Values(policies), byName)
	}
	type result struct {
		p *Policy
		// bound: 0 not asked yet, 1 bound, -1 not bound.
		bound int8
	}
	isBound := func(res *result) bool {
		if res.bound == 0 {
			res.bound = -1
			if bound == nil || bound(res.p.name) {
				res.bound = 1
			}
		}
		return res.bound == 1
	}
	var selected []result
	for _, p := range policies {
		if !p.Selects(r) {
			continue
		}
		selected = append(selected, result{p: p})
		if p.allows(&r) && isBound(&selected[len(selected)-1]) {
			return Decision{
				Selected: true,
				Approved: true,
				Policy:   p.name,
				Message:  fmt.Sprintf("Approved by CertificateRequestPolicy: %q", p.name),
			}
		}
	}
	if len(selected) == 0 {
		return Decision{Message: NoPolicyMessage}
	}
	var b strings.Builder
	b.WriteString("No policy approved this request:")
	for i := range selected {
		res := &selected[i]
		b.WriteString(" [")
		b.WriteString(res.p.name)
		b.WriteString(": ")
		if !isBound(res) {
			b.WriteString(messageNotBound)
		} else {
			for j, v := range res.p.Evaluate(r) {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(v.String())
			}
		}
		b.WriteString("]")
	}
	return Decision{Selected: true, Message: b.String()}
}
