package policy

import (
	"fmt"
	"sync"
	"testing"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	"github.com/certplane/certplane/internal/requestpolicy"
)

func compiled(t testing.TB, name string) *requestpolicy.Policy {
	t.Helper()
	crp := &policyv1alpha1.CertificateRequestPolicy{Spec: policyv1alpha1.CertificateRequestPolicySpec{
		Selector: policyv1alpha1.Selector{IssuerRef: &policyv1alpha1.IssuerRefSelector{}},
	}}
	crp.Name = name
	p, err := requestpolicy.Compile(crp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func names(ps []*requestpolicy.Policy) string {
	s := ""
	for _, p := range ps {
		s += p.Name() + " "
	}
	return s
}

func TestPolicies(t *testing.T) {
	var reg Policies
	if s := reg.Snapshot(); s != nil {
		t.Fatalf("empty registry: %v", s)
	}
	if reg.Get("a") != nil {
		t.Fatal("Get on an empty registry")
	}
	changed := reg.Changed()

	c, a, b := compiled(t, "c"), compiled(t, "a"), compiled(t, "b")
	reg.Set(c)
	select {
	case <-changed:
	default:
		t.Fatal("Set did not signal a change")
	}
	reg.Set(a)
	reg.Set(b)
	before := reg.Snapshot()
	if got := names(before); got != "a b c " {
		t.Errorf("snapshot %q, want a b c sorted", got)
	}

	a2 := compiled(t, "a")
	reg.Set(a2)
	if reg.Get("a") != a2 || reg.Snapshot()[0] != a2 {
		t.Error("Set did not replace a")
	}
	if before[0] != a {
		t.Error("a snapshot changed after it was taken")
	}

	changed = reg.Changed()
	reg.Set(a2) // the same policy again: no change
	reg.Delete("nope")
	select {
	case <-changed:
		t.Fatal("a no-op signalled a change")
	default:
	}
	reg.Delete("b")
	select {
	case <-changed:
	default:
		t.Fatal("Delete did not signal a change")
	}
	if got := names(reg.Snapshot()); got != "a c " {
		t.Errorf("after deleting b: %q", got)
	}
	reg.Delete("a")
	reg.Delete("c")
	if s := reg.Snapshot(); len(s) != 0 {
		t.Errorf("after deleting all: %q", names(s))
	}
}

// TestPoliciesConcurrent runs writers and readers together (go test
// -race finds what they get wrong).
func TestPoliciesConcurrent(t *testing.T) {
	var reg Policies
	pols := make([]*requestpolicy.Policy, 20)
	for i := range pols {
		pols[i] = compiled(t, fmt.Sprintf("p%02d", i))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				p := pols[(i+w)%len(pols)]
				if i%3 == 0 {
					reg.Delete(p.Name())
				} else {
					reg.Set(p)
				}
			}
		})
		wg.Go(func() {
			for range 200 {
				s := reg.Snapshot()
				for i := 1; i < len(s); i++ {
					if s[i-1].Name() >= s[i].Name() {
						t.Errorf("snapshot not sorted: %q", names(s))
						return
					}
				}
				_ = reg.Get("p01")
				_ = reg.Changed()
			}
		})
	}
	wg.Wait()
}
