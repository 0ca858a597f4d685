// Package estate decides what `certplane status` shows: one row per
// certificate the cluster depends on (cert-manager Certificates and their
// Secrets, other kubernetes.io/tls Secrets and the Secrets of Ingresses,
// CertificateSigningRequests, PodCertificateRequests, the CAs of Issuers,
// ClusterIssuers and ClusterTrustBundles, and the files of the cluster PKI),
// its state, whether it needs attention, and the filters and order of the
// listing.
//
// It works on API objects already fetched and reads no clock: the caller
// lists (a command with a client, a web view with a cache) and passes the
// time. Each certificate is parsed once.
package estate

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// Kinds of rows: the kind of the object that holds the certificate.
const (
	KindCertificate        = "Certificate"
	KindSecret             = "Secret"
	KindCSR                = "CertificateSigningRequest"
	KindPodCertificate     = "PodCertificateRequest"
	KindIssuer             = "Issuer"
	KindClusterIssuer      = "ClusterIssuer"
	KindClusterTrustBundle = "ClusterTrustBundle"
	// KindPKI is a certificate or kubeconfig of the cluster PKI on disk,
	// as kubeadm lays it out.
	KindPKI = "PKI"
)

// States of a row.
const (
	StateReady       = "Ready"       // a Certificate or issuer that is Ready
	StateIssuing     = "Issuing"     // a Certificate being (re)issued
	StateNotReady    = "NotReady"    // a Certificate or issuer that is not Ready
	StatePending     = "Pending"     // nothing issued yet, nothing decided
	StateApproved    = "Approved"    // a CSR approved and not yet signed
	StateIssued      = "Issued"      // a CSR or PodCertificateRequest with its certificate
	StateDenied      = "Denied"      // a CSR or PodCertificateRequest denied
	StateFailed      = "Failed"      // a CSR or PodCertificateRequest that failed
	StateSuperseded  = "Superseded"  // a PodCertificateRequest replaced by a newer one for its pod
	StateValid       = "Valid"       // a certificate without a controller, within its validity
	StateExpired     = "Expired"     // past notAfter, whatever else holds
	StateNotYetValid = "NotYetValid" // before notBefore
	StateInvalid     = "Invalid"     // a certificate that does not parse
	StateMissing     = "Missing"     // a Secret an Ingress names, or a PKI file, that does not exist
)

// DefaultClusterResourceNamespace is where ClusterIssuers' CA Secrets live
// when Input.ClusterResourceNamespace is empty, as in cert-manager.
const DefaultClusterResourceNamespace = "cert-manager"

// Input is what the cluster holds. Any list may be empty (not listed, or
// not readable).
type Input struct {
	Certificates []cmv1.Certificate
	// Secrets are the kubernetes.io/tls Secrets, and any other Secret that
	// an Ingress or a CA issuer names (see ReferencedSecrets). Only tls.crt
	// and ca.crt are read; the caller may drop the rest of their data.
	Secrets                    []corev1.Secret
	Ingresses                  []networkingv1.Ingress
	CertificateSigningRequests []certv1.CertificateSigningRequest
	PodCertificateRequests     []certv1.PodCertificateRequest
	Issuers                    []cmv1.Issuer
	ClusterIssuers             []cmv1.ClusterIssuer
	ClusterTrustBundles        []certv1.ClusterTrustBundle
	// PKI are the files of the cluster PKI.
	PKI []PKIFile
	// ClusterResourceNamespace is where ClusterIssuers' CA Secrets live. If
	// empty, DefaultClusterResourceNamespace.
	ClusterResourceNamespace string
}

// PKIFile is one certificate of the cluster PKI on disk, as `pki
// check-expiration` reports it.
type PKIFile struct {
	// Name is kubeadm's: apiserver, etcd-server, admin.conf, ca, ...
	Name     string
	NotAfter time.Time
	// CA names the CA that signs it ("" for a CA).
	CA                string
	IsCA              bool
	ExternallyManaged bool
	Missing           bool
}

