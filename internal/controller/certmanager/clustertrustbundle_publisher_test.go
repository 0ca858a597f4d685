package certmanager

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"maps"
	"slices"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/trustpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

const clusterResourceNamespace = "cert-manager"

// caSecret is a CA issuer's Secret: tls.crt and tls.key of ca, and ca.crt
// when root is set.
func caSecret(t *testing.T, namespace, name string, ca *pki.CA, root *x509.Certificate) *corev1.Secret {
	t.Helper()
	key, err := pki.MarshalPrivateKeyPEM(ca.Key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: pki.EncodeCertificatesPEM(ca.Certificate), corev1.TLSPrivateKeyKey: key},
	}
	if root != nil {
		s.Data["ca.crt"] = pki.EncodeCertificatesPEM(root)
	}
	return s
}

// intermediate is a CA signed by root.
func intermediate(t *testing.T, root *pki.CA, cn string) *pki.CA {
	t.Helper()
	key := pkitest.Key(t)
	cert, err := root.Issue(rand.Reader, time.Now(), &pki.Template{Subject: pkix.Name{CommonName: cn}, IsCA: true, Duration: 24 * time.Hour}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func caIssuer(namespace, name, secret string) *cmv1.Issuer {
	return &cmv1.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: secret}}},
	}
}

func newPublisher(t *testing.T, objs ...client.Object) (*ClusterTrustBundlePublisher, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := cmv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	return &ClusterTrustBundlePublisher{
		Client:   c,
		Issuers:  &Issuers{Reader: c, Secrets: c, APIReader: c, ClusterResourceNamespace: clusterResourceNamespace},
		Interval: 20 * time.Second,
	}, c
}

// managedBundles returns the names and contents of the bundles certplane
// manages for signer.
func managedBundles(t *testing.T, c client.Reader, signer string) map[string]string {
	t.Helper()
	var list certv1.ClusterTrustBundleList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range list.Items {
		if b.Spec.SignerName == signer && trustpolicy.Managed(&b) {
			out[b.Name] = b.Spec.TrustBundle
		}
	}
	return out
}

func wantBundle(t *testing.T, c client.Reader, signer string, anchors ...*x509.Certificate) {
	t.Helper()
	want, err := trustpolicy.Bundle(signer, anchors)
	if err != nil {
		t.Fatal(err)
	}
	got := managedBundles(t, c, signer)
	if len(got) != 1 || got[want.Name] != want.Spec.TrustBundle {
		t.Errorf("bundles of %s: %v, want only %s holding %d CAs", signer, slices.Sorted(maps.Keys(got)), want.Name, len(anchors))
	}
}

func issuerReq(namespace, name string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}
}

