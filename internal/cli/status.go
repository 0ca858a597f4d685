package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/internal/estate"
)

type statusFlags struct {
	kube           kubeFlags
	allNamespaces  bool
	selector       string
	expiringWithin time.Duration
	warn           time.Duration
	output         string
	dir            string
	clusterNS      string
	chunkSize      int64
}

func newStatusCommand(o Options) *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status [-n NS | -A] [-l SELECTOR] [--expiring-within D] [--warn D] [--dir DIR] [-o wide|json|yaml]",
		Short: "List every certificate the cluster depends on, soonest to expire first; fail if any needs attention",
		Long: `List every certificate the cluster depends on: cert-manager Certificates (with
what their Secrets hold), other kubernetes.io/tls Secrets and the Secrets
Ingresses name, CertificateSigningRequests, PodCertificateRequests, the CAs
of CA Issuers and ClusterIssuers and of ClusterTrustBundles, and with --dir
the cluster PKI's certificates and kubeconfigs (as pki check-expiration
reads them). Each row gives the subject, issuer, notAfter, time left, renewal
time, state and owner; they are sorted by time left, soonest first.

Without -n it covers the whole cluster (as -A does); -n NS keeps the objects
of one namespace. -l keeps the objects whose labels match (PKI files have
none), --expiring-within keeps the certificates that expire within it.

Exits 1 when a certificate needs attention: it has expired, or it expires
within --warn (default 720h, 30 days) and nothing renews it before then.
Certificates and PodCertificateRequests renew by themselves: they count
only once their renewal time (status.renewalTime, beginRefreshAt) is more
than 10 minutes past, as when renewal is stuck. So it can run from cron or
CI. Objects it may not list are named on standard error and skipped.`,
		Example: `  certplane status
  certplane status -n sandbox -o wide
  certplane status --expiring-within 720h -o json
  certplane status --dir /etc/kubernetes --warn 2160h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), o, &f)
		},
	}
	f.kube.bind(cmd.PersistentFlags())
	fl := cmd.Flags()
	fl.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "every namespace (the default without -n; wins over -n)")
	fl.StringVarP(&f.selector, "selector", "l", "", "label selector, such as app=web,tier!=db")
	fl.DurationVar(&f.expiringWithin, "expiring-within", 0, "show only certificates that expire within this (expired ones included)")
	fl.DurationVar(&f.warn, "warn", estate.DefaultWarn, "warning window: exit 1 when a certificate expires within it and is not renewed before")
	fl.StringVarP(&f.output, "output", "o", "", "wide, json or yaml (default: a table)")
	fl.StringVar(&f.dir, "dir", "", "also the cluster PKI in DIR (certificates in DIR/pki, kubeconfigs in DIR)")
	fl.StringVar(&f.clusterNS, "cluster-resource-namespace", estate.DefaultClusterResourceNamespace, "namespace of ClusterIssuers' CA Secrets")
	fl.Int64Var(&f.chunkSize, "chunk-size", 500, "list in pages of this many objects")
	cmd.AddCommand(newStatusCertificateCommand(o, &f.kube))
	return cmd
}

func runStatus(ctx context.Context, o Options, f *statusFlags) error {
	switch f.output {
	case "", "wide", "json", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: want wide, json or yaml", f.output)
	}
	if f.warn <= 0 {
		return fmt.Errorf("--warn %s: want a positive duration such as 720h", f.warn)
	}
	if f.expiringWithin < 0 {
		return fmt.Errorf("--expiring-within %s: want a positive duration such as 720h", f.expiringWithin)
	}
	if f.chunkSize <= 0 {
		return fmt.Errorf("--chunk-size %d: want a positive number", f.chunkSize)
	}
	if f.dir != "" {
		if st, err := os.Stat(f.dir); err != nil || !st.IsDir() {
			return fmt.Errorf("--dir %s: no such directory", f.dir)
		}
	}
	var sel labels.Selector
	if f.selector != "" {
		var err error
		if sel, err = labels.Parse(f.selector); err != nil {
			return fmt.Errorf("--selector %q: %w", f.selector, err)
		}
	}
	k, err := f.kube.connect(o)
	if err != nil {
		return err
	}
	ns := ""
	if f.kube.namespace != "" && !f.allNamespaces {
		ns = f.kube.namespace
	}
	now := o.Now()
	in, skipped, err := collect(ctx, k, ns, f)
	if err != nil {
		return err
	}
	if f.dir != "" {
		r, err := clusterpki.CheckExpiration(f.dir, now, nil)
		if err != nil {
			return err
		}
		in.PKI = pkiFiles(r)
	}
	rep := estate.NewReport(in, estate.Options{Now: now, Warn: f.warn, Filter: estate.Filter{Namespace: ns, Selector: sel, ExpiringWithin: f.expiringWithin}})
	rep.Skipped = skipped
	if f.output != "json" && f.output != "yaml" {
		for _, s := range skipped {
			fmt.Fprintf(o.ErrOut, "warning: not listed: %s\n", s)
		}
	}
	switch f.output {
	case "json":
		err = writeJSON(o.Out, rep)
	case "yaml":
		var data []byte
		if data, err = yaml.Marshal(rep); err == nil {
			_, err = o.Out.Write(data)
		}
	default:
		err = writeStatusTable(o.Out, rep, f.output == "wide")
	}
	if err != nil {
		return err
	}
	return attentionError(rep, f.warn)
}

// attentionError names what needs attention, the first few of them.
func attentionError(rep *estate.Report, warn time.Duration) error {
	if rep.Attention == 0 {
		return nil
	}
	var names []string
	for _, r := range rep.Items {
		if r.Attention && len(names) < 5 {
			names = append(names, fmt.Sprintf("%s %s (%s)", r.Kind, nsName(r.Namespace, r.Name), strings.TrimSuffix(r.TimeLeft, " left")))
		}
	}
	more := ""
	if rep.Attention > len(names) {
		more = fmt.Sprintf(" and %d more", rep.Attention-len(names))
	}
	noun := "certificates need"
	if rep.Attention == 1 {
		noun = "certificate needs"
	}
	return fmt.Errorf("%d %s attention, expired or expiring within %s with no renewal due: %s%s", rep.Attention, noun, warn, strings.Join(names, ", "), more)
}

func pkiFiles(r *clusterpki.ExpirationReport) []estate.PKIFile {
	var out []estate.PKIFile
	for _, e := range r.CertificateAuthorities {
		out = append(out, estate.PKIFile{Name: e.Name, NotAfter: e.ExpirationDate, IsCA: true, ExternallyManaged: e.ExternallyManaged, Missing: e.Missing})
	}
	for _, e := range r.Certificates {
		out = append(out, estate.PKIFile{Name: e.Name, NotAfter: e.ExpirationDate, CA: e.CertificateAuthority, ExternallyManaged: e.ExternallyManaged, Missing: e.Missing})
	}
	return out
}

// collect lists what estate needs, each kind in its own goroutine and in
// pages of f.chunkSize. ns restricts the namespaced kinds and leaves out the
// cluster-scoped ones. What is not served or not allowed is skipped and
// named; any other error fails.
func collect(ctx context.Context, k *kube, ns string, f *statusFlags) (*estate.Input, []string, error) {
	in := &estate.Input{ClusterResourceNamespace: f.clusterNS}
	var (
		mu      sync.Mutex
		skipped []string
		errs    []error
		wg      sync.WaitGroup
	)
	run := func(what string, clusterScoped bool, fn func() error) {
		if clusterScoped && ns != "" {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn()
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case apierrors.IsForbidden(err):
				skipped = append(skipped, what+": forbidden")
			case notServed(err):
				skipped = append(skipped, what+": not served by this cluster")
			default:
				errs = append(errs, fmt.Errorf("listing %s: %w", what, err))
			}
		}()
	}
	each := func(list pager.ListPageFunc, fn func(runtime.Object)) error {
		p := pager.New(list)
		p.PageSize = f.chunkSize
		return p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error { fn(obj); return nil })
	}
	cmList := func(list client.ObjectList, opts ...client.ListOption) pager.ListPageFunc {
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			l := list.DeepCopyObject().(client.ObjectList)
			all := append([]client.ListOption{client.Limit(o.Limit), client.Continue(o.Continue)}, opts...)
			return l, k.cm.List(ctx, l, all...)
		}
	}
	inNS := []client.ListOption{}
	if ns != "" {
		inNS = append(inNS, client.InNamespace(ns))
	}

	run("certificates.cert-manager.io", false, func() error {
		return each(cmList(&cmv1.CertificateList{}, inNS...), func(obj runtime.Object) {
			c := obj.(*cmv1.Certificate)
			c.ManagedFields = nil
			in.Certificates = append(in.Certificates, *c)
		})
	})
	run("secrets of type kubernetes.io/tls", false, func() error {
		tlsType := fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)).String()
		return each(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = tlsType
			return k.cs.CoreV1().Secrets(ns).List(ctx, o)
		}, func(obj runtime.Object) {
			in.Secrets = append(in.Secrets, slimSecret(obj.(*corev1.Secret)))
		})
	})
	run("ingresses.networking.k8s.io", false, func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.cs.NetworkingV1().Ingresses(ns).List(ctx, o)
		}, func(obj runtime.Object) {
			ing := obj.(*networkingv1.Ingress)
			in.Ingresses = append(in.Ingresses, networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ing.Namespace, Name: ing.Name}, Spec: networkingv1.IngressSpec{TLS: ing.Spec.TLS}})
		})
	})
	run("certificatesigningrequests.certificates.k8s.io", true, func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.cs.CertificatesV1().CertificateSigningRequests().List(ctx, o)
		}, func(obj runtime.Object) {
			c := obj.(*certv1.CertificateSigningRequest)
			c.ManagedFields, c.Spec.Request = nil, nil
			in.CertificateSigningRequests = append(in.CertificateSigningRequests, *c)
		})
	})
	run("podcertificaterequests.certificates.k8s.io", false, func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.cs.CertificatesV1().PodCertificateRequests(ns).List(ctx, o)
		}, func(obj runtime.Object) {
			p := obj.(*certv1.PodCertificateRequest)
			p.ManagedFields, p.Spec.StubPKCS10Request = nil, nil
			in.PodCertificateRequests = append(in.PodCertificateRequests, *p)
		})
	})
	run("issuers.cert-manager.io", false, func() error {
		return each(cmList(&cmv1.IssuerList{}, inNS...), func(obj runtime.Object) {
			in.Issuers = append(in.Issuers, *obj.(*cmv1.Issuer))
		})
	})
	run("clusterissuers.cert-manager.io", true, func() error {
		return each(cmList(&cmv1.ClusterIssuerList{}), func(obj runtime.Object) {
			in.ClusterIssuers = append(in.ClusterIssuers, *obj.(*cmv1.ClusterIssuer))
		})
	})
	run("clustertrustbundles.certificates.k8s.io", true, func() error {
		return each(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.cs.CertificatesV1().ClusterTrustBundles().List(ctx, o)
		}, func(obj runtime.Object) {
			in.ClusterTrustBundles = append(in.ClusterTrustBundles, *obj.(*certv1.ClusterTrustBundle))
		})
	})
	wg.Wait()
	if len(errs) > 0 {
		// One line: the first failure by name, and how many more.
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		if len(errs) == 1 {
			return nil, nil, errs[0]
		}
		return nil, nil, fmt.Errorf("%w (and %d more kinds could not be listed)", errs[0], len(errs)-1)
	}
	// Secrets of another type that Ingresses and CA issuers name, one by one.
	for _, ref := range estate.ReferencedSecrets(in) {
		if ns != "" && ref.Namespace != ns {
			continue
		}
		s, err := k.cs.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case apierrors.IsForbidden(err):
			skipped = append(skipped, "secret "+ref.String()+": forbidden")
		case err != nil:
			return nil, nil, fmt.Errorf("reading secret %s: %w", ref, err)
		default:
			in.Secrets = append(in.Secrets, slimSecret(s))
		}
	}
	return in, skipped, nil
}

// slimSecret keeps what estate reads of a Secret: never a private key.
func slimSecret(s *corev1.Secret) corev1.Secret {
	out := corev1.Secret{TypeMeta: s.TypeMeta, ObjectMeta: s.ObjectMeta, Type: s.Type, Data: map[string][]byte{}}
	out.ManagedFields = nil
	for _, key := range []string{corev1.TLSCertKey, "ca.crt"} {
		if v, ok := s.Data[key]; ok {
			out.Data[key] = v
		}
	}
	return out
}

// subjectOrNames is the subject, or for a certificate with an empty
// subject (SANs only, as cert-manager often issues) its first name.
func subjectOrNames(r *estate.Row) string {
	switch {
	case r.Subject != "" || len(r.Names) == 0:
		return r.Subject
	case len(r.Names) == 1:
		return r.Names[0]
	}
	return fmt.Sprintf("%s (+%d)", r.Names[0], len(r.Names)-1)
}

func writeStatusTable(w io.Writer, rep *estate.Report, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "KIND\tNAMESPACE\tNAME\tSUBJECT\tISSUER\tNOT AFTER\tTIME LEFT\tRENEWAL\tSTATE\tOWNER"
	if wide {
		header += "\tSECRET\tISSUER REF\tUSED BY\tSERIAL\tMESSAGE"
	}
	fmt.Fprintln(tw, header)
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	date := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, r := range rep.Items {
		state := r.State
		if r.Attention {
			state += " (!)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.Kind, dash(r.Namespace), r.Name, dash(subjectOrNames(&r)), dash(r.Issuer),
			date(r.NotAfter), dash(strings.TrimSuffix(r.TimeLeft, " left")), date(r.RenewalTime), state, dash(r.Owner))
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s", dash(r.Secret), dash(r.IssuerRef), dash(strings.Join(r.UsedBy, ",")), dash(r.SerialNumber), dash(r.Message))
		}
		fmt.Fprintln(tw)
	}
	if len(rep.Items) == 0 {
		fmt.Fprintln(tw, "no certificates found")
	}
	return tw.Flush()
}