// Row is one certificate of the estate.
type Row struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Subject and Issuer are the certificate's distinguished names.
	Subject string `json:"subject,omitempty"`
	// Names are the subject alternative names: DNS names, IP addresses,
	// URIs and email addresses.
	Names        []string   `json:"names,omitempty"`
	Issuer       string     `json:"issuer,omitempty"`
	SerialNumber string     `json:"serialNumber,omitempty"`
	IsCA         bool       `json:"isCA,omitempty"`
	NotBefore    *time.Time `json:"notBefore,omitempty"`
	NotAfter     *time.Time `json:"notAfter,omitempty"`
	// SecondsLeft is how long until NotAfter (negative once expired), and
	// TimeLeft the same in words.
	SecondsLeft *int64 `json:"secondsLeft,omitempty"`
	TimeLeft    string `json:"timeLeft,omitempty"`
	// RenewalTime is when the certificate is renewed by itself: a
	// Certificate's status.renewalTime (for an issuer, that of the
	// Certificate that holds its CA), a PodCertificateRequest's
	// beginRefreshAt. Nil when nothing renews it.
	RenewalTime *time.Time `json:"renewalTime,omitempty"`
	State       string     `json:"state"`
	// Message says why, from the condition that decided State.
	Message string `json:"message,omitempty"`
	// Owner is who made the object: its controller owner reference as
	// Kind/name, a Secret's Certificate, a request's requester, a
	// PodCertificateRequest's pod.
	Owner string `json:"owner,omitempty"`
	// Secret is the Secret that holds the certificate (a Certificate's, an
	// issuer's CA); namespace/name when in another namespace.
	Secret string `json:"secret,omitempty"`
	// IssuerRef is a Certificate's issuerRef as Kind/name, or the signer
	// name of a request or bundle, or the CA of a PKI file.
	IssuerRef string `json:"issuerRef,omitempty"`
	// UsedBy are the Ingresses and issuers that use the Secret.
	UsedBy []string          `json:"usedBy,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Attention is set by Check: the certificate has expired, or expires
	// within the warning window without a renewal due before.
	Attention bool `json:"attention"`
}

// Build makes one row per certificate of in, measured at now, in no
// particular order.
func Build(in *Input, now time.Time) []Row {
	b := &builder{in: in, now: now, parsed: map[types.NamespacedName]*leaf{}}
	b.index()
	b.certificates()
	b.secretRows()
	b.issuers()
	b.csrs()
	b.podCertificates()
	b.bundles()
	b.pki()
	return b.rows
}

type builder struct {
	in       *Input
	now      time.Time
	rows     []Row
	secrets  map[types.NamespacedName]*corev1.Secret
	certOf   map[types.NamespacedName]*cmv1.Certificate
	usedBy   map[types.NamespacedName][]string
	parsed   map[types.NamespacedName]*leaf
	crNS     string
	ingRefs  []types.NamespacedName
	ingSeen  map[types.NamespacedName]bool
	crtNames map[types.NamespacedName]bool
}

// leaf is the first certificate of a PEM block, or why there is none.
type leaf struct {
	cert *x509.Certificate
	err  error
}

func (b *builder) index() {
	in := b.in
	b.crNS = in.ClusterResourceNamespace
	if b.crNS == "" {
		b.crNS = DefaultClusterResourceNamespace
	}
	b.secrets = make(map[types.NamespacedName]*corev1.Secret, len(in.Secrets))
	for i := range in.Secrets {
		s := &in.Secrets[i]
		b.secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	b.certOf = make(map[types.NamespacedName]*cmv1.Certificate, len(in.Certificates))
	b.crtNames = make(map[types.NamespacedName]bool, len(in.Certificates))
	for i := range in.Certificates {
		c := &in.Certificates[i]
		b.certOf[types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.SecretName}] = c
		b.crtNames[types.NamespacedName{Namespace: c.Namespace, Name: c.Name}] = true
	}
	b.usedBy = map[types.NamespacedName][]string{}
	b.ingSeen = map[types.NamespacedName]bool{}
	for _, ing := range in.Ingresses {
		for _, t := range ing.Spec.TLS {
			if t.SecretName == "" {
				continue
			}
			k := types.NamespacedName{Namespace: ing.Namespace, Name: t.SecretName}
			b.use(k, "Ingress/"+ing.Name)
			if !b.ingSeen[k] {
				b.ingSeen[k] = true
				b.ingRefs = append(b.ingRefs, k)
			}
		}
	}
	for _, iss := range in.Issuers {
		if iss.Spec.CA != nil {
			b.use(types.NamespacedName{Namespace: iss.Namespace, Name: iss.Spec.CA.SecretName}, "Issuer/"+iss.Name)
		}
	}
	for _, iss := range in.ClusterIssuers {
		if iss.Spec.CA != nil {
			b.use(types.NamespacedName{Namespace: b.crNS, Name: iss.Spec.CA.SecretName}, "ClusterIssuer/"+iss.Name)
		}
	}
}

func (b *builder) use(k types.NamespacedName, by string) {
	for _, u := range b.usedBy[k] {
		if u == by {
			return
		}
	}
	b.usedBy[k] = append(b.usedBy[k], by)
}

// leafOf parses a Secret's tls.crt once.
func (b *builder) leafOf(k types.NamespacedName) *leaf {
	if l, ok := b.parsed[k]; ok {
		return l
	}
	s := b.secrets[k]
	if s == nil {
		return nil
	}
	l := parseLeaf(s.Data[corev1.TLSCertKey])
	b.parsed[k] = l
	return l
}

// ReferencedSecrets are the Secrets that Ingresses and CA issuers name and
// that are not among in.Secrets, such as CA Secrets of type Opaque: the
// caller fetches them one by one and adds those that exist.
func ReferencedSecrets(in *Input) []types.NamespacedName {
	have := make(map[types.NamespacedName]bool, len(in.Secrets))
	for i := range in.Secrets {
		have[types.NamespacedName{Namespace: in.Secrets[i].Namespace, Name: in.Secrets[i].Name}] = true
	}
	crNS := in.ClusterResourceNamespace
	if crNS == "" {
		crNS = DefaultClusterResourceNamespace
	}
	var out []types.NamespacedName
	add := func(k types.NamespacedName) {
		if k.Name != "" && !have[k] {
			have[k] = true
			out = append(out, k)
		}
	}
	for _, ing := range in.Ingresses {
		for _, t := range ing.Spec.TLS {
			add(types.NamespacedName{Namespace: ing.Namespace, Name: t.SecretName})
		}
	}
	for _, iss := range in.Issuers {
		if iss.Spec.CA != nil {
			add(types.NamespacedName{Namespace: iss.Namespace, Name: iss.Spec.CA.SecretName})
		}
	}
	for _, iss := range in.ClusterIssuers {
		if iss.Spec.CA != nil {
			add(types.NamespacedName{Namespace: crNS, Name: iss.Spec.CA.SecretName})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

var errNoCertificate = errors.New("no certificate")

// parseLeaf parses the first CERTIFICATE block of data.
func parseLeaf(data []byte) *leaf {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(data) == 0 {
				return &leaf{err: errNoCertificate}
			}
			return &leaf{err: fmt.Errorf("%w: no PEM certificate block", errNoCertificate)}
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return &leaf{err: fmt.Errorf("parsing the certificate: %w", err)}
		}
		return &leaf{cert: c}
	}
}

// fill sets the certificate columns of r from c.
func (b *builder) fill(r *Row, c *x509.Certificate) {
	r.Subject = c.Subject.String()
	r.Names = append(r.Names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		r.Names = append(r.Names, ip.String())
	}
	for _, u := range c.URIs {
		r.Names = append(r.Names, u.String())
	}
	r.Names = append(r.Names, c.EmailAddresses...)
	r.Issuer = c.Issuer.String()
	r.SerialNumber = strings.ToUpper(c.SerialNumber.Text(16))
	r.IsCA = c.IsCA
	nb, na := c.NotBefore.UTC(), c.NotAfter.UTC()
	r.NotBefore, r.NotAfter = &nb, &na
	b.fillLeft(r)
}

func (b *builder) fillLeft(r *Row) {
	if r.NotAfter == nil {
		return
	}
	d := r.NotAfter.Sub(b.now)
	secs := int64(d / time.Second)
	r.SecondsLeft = &secs
	r.TimeLeft = pki.TimeLeft(d)
}

// validity is Expired or NotYetValid when the row's certificate is, else "".
func (b *builder) validity(r *Row) string {
	switch {
	case r.NotAfter != nil && !b.now.Before(*r.NotAfter):
		return StateExpired
	case r.NotBefore != nil && b.now.Before(*r.NotBefore):
		return StateNotYetValid
	}
	return ""
}

func controllerOwner(refs []metav1.OwnerReference) string {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r.Kind + "/" + r.Name
		}
	}
	if len(refs) == 1 {
		return refs[0].Kind + "/" + refs[0].Name
	}
	return ""
}

func timePtr(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func reasonMessage(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

func issuerRef(ref cmv1.ObjectReference) string {
	kind := ref.Kind
	if kind == "" {
		kind = KindIssuer
	}
	if ref.Group != "" && ref.Group != "cert-manager.io" {
		kind += "." + ref.Group
	}
	return kind + "/" + ref.Name
}

func (b *builder) certificates() {
	for i := range b.in.Certificates {
		c := &b.in.Certificates[i]
		k := types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.SecretName}
		r := Row{
			Kind: KindCertificate, Namespace: c.Namespace, Name: c.Name, Labels: c.Labels,
			Owner: controllerOwner(c.OwnerReferences), Secret: c.Spec.SecretName,
			IssuerRef: issuerRef(c.Spec.IssuerRef), UsedBy: b.usedBy[k],
			RenewalTime: timePtr(c.Status.RenewalTime),
		}
		if l := b.leafOf(k); l != nil && l.cert != nil {
			b.fill(&r, l.cert)
		} else if b.secrets[k] == nil && c.Status.NotAfter != nil {
			// The Secret was not readable: the status says what it holds.
			r.NotBefore, r.NotAfter = timePtr(c.Status.NotBefore), timePtr(c.Status.NotAfter)
			b.fillLeft(&r)
		}
		r.State, r.Message = b.certificateState(&r, c.Status.Conditions)
		b.rows = append(b.rows, r)
	}
}

func certCondition(cs []cmv1.CertificateCondition, t string) *cmv1.CertificateCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// certificateState: Expired and NotYetValid first (what the certificate in
// the Secret is), then Issuing, then Ready or NotReady, else Pending.
func (b *builder) certificateState(r *Row, cs []cmv1.CertificateCondition) (string, string) {
	ready, issuing := certCondition(cs, "Ready"), certCondition(cs, "Issuing")
	msg := ""
	if ready != nil {
		msg = reasonMessage(ready.Reason, ready.Message)
	}
	if v := b.validity(r); v != "" {
		if issuing != nil && issuing.Status == cmv1.ConditionTrue {
			msg = reasonMessage(issuing.Reason, issuing.Message)
		}
		return v, msg
	}
	switch {
	case issuing != nil && issuing.Status == cmv1.ConditionTrue:
		return StateIssuing, reasonMessage(issuing.Reason, issuing.Message)
	case ready != nil && ready.Status == cmv1.ConditionTrue:
		return StateReady, msg
	case ready != nil:
		return StateNotReady, msg
	}
	return StatePending, msg
}

// secretRows: the kubernetes.io/tls Secrets and Ingresses' Secrets that no
// Certificate manages, and the Ingresses' Secrets that do not exist.
func (b *builder) secretRows() {
	for i := range b.in.Secrets {
		s := &b.in.Secrets[i]
		k := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		if b.certOf[k] != nil || (s.Type != corev1.SecretTypeTLS && !b.ingSeen[k]) {
			continue
		}
		r := Row{Kind: KindSecret, Namespace: s.Namespace, Name: s.Name, Labels: s.Labels, UsedBy: b.usedBy[k], Owner: controllerOwner(s.OwnerReferences)}
		if name := s.Annotations["cert-manager.io/certificate-name"]; r.Owner == "" && name != "" {
			r.Owner = KindCertificate + "/" + name
			if len(b.in.Certificates) > 0 && !b.crtNames[types.NamespacedName{Namespace: s.Namespace, Name: name}] {
				r.Message = "its Certificate does not exist"
			}
		}
		l := b.leafOf(k)
		if l.cert == nil {
			r.State, r.Message = StateInvalid, "tls.crt: "+l.err.Error()
		} else {
			b.fill(&r, l.cert)
			r.State = b.validity(&r)
			if r.State == "" {
				r.State = StateValid
			}
		}
		b.rows = append(b.rows, r)
	}
	for _, k := range b.ingRefs {
		if b.secrets[k] != nil || b.certOf[k] != nil {
			continue
		}
		b.rows = append(b.rows, Row{Kind: KindSecret, Namespace: k.Namespace, Name: k.Name, State: StateMissing,
			UsedBy: b.usedBy[k], Message: "named by an Ingress, and does not exist"})
	}
}

func (b *builder) issuers() {
	for i := range b.in.Issuers {
		iss := &b.in.Issuers[i]
		if iss.Spec.CA == nil {
			continue
		}
		k := types.NamespacedName{Namespace: iss.Namespace, Name: iss.Spec.CA.SecretName}
		r := Row{Kind: KindIssuer, Namespace: iss.Namespace, Name: iss.Name, Labels: iss.Labels,
			Owner: controllerOwner(iss.OwnerReferences), Secret: k.Name}
		b.issuer(&r, k, iss.Status.Conditions)
	}
	for i := range b.in.ClusterIssuers {
		iss := &b.in.ClusterIssuers[i]
		if iss.Spec.CA == nil {
			continue
		}
		k := types.NamespacedName{Namespace: b.crNS, Name: iss.Spec.CA.SecretName}
		r := Row{Kind: KindClusterIssuer, Name: iss.Name, Labels: iss.Labels,
			Owner: controllerOwner(iss.OwnerReferences), Secret: k.String()}
		b.issuer(&r, k, iss.Status.Conditions)
	}
}

// issuer fills an issuer's row from its CA Secret k: the CA is renewed
// when a Certificate holds it.
func (b *builder) issuer(r *Row, k types.NamespacedName, conds []cmv1.IssuerCondition) {
	if l := b.leafOf(k); l != nil && l.cert != nil {
		b.fill(r, l.cert)
	}
	if c := b.certOf[k]; c != nil {
		r.RenewalTime = timePtr(c.Status.RenewalTime)
	}
	var ready *cmv1.IssuerCondition
	for i := range conds {
		if conds[i].Type == "Ready" {
			ready = &conds[i]
		}
	}
	msg := ""
	if ready != nil {
		msg = reasonMessage(ready.Reason, ready.Message)
	}
	switch v := b.validity(r); {
	case v != "":
		r.State = v
	case ready != nil && ready.Status == cmv1.ConditionTrue:
		r.State = StateReady
	case ready != nil:
		r.State = StateNotReady
	default:
		r.State = StatePending
	}
	if r.NotAfter == nil && b.secrets[k] == nil && msg == "" {
		msg = "CA Secret " + k.String() + " not found"
	}
	r.Message = msg
	b.rows = append(b.rows, *r)
}

func (b *builder) csrs() {
	for i := range b.in.CertificateSigningRequests {
		c := &b.in.CertificateSigningRequests[i]
		r := Row{Kind: KindCSR, Name: c.Name, Labels: c.Labels, Owner: c.Spec.Username, IssuerRef: c.Spec.SignerName}
		var approved, denied, failed *certv1.CertificateSigningRequestCondition
		for j := range c.Status.Conditions {
			cond := &c.Status.Conditions[j]
			if cond.Status != corev1.ConditionTrue {
				continue
			}
			switch cond.Type {
			case certv1.CertificateApproved:
				approved = cond
			case certv1.CertificateDenied:
				denied = cond
			case certv1.CertificateFailed:
				failed = cond
			}
		}
		switch {
		case denied != nil:
			r.State, r.Message = StateDenied, reasonMessage(denied.Reason, denied.Message)
		case failed != nil:
			r.State, r.Message = StateFailed, reasonMessage(failed.Reason, failed.Message)
		case len(c.Status.Certificate) > 0:
			r.State = StateIssued
			if l := parseLeaf(c.Status.Certificate); l.cert != nil {
				b.fill(&r, l.cert)
				if v := b.validity(&r); v != "" {
					r.State = v
				}
			} else {
				r.State, r.Message = StateInvalid, "status.certificate: "+l.err.Error()
			}
		case approved != nil:
			r.State, r.Message = StateApproved, reasonMessage(approved.Reason, approved.Message)
		default:
			r.State = StatePending
		}
		b.rows = append(b.rows, r)
	}
}

func (b *builder) podCertificates() {
	type podSigner struct{ ns, pod, signer string }
	pcrs := b.in.PodCertificateRequests
	// The newest issued request of each pod and signer is the one in use.
	newest := map[podSigner]int{}
	issued := func(p *certv1.PodCertificateRequest) bool {
		return metaTrue(p.Status.Conditions, certv1.PodCertificateRequestConditionTypeIssued) && p.Status.CertificateChain != ""
	}
	for i := range pcrs {
		p := &pcrs[i]
		if !issued(p) {
			continue
		}
		key := podSigner{p.Namespace, string(p.Spec.PodUID), p.Spec.SignerName}
		j, ok := newest[key]
		if !ok || pcrs[j].CreationTimestamp.Before(&p.CreationTimestamp) ||
			(pcrs[j].CreationTimestamp.Equal(&p.CreationTimestamp) && pcrs[j].Name < p.Name) {
			newest[key] = i
		}
	}
	for i := range pcrs {
		p := &pcrs[i]
		r := Row{Kind: KindPodCertificate, Namespace: p.Namespace, Name: p.Name, Labels: p.Labels,
			Owner: "Pod/" + p.Spec.PodName, IssuerRef: p.Spec.SignerName}
		switch {
		case metaTrue(p.Status.Conditions, certv1.PodCertificateRequestConditionTypeDenied):
			r.State, r.Message = StateDenied, metaMessage(p.Status.Conditions, certv1.PodCertificateRequestConditionTypeDenied)
		case metaTrue(p.Status.Conditions, certv1.PodCertificateRequestConditionTypeFailed):
			r.State, r.Message = StateFailed, metaMessage(p.Status.Conditions, certv1.PodCertificateRequestConditionTypeFailed)
		case issued(p):
			l := parseLeaf([]byte(p.Status.CertificateChain))
			if l.cert == nil {
				r.State, r.Message = StateInvalid, "status.certificateChain: "+l.err.Error()
				break
			}
			b.fill(&r, l.cert)
			r.RenewalTime = timePtr(p.Status.BeginRefreshAt)
			r.State = StateIssued
			if newest[podSigner{p.Namespace, string(p.Spec.PodUID), p.Spec.SignerName}] != i {
				r.State, r.Message = StateSuperseded, "a newer request for the pod was issued"
			} else if v := b.validity(&r); v != "" {
				r.State = v
			}
		default:
			r.State = StatePending
		}
		b.rows = append(b.rows, r)
	}
}

func metaTrue(cs []metav1.Condition, t string) bool {
	for _, c := range cs {
		if c.Type == t && c.Status == metav1.ConditionTrue {
			return true
		}
	}
	return false
}

func metaMessage(cs []metav1.Condition, t string) string {
	for _, c := range cs {
		if c.Type == t {
			return reasonMessage(c.Reason, c.Message)
		}
	}
	return ""
}

// bundles: one row per certificate of each ClusterTrustBundle.
func (b *builder) bundles() {
	for i := range b.in.ClusterTrustBundles {
		ctb := &b.in.ClusterTrustBundles[i]
		base := Row{Kind: KindClusterTrustBundle, Name: ctb.Name, Labels: ctb.Labels,
			Owner: controllerOwner(ctb.OwnerReferences), IssuerRef: ctb.Spec.SignerName}
		certs, err := pki.ParseCertificatesPEM([]byte(ctb.Spec.TrustBundle))
		if err != nil {
			r := base
			r.State, r.Message = StateInvalid, "spec.trustBundle: "+strings.TrimPrefix(err.Error(), "pki: ")
			b.rows = append(b.rows, r)
			continue
		}
		for _, c := range certs {
			r := base
			b.fill(&r, c)
			if r.State = b.validity(&r); r.State == "" {
				r.State = StateValid
			}
			b.rows = append(b.rows, r)
		}
	}
}

func (b *builder) pki() {
	for _, f := range b.in.PKI {
		r := Row{Kind: KindPKI, Name: f.Name, IssuerRef: f.CA, IsCA: f.IsCA}
		if f.ExternallyManaged {
			r.Message = "externally managed: its CA key is not here"
		}
		if f.Missing {
			r.State = StateMissing
			b.rows = append(b.rows, r)
			continue
		}
		na := f.NotAfter.UTC()
		r.NotAfter = &na
		b.fillLeft(&r)
		if r.State = b.validity(&r); r.State == "" {
			r.State = StateValid
		}
		b.rows = append(b.rows, r)
	}
}
