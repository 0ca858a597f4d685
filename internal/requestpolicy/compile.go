// Package requestpolicy decides certificate requests against approver-policy
// CertificateRequestPolicies (policy.cert-manager.io/v1alpha1) as pure
// functions: Compile checks a policy and compiles its CEL validations once,
// Selects says whether it applies to a request, Evaluate lists how a request
// exceeds it, and Decide approves a request when some policy that selects it,
// and that the requester may use, allows it. A Request is built from any
// API (cert-manager CertificateRequests, certificates.k8s.io
// CertificateSigningRequests, PodCertificateRequests); whether the
// requester is bound to a policy is asked of the caller. Nothing here does
// I/O or reads the clock.
package requestpolicy

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/certplane/certplane/api/policy/v1alpha1"
	"github.com/certplane/certplane/pkg/pki"
)

// MessageReady is the Ready condition's message of a policy in use.
const MessageReady = "CertificateRequestPolicy is ready for approval evaluation"

// Limits of a validation rule's evaluation, those of the Kubernetes
// apiserver's CEL: a costlier rule stops and fails.
const (
	celCostLimit       = 1000000
	celInterruptChecks = 100
)

// Policy is a compiled CertificateRequestPolicy. It is immutable and safe
// for concurrent use.
type Policy struct {
	name       string
	uid        types.UID
	generation int64

	issuer    *issuerSelector
	namespace *namespaceSelector

	commonName     stringRule
	dnsNames       stringRule
	ipAddresses    stringRule
	uris           stringRule
	emailAddresses stringRule
	otherNames     []oidRule
	isCA           *bool
	usages         *[]string

	organizations       stringRule
	countries           stringRule
	organizationalUnits stringRule
	localities          stringRule
	provinces           stringRule
	streetAddresses     stringRule
	postalCodes         stringRule
	serialNumber        stringRule
	otherAttributes     []oidRule

	minDuration, maxDuration *metav1.Duration
	keyAlgorithm             *policyv1alpha1.PrivateKeyAlgorithm
	minKeySize, maxKeySize   *int
}

// Name is the policy's name.
func (p *Policy) Name() string { return p.name }

// UID is the uid of the object the policy was compiled from.
func (p *Policy) UID() types.UID { return p.uid }

// Generation is the metadata.generation the policy was compiled from.
func (p *Policy) Generation() int64 { return p.generation }

type issuerSelector struct{ name, kind, group string }

type namespaceSelector struct {
	names  []string
	labels map[string]string
}

// stringRule is a compiled allowed field: commonName, dnsNames, a subject
// attribute and so on.
type stringRule struct {
	path        string
	values      *[]string
	required    bool
	validations []validation
}

// allows reports whether the rule admits some value: a value pattern or a
// validation. Without either, a requested value is refused.
func (rule *stringRule) allows() bool { return rule.values != nil || len(rule.validations) > 0 }

type oidRule struct {
	oid string
	stringRule
}

type validation struct {
	// path is the field of the rule: spec.allowed.dnsNames.validations[0].
	path          string
	rule, message string
	program       cel.Program
}

// celEnv is the environment of validation rules: self, the value, and cr,
// the request's namespace and name, with the CEL strings extension, as
// approver-policy offers them. It is built once: building it is costly.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("self", cel.StringType),
		cel.Variable("cr", cel.MapType(cel.StringType, cel.StringType)),
		ext.Strings(),
	)
})

