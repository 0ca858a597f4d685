package policy

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	"github.com/certplane/certplane/internal/requestpolicy"
)

func newReconciler(t *testing.T, objs ...client.Object) (*CertificateRequestPolicyReconciler, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := policyv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&policyv1alpha1.CertificateRequestPolicy{}).Build()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &CertificateRequestPolicyReconciler{Reader: c, Status: c.Status(), Policies: &Policies{}, Now: func() time.Time { return now }}, c
}

func policy(name string, gen int64, plugins bool) *policyv1alpha1.CertificateRequestPolicy {
	p := &policyv1alpha1.CertificateRequestPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: gen},
		Spec: policyv1alpha1.CertificateRequestPolicySpec{
			Selector: policyv1alpha1.Selector{IssuerRef: &policyv1alpha1.IssuerRefSelector{}},
		},
	}
	if plugins {
		p.Spec.Plugins = map[string]policyv1alpha1.PluginData{"rego": {}}
	}
	return p
}

func reconcile(t *testing.T, r *CertificateRequestPolicyReconciler, name string) {
	t.Helper()
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}); err != nil {
		t.Fatalf("reconciling %s: %v", name, err)
	}
}

func ready(t *testing.T, c client.Client, name string) (*metav1.Condition, string) {
	t.Helper()
	got := &policyv1alpha1.CertificateRequestPolicy{}
	if err := c.Get(context.Background(), types.NamespacedName{Name: name}, got); err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(got.Status.Conditions, "Ready"), got.ResourceVersion
}

func TestReconcile(t *testing.T) {
	r, c := newReconciler(t, policy("good", 1, false), policy("plugins", 2, true))

	reconcile(t, r, "good")
	cond, rv := ready(t, c, "good")
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != "Ready" || cond.Message != requestpolicy.MessageReady ||
		cond.ObservedGeneration != 1 || !cond.LastTransitionTime.Equal(&metav1.Time{Time: r.Now()}) {
		t.Fatalf("good: Ready %+v", cond)
	}
	if p := r.Policies.Get("good"); p == nil || p.UID() != "uid-good" {
		t.Fatalf("good is not registered: %v", p)
	}

	// Again: nothing to write, nothing to compile.
	registered := r.Policies.Get("good")
	reconcile(t, r, "good")
	if _, rv2 := ready(t, c, "good"); rv2 != rv {
		t.Errorf("an unchanged condition was written again (%s then %s)", rv, rv2)
	}
	if r.Policies.Get("good") != registered {
		t.Error("an unchanged policy was compiled again")
	}

	reconcile(t, r, "plugins")
	cond, _ = ready(t, c, "plugins")
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "NotReady" || cond.ObservedGeneration != 2 ||
		cond.Message != "CertificateRequestPolicy is not ready for approval evaluation: spec.plugins: Forbidden: plugins are not supported by certplane: rego" {
		t.Fatalf("plugins: Ready %+v", cond)
	}
	if r.Policies.Get("plugins") != nil {
		t.Error("a policy with plugins is registered")
	}
	if got := names(r.Policies.Snapshot()); got != "good " {
		t.Errorf("snapshot %q", got)
	}

	// good turns bad: it leaves the registry, and its condition flips.
	bad := &policyv1alpha1.CertificateRequestPolicy{}
	if err := c.Get(context.Background(), types.NamespacedName{Name: "good"}, bad); err != nil {
		t.Fatal(err)
	}
	bad.Spec.Selector = policyv1alpha1.Selector{}
	bad.Generation = 2
	if err := c.Update(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, "good")
	if cond, _ := ready(t, c, "good"); cond.Status != metav1.ConditionFalse || cond.ObservedGeneration != bad.Generation {
		t.Errorf("good after breaking: %+v", cond)
	}
	if r.Policies.Get("good") != nil {
		t.Error("a broken policy stays registered")
	}

	// Deleted: gone from the registry.
	fixed := policy("fixed", 1, false)
	if err := c.Create(context.Background(), fixed); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, "fixed")
	if r.Policies.Get("fixed") == nil {
		t.Fatal("fixed is not registered")
	}
	if err := c.Delete(context.Background(), fixed); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, "fixed")
	if r.Policies.Get("fixed") != nil {
		t.Error("a deleted policy stays registered")
	}
}
