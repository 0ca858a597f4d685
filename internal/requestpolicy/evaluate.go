package requestpolicy

import (
	"strconv"
	"strings"

	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The defaults cert-manager gives an issuerRef's unset kind and group.
const (
	defaultIssuerKind  = "Issuer"
	defaultIssuerGroup = "cert-manager.io"
)

// Violation is one way a request exceeds a policy: the policy field it
// fails and, formatted as a Kubernetes field error's body, the requested
// value and what the policy allows, such as
// Field "spec.allowed.dnsNames.values",
// Message `Invalid value: ["www.google.com"]: *.example.com`.
type Violation struct {
	Field   string
	Message string
}

// String is the violation as a Kubernetes field error:
// `spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]: *.example.com`.
func (v Violation) String() string { return v.Field + ": " + v.Message }

func violation(typ field.ErrorType, path string, bad any, detail string) Violation {
	e := field.Error{Type: typ, Field: path, BadValue: bad, Detail: detail}
	return Violation{Field: path, Message: e.ErrorBody()}
}

// Selects reports whether the policy applies to r: its issuerRef selector
// matches r's issuer (each of name, kind and group, where set and not
// empty, matching as a pattern, after cert-manager's defaults for an unset
// kind and group) and its namespace selector r's namespace (one of
// matchNames, if any, matching the name; every matchLabels label on
// NamespaceLabels).
func (p *Policy) Selects(r Request) bool {
	if s := p.issuer; s != nil {
		kind, group := r.IssuerRef.Kind, r.IssuerRef.Group
		if kind == "" {
			kind = defaultIssuerKind
		}
		if group == "" {
			group = defaultIssuerGroup
		}
		if !selectorMatch(s.name, r.IssuerRef.Name) || !selectorMatch(s.kind, kind) || !selectorMatch(s.group, group) {
			return false
		}
	}
	if s := p.namespace; s != nil {
		if len(s.names) > 0 && !matchAny(s.names, r.Namespace) {
			return false
		}
		for k, v := range s.labels {
			if got, ok := r.NamespaceLabels[k]; !ok || got != v {
				return false
			}
		}
	}
	return true
}

// selectorMatch: an empty selector field matches anything.
func selectorMatch(pattern, s string) bool { return pattern == "" || match(pattern, s) }

// NeedNamespaceLabels reports whether a policy selects by namespace
// labels: only then need the caller read the namespace for
// Request.NamespaceLabels.
func NeedNamespaceLabels(policies []*Policy) bool {
	for _, p := range policies {
		if p.namespace != nil && len(p.namespace.labels) > 0 {
			return true
		}
	}
	return false
}

// Evaluate lists how r exceeds the policy, in the order of the policy's
// fields; none means the policy allows r. It does not check Selects.
//
// As approver-policy: a value the request asks for needs the field in
// spec.allowed, with values (every requested value matching one of them)
// or validations (every requested value passing every rule); required
// needs the request to ask for one; isCA true needs allowed.isCA true;
// the usages the request names must be among allowed.usages; subject
// attributes and otherNames other than the allowed ones are refused. The
// duration (DefaultDuration if zero) must lie within the duration
// constraints, and the key must have the constrained algorithm and size. A
// rule that fails to evaluate (over its cost limit, or reading a key cr
// lacks) is a violation.
func (p *Policy) Evaluate(r Request) []Violation {
	e := evaluation{r: &r}
	p.evaluate(&e)
	return e.vs
}

// allows reports whether Evaluate would find no violation, stopping at the
// first one without formatting it.
func (p *Policy) allows(r *Request) bool {
	e := evaluation{r: r, quick: true}
	p.evaluate(&e)
	return !e.failed
}

func (p *Policy) evaluate(e *evaluation) {
	r := e.r
	checks := []func(){
		func() { p.commonName.checkOne(e, r.CommonName) },
		func() { p.dnsNames.check(e, r.DNSNames) },
		func() { p.ipAddresses.check(e, r.IPAddresses) },
		func() { p.uris.check(e, r.URIs) },
		func() { p.emailAddresses.check(e, r.EmailAddresses) },
		func() { p.checkIsCA(e) },
		func() { p.checkUsages(e) },
		func() { checkOIDs(e, "spec.allowed.otherNames", p.otherNames, r.OtherNames) },
		func() { p.organizations.check(e, r.Organizations) },
		func() { p.countries.check(e, r.Countries) },
		func() { p.organizationalUnits.check(e, r.OrganizationalUnits) },
		func() { p.localities.check(e, r.Localities) },
		func() { p.provinces.check(e, r.Provinces) },
		func() { p.streetAddresses.check(e, r.StreetAddresses) },
		func() { p.postalCodes.check(e, r.PostalCodes) },
		func() { p.serialNumber.checkOne(e, r.SerialNumber) },
		func() { checkOIDs(e, "spec.allowed.subject.otherAttributes", p.otherAttributes, r.OtherAttributes) },
		func() {
			for _, u := range r.Unsupported {
				e.add(field.ErrorTypeForbidden, "spec.allowed", nil, u)
			}
		},
		func() { p.checkDuration(e) },
		func() { p.checkKey(e) },
	}
	for _, check := range checks {
		if check(); e.done() {
			return
		}
	}
}

func (p *Policy) checkIsCA(e *evaluation) {
	if !e.r.IsCA {
		return
	}
	switch {
	case p.isCA == nil:
		e.add(field.ErrorTypeInvalid, "spec.allowed.isCA", true, "nil")
	case !*p.isCA:
		e.add(field.ErrorTypeInvalid, "spec.allowed.isCA", true, "false")
	}
}

func (p *Policy) checkUsages(e *evaluation) {
	if len(e.r.Usages) == 0 {
		return
	}
	switch {
	case p.usages == nil:
		e.add(field.ErrorTypeInvalid, "spec.allowed.usages", e.r.Usages, "nil")
	case !matchAll(*p.usages, e.r.Usages):
		e.add(field.ErrorTypeInvalid, "spec.allowed.usages", e.r.Usages, strings.Join(*p.usages, ", "))
	}
}

func (p *Policy) checkDuration(e *evaluation) {
	d := e.r.Duration
	if d <= 0 {
		d = DefaultDuration
	}
	if m := p.maxDuration; m != nil && d > m.Duration {
		e.add(field.ErrorTypeInvalid, "spec.constraints.maxDuration", d.String(), m.Duration.String())
	}
	if m := p.minDuration; m != nil && d < m.Duration {
		e.add(field.ErrorTypeInvalid, "spec.constraints.minDuration", d.String(), m.Duration.String())
	}
}

func (p *Policy) checkKey(e *evaluation) {
	if p.keyAlgorithm == nil && p.minKeySize == nil && p.maxKeySize == nil {
		return
	}
	r := e.r
	if r.KeyAlgorithm == "" {
		e.add(field.ErrorTypeInvalid, "spec.constraints.privateKey", "", "the request's key algorithm is unknown")
		return
	}
	if a := p.keyAlgorithm; a != nil && string(*a) != r.KeyAlgorithm {
		e.add(field.ErrorTypeInvalid, "spec.constraints.privateKey.algorithm", r.KeyAlgorithm, string(*a))
	}
	if m := p.maxKeySize; m != nil && r.KeySize > *m {
		e.add(field.ErrorTypeInvalid, "spec.constraints.privateKey.maxSize", strconv.Itoa(r.KeySize), strconv.Itoa(*m))
	}
	if m := p.minKeySize; m != nil && r.KeySize < *m {
		e.add(field.ErrorTypeInvalid, "spec.constraints.privateKey.minSize", strconv.Itoa(r.KeySize), strconv.Itoa(*m))
	}
}

// checkOne checks a single-valued attribute; empty is absent.
func (rule *stringRule) checkOne(e *evaluation, value string) {
	if value == "" {
		if rule.required {
			e.add(field.ErrorTypeRequired, rule.path+".required", nil, "true")
		}
		return
	}
	if !rule.allows() {
		e.add(field.ErrorTypeInvalid, rule.path, value, "no allowed value")
		return
	}
	if rule.values != nil && !match((*rule.values)[0], value) {
		if e.add(field.ErrorTypeInvalid, rule.path+".value", value, (*rule.values)[0]); e.done() {
			return
		}
	}
	rule.validate(e, value)
}

// check checks a multi-valued attribute.
func (rule *stringRule) check(e *evaluation, values []string) {
	if len(values) == 0 {
		if rule.required {
			e.add(field.ErrorTypeRequired, rule.path+".required", nil, "true")
		}
		return
	}
	if !rule.allows() {
		e.add(field.ErrorTypeInvalid, rule.path, values, "no allowed values")
		return
	}
	if rule.values != nil && !matchAll(*rule.values, values) {
		if e.add(field.ErrorTypeInvalid, rule.path+".values", values, strings.Join(*rule.values, ", ")); e.done() {
			return
		}
	}
	for _, v := range values {
		if rule.validate(e, v); e.done() {
			return
		}
	}
}

// validate runs every validation rule on value.
func (rule *stringRule) validate(e *evaluation, value string) {
	for i := range rule.validations {
		v := &rule.validations[i]
		out, _, err := v.program.Eval(e.activation(value))
		switch {
		case err != nil:
			e.add(field.ErrorTypeInternal, v.path, nil, err.Error())
		case out.Value() != true:
			e.add(field.ErrorTypeInvalid, v.path, value, v.message)
		default:
			continue
		}
		if e.done() {
			return
		}
	}
}

// checkOIDs checks otherNames or subject otherAttributes: each OID the
// request carries needs a rule, and each required OID must be there.
func checkOIDs(e *evaluation, path string, rules []oidRule, attrs []Attribute) {
	if len(rules) == 0 && len(attrs) == 0 {
		return
	}
	// The request's values by OID, in the order the OIDs first appear.
	var oids []string
	byOID := map[string][]string{}
	for _, a := range attrs {
		if _, ok := byOID[a.OID]; !ok {
			oids = append(oids, a.OID)
		}
		byOID[a.OID] = append(byOID[a.OID], a.Value)
	}
	for _, oid := range oids {
		if i := findRule(rules, oid); i < 0 {
			e.add(field.ErrorTypeInvalid, path+"["+oid+"]", byOID[oid], "no allowed values")
		} else {
			rules[i].check(e, byOID[oid])
		}
		if e.done() {
			return
		}
	}
	for i := range rules {
		if _, ok := byOID[rules[i].oid]; !ok && rules[i].required {
			e.add(field.ErrorTypeRequired, rules[i].path+".required", nil, "true")
		}
	}
}

func findRule(rules []oidRule, oid string) int {
	for i := range rules {
		if rules[i].oid == oid {
			return i
		}
	}
	return -1
}

// evaluation is one Evaluate: the request, cr for its validation rules
// (built on first use), and the violations found. In quick mode it only
// notes that there is one, without formatting it, and the checks stop.
type evaluation struct {
	r  *Request
	cr ref.Val

	quick  bool
	failed bool
	vs     []Violation
}

// add records a violation.
func (e *evaluation) add(typ field.ErrorType, path string, bad any, detail string) {
	e.failed = true
	if !e.quick {
		e.vs = append(e.vs, violation(typ, path, bad, detail))
	}
}

// done reports whether a quick evaluation has its answer.
func (e *evaluation) done() bool { return e.quick && e.failed }

func (e *evaluation) activation(self string) interpreter.Activation {
	if e.cr == nil {
		e.cr = celtypes.NewStringStringMap(celtypes.DefaultTypeAdapter, map[string]string{
			"namespace": e.r.Namespace,
			"name":      e.r.Name,
		})
	}
	return &activation{self: celtypes.String(self), cr: e.cr}
}

// activation binds self and cr without a map per evaluation.
type activation struct {
	self celtypes.String
	cr   ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "self":
		return a.self, true
	case "cr":
		return a.cr, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
