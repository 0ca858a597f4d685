package certificates_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/localcp"
	"github.com/certplane/certplane/internal/trustpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

const spiffeSigner = "certplane.io/spiffe"

// writeCounter counts the writes a client makes.
type writeCounter struct{ creates, updates, deletes int }

func (w *writeCounter) total() int { return w.creates + w.updates + w.deletes }

// countingClient wraps c so that w counts its writes.
func countingClient(c client.WithWatch, w *writeCounter) client.WithWatch {
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			w.creates++
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.updates++
			return c.Update(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			w.deletes++
			return c.Delete(ctx, obj, opts...)
		},
	})
}

func newFakeClient(t *testing.T, objs ...client.Object) client.WithWatch {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// bundlesOf returns the bundles of signer, by name.
func bundlesOf(t *testing.T, c client.Reader, signer string) map[string]certv1.ClusterTrustBundle {
	t.Helper()
	var list certv1.ClusterTrustBundleList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]certv1.ClusterTrustBundle{}
	for _, b := range list.Items {
		if b.Spec.SignerName == signer {
			out[b.Name] = b
		}
	}
	return out
}

// onlyBundle checks that signer has exactly the managed bundle of cas, and
// returns it.
func onlyBundle(t *testing.T, c client.Reader, signer string, cas ...*x509.Certificate) certv1.ClusterTrustBundle {
	t.Helper()
	want, err := trustpolicy.Bundle(signer, cas)
	if err != nil {
		t.Fatal(err)
	}
	var managed []string
	var found certv1.ClusterTrustBundle
	for name, b := range bundlesOf(t, c, signer) {
		if trustpolicy.Managed(&b) {
			managed = append(managed, name)
			found = b
		}
	}
	if len(managed) != 1 || managed[0] != want.Name {
		t.Fatalf("managed bundles of %s: %v, want only %s", signer, managed, want.Name)
	}
	if found.Spec.TrustBundle != want.Spec.TrustBundle {
		t.Fatalf("bundle %s holds\n%s\nwant\n%s", found.Name, found.Spec.TrustBundle, want.Spec.TrustBundle)
	}
	return found
}

// publish publishes cas for signer, seeing no certificates of old CAs.
func publish(ctx context.Context, c client.Client, signer string, cas []*x509.Certificate) error {
	_, err := certificates.PublishTrustBundle(ctx, c, signer, cas, nil, time.Now())
	return err
}

// issuedCSR is an issued CertificateSigningRequest of signer holding chain.
func issuedCSR(name, signer string, chain ...*x509.Certificate) *certv1.CertificateSigningRequest {
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certv1.CertificateSigningRequestSpec{SignerName: signer},
		Status:     certv1.CertificateSigningRequestStatus{Certificate: pki.EncodeCertificatesPEM(chain...)},
	}
}

