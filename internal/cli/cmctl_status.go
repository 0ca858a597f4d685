package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// certificateStatus is what `status certificate` shows, as cmctl's status
// certificate does: the Certificate, its issuer, its Secret and the
// CertificateRequest of the issuance in progress, each with its events.
type certificateStatus struct {
	Name        string                      `json:"name"`
	Namespace   string                      `json:"namespace"`
	CreatedAt   time.Time                   `json:"createdAt"`
	Conditions  []cmv1.CertificateCondition `json:"conditions"`
	DNSNames    []string                    `json:"dnsNames,omitempty"`
	Events      []eventInfo                 `json:"events"`
	Issuer      *issuerStatus               `json:"issuer,omitempty"`
	IssuerError string                      `json:"issuerError,omitempty"`
	Secret      *secretStatus               `json:"secret,omitempty"`
	SecretError string                      `json:"secretError,omitempty"`
	NotBefore   *time.Time                  `json:"notBefore,omitempty"`
	NotAfter    *time.Time                  `json:"notAfter,omitempty"`
	RenewalTime *time.Time                  `json:"renewalTime,omitempty"`
	// CertificateRequest is the request for the next revision, while one
	// is in progress.
	CertificateRequest      *requestStatus `json:"certificateRequest,omitempty"`
	CertificateRequestError string         `json:"certificateRequestError,omitempty"`
	// Order is that CertificateRequest's ACME Order and Challenges its
	// Challenges, for a Certificate of an ACME issuer.
	Order      *orderStatus      `json:"order,omitempty"`
	OrderError string            `json:"orderError,omitempty"`
	Challenges []challengeStatus `json:"challenges,omitempty"`
}

type orderStatus struct {
	Name           string                `json:"name"`
	State          string                `json:"state"`
	Reason         string                `json:"reason,omitempty"`
	URL            string                `json:"url,omitempty"`
	Authorizations []authorizationStatus `json:"authorizations,omitempty"`
	FailureTime    *time.Time            `json:"failureTime,omitempty"`
}

type authorizationStatus struct {
	Identifier   string `json:"identifier"`
	InitialState string `json:"initialState"`
	Wildcard     bool   `json:"wildcard"`
}

type challengeStatus struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	DNSName    string `json:"dnsName"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	Processing bool   `json:"processing"`
	Presented  bool   `json:"presented"`
}

type eventInfo struct {
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Time    time.Time `json:"time"`
	Count   int32     `json:"count,omitempty"`
	From    string    `json:"from,omitempty"`
	Message string    `json:"message"`
}

type issuerStatus struct {
	Name       string                 `json:"name"`
	Kind       string                 `json:"kind"`
	Conditions []cmv1.IssuerCondition `json:"conditions"`
	Events     []eventInfo            `json:"events"`
}

type secretStatus struct {
	Name               string      `json:"name"`
	IssuerCountry      []string    `json:"issuerCountry,omitempty"`
	IssuerOrganization []string    `json:"issuerOrganization,omitempty"`
	IssuerCommonName   string      `json:"issuerCommonName"`
	Usages             []pki.Usage `json:"usages,omitempty"`
	PublicKeyAlgorithm string      `json:"publicKeyAlgorithm"`
	SignatureAlgorithm string      `json:"signatureAlgorithm"`
	SubjectKeyID       string      `json:"subjectKeyId,omitempty"`
	AuthorityKeyID     string      `json:"authorityKeyId,omitempty"`
	SerialNumber       string      `json:"serialNumber"`
	Events             []eventInfo `json:"events"`
}

type requestStatus struct {
	Name       string                             `json:"name"`
	Namespace  string                             `json:"namespace"`
	Conditions []cmv1.CertificateRequestCondition `json:"conditions"`
	Events     []eventInfo                        `json:"events"`
}

func newStatusCertificateCommand(o Options, kf *kubeFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "certificate NAME [-n NS] [-o json|yaml]",
		Short: "Show a Certificate's state with its issuer, Secret, CertificateRequest and events, as cmctl status certificate",
		Long: `Show why a Certificate is or is not Ready, as cmctl status certificate does:
