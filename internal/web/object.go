package web

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/estate"
	"github.com/certplane/certplane/pkg/pki"
)

// objectView is the page of one object: its row, its fields, conditions,
// decoded certificate and events.
type objectView struct {
	Kind, Resource, Namespace, Name string
	Row                             *estate.Row
	Fields                          []field
	Conditions                      []condition
	// Certificate is the decoded certificate (and chain), from CertSource;
	// CertNote says why there is none.
	Certificate *pki.Report
	CertSource  string
	CertNote    string
	Events      []event
	EventsNote  string
}

type field struct {
	Name, Value, Link string
}

type condition struct {
	Type, Status, Reason, Message string
	Since                         time.Time
}

type event struct {
	Type, Reason, Message string
	Count                 int32
	Last                  time.Time
}

// linkFor is the page of an object of an estate kind, "" if it has none.
func linkFor(kind, namespace, name string) string {
	r, ok := resourceOfKind(kind)
	if !ok || r.Kind == estate.KindClusterTrustBundle {
		return ""
	}
	if r.Namespaced {
		return "/object/" + r.Plural + "/" + namespace + "/" + name
	}
	return "/object/" + r.Plural + "/" + name
}

func objectLink(r estate.Row) string { return linkFor(r.Kind, r.Namespace, r.Name) }

func (s *Server) object(w http.ResponseWriter, r *http.Request) {
	res, ok := resourceFor(r.PathValue("resource"))
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if !ok || res.Namespaced != (ns != "") || res.Kind == estate.KindClusterTrustBundle {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	v := viewerOf(ctx)
	if !v.may(ctx, Access{Verb: "get", Group: res.Group, Resource: res.Plural, Namespace: ns}) {
		http.Error(w, fmt.Sprintf("you may not get %s %s", res.Plural, qualifiedName(ns, name)), http.StatusForbidden)
		return
	}
	obj := res.newObject()
	if err := s.o.Cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) || isNotServed(err) {
			http.Error(w, fmt.Sprintf("%s %s not found", res.Kind, qualifiedName(ns, name)), http.StatusNotFound)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	now := s.now()
	ov := &objectView{Kind: res.Kind, Resource: res.Plural, Namespace: ns, Name: name}
	in := estate.Input{ClusterResourceNamespace: s.o.ClusterResourceNamespace}
	var pemData []byte
	mayGetSecret := v.getter(ctx, "secrets")
	readSecret := func(k types.NamespacedName) {
		ov.CertSource = "Secret " + k.String() + ", tls.crt"
		if !mayGetSecret(k.Namespace) {
			ov.CertNote = "You may not get Secret " + k.String() + "."
			return
		}
		sec, err := s.secret(ctx, k)
		switch {
		case err != nil:
			ov.CertNote = "Reading Secret " + k.String() + " failed."
		case sec == nil:
			ov.CertNote = "Secret " + k.String() + " does not exist."
		default:
			only := certificatesOnly(sec)
			in.Secrets = append(in.Secrets, only)
			pemData = only.Data[corev1.TLSCertKey]
		}
	}
	switch o := obj.(type) {
	case *cmv1.Certificate:
		in.Certificates = []cmv1.Certificate{*o}
		ov.Fields = certificateFields(o)
		for _, c := range o.Status.Conditions {
			ov.Conditions = append(ov.Conditions, condition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: timeOf(c.LastTransitionTime)})
		}
		readSecret(types.NamespacedName{Namespace: o.Namespace, Name: o.Spec.SecretName})
	case *cmv1.Issuer:
		in.Issuers = []cmv1.Issuer{*o}
		ov.Fields, ov.Conditions = issuerFields(&o.Spec, o.Status.Conditions)
		if o.Spec.CA != nil {
			readSecret(types.NamespacedName{Namespace: o.Namespace, Name: o.Spec.CA.SecretName})
		}
	case *cmv1.ClusterIssuer:
		in.ClusterIssuers = []cmv1.ClusterIssuer{*o}
		ov.Fields, ov.Conditions = issuerFields(&o.Spec, o.Status.Conditions)
		if o.Spec.CA != nil {
			readSecret(types.NamespacedName{Namespace: s.o.ClusterResourceNamespace, Name: o.Spec.CA.SecretName})
		}
	case *certv1.CertificateSigningRequest:
		in.CertificateSigningRequests = []certv1.CertificateSigningRequest{*o}
		ov.Fields = csrFields(o)
		for _, c := range o.Status.Conditions {
			ov.Conditions = append(ov.Conditions, condition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: c.LastTransitionTime.Time})
		}
		pemData, ov.CertSource = o.Status.Certificate, "status.certificate"
	case *certv1.PodCertificateRequest:
		in.PodCertificateRequests = []certv1.PodCertificateRequest{*o}
		ov.Fields = podCertificateFields(o)
		for _, c := range o.Status.Conditions {
			ov.Conditions = append(ov.Conditions, condition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: c.LastTransitionTime.Time})
		}
		pemData, ov.CertSource = []byte(o.Status.CertificateChain), "status.certificateChain"
	}
	for _, row := range estate.Build(&in, now) {
		if row.Kind == res.Kind && row.Namespace == ns && row.Name == name {
			ov.Row = &row
			break
		}
	}
	switch {
	case len(pemData) > 0:
		rep, err := pki.Inspect(pemData, now)
		if err != nil {
			ov.CertNote = "The certificate does not parse: " + strings.TrimPrefix(err.Error(), "pki: ")
		} else {
			ov.Certificate = rep
		}
	case ov.CertNote == "" && ov.CertSource != "":
		ov.CertNote = "No certificate yet."
	}
	ov.Events, ov.EventsNote = s.eventsOf(r, res.Kind, obj)
	s.render(w, r, "object", &page{Title: res.Kind + " " + qualifiedName(ns, name), Page: "object", Object: ov})
}