// TestPublishTrustBundleRotation: when the CA changes, the old CA stays in
// the bundle beside the new one while one of the signer's issued requests
// holds an unexpired certificate of it, with a re-check when the last one
// expires; requests of other signers do not count; publishing again writes
// nothing; once the certificate is gone (or expired) the old CA leaves. The
// same for PodCertificateRequests.
func TestPublishTrustBundleRotation(t *testing.T) {
	ctx := context.Background()
	const signer = "kubernetes.io/kubelet-serving"
	oldCA, newCA := pkitest.CA(t, "old ca"), pkitest.CA(t, "new ca")
	oldLeaf, _ := pkitest.Leaf(t, oldCA, "old leaf", []pki.Usage{pki.UsageServerAuth})
	otherLeaf, _ := pkitest.Leaf(t, oldCA, "another signer's leaf", []pki.Usage{pki.UsageServerAuth})
	newLeaf, _ := pkitest.Leaf(t, newCA, "new leaf", []pki.Usage{pki.UsageServerAuth})
	pending := issuedCSR("pending", signer)
	pending.Status.Certificate = nil
	w := &writeCounter{}
	c := countingClient(newFakeClient(t,
		issuedCSR("old", signer, oldLeaf, oldCA.Certificate), issuedCSR("new", signer, newLeaf), pending,
		issuedCSR("other", "kubernetes.io/kube-apiserver-client", otherLeaf),
	), w)
	issued := certificates.AllIssued(certificates.IssuedCSRs(c, signer), certificates.IssuedPodCertificates(c, signer))
	now := time.Now()

	if _, err := certificates.PublishTrustBundle(ctx, c, signer, []*x509.Certificate{oldCA.Certificate}, issued, now); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, signer, oldCA.Certificate)

	recheck, err := certificates.PublishTrustBundle(ctx, c, signer, []*x509.Certificate{newCA.Certificate}, issued, now)
	if err != nil {
		t.Fatal(err)
	}
	overlap := onlyBundle(t, c, signer, oldCA.Certificate, newCA.Certificate)
	if !recheck.Equal(oldLeaf.NotAfter) {
		t.Errorf("re-check at %s, want %s, when the old CA's last certificate expires", recheck, oldLeaf.NotAfter)
	}
	*w = writeCounter{}
	if _, err := certificates.PublishTrustBundle(ctx, c, signer, []*x509.Certificate{newCA.Certificate}, issued, now); err != nil {
		t.Fatal(err)
	}
	if again := onlyBundle(t, c, signer, oldCA.Certificate, newCA.Certificate); w.total() != 0 || again.ResourceVersion != overlap.ResourceVersion {
		t.Errorf("during the overlap, publishing again wrote %+v", *w)
	}

	// At the old leaf's NotAfter the old CA goes.
	if recheck, err := certificates.PublishTrustBundle(ctx, c, signer, []*x509.Certificate{newCA.Certificate}, issued, oldLeaf.NotAfter); err != nil || !recheck.IsZero() {
		t.Fatalf("at the old leaf's NotAfter: re-check %s, %v", recheck, err)
	}
	onlyBundle(t, c, signer, newCA.Certificate)

	// Rotated back to the old CA once the new CA's only request is
	// deleted: the new CA leaves at once.
	if err := c.Delete(ctx, issuedCSR("new", signer)); err != nil {
		t.Fatal(err)
	}
	if _, err := certificates.PublishTrustBundle(ctx, c, signer, []*x509.Certificate{oldCA.Certificate}, issued, now); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, signer, oldCA.Certificate)

	// PodCertificateRequests of certplane.io/spiffe.
	pcr := &certv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svid"},
		Spec:       certv1.PodCertificateRequestSpec{SignerName: spiffeSigner},
		Status:     certv1.PodCertificateRequestStatus{CertificateChain: string(pki.EncodeCertificatesPEM(oldLeaf))},
	}
	if err := c.Create(ctx, pcr); err != nil {
		t.Fatal(err)
	}
	spiffeIssued := certificates.AllIssued(certificates.IssuedCSRs(c, spiffeSigner), certificates.IssuedPodCertificates(c, spiffeSigner))
	if _, err := certificates.PublishTrustBundle(ctx, c, spiffeSigner, []*x509.Certificate{oldCA.Certificate}, spiffeIssued, now); err != nil {
		t.Fatal(err)
	}
	if _, err := certificates.PublishTrustBundle(ctx, c, spiffeSigner, []*x509.Certificate{newCA.Certificate}, spiffeIssued, now); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, spiffeSigner, oldCA.Certificate, newCA.Certificate)
	if err := c.Delete(ctx, pcr); err != nil {
		t.Fatal(err)
	}
	if _, err := certificates.PublishTrustBundle(ctx, c, spiffeSigner, []*x509.Certificate{newCA.Certificate}, spiffeIssued, now); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, spiffeSigner, newCA.Certificate)

	// No current CA: only the old CAs still needed stay, and with none
	// the bundles go.
	if _, err := certificates.PublishTrustBundle(ctx, c, signer, nil, issued, now); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, signer, oldCA.Certificate)
	if _, err := certificates.PublishTrustBundle(ctx, c, signer, nil, issued, oldLeaf.NotAfter); err != nil {
		t.Fatal(err)
	}
	if got := bundlesOf(t, c, signer); len(got) != 0 {
		t.Errorf("bundles left without a CA: %v", slices.Sorted(maps.Keys(got)))
	}

	// The file publisher reads the CSRs and checks again when the old
	// CA's last certificate expires, before its next interval.
	if err := publish(ctx, c, signer, []*x509.Certificate{oldCA.Certificate}); err != nil {
		t.Fatal(err)
	}
	r := &certificates.ClusterTrustBundlePublisher{
		Client: c, CAs: map[string]certificates.CASource{signer: staticCA{newCA}}, CSRs: true, Interval: time.Hour,
		Now: func() time.Time { return oldLeaf.NotAfter.Add(-3 * time.Second) },
	}
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: signer}})
	if err != nil || res.RequeueAfter != 3*time.Second {
		t.Errorf("reconcile during the overlap: %+v %v, want a re-check in 3s", res, err)
	}
	onlyBundle(t, c, signer, oldCA.Certificate, newCA.Certificate)
}