// TestClusterTrustBundlePublisher: a ready ca Issuer's and ClusterIssuer's
// roots are published under their signer names (the root of ca.crt for an
// intermediate CA), re-checked periodically and before the CA expires; a
// rotated CA replaces the bundle; a selfSigned issuer, a ca issuer without
// its Secret and a deleted issuer have theirs removed.
func TestClusterTrustBundlePublisher(t *testing.T) {
	ctx := context.Background()
	root := pkitest.CA(t, "root")
	inter := intermediate(t, root, "team-a intermediate")
	clusterCA := pkitest.CA(t, "cluster root")
	stale := func(signer string) *certv1.ClusterTrustBundle {
		b, err := trustpolicy.Bundle(signer, []*x509.Certificate{pkitest.CA(t, "stale").Certificate})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	selfSigned := &cmv1.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "self"},
		Spec:       cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}},
	}
	clusterIssuer := &cmv1.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "root"},
		Spec:       cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "cluster-ca"}}},
	}
	r, c := newPublisher(t,
		caIssuer("team-a", "ca", "team-a-ca"), caSecret(t, "team-a", "team-a-ca", inter, root.Certificate),
		clusterIssuer, caSecret(t, clusterResourceNamespace, "cluster-ca", clusterCA, nil),
		selfSigned, stale("issuers.cert-manager.io/team-a.self"),
		caIssuer("team-a", "waiting", "not-yet"), stale("issuers.cert-manager.io/team-a.waiting"),
		stale("issuers.cert-manager.io/team-a.gone"),
	)

	tests := []struct {
		name        string
		req         ctrl.Request
		signer      string
		anchor      *x509.Certificate // nil: no bundle
		wantRequeue bool
	}{
		{"ca Issuer with an intermediate CA", issuerReq("team-a", "ca"), "issuers.cert-manager.io/team-a.ca", root.Certificate, true},
		{"ca ClusterIssuer", issuerReq("", "root"), "clusterissuers.cert-manager.io/root", clusterCA.Certificate, true},
		{"selfSigned Issuer", issuerReq("team-a", "self"), "issuers.cert-manager.io/team-a.self", nil, false},
		{"ca Issuer without its Secret", issuerReq("team-a", "waiting"), "issuers.cert-manager.io/team-a.waiting", nil, true},
		{"deleted Issuer", issuerReq("team-a", "gone"), "issuers.cert-manager.io/team-a.gone", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Reconcile(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if (res.RequeueAfter > 0) != tt.wantRequeue || res.RequeueAfter > r.Interval {
				t.Errorf("requeue after %s, want a re-check (%v) within %s", res.RequeueAfter, tt.wantRequeue, r.Interval)
			}
			if tt.anchor == nil {
				if got := managedBundles(t, c, tt.signer); len(got) != 0 {
					t.Errorf("bundles of %s left: %v", tt.signer, got)
				}
				return
			}
			wantBundle(t, c, tt.signer, tt.anchor)
		})
	}

	// The Secret rotated to a new root: the bundle follows.
	newRoot := pkitest.CA(t, "new root")
	s := caSecret(t, "team-a", "team-a-ca", newRoot, nil)
	if err := c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, issuerReq("team-a", "ca")); err != nil {
		t.Fatal(err)
	}
	wantBundle(t, c, "issuers.cert-manager.io/team-a.ca", newRoot.Certificate)

	// A CA that expires before the next periodic check is checked then.
	soon := pkitest.CAAt(t, "expiring", time.Now().Add(-time.Hour), time.Hour+5*time.Second)
	if err := c.Update(ctx, caSecret(t, "team-a", "team-a-ca", soon, nil)); err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx, issuerReq("team-a", "ca"))
	if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > 6*time.Second {
		t.Errorf("an expiring CA: %+v %v, want a re-check when it expires", res, err)
	}

	// Then the Issuer goes.
	if err := c.Delete(ctx, caIssuer("team-a", "ca", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, issuerReq("team-a", "ca")); err != nil {
		t.Fatal(err)
	}
	if got := managedBundles(t, c, "issuers.cert-manager.io/team-a.ca"); len(got) != 0 {
		t.Errorf("bundles of a deleted Issuer: %v", got)
	}
}

// TestIssuersOfSecret: a CA Secret maps to the ca Issuers of its namespace
// that name it and, in the cluster resource namespace, to the
// ClusterIssuers that name it.
func TestIssuersOfSecret(t *testing.T) {
	r, _ := newPublisher(t,
		caIssuer("team-a", "one", "shared"), caIssuer("team-a", "two", "shared"), caIssuer("team-a", "other", "other"),
		caIssuer("team-b", "one", "shared"), caIssuer(clusterResourceNamespace, "local", "shared"),
		&cmv1.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "shared"}}}},
		&cmv1.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "self"}, Spec: cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}}},
	)
	tests := []struct {
		namespace string
		want      []reconcile.Request
	}{
		{"team-a", []reconcile.Request{issuerReq("team-a", "one"), issuerReq("team-a", "two")}},
		{clusterResourceNamespace, []reconcile.Request{issuerReq(clusterResourceNamespace, "local"), issuerReq("", "c")}},
		{"team-c", nil},
	}
	for _, tt := range tests {
		got := r.issuersOfSecret(context.Background(), tt.namespace, "shared")
		less := func(a, b reconcile.Request) int {
			if a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name {
				return -1
			}
			return 1
		}
		slices.SortFunc(got, less)
		slices.SortFunc(tt.want, less)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Secret %s/shared: %v, want %v", tt.namespace, got, tt.want)
		}
	}
}