// Compile checks a policy, as approver-policy's admission webhook does,
// and compiles its validation rules. Its error lists every problem, each
// with the field it is in, such as
// "spec.allowed.dnsNames.validations[0].rule: ...". A policy with plugins
// does not compile: certplane has none.
func Compile(p *policyv1alpha1.CertificateRequestPolicy) (*Policy, error) {
	c := compiler{}
	pol := &Policy{name: p.Name, uid: p.UID, generation: p.Generation}
	spec := p.Spec.DeepCopy() // the Policy shares nothing with p
	specPath := field.NewPath("spec")

	if len(spec.Plugins) > 0 {
		names := make([]string, 0, len(spec.Plugins))
		for n := range spec.Plugins {
			names = append(names, n)
		}
		slices.Sort(names)
		c.errs = append(c.errs, field.Forbidden(specPath.Child("plugins"), "plugins are not supported by certplane: "+strings.Join(names, ", ")))
	}

	sel := specPath.Child("selector")
	if spec.Selector.IssuerRef == nil && spec.Selector.Namespace == nil {
		c.errs = append(c.errs, field.Required(sel, "one of issuerRef or namespace must be defined, hint: `{}` on either matches everything"))
	}
	if ref := spec.Selector.IssuerRef; ref != nil {
		pol.issuer = &issuerSelector{name: deref(ref.Name), kind: deref(ref.Kind), group: deref(ref.Group)}
	}
	if ns := spec.Selector.Namespace; ns != nil {
		pol.namespace = &namespaceSelector{names: ns.MatchNames, labels: ns.MatchLabels}
		if len(ns.MatchLabels) > 0 {
			if _, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: ns.MatchLabels}); err != nil {
				c.errs = append(c.errs, field.Invalid(sel.Child("namespace", "matchLabels"), ns.MatchLabels, err.Error()))
			}
		}
	}

	allowed := spec.Allowed
	if allowed == nil {
		allowed = &policyv1alpha1.Allowed{}
	}
	ap := specPath.Child("allowed")
	pol.commonName = c.single(ap.Child("commonName"), allowed.CommonName)
	pol.dnsNames = c.slice(ap.Child("dnsNames"), allowed.DNSNames)
	pol.ipAddresses = c.slice(ap.Child("ipAddresses"), allowed.IPAddresses)
	pol.uris = c.slice(ap.Child("uris"), allowed.URIs)
	pol.emailAddresses = c.slice(ap.Child("emailAddresses"), allowed.EmailAddresses)
	pol.otherNames = c.oids(ap.Child("otherNames"), allowed.OtherNames, false)
	pol.isCA = allowed.IsCA
	pol.usages = allowed.Usages
	if allowed.Usages != nil {
		for i, u := range *allowed.Usages {
			if !slices.Contains(pki.Usages(), pki.Usage(u)) {
				c.errs = append(c.errs, field.NotSupported(ap.Child("usages").Index(i), u, usageNames()))
			}
		}
	}
	subject := allowed.Subject
	if subject == nil {
		subject = &policyv1alpha1.AllowedSubject{}
	}
	sp := ap.Child("subject")
	pol.organizations = c.slice(sp.Child("organizations"), subject.Organizations)
	pol.countries = c.slice(sp.Child("countries"), subject.Countries)
	pol.organizationalUnits = c.slice(sp.Child("organizationalUnits"), subject.OrganizationalUnits)
	pol.localities = c.slice(sp.Child("localities"), subject.Localities)
	pol.provinces = c.slice(sp.Child("provinces"), subject.Provinces)
	pol.streetAddresses = c.slice(sp.Child("streetAddresses"), subject.StreetAddresses)
	pol.postalCodes = c.slice(sp.Child("postalCodes"), subject.PostalCodes)
	pol.serialNumber = c.single(sp.Child("serialNumber"), subject.SerialNumber)
	pol.otherAttributes = c.oids(sp.Child("otherAttributes"), subject.OtherAttributes, true)

	if cons := spec.Constraints; cons != nil {
		c.constraints(pol, specPath.Child("constraints"), cons)
	}

	if len(c.errs) > 0 {
		return nil, &Error{Errs: c.errs}
	}
	return pol, nil
}

// Error is why a policy does not compile: one field error per problem.
type Error struct {
	Errs field.ErrorList
}