// TestPublishTrustBundle: publishing creates the signer's bundle; publishing
// again writes nothing; a rotated CA is created under its new name and the
// old bundle deleted; a hand-made bundle of the signer and other signers'
// bundles are never touched; removing deletes only certplane's.
func TestPublishTrustBundle(t *testing.T) {
	ctx := context.Background()
	a, b := pkitest.CA(t, "ca a"), pkitest.CA(t, "ca b")
	handMade := &certv1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: "certplane.io:spiffe:by-hand"},
		Spec:       certv1.ClusterTrustBundleSpec{SignerName: spiffeSigner, TrustBundle: string(pki.EncodeCertificatesPEM(b.Certificate))},
	}
	w := &writeCounter{}
	c := countingClient(newFakeClient(t, handMade), w)

	if err := publish(ctx, c, spiffeSigner, []*x509.Certificate{a.Certificate}); err != nil {
		t.Fatal(err)
	}
	first := onlyBundle(t, c, spiffeSigner, a.Certificate)
	if w.creates != 1 || w.total() != 1 {
		t.Errorf("first publish: %+v, want one create", *w)
	}
	if err := publish(ctx, c, "kubernetes.io/kubelet-serving", []*x509.Certificate{a.Certificate}); err != nil {
		t.Fatal(err)
	}

	*w = writeCounter{}
	if err := publish(ctx, c, spiffeSigner, []*x509.Certificate{a.Certificate, a.Certificate}); err != nil {
		t.Fatal(err)
	}
	if again := onlyBundle(t, c, spiffeSigner, a.Certificate); w.total() != 0 || again.ResourceVersion != first.ResourceVersion {
		t.Errorf("publishing again wrote %+v, resourceVersion %s → %s; want no write", *w, first.ResourceVersion, again.ResourceVersion)
	}

	*w = writeCounter{}
	if err := publish(ctx, c, spiffeSigner, []*x509.Certificate{b.Certificate}); err != nil {
		t.Fatal(err)
	}
	rotated := onlyBundle(t, c, spiffeSigner, b.Certificate)
	if rotated.Name == first.Name || w.creates != 1 || w.deletes != 1 || w.updates != 0 {
		t.Errorf("rotation: %s → %s with %+v, want a new name, one create and one delete", first.Name, rotated.Name, *w)
	}

	// Both CAs during an overlap: one bundle with both.
	if err := publish(ctx, c, spiffeSigner, []*x509.Certificate{b.Certificate, a.Certificate}); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, spiffeSigner, a.Certificate, b.Certificate)

	*w = writeCounter{}
	if err := certificates.RemoveTrustBundles(ctx, c, spiffeSigner); err != nil {
		t.Fatal(err)
	}
	left := slices.Sorted(maps.Keys(bundlesOf(t, c, spiffeSigner)))
	if !slices.Equal(left, []string{handMade.Name}) || w.deletes != 1 {
		t.Errorf("after removal: %v with %+v, want only %s and one delete", left, *w, handMade.Name)
	}
	onlyBundle(t, c, "kubernetes.io/kubelet-serving", a.Certificate)
	*w = writeCounter{}
	if err := certificates.RemoveTrustBundles(ctx, c, spiffeSigner); err != nil || w.total() != 0 {
		t.Errorf("removing again: %v, %+v; want no write", err, *w)
	}

	leaf, _ := pkitest.Leaf(t, a, "leaf", []pki.Usage{pki.UsageServerAuth})
	if err := publish(ctx, c, spiffeSigner, []*x509.Certificate{leaf}); !errors.Is(err, trustpolicy.ErrNotCA) {
		t.Errorf("publishing a leaf: %v, want ErrNotCA", err)
	}
}

