package web

import (
	"context"
	"slices"
	"sort"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/pager"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/estate"
)

// resource is a kind the view shows.
type resource struct {
	Kind, Plural, Group string
	Namespaced          bool
	newObject           func() client.Object
	newList             func() client.ObjectList
	// add puts the listed objects the user may see into in.
	add func(in *estate.Input, list client.ObjectList, keep func(namespace string) bool)
}

func keepItems[T any](items []T, ns func(*T) string, keep func(string) bool) []T {
	out := make([]T, 0, len(items))
	for i := range items {
		if keep(ns(&items[i])) {
			out = append(out, items[i])
		}
	}
	return out
}

var resources = []resource{
	{
		Kind: estate.KindCertificate, Plural: "certificates", Group: "cert-manager.io", Namespaced: true,
		newObject: func() client.Object { return &cmv1.Certificate{} }, newList: func() client.ObjectList { return &cmv1.CertificateList{} },
		add: func(in *estate.Input, l client.ObjectList, keep func(string) bool) {
			in.Certificates = keepItems(l.(*cmv1.CertificateList).Items, func(o *cmv1.Certificate) string { return o.Namespace }, keep)
		},
	},
	{
		Kind: estate.KindIssuer, Plural: "issuers", Group: "cert-manager.io", Namespaced: true,
		newObject: func() client.Object { return &cmv1.Issuer{} }, newList: func() client.ObjectList { return &cmv1.IssuerList{} },
		add: func(in *estate.Input, l client.ObjectList, keep func(string) bool) {
			in.Issuers = keepItems(l.(*cmv1.IssuerList).Items, func(o *cmv1.Issuer) string { return o.Namespace }, keep)
		},
	},
	{
		Kind: estate.KindClusterIssuer, Plural: "clusterissuers", Group: "cert-manager.io",
		newObject: func() client.Object { return &cmv1.ClusterIssuer{} }, newList: func() client.ObjectList { return &cmv1.ClusterIssuerList{} },
		add: func(in *estate.Input, l client.ObjectList, keep func(string) bool) {
			in.ClusterIssuers = keepItems(l.(*cmv1.ClusterIssuerList).Items, func(*cmv1.ClusterIssuer) string { return "" }, keep)
		},
	},
	{
		Kind: estate.KindCSR, Plural: "certificatesigningrequests", Group: "certificates.k8s.io",
		newObject: func() client.Object { return &certv1.CertificateSigningRequest{} },
		newList:   func() client.ObjectList { return &certv1.CertificateSigningRequestList{} },
		add: func(in *estate.Input, l client.ObjectList, keep func(string) bool) {
			in.CertificateSigningRequests = keepItems(l.(*certv1.CertificateSigningRequestList).Items, func(*certv1.CertificateSigningRequest) string { return "" }, keep)
		},
	},
	{
		Kind: estate.KindPodCertificate, Plural: "podcertificaterequests", Group: "certificates.k8s.io", Namespaced: true,
		newObject: func() client.Object { return &certv1.PodCertificateRequest{} },
		newList:   func() client.ObjectList { return &certv1.PodCertificateRequestList{} },
		add: func(in *estate.Input, l client.ObjectList, keep func(string) bool) {
			in.PodCertificateRequests = keepItems(l.(*certv1.PodCertificateRequestList).Items, func(o *certv1.PodCertificateRequest) string { return o.Namespace }, keep)
		},
	},
	{
		Kind: estate.KindClusterTrustBundle, Plural: "clustertrustbundles", Group: "certificates.k8s.io",
		newObject: func() client.Object { return &certv1.ClusterTrustBundle{} },
		newList:   func() client.ObjectList { return &certv1.ClusterTrustBundleList{} },
		add: func(in *estate.Input, l client.ObjectList, keep func(string) bool) {
			in.ClusterTrustBundles = keepItems(l.(*certv1.ClusterTrustBundleList).Items, func(*certv1.ClusterTrustBundle) string { return "" }, keep)
		},
	},
}

// secrets are the Secrets in the controllers' cache: those certplane
// writes, which hold the Certificates' certificates. Their events wake the
// pages; what they hold is read live (Options.SecretLabels).
var secrets = resource{Kind: estate.KindSecret, Plural: "secrets", Namespaced: true,
	newObject: func() client.Object { return &corev1.Secret{} }, newList: func() client.ObjectList { return &corev1.SecretList{} }}

func resourceFor(plural string) (resource, bool) {
	for _, r := range resources {
		if r.Plural == plural {
			return r, true
		}
	}
	return resource{}, false
}

func resourceOfKind(kind string) (resource, bool) {
	for _, r := range resources {
		if r.Kind == kind {
			return r, true
		}
	}
	return resource{}, false
}

// watched are the kinds whose changes wake the pages.
func watched() []resource { return append(slices.Clone(resources), secrets) }

// isNotServed reports an error that means the cluster does not serve a
// kind (its CRDs are not installed, its API is off).
func isNotServed(err error) bool {
	return err != nil && (meta.IsNoMatchError(err) || apierrors.IsNotFound(err))
}

// changeHandler calls changed on every add, delete and real update (not
// the informer's resyncs).
func changeHandler(changed func()) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { changed() },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(client.Object)
			c, ok2 := cur.(client.Object)
			if ok1 && ok2 && o.GetResourceVersion() == c.GetResourceVersion() {
				return
			}
			changed()
		},
		DeleteFunc: func(any) { changed() },
	}
}