// Error lists the problems separated by "; ".
func (e *Error) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// ReadyCondition is the policy's Ready condition given Compile's error:
// True, reason Ready, when err is nil; else False, reason NotReady, with
// err in the message. The caller sets its transition time.
func ReadyCondition(err error, generation int64) metav1.Condition {
	c := metav1.Condition{
		Type:               policyv1alpha1.ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             policyv1alpha1.ReasonReady,
		Message:            MessageReady,
		ObservedGeneration: generation,
	}
	if err != nil {
		c.Status = metav1.ConditionFalse
		c.Reason = policyv1alpha1.ReasonNotReady
		c.Message = "CertificateRequestPolicy is not ready for approval evaluation: " + err.Error()
	}
	return c
}

type compiler struct {
	errs field.ErrorList
}

func (c *compiler) single(path *field.Path, a *policyv1alpha1.AllowedString) stringRule {
	r := stringRule{path: path.String()}
	if a == nil {
		return r
	}
	r.required = deref(a.Required)
	if a.Value != nil {
		r.values = &[]string{*a.Value}
	}
	r.validations = c.validations(path.Child("validations"), a.Validations)
	if r.required && !r.allows() {
		c.errs = append(c.errs, field.Required(path.Child("value"), "at least one of 'value' or 'validations' must be defined if field is 'required'"))
	}
	return r
}

func (c *compiler) slice(path *field.Path, a *policyv1alpha1.AllowedStringSlice) stringRule {
	r := stringRule{path: path.String()}
	if a == nil {
		return r
	}
	r.required, r.values = deref(a.Required), a.Values
	r.validations = c.validations(path.Child("validations"), a.Validations)
	if r.required && !r.allows() {
		c.errs = append(c.errs, field.Required(path.Child("values"), "at least one of 'values' or 'validations' must be defined if field is 'required'"))
	}
	return r
}

// oids compiles allowed.otherNames or allowed.subject.otherAttributes (the
// latter may not name an attribute that has a field of its own).
func (c *compiler) oids(path *field.Path, list []policyv1alpha1.AllowedOIDValues, subject bool) []oidRule {
	var rules []oidRule
	seen := map[string]bool{}
	for i, a := range list {
		p := path.Index(i)
		oid, ok := parseOID(a.OID)
		switch {
		case !ok:
			c.errs = append(c.errs, field.Invalid(p.Child("oid"), a.OID, "must be a valid, canonical dotted object identifier (e.g. \"1.3.6.1.4.1.311.20.2.3\")"))
		case subject && namedSubjectOID(oid):
			c.errs = append(c.errs, field.Invalid(p.Child("oid"), a.OID, "this OID is covered by a dedicated allowed.commonName / allowed.subject.* field; configure it there instead of otherAttributes"))
		case seen[a.OID]:
			c.errs = append(c.errs, field.Duplicate(p.Child("oid"), a.OID))
		}
		seen[a.OID] = true
		r := c.slice(p, &policyv1alpha1.AllowedStringSlice{Values: a.Values, Required: a.Required, Validations: a.Validations})
		r.path = path.Key(a.OID).String()
		rules = append(rules, oidRule{oid: a.OID, stringRule: r})
	}
	return rules
}

// parseOID reads a dotted OID written canonically: at least two arcs,
// decimal, without leading zeros.
func parseOID(s string) (asn1.ObjectIdentifier, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, false
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || strconv.Itoa(n) != part {
			return nil, false
		}
		oid[i] = n
	}
	return oid, true
}

func (c *compiler) validations(path *field.Path, rules []policyv1alpha1.ValidationRule) []validation {
	var out []validation
	for i, v := range rules {
		p := path.Index(i)
		prg, err := compileRule(v.Rule)
		if err != nil {
			c.errs = append(c.errs, field.Invalid(p.Child("rule"), v.Rule, err.Error()))
			continue
		}
		msg := v.Message
		if msg == "" {
			msg = "failed rule: " + v.Rule
		}
		out = append(out, validation{path: p.String(), rule: v.Rule, message: msg, program: prg})
	}
	return out
}