// TestClusterTrustBundlePublisher: each file signer's CA is published, a
// re-check is scheduled, a CA whose files were replaced is published under
// its new name, and a CA that cannot be read is an error that leaves the
// published bundle alone.
func TestClusterTrustBundlePublisher(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	certFile, keyFile, a := writeCA(t, dir, "ca a", time.Now().Add(-time.Hour))
	f := &certificates.FileCA{CertFile: certFile, KeyFile: keyFile}
	other := pkitest.CA(t, "other")
	c := newFakeClient(t)
	r := &certificates.ClusterTrustBundlePublisher{
		Client: c, Interval: 5 * time.Second,
		CAs: map[string]certificates.CASource{spiffeSigner: f, "kubernetes.io/kube-apiserver-client": staticCA{other}},
	}
	reconcile := func(signer string) (ctrl.Result, error) {
		return r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: signer}})
	}
	for signer := range r.CAs {
		res, err := reconcile(signer)
		if err != nil || res.RequeueAfter != 5*time.Second {
			t.Fatalf("%s: %+v %v, want a re-check in 5s", signer, res, err)
		}
	}
	onlyBundle(t, c, spiffeSigner, a.Certificate)
	onlyBundle(t, c, "kubernetes.io/kube-apiserver-client", other.Certificate)

	_, _, b := writeCA(t, dir, "ca b", time.Now())
	if _, err := reconcile(spiffeSigner); err != nil {
		t.Fatal(err)
	}
	onlyBundle(t, c, spiffeSigner, b.Certificate)

	if err := os.WriteFile(f.CertFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile(spiffeSigner); err == nil {
		t.Error("an unreadable CA: no error")
	}
	onlyBundle(t, c, spiffeSigner, b.Certificate)

	if res, err := reconcile("example.com/not-served"); err != nil || res.RequeueAfter != 0 || len(bundlesOf(t, c, "example.com/not-served")) != 0 {
		t.Errorf("a signer not served: %+v %v", res, err)
	}
}

// startAPIServer starts etcd and kube-apiserver v1.37 with the project's
// launcher and returns an admin's config; they stop when the test ends.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kube-apiserver")
	}
	binDir, err := filepath.Abs(filepath.Join("..", "..", "..", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err != nil {
		t.Fatal("bin/kube-apiserver missing: run make tools")
	}
	port, err := localcp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := localcp.Start(context.Background(), localcp.Options{
		DataDir: t.TempDir(), Port: port, BinDir: binDir, Key: pki.ECDSAP256, NodeName: "ctb-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig("admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// as returns a client that acts as user, impersonated by the admin.
func as(t *testing.T, admin *rest.Config, user string) client.WithWatch {
	t.Helper()
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grant binds the ClusterRole to user.
func grant(t *testing.T, c client.Client, role *rbacv1.ClusterRole, user string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}); err != nil {
		t.Fatal(err)
	}
	// The apiserver's authorizer learns of the role and binding from its
	// informers: wait until it allows the first thing the role grants.
	for _, rule := range role.Rules {
		if len(rule.APIGroups) == 0 || len(rule.Resources) == 0 || len(rule.Verbs) == 0 {
			continue
		}
		resource, subresource, _ := strings.Cut(rule.Resources[0], "/")
		eventually(t, fmt.Sprintf("%s may %s %s", user, rule.Verbs[0], rule.Resources[0]), func() error {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: rule.Verbs[0], Group: rule.APIGroups[0], Resource: resource, Subresource: subresource, Name: firstOr(rule.ResourceNames)}}}
			if err := c.Create(ctx, review); err != nil {
				return err
			}
			if !review.Status.Allowed {
				return fmt.Errorf("not yet: %s", review.Status.Reason)
			}
			return nil
		})
		return
	}
}