// listTimeout bounds the reads of one request.
const listTimeout = 15 * time.Second

// snapshot is what one request may see.
type snapshot struct {
	// generation is the hub's count of changes when the listing began.
	generation uint64
	input      estate.Input
	skipped    []string
	namespaces []string
}

// gather lists every kind (namespace's objects only, if not empty; the
// cluster-scoped ones always), keeps what the request's user may list, and
// adds the Secrets that hold the certificates.
func (s *Server) gather(ctx context.Context, namespace string) *snapshot {
	v := viewerOf(ctx)
	// A kind whose informer cannot sync (not permitted) fails the request
	// instead of holding it.
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	// Read before listing: a change during the listing makes the page
	// older than its generation says, and its script fetches it again.
	snap := &snapshot{generation: s.hub.generation(), input: estate.Input{ClusterResourceNamespace: s.o.ClusterResourceNamespace}}
	nsSeen := map[string]bool{}
	for _, r := range resources {
		list := r.newList()
		var opts []client.ListOption
		if r.Namespaced && namespace != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		if err := s.o.Cache.List(ctx, list, opts...); err != nil {
			if isNotServed(err) {
				continue
			}
			s.log.Error(err, "listing", "resource", r.Plural)
			snap.skipped = append(snap.skipped, r.Plural+": "+err.Error())
			continue
		}
		keep, note := v.lister(ctx, r)
		if note != "" {
			snap.skipped = append(snap.skipped, r.Plural+": "+note)
		}
		r.add(&snap.input, list, keep)
		if r.Namespaced {
			_ = meta.EachListItem(list, func(o runtime.Object) error {
				if obj, ok := o.(client.Object); ok && keep(obj.GetNamespace()) {
					nsSeen[obj.GetNamespace()] = true
				}
				return nil
			})
		}
	}
	snap.input.Secrets = s.certificateSecrets(ctx, v, &snap.input, namespace)
	for ns := range nsSeen {
		snap.namespaces = append(snap.namespaces, ns)
	}
	sort.Strings(snap.namespaces)
	return snap
}

// certificateSecrets are the Secrets of Certificates, and those CA issuers
// name, read one by one, that the user may get: only their certificates,
// never their keys, are kept.
func (s *Server) certificateSecrets(ctx context.Context, v *viewer, in *estate.Input, namespace string) []corev1.Secret {
	mayGet := v.getter(ctx, "secrets")
	var out []corev1.Secret
	have := map[types.NamespacedName]bool{}
	err := s.eachSecret(ctx, namespace, func(sec *corev1.Secret) {
		if mayGet(sec.Namespace) {
			out = append(out, certificatesOnly(sec))
			have[types.NamespacedName{Namespace: sec.Namespace, Name: sec.Name}] = true
		}
	})
	if err != nil {
		s.log.Error(err, "listing the Secrets of Certificates")
	}
	probe := *in
	probe.Secrets = out
	for _, k := range estate.ReferencedSecrets(&probe) {
		if have[k] || !mayGet(k.Namespace) {
			continue
		}
		sec, err := s.secret(ctx, k)
		if err != nil || sec == nil {
			continue
		}
		out = append(out, certificatesOnly(sec))
	}
	return out
}

// eachSecret calls fn with every Secret of a Certificate (of namespace, if
// not empty). With SecretLabels they are read from Live a page at a time,
// as the cache holds them without their data; else from Cache.
func (s *Server) eachSecret(ctx context.Context, namespace string, fn func(*corev1.Secret)) error {
	if s.o.SecretLabels == nil {
		var list corev1.SecretList
		if err := s.o.Cache.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return err
		}
		for i := range list.Items {
			fn(&list.Items[i])
		}
		return nil
	}
	return pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		list := &corev1.SecretList{}
		return list, s.o.Live.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels(s.o.SecretLabels),
			client.Limit(opts.Limit), client.Continue(opts.Continue))
	}).EachListItem(ctx, metav1.ListOptions{}, func(o runtime.Object) error {
		if sec, ok := o.(*corev1.Secret); ok {
			fn(sec)
		}
		return nil
	})
}

// secret reads a Secret: from Live when the cache holds Secrets without
// their data (SecretLabels), else from the cache and then Live; nil if it
// does not exist.
func (s *Server) secret(ctx context.Context, k types.NamespacedName) (*corev1.Secret, error) {
	var sec corev1.Secret
	var err error
	if s.o.SecretLabels != nil {
		err = s.o.Live.Get(ctx, k, &sec)
	} else if err = s.o.Cache.Get(ctx, k, &sec); apierrors.IsNotFound(err) && s.o.Live != s.o.Cache {
		err = s.o.Live.Get(ctx, k, &sec)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		s.log.Error(err, "reading a Secret", "secret", k.String())
		return nil, err
	}
	return &sec, nil
}

// certificatesOnly is a copy of sec with only tls.crt and ca.crt: the
// cached object is not changed, and no key leaves this package.
func certificatesOnly(sec *corev1.Secret) corev1.Secret {
	out := corev1.Secret{TypeMeta: sec.TypeMeta, ObjectMeta: sec.ObjectMeta, Type: sec.Type, Data: map[string][]byte{}}
	for _, k := range []string{corev1.TLSCertKey, "ca.crt"} {
		if v, ok := sec.Data[k]; ok {
			out.Data[k] = v
		}
	}
	return out
}