its conditions, DNS names and events; its issuer's conditions and events;
what its Secret holds; notBefore, notAfter and renewal time; and the
CertificateRequest of the issuance in progress (certplane's built-in issuers
sign without one), with, for an ACME issuer, its Order and the Order's
Challenges. Exits 0 whatever the state, 1 when the Certificate cannot
be read.`,
		Example: `  certplane status certificate my-crt --namespace my-namespace`,
		Args:    exactName("Certificate"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" && output != "yaml" {
				return fmt.Errorf("unknown output format %q: want json or yaml", output)
			}
			k, err := kf.connect(o)
			if err != nil {
				return err
			}
			st, err := getCertificateStatus(cmd.Context(), k, args[0])
			if err != nil {
				return err
			}
			switch output {
			case "json":
				return writeJSON(o.Out, st)
			case "yaml":
				data, err := yaml.Marshal(st)
				if err != nil {
					return err
				}
				_, err = o.Out.Write(data)
				return err
			}
			return st.writeText(o.Out, o.Now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml (default: text as cmctl prints it)")
	return cmd
}

// exactName wants one argument, the name of a kind, with cmctl's errors.
func exactName(kind string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("the name of the %s has to be provided as an argument", kind)
		case len(args) > 1:
			return fmt.Errorf("only one argument can be passed: the name of the %s", kind)
		}
		return nil
	}
}

func getCertificateStatus(ctx context.Context, k *kube, name string) (*certificateStatus, error) {
	crt := &cmv1.Certificate{}
	if err := k.cm.Get(ctx, types.NamespacedName{Namespace: k.namespace, Name: name}, crt); err != nil {
		return nil, apiError("certificate", k.namespace, name, err)
	}
	st := &certificateStatus{
		Name: crt.Name, Namespace: crt.Namespace, CreatedAt: crt.CreationTimestamp.UTC(), Conditions: crt.Status.Conditions,
		DNSNames: crt.Spec.DNSNames, NotBefore: timeOf(crt.Status.NotBefore), NotAfter: timeOf(crt.Status.NotAfter),
		RenewalTime: timeOf(crt.Status.RenewalTime),
	}
	if st.Conditions == nil {
		st.Conditions = []cmv1.CertificateCondition{}
	}
	var err error
	if st.Events, err = events(ctx, k, crt.Namespace, crt.UID); err != nil {
		return nil, err
	}

	// The issuer.
	isACME := false
	ref := crt.Spec.IssuerRef
	kind := ref.Kind
	if kind == "" {
		kind = "Issuer"
	}
	switch {
	case ref.Group != "" && ref.Group != "cert-manager.io":
		st.IssuerError = fmt.Sprintf("%s %s is of group %s, not cert-manager.io: see it with kubectl describe", kind, ref.Name, ref.Group)
	default:
		var obj client.Object = &cmv1.Issuer{}
		key := types.NamespacedName{Namespace: crt.Namespace, Name: ref.Name}
		if kind == "ClusterIssuer" {
			obj, key.Namespace = &cmv1.ClusterIssuer{}, ""
		}
		if err := k.cm.Get(ctx, key, obj); err != nil {
			st.IssuerError = apiError(strings.ToLower(kind), key.Namespace, ref.Name, err).Error()
			break
		}
		is := &issuerStatus{Name: ref.Name, Kind: kind}
		switch v := obj.(type) {
		case *cmv1.Issuer:
			is.Conditions, isACME = v.Status.Conditions, v.Spec.ACME != nil
		case *cmv1.ClusterIssuer:
			is.Conditions, isACME = v.Status.Conditions, v.Spec.ACME != nil
		}
		if is.Events, err = events(ctx, k, key.Namespace, obj.GetUID()); err != nil {
			return nil, err
		}
		st.Issuer = is
	}

	// The Secret.
	secret, err := k.cs.CoreV1().Secrets(crt.Namespace).Get(ctx, crt.Spec.SecretName, metav1.GetOptions{})
	switch {
	case err != nil:
		st.SecretError = apiError("secret", crt.Namespace, crt.Spec.SecretName, err).Error()
	case len(secret.Data[corev1.TLSCertKey]) == 0:
		st.SecretError = fmt.Sprintf("secret %s has no tls.crt", crt.Spec.SecretName)
	default:
		certs, perr := pki.ParseCertificatesPEM(secret.Data[corev1.TLSCertKey])
		if perr != nil {
			st.SecretError = pemError("secret "+crt.Spec.SecretName+" tls.crt", "certificate", secret.Data[corev1.TLSCertKey], perr).Error()
			break
		}
		st.Secret = describeSecretCertificate(secret.Name, certs[0])
		if st.Secret.Events, err = events(ctx, k, crt.Namespace, secret.UID); err != nil {
			return nil, err
		}
	}

	// The CertificateRequest for the next revision, owned by the Certificate.
	next := 1
	if crt.Status.Revision != nil {
		next = *crt.Status.Revision + 1
	}
	var crs cmv1.CertificateRequestList
	if err := k.cm.List(ctx, &crs, client.InNamespace(crt.Namespace)); err != nil {
		st.CertificateRequestError = apiError("certificaterequests", crt.Namespace, "", err).Error()
	} else {
		var found []*cmv1.CertificateRequest
		for i := range crs.Items {
			cr := &crs.Items[i]
			if cr.Annotations["cert-manager.io/certificate-revision"] == strconv.Itoa(next) && ownedBy(cr.OwnerReferences, crt.UID) {
				found = append(found, cr)
			}
		}
		switch len(found) {
		case 0:
			st.CertificateRequestError = "No CertificateRequest found for this Certificate"
		case 1:
			cr := found[0]
			rs := &requestStatus{Name: cr.Name, Namespace: cr.Namespace, Conditions: cr.Status.Conditions}
			if rs.Events, err = events(ctx, k, cr.Namespace, cr.UID); err != nil {
				return nil, err
			}
			st.CertificateRequest = rs
			if isACME {
				if err := st.addOrder(ctx, k, cr); err != nil {
					return nil, err
				}
			}
		default:
			st.CertificateRequestError = fmt.Sprintf("found %d CertificateRequests for revision %d owned by this Certificate", len(found), next)
		}
	}
	return st, nil
}

// addOrder adds the newest Order cr owns and that Order's Challenges.
func (st *certificateStatus) addOrder(ctx context.Context, k *kube, cr *cmv1.CertificateRequest) error {
	var orders acmev1.OrderList
	if err := k.cm.List(ctx, &orders, client.InNamespace(cr.Namespace)); err != nil {
		st.OrderError = apiError("orders", cr.Namespace, "", err).Error()
		return nil
	}
	var order *acmev1.Order
	for i := range orders.Items {
		o := &orders.Items[i]
		if ownedBy(o.OwnerReferences, cr.UID) && (order == nil || order.CreationTimestamp.Before(&o.CreationTimestamp)) {
			order = o
		}
	}
	if order == nil {
		st.OrderError = "No Order found for this Certificate"
		return nil
	}
	ost := &orderStatus{Name: order.Name, State: string(order.Status.State), Reason: order.Status.Reason, URL: order.Status.URL, FailureTime: timeOf(order.Status.FailureTime)}
	for _, a := range order.Status.Authorizations {
		ost.Authorizations = append(ost.Authorizations, authorizationStatus{Identifier: a.Identifier, InitialState: string(a.InitialState), Wildcard: a.Wildcard != nil && *a.Wildcard})
	}
	st.Order = ost
	var chs acmev1.ChallengeList
	if err := k.cm.List(ctx, &chs, client.InNamespace(cr.Namespace)); err != nil {
		st.OrderError = apiError("challenges", cr.Namespace, "", err).Error()
		return nil
	}
	st.Challenges = []challengeStatus{}
	for _, ch := range chs.Items {
		if !ownedBy(ch.OwnerReferences, order.UID) {
			continue
		}
		st.Challenges = append(st.Challenges, challengeStatus{
			Name: ch.Name, Type: string(ch.Spec.Type), DNSName: ch.Spec.DNSName, State: string(ch.Status.State),
			Reason: ch.Status.Reason, Processing: ch.Status.Processing, Presented: ch.Status.Presented,
		})
	}
	sort.Slice(st.Challenges, func(i, j int) bool { return st.Challenges[i].Name < st.Challenges[j].Name })
	return nil
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func describeSecretCertificate(name string, c *x509.Certificate) *secretStatus {
	alg, _ := pki.KeyDescription(c.PublicKey)
	s := &secretStatus{
		Name: name, IssuerCountry: c.Issuer.Country, IssuerOrganization: c.Issuer.Organization, IssuerCommonName: c.Issuer.CommonName,
		Usages: pki.UsageNames(c.KeyUsage, c.ExtKeyUsage), PublicKeyAlgorithm: alg, SignatureAlgorithm: c.SignatureAlgorithm.String(),
		SerialNumber: strings.ToLower(c.SerialNumber.Text(16)),
	}
	if len(c.SubjectKeyId) > 0 {
		s.SubjectKeyID = fmt.Sprintf("%x", c.SubjectKeyId)
	}
	if len(c.AuthorityKeyId) > 0 {
		s.AuthorityKeyID = fmt.Sprintf("%x", c.AuthorityKeyId)
	}
	return s
}

// events are the events about one object; not being allowed to read them
// leaves them out rather than failing.
func events(ctx context.Context, k *kube, ns string, uid types.UID) ([]eventInfo, error) {
	list, err := eventsFor(ctx, k.cs, ns, uid)
	if apierrors.IsForbidden(err) {
		return []eventInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	out := make([]eventInfo, 0, len(list))
	for _, e := range list {
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		out = append(out, eventInfo{Type: e.Type, Reason: e.Reason, Time: eventTime(&e).UTC(), Count: e.Count, From: from, Message: strings.TrimSpace(e.Message)})
	}
	return out, nil
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func sortEvents(items []corev1.Event) {
	sort.SliceStable(items, func(i, j int) bool { return eventTime(&items[i]).Before(eventTime(&items[j])) })
}

func (st *certificateStatus) writeText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Name: %s\n", st.Name)
	fmt.Fprintf(tw, "Namespace: %s\n", st.Namespace)
	fmt.Fprintf(tw, "Created at: %s\n", st.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "Conditions:\n")
	writeConditions(tw, "  ", len(st.Conditions), func(i int) (string, string, string, string) {
		c := st.Conditions[i]
		return c.Type, string(c.Status), c.Reason, c.Message
	})
	fmt.Fprintf(tw, "DNS Names:\n")
	for _, n := range st.DNSNames {
		fmt.Fprintf(tw, "- %s\n", n)
	}
	writeEvents(tw, "", st.Events, now)
	if st.Issuer != nil {
		fmt.Fprintf(tw, "Issuer:\n  Name: %s\n  Kind: %s\n  Conditions:\n", st.Issuer.Name, st.Issuer.Kind)
		writeConditions(tw, "    ", len(st.Issuer.Conditions), func(i int) (string, string, string, string) {
			c := st.Issuer.Conditions[i]
			return c.Type, string(c.Status), c.Reason, c.Message
		})
		writeEvents(tw, "  ", st.Issuer.Events, now)
	} else {
		fmt.Fprintf(tw, "Issuer: %s\n", st.IssuerError)
	}
	if s := st.Secret; s != nil {
		fmt.Fprintf(tw, "Secret:\n  Name: %s\n", s.Name)
		fmt.Fprintf(tw, "  Issuer Country: %s\n", strings.Join(s.IssuerCountry, ", "))
		fmt.Fprintf(tw, "  Issuer Organisation: %s\n", strings.Join(s.IssuerOrganization, ", "))
		fmt.Fprintf(tw, "  Issuer Common Name: %s\n", s.IssuerCommonName)
		fmt.Fprintf(tw, "  Usages: %s\n", joinUsages(s.Usages))
		fmt.Fprintf(tw, "  Public Key Algorithm: %s\n", s.PublicKeyAlgorithm)
		fmt.Fprintf(tw, "  Signature Algorithm: %s\n", s.SignatureAlgorithm)
		fmt.Fprintf(tw, "  Subject Key ID: %s\n", s.SubjectKeyID)
		fmt.Fprintf(tw, "  Authority Key ID: %s\n", s.AuthorityKeyID)
		fmt.Fprintf(tw, "  Serial Number: %s\n", s.SerialNumber)
		writeEvents(tw, "  ", s.Events, now)
	} else {
		fmt.Fprintf(tw, "Secret: %s\n", st.SecretError)
	}
	rfc := func(t *time.Time) string {
		if t == nil {
			return "<none>"
		}
		return t.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "Not Before: %s\n", rfc(st.NotBefore))
	fmt.Fprintf(tw, "Not After: %s\n", rfc(st.NotAfter))
	fmt.Fprintf(tw, "Renewal Time: %s\n", rfc(st.RenewalTime))
	if cr := st.CertificateRequest; cr != nil {
		fmt.Fprintf(tw, "CertificateRequest:\n  Name: %s\n  Namespace: %s\n  Conditions:\n", cr.Name, cr.Namespace)
		writeConditions(tw, "    ", len(cr.Conditions), func(i int) (string, string, string, string) {
			c := cr.Conditions[i]
			return c.Type, string(c.Status), c.Reason, c.Message
		})
		writeEvents(tw, "  ", cr.Events, now)
	} else {
		fmt.Fprintln(tw, st.CertificateRequestError)
	}
	st.writeOrder(tw)
	return tw.Flush()
}

func joinUsages(us []pki.Usage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ", ")
}

func writeConditions(w io.Writer, indent string, n int, at func(int) (typ, status, reason, message string)) {
	if n == 0 {
		fmt.Fprintf(w, "%sNo Conditions set\n", indent)
	}
	for i := range n {
		typ, status, reason, message := at(i)
		fmt.Fprintf(w, "%s%s: %s, Reason: %s, Message: %s\n", indent, typ, status, reason, message)
	}
}

// writeEvents writes events as kubectl describe does.
func writeEvents(w io.Writer, indent string, evs []eventInfo, now time.Time) {
	if len(evs) == 0 {
		fmt.Fprintf(w, "%sEvents:\t<none>\n", indent)
		return
	}
	fmt.Fprintf(w, "%sEvents:\n", indent)
	fmt.Fprintf(w, "%s  Type\tReason\tAge\tFrom\tMessage\n", indent)
	fmt.Fprintf(w, "%s  ----\t------\t----\t----\t-------\n", indent)
	for _, e := range evs {
		age := duration.HumanDuration(now.Sub(e.Time))
		if e.Count > 1 {
			age += fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(w, "%s  %s\t%s\t%s\t%s\t%s\n", indent, e.Type, e.Reason, age, e.From, e.Message)
	}
}

// writeOrder writes the Order and Challenges sections, as cmctl does, when
// there is an ACME Order to show.
func (st *certificateStatus) writeOrder(w io.Writer) {
	if st.OrderError != "" && st.Order == nil {
		fmt.Fprintln(w, st.OrderError)
		return
	}
	o := st.Order
	if o == nil {
		return
	}
	fmt.Fprintf(w, "Order:\n  Name: %s\n  State: %s, Reason: %s\n  URL: %s\n", o.Name, o.State, o.Reason, o.URL)
	if o.FailureTime != nil {
		fmt.Fprintf(w, "  Failure Time: %s\n", o.FailureTime.Format(time.RFC3339))
	}
	if len(o.Authorizations) > 0 {
		fmt.Fprintf(w, "  Authorizations:\n")
		for _, a := range o.Authorizations {
			fmt.Fprintf(w, "    Identifier: %s, Initial State: %s, Wildcard: %t\n", a.Identifier, a.InitialState, a.Wildcard)
		}
	}
	if st.OrderError != "" {
		fmt.Fprintln(w, st.OrderError)
		return
	}
	if len(st.Challenges) == 0 {
		fmt.Fprintf(w, "Challenges: <none>\n")
		return
	}
	fmt.Fprintf(w, "Challenges:\n")
	for _, c := range st.Challenges {
		fmt.Fprintf(w, "- Name: %s, Type: %s, DNS Name: %s, State: %s, Reason: %s, Processing: %t, Presented: %t\n",
			c.Name, c.Type, c.DNSName, c.State, c.Reason, c.Processing, c.Presented)
	}
}