// eventsOf lists the Events about obj, newest first, if the user may list
// Events there.
func (s *Server) eventsOf(r *http.Request, kind string, obj client.Object) ([]event, string) {
	ctx := r.Context()
	ns := obj.GetNamespace()
	if !viewerOf(ctx).may(ctx, Access{Verb: "list", Resource: "events", Namespace: ns}) {
		return nil, "You may not list Events here."
	}
	var list corev1.EventList
	opts := []client.ListOption{client.MatchingFields{"involvedObject.kind": kind, "involvedObject.name": obj.GetName()}}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := s.o.Live.List(ctx, &list, opts...); err != nil {
		s.log.Error(err, "listing events", "object", obj.GetName())
		return nil, "Listing the Events failed."
	}
	var out []event
	for _, e := range list.Items {
		if e.InvolvedObject.UID != "" && e.InvolvedObject.UID != obj.GetUID() {
			continue // an earlier object of the same name
		}
		last := e.LastTimestamp.Time
		if last.IsZero() {
			last = e.EventTime.Time
		}
		if last.IsZero() {
			last = e.CreationTimestamp.Time
		}
		count := e.Count
		if e.Series != nil {
			count = e.Series.Count
		}
		out = append(out, event{Type: e.Type, Reason: e.Reason, Message: e.Message, Count: max(count, 1), Last: last})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	if len(out) == 0 {
		return nil, "No Events (the apiserver keeps them for an hour)."
	}
	return out, ""
}

func qualifiedName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func certificateFields(c *cmv1.Certificate) []field {
	ref := c.Spec.IssuerRef
	kind := ref.Kind
	if kind == "" {
		kind = estate.KindIssuer
	}
	issuer := field{Name: "Issuer", Value: kind + "/" + ref.Name}
	switch {
	case ref.Group != "" && ref.Group != "cert-manager.io":
		issuer.Value = kind + "." + ref.Group + "/" + ref.Name
	case kind == estate.KindClusterIssuer:
		issuer.Link = linkFor(kind, "", ref.Name)
	default:
		issuer.Link = linkFor(kind, c.Namespace, ref.Name)
	}
	fs := []field{issuer, {Name: "Secret", Value: c.Spec.SecretName}}
	add := func(name, value string) {
		if value != "" {
			fs = append(fs, field{Name: name, Value: value})
		}
	}
	add("Common name", c.Spec.CommonName)
	add("DNS names", strings.Join(c.Spec.DNSNames, ", "))
	add("IP addresses", strings.Join(c.Spec.IPAddresses, ", "))
	add("URIs", strings.Join(c.Spec.URIs, ", "))
	add("Email addresses", strings.Join(c.Spec.EmailAddresses, ", "))
	if c.Spec.IsCA {
		add("CA", "yes")
	}
	if d := c.Spec.Duration; d != nil {
		add("Duration", d.Duration.String())
	}
	if d := c.Spec.RenewBefore; d != nil {
		add("Renew before", d.Duration.String())
	}
	if p := c.Spec.RenewBeforePercentage; p != nil {
		add("Renew before", strconv.Itoa(int(*p))+"% of the lifetime")
	}
	if k := c.Spec.PrivateKey; k != nil {
		add("Key", strings.TrimSpace(k.Algorithm+" "+sizeOf(k.Size)))
		add("Key rotation", k.RotationPolicy)
	}
	if rev := c.Status.Revision; rev != nil {
		add("Revision", strconv.Itoa(*rev))
	}
	if n := c.Status.FailedIssuanceAttempts; n != nil {
		add("Failed issuances", strconv.Itoa(*n))
	}
	return fs
}

func sizeOf(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func issuerFields(spec *cmv1.IssuerSpec, conds []cmv1.IssuerCondition) ([]field, []condition) {
	var fs []field
	switch {
	case spec.CA != nil:
		fs = append(fs, field{Name: "Type", Value: "ca"}, field{Name: "CA Secret", Value: spec.CA.SecretName})
	case spec.SelfSigned != nil:
		fs = append(fs, field{Name: "Type", Value: "selfSigned"})
	case spec.ACME != nil:
		fs = append(fs, field{Name: "Type", Value: "acme"})
	case spec.Vault != nil:
		fs = append(fs, field{Name: "Type", Value: "vault"})
	case spec.Venafi != nil:
		fs = append(fs, field{Name: "Type", Value: "venafi"})
	}
	var cs []condition
	for _, c := range conds {
		cs = append(cs, condition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Since: timeOf(c.LastTransitionTime)})
	}
	return fs, cs
}

func csrFields(c *certv1.CertificateSigningRequest) []field {
	fs := []field{{Name: "Signer", Value: c.Spec.SignerName}, {Name: "Requester", Value: c.Spec.Username}}
	var usages []string
	for _, u := range c.Spec.Usages {
		usages = append(usages, string(u))
	}
	if len(usages) > 0 {
		fs = append(fs, field{Name: "Usages", Value: strings.Join(usages, ", ")})
	}
	if e := c.Spec.ExpirationSeconds; e != nil {
		fs = append(fs, field{Name: "Expiration", Value: (time.Duration(*e) * time.Second).String()})
	}
	return fs
}

func podCertificateFields(p *certv1.PodCertificateRequest) []field {
	fs := []field{{Name: "Signer", Value: p.Spec.SignerName}, {Name: "Pod", Value: p.Spec.PodName},
		{Name: "Service account", Value: p.Spec.ServiceAccountName}, {Name: "Node", Value: string(p.Spec.NodeName)}}
	if e := p.Spec.MaxExpirationSeconds; e != nil {
		fs = append(fs, field{Name: "Max expiration", Value: (time.Duration(*e) * time.Second).String()})
	}
	if t := p.Status.BeginRefreshAt; t != nil {
		fs = append(fs, field{Name: "Refresh from", Value: t.UTC().Format(time.RFC3339)})
	}
	return fs
}