// leafSecret is a Certificate's Secret as certplane writes and caches it:
// tls.crt the leaf and chain, ca.crt the root.
func leafSecret(namespace, name string, root *x509.Certificate, chain ...*x509.Certificate) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{certpolicy.LabelCached: "true"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: pki.EncodeCertificatesPEM(chain...), "ca.crt": pki.EncodeCertificatesPEM(root)},
	}
}

// TestClusterTrustBundlePublisherRotation: when a ca issuer's CA is
// replaced by one with a new key, its old root stays in the bundle beside
// the new one while a cached Secret holds an unexpired certificate of it
// (here through the old intermediate), in the Issuer's namespace; also
// while the issuer is not ready; the old root leaves when that Secret goes.
// A ClusterIssuer's old CA counts Secrets of every namespace.
func TestClusterTrustBundlePublisherRotation(t *testing.T) {
	ctx := context.Background()
	const signer = "issuers.cert-manager.io/team-a.ca"
	oldRoot := pkitest.CA(t, "root")
	oldInter := intermediate(t, oldRoot, "team-a intermediate")
	leaf, _ := pkitest.Leaf(t, oldInter, "web", []pki.Usage{pki.UsageServerAuth})
	r, c := newPublisher(t,
		caIssuer("team-a", "ca", "team-a-ca"), caSecret(t, "team-a", "team-a-ca", oldInter, oldRoot.Certificate),
		leafSecret("team-a", "web-tls", oldRoot.Certificate, leaf, oldInter.Certificate),
	)
	reconcile := func(req ctrl.Request) ctrl.Result {
		t.Helper()
		res, err := r.Reconcile(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	reconcile(issuerReq("team-a", "ca"))
	wantBundle(t, c, signer, oldRoot.Certificate)

	// Renewed with a new key (cert-manager's rotationPolicy Always): same
	// subject, new root.
	newRoot := pkitest.CA(t, "root")
	if err := c.Update(ctx, caSecret(t, "team-a", "team-a-ca", newRoot, nil)); err != nil {
		t.Fatal(err)
	}
	if res := reconcile(issuerReq("team-a", "ca")); res.RequeueAfter <= 0 || res.RequeueAfter > r.Interval {
		t.Errorf("requeue after %s during the overlap, want a re-check within %s", res.RequeueAfter, r.Interval)
	}
	wantBundle(t, c, signer, oldRoot.Certificate, newRoot.Certificate)

	// The CA Secret gone for a while: the issuer is not ready, the old
	// root its certificate needs stays; the new one has none seen.
	if err := c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "team-a-ca"}}); err != nil {
		t.Fatal(err)
	}
	reconcile(issuerReq("team-a", "ca"))
	wantBundle(t, c, signer, oldRoot.Certificate)
	if err := c.Create(ctx, caSecret(t, "team-a", "team-a-ca", newRoot, nil)); err != nil {
		t.Fatal(err)
	}
	reconcile(issuerReq("team-a", "ca"))
	wantBundle(t, c, signer, oldRoot.Certificate, newRoot.Certificate)

	// The certificate moved to another namespace does not count for an
	// Issuer; gone, the old root leaves.
	if err := c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web-tls"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, leafSecret("team-b", "web-tls", oldRoot.Certificate, leaf, oldInter.Certificate)); err != nil {
		t.Fatal(err)
	}
	reconcile(issuerReq("team-a", "ca"))
	wantBundle(t, c, signer, newRoot.Certificate)

	// A ClusterIssuer's certificates are in any namespace.
	const clusterSigner = "clusterissuers.cert-manager.io/root"
	if err := c.Create(ctx, &cmv1.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "root"},
		Spec:       cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: "cluster-ca"}}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, caSecret(t, clusterResourceNamespace, "cluster-ca", oldInter, oldRoot.Certificate)); err != nil {
		t.Fatal(err)
	}
	reconcile(issuerReq("", "root"))
	wantBundle(t, c, clusterSigner, oldRoot.Certificate)
	if err := c.Update(ctx, caSecret(t, clusterResourceNamespace, "cluster-ca", newRoot, nil)); err != nil {
		t.Fatal(err)
	}
	reconcile(issuerReq("", "root"))
	wantBundle(t, c, clusterSigner, oldRoot.Certificate, newRoot.Certificate)
}