func firstOr(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// eventually polls cond every 100ms for up to 30s.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

// TestTrustBundlesOnAPIServer runs the publisher against kube-apiserver
// v1.37 (certificates.k8s.io/v1 ClusterTrustBundles, no flags) as a user
// holding only config/rbac/role.yaml, the ClusterRole generated from the
// markers: the apiserver accepts the bundles' names and content for every
// signer certplane runs; publishing again writes nothing (same
// resourceVersion); a rotated CA gets a new bundle and the old one goes;
// removal keeps others' bundles. The ClusterTrustBundleAttest admission
// refuses a signer the role does not name, and a user who may write
// bundles but not attest. The reconciler, run by a manager, publishes at
// start, puts back a deleted bundle and follows a CA whose files change.
func TestTrustBundlesOnAPIServer(t *testing.T) {
	ctx := context.Background()
	admin := startAPIServer(t)
	adminClient, err := client.New(admin, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		t.Fatal(err)
	}
	const controllerUser = "certplane-controller-test"
	grant(t, adminClient, role, controllerUser)
	c := as(t, admin, controllerUser)
	w := &writeCounter{}
	counted := countingClient(c, w)

	a, b := pkitest.CA(t, "ca a"), pkitest.CA(t, "ca b")
	signers := []string{
		spiffeSigner,
		"kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
		"kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown",
		"issuers.cert-manager.io/team-a.my-ca",
		// The longest an Issuer's signer name can be: a 63-character
		// namespace and a 253-character name.
		"issuers.cert-manager.io/" + strings.Repeat("n", 63) + "." + strings.Repeat("x", 253),
		"clusterissuers.cert-manager.io/root",
	}
	for _, signer := range signers {
		if err := publish(ctx, c, signer, []*x509.Certificate{a.Certificate, b.Certificate}); err != nil {
			t.Fatalf("publishing for %s: %v", signer, err)
		}
		onlyBundle(t, c, signer, a.Certificate, b.Certificate)
	}

	if err := publish(ctx, counted, spiffeSigner, []*x509.Certificate{a.Certificate}); err != nil {
		t.Fatal(err)
	}
	first := onlyBundle(t, c, spiffeSigner, a.Certificate)
	*w = writeCounter{}
	if err := publish(ctx, counted, spiffeSigner, []*x509.Certificate{a.Certificate}); err != nil {
		t.Fatal(err)
	}
	if again := onlyBundle(t, c, spiffeSigner, a.Certificate); w.total() != 0 || again.ResourceVersion != first.ResourceVersion {
		t.Errorf("publishing again: %+v, resourceVersion %s → %s; want no write", *w, first.ResourceVersion, again.ResourceVersion)
	}
	if err := publish(ctx, counted, spiffeSigner, []*x509.Certificate{b.Certificate}); err != nil {
		t.Fatal(err)
	}
	if rotated := onlyBundle(t, c, spiffeSigner, b.Certificate); rotated.Name == first.Name {
		t.Errorf("rotated CA under the old name %s", first.Name)
	}

	handMade := &certv1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: "certplane.io:spiffe:by-hand"},
		Spec:       certv1.ClusterTrustBundleSpec{SignerName: spiffeSigner, TrustBundle: string(pki.EncodeCertificatesPEM(a.Certificate))},
	}
	if err := adminClient.Create(ctx, handMade); err != nil {
		t.Fatal(err)
	}
	if err := certificates.RemoveTrustBundles(ctx, c, spiffeSigner); err != nil {
		t.Fatal(err)
	}
	if left := slices.Sorted(maps.Keys(bundlesOf(t, c, spiffeSigner))); !slices.Equal(left, []string{handMade.Name}) {
		t.Errorf("after removal: %v, want only %s", left, handMade.Name)
	}

	// attest matters: not on a signer the role does not name, and not for a
	// user who may write bundles but not attest.
	err = publish(ctx, c, "example.com/not-certplanes", []*x509.Certificate{a.Certificate})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "attest") {
		t.Errorf("a signer certplane does not run: %v, want Forbidden by the attest check", err)
	}
	grant(t, adminClient, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "bundle-writer"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{certv1.GroupName}, Resources: []string{"clustertrustbundles"},
			Verbs: []string{"get", "list", "watch", "create", "update", "delete"},
		}},
	}, "bundle-writer")
	err = publish(ctx, as(t, admin, "bundle-writer"), spiffeSigner, []*x509.Certificate{a.Certificate})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `user not permitted to attest for signerName "certplane.io/spiffe"`) {
		t.Errorf("without attest: %v, want Forbidden by the attest check", err)
	}

	// The reconciler, with the controller's identity.
	dir := t.TempDir()
	certFile, keyFile, fileCA := writeCA(t, dir, "file ca", time.Now().Add(-time.Hour))
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: controllerUser}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&certificates.ClusterTrustBundlePublisher{
		Client: mgr.GetClient(), Interval: time.Second,
		CAs: map[string]certificates.CASource{spiffeSigner: &certificates.FileCA{CertFile: certFile, KeyFile: keyFile}},
	}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	published := func(ca *pki.CA) func() error {
		return func() error {
			want, err := trustpolicy.Bundle(spiffeSigner, []*x509.Certificate{ca.Certificate})
			if err != nil {
				return err
			}
			var names []string
			for name, b := range bundlesOf(t, c, spiffeSigner) {
				if trustpolicy.Managed(&b) {
					names = append(names, name)
				}
			}
			if !slices.Equal(names, []string{want.Name}) {
				return fmt.Errorf("managed bundles %v, want only %s", names, want.Name)
			}
			return nil
		}
	}
	eventually(t, "published at start", published(fileCA))
	if err := adminClient.Delete(ctx, &certv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: mustBundle(t, spiffeSigner, fileCA).Name}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "put back after deletion", published(fileCA))
	_, _, rotated := writeCA(t, dir, "rotated file ca", time.Now())
	eventually(t, "the rotated CA published", published(rotated))
	if _, ok := bundlesOf(t, c, spiffeSigner)[handMade.Name]; !ok {
		t.Errorf("the reconciler deleted %s, which certplane does not manage", handMade.Name)
	}
}

func mustBundle(t *testing.T, signer string, ca *pki.CA) *certv1.ClusterTrustBundle {
	t.Helper()
	b, err := trustpolicy.Bundle(signer, []*x509.Certificate{ca.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
