package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// This file holds what the cmctl verbs (status certificate, renew,
// inspect secret, approve, deny, create certificaterequest, check api) and
// status share: a kubeconfig and namespace as kubectl reads them, and
// clients for the core and cert-manager.io APIs.

// kubeFlags are the cluster flags of cmctl's verbs.
type kubeFlags struct {
	kubeconfig string
	namespace  string
}

func (f *kubeFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace (default: the kubeconfig context's, else default)")
}

// kube is a connection to a cluster.
type kube struct {
	cfg *rest.Config
	// namespace is --namespace, else the kubeconfig context's, else
	// "default"; explicit says it came from --namespace.
	namespace string
	explicit  bool
	cs        kubernetes.Interface
	cm        client.Client
}

// connect loads the kubeconfig as kubectl does (--kubeconfig, else
// $KUBECONFIG, else ~/.kube/config, else in-cluster) with its namespace.
func (f *kubeFlags) connect(o Options) (*kube, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{}
	overrides.Context.Namespace = f.namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, kubeconfigError(rules, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, kubeconfigError(rules, err)
	}
	cfg.WarningHandler = rest.NewWarningWriter(o.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	// A command makes a bounded number of requests: no client-side limit
	// beyond a burst that covers the pages of a large listing.
	cfg.QPS, cfg.Burst = 100, 200
	core := rest.CopyConfig(cfg)
	core.ContentType = "application/vnd.kubernetes.protobuf"
	core.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cs, err := kubernetes.NewForConfig(core)
	if err != nil {
		return nil, err
	}
	cm, err := newCertManagerClient(cfg)
	if err != nil {
		return nil, err
	}
	return &kube{cfg: cfg, namespace: ns, explicit: f.namespace != "", cs: cs, cm: cm}, nil
}

// newCertManagerClient is a client for the cert-manager.io/v1 and
// acme.cert-manager.io/v1 kinds, with their mapping known in advance (no
// discovery).
func newCertManagerClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := cmv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := acmev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{cmv1.GroupVersion, acmev1.GroupVersion})
	for _, k := range []string{"Certificate", "CertificateRequest", "Issuer"} {
		mapper.Add(cmv1.GroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	for _, k := range []string{"Order", "Challenge"} {
		mapper.Add(acmev1.GroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	mapper.Add(cmv1.GroupVersion.WithKind("ClusterIssuer"), meta.RESTScopeRoot)
	return client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper, Log: logr.Discard()})
}

// notServed says whether err means the API is not there: the resource is
// not served (no CRD) or its kind is not known.
func notServed(err error) bool {
	return apierrors.IsNotFound(err) && isListOrDiscovery(err) || meta.IsNoMatchError(err)
}

// isListOrDiscovery tells a 404 for a whole resource (not served) from a
// 404 for one object: the status details of the latter name the object.
func isListOrDiscovery(err error) bool {
	var s apierrors.APIStatus
	if !errors.As(err, &s) {
		return false
	}
	d := s.Status().Details
	return d == nil || d.Name == ""
}

// nsName is namespace/name, or name for a cluster-scoped object.
func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// apiError is the one-line message of an API error about kind ns/name,
// naming the object instead of repeating the server's phrasing.
func apiError(kind, ns, name string, err error) error {
	switch {
	case apierrors.IsNotFound(err) && !isListOrDiscovery(err):
		if ns != "" {
			return &messageError{msg: fmt.Sprintf("%s %s not found in namespace %s", kind, name, ns), err: err}
		}
		return &messageError{msg: fmt.Sprintf("%s %s not found", kind, name), err: err}
	case apierrors.IsAlreadyExists(err):
		return &messageError{msg: fmt.Sprintf("%s %s already exists in namespace %s", kind, name, ns), err: err}
	case notServed(err):
		return &messageError{msg: fmt.Sprintf("the cluster does not serve %s (cert-manager.io/v1): install the CRDs (certplane up serves them; kubectl apply -k config/default)", kind), err: err}
	case apierrors.IsForbidden(err):
		return &messageError{msg: fmt.Sprintf("%s %s: %s", kind, nsName(ns, name), forbiddenMessage(err)), err: err}
	}
	return fmt.Errorf("%s %s: %w", kind, nsName(ns, name), err)
}

// forbiddenMessage shortens the apiserver's forbidden message to who may
// not do what.
func forbiddenMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "forbidden: "); i >= 0 {
		msg = msg[i+len("forbidden: "):]
	}
	return "forbidden: " + msg
}

// eventsFor lists the events about one object, oldest first.
func eventsFor(ctx context.Context, cs kubernetes.Interface, ns string, uid types.UID) ([]corev1.Event, error) {
	if uid == "" {
		return nil, nil
	}
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.uid", string(uid)).String()})
	if err != nil {
		return nil, err
	}
	items := list.Items
	sortEvents(items)
	return items, nil
}