// compileRule compiles one validation rule, which must evaluate to a bool.
func compileRule(rule string) (cel.Program, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	ast, iss := env.Compile(rule)
	if err := iss.Err(); err != nil {
		return nil, errors.New(celMessage(err))
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must evaluate to a bool, not %s", t)
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(celInterruptChecks))
	if err != nil {
		return nil, fmt.Errorf("compiling: %w", err)
	}
	return prg, nil
}

// celMessage keeps the ERROR lines of a CEL compile error, without the
// source excerpts, on one line for a condition message.
func celMessage(err error) string {
	var lines []string
	for l := range strings.SplitSeq(err.Error(), "\n") {
		if strings.HasPrefix(l, "ERROR:") {
			lines = append(lines, strings.TrimSpace(strings.TrimPrefix(l, "ERROR:")))
		}
	}
	if len(lines) == 0 {
		return strings.Join(strings.Fields(err.Error()), " ")
	}
	return strings.Join(lines, "; ")
}

func (c *compiler) constraints(pol *Policy, path *field.Path, cons *policyv1alpha1.Constraints) {
	pol.minDuration, pol.maxDuration = cons.MinDuration, cons.MaxDuration
	if d := cons.MaxDuration; d != nil && d.Duration < 0 {
		c.errs = append(c.errs, field.Invalid(path.Child("maxDuration"), d.Duration.String(), "maxDuration must be a value greater or equal to 0"))
	}
	if d := cons.MinDuration; d != nil && d.Duration < 0 {
		c.errs = append(c.errs, field.Invalid(path.Child("minDuration"), d.Duration.String(), "minDuration must be a value greater or equal to 0"))
	}
	if cons.MinDuration != nil && cons.MaxDuration != nil && cons.MaxDuration.Duration < cons.MinDuration.Duration {
		c.errs = append(c.errs, field.Invalid(path.Child("maxDuration"), cons.MaxDuration.Duration.String(), "maxDuration must be the same value as minDuration or larger"))
	}
	pk := cons.PrivateKey
	if pk == nil {
		return
	}
	kp := path.Child("privateKey")
	pol.keyAlgorithm, pol.minKeySize, pol.maxKeySize = pk.Algorithm, pk.MinSize, pk.MaxSize
	if alg := pk.Algorithm; alg != nil {
		switch *alg {
		case policyv1alpha1.RSAKeyAlgorithm, policyv1alpha1.ECDSAKeyAlgorithm:
		case policyv1alpha1.Ed25519KeyAlgorithm:
			if pk.MinSize != nil || pk.MaxSize != nil {
				c.errs = append(c.errs, field.Forbidden(kp, "minSize and maxSize cannot be defined with algorithm constraint Ed25519"))
			}
		default:
			c.errs = append(c.errs, field.NotSupported(kp.Child("algorithm"), *alg,
				[]policyv1alpha1.PrivateKeyAlgorithm{policyv1alpha1.RSAKeyAlgorithm, policyv1alpha1.ECDSAKeyAlgorithm, policyv1alpha1.Ed25519KeyAlgorithm}))
		}
	}
	for _, s := range []struct {
		name string
		v    *int
	}{{"minSize", pk.MinSize}, {"maxSize", pk.MaxSize}} {
		if s.v != nil && (*s.v < 0 || *s.v > 8192) {
			c.errs = append(c.errs, field.Invalid(kp.Child(s.name), *s.v, "must be between 0 and 8192 inclusive"))
		}
	}
	if pk.MinSize != nil && pk.MaxSize != nil && *pk.MaxSize < *pk.MinSize {
		c.errs = append(c.errs, field.Invalid(kp.Child("maxSize"), *pk.MaxSize, "maxSize must be the same value as minSize or larger"))
	}
}

func usageNames() []string {
	var names []string
	for _, u := range pki.Usages() {
		names = append(names, string(u))
	}
	return names
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
