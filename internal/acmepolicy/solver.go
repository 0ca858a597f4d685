package acmepolicy

import (
	"fmt"
	"strings"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// The ACME challenge types, as the ACME server spells them.
const (
	TypeHTTP01 = "http-01"
	TypeDNS01  = "dns-01"
)

// NoSolverMessage is the message of the Warning event an Order gets when
// no solver of its issuer can answer one of its authorizations.
const NoSolverMessage = "Failed to determine a valid solver configuration for the set of domains on the Order: no configured challenge solvers can be used for this challenge"

// The Order annotations that override the chosen HTTP-01 solver. At most
// one of the three ingress ones may be set.
const (
	AnnotationOverrideIngressName      = "acme.cert-manager.io/http01-override-ingress-name"
	AnnotationOverrideIngressClass     = "acme.cert-manager.io/http01-override-ingress-class"
	AnnotationOverrideIngressClassName = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
	AnnotationParentRefName            = "acme.cert-manager.io/http01-parentrefname"
	AnnotationParentRefKind            = "acme.cert-manager.io/http01-parentrefkind"
	AnnotationParentRefNamespace       = "acme.cert-manager.io/http01-parentrefnamespace"
)

// PickSolver chooses, as cert-manager does, the solver for one
// authorization of an Order whose labels are labels. dnsName is the
// authorization's identifier without "*."; wildcard says whether it is a
// wildcard authorization, in which case the name the selectors see is
// "*.<dnsName>". offered are the challenge types the authorization offers,
// as the server spells them.
//
// A solver is a candidate when the authorization offers its type (http-01
// for http01, dns-01 for dns01) and its selector matches: every matchLabels
// entry is among labels, dnsNames (if set) contains the name, and dnsZones
// (if set) has a zone the name equals or lies under. A solver without a
// selector, or with an empty one, is a default, taken only while nothing is
// chosen yet. Among candidates, a dnsNames match beats none; then the most
// specific dnsZones match (most labels) wins; then the most matchLabels
// matched; a tie goes to the earlier solver. Names and zones compare case
// insensitively and without a trailing dot; empty zones never match.
//
// challengeType is the chosen solver's type as the server spells it
// (TypeHTTP01 or TypeDNS01), for finding the offered challenge. The solver
// returned is a deep copy. ok is false when no solver fits; the caller then
// reports NoSolverMessage.
func PickSolver(solvers []cmv1.ACMEChallengeSolver, labels map[string]string, dnsName string, wildcard bool, offered []string) (solver cmv1.ACMEChallengeSolver, challengeType string, ok bool) {
	domain := normalizeName(dnsName)
	if wildcard {
		domain = "*." + domain
	}
	best, bestType := -1, ""
	var bestScore selectorScore
	for i := range solvers {
		s := &solvers[i]
		typ := solverType(s, offered)
		if typ == "" {
			continue
		}
		if emptySelector(s.Selector) {
			if best < 0 {
				best, bestType = i, typ
			}
			continue
		}
		score, matched := matchSelector(s.Selector, labels, domain)
		if !matched {
			continue
		}
		if best < 0 || score.beats(bestScore) {
			best, bestType, bestScore = i, typ, score
		}
	}
	if best < 0 {
		return cmv1.ACMEChallengeSolver{}, "", false
	}
	return *solvers[best].DeepCopy(), bestType, true
}

// PickChallenge is PickSolver for an authorization as stored in an Order's
// status: it returns the chosen solver and the first offered challenge of
// its type.
func PickChallenge(solvers []cmv1.ACMEChallengeSolver, labels map[string]string, authz acmev1.ACMEAuthorization) (cmv1.ACMEChallengeSolver, acmev1.ACMEChallenge, bool) {
	offered := make([]string, 0, len(authz.Challenges))
	for _, c := range authz.Challenges {
		offered = append(offered, c.Type)
	}
	wildcard := authz.Wildcard != nil && *authz.Wildcard
	name := authz.Identifier
	if strings.HasPrefix(name, "*.") {
		name, wildcard = strings.TrimPrefix(name, "*."), true
	}
	solver, typ, ok := PickSolver(solvers, labels, name, wildcard, offered)
	if !ok {
		return cmv1.ACMEChallengeSolver{}, acmev1.ACMEChallenge{}, false
	}
	for _, c := range authz.Challenges {
		if strings.EqualFold(c.Type, typ) {
			return solver, c, true
		}
	}
	// Unreachable: typ was taken from the offered types.
	return cmv1.ACMEChallengeSolver{}, acmev1.ACMEChallenge{}, false
}

// ApplySolverOverrides returns a copy of solver changed by an Order's
// annotations, as cert-manager applies them to the solver it copies into a
// Challenge. For an ingress solver, AnnotationOverrideIngressName,
// AnnotationOverrideIngressClass or AnnotationOverrideIngressClassName
// replaces the solver's name, class and ingressClassName by the one given;
// setting more than one is an error. For a gatewayHTTPRoute solver,
// AnnotationParentRefName replaces the parentRefs by one reference with that
// name and, if set, AnnotationParentRefKind and AnnotationParentRefNamespace;
// a kind or namespace without a name is an error. Annotations that do not
// fit the solver are ignored.
func ApplySolverOverrides(annotations map[string]string, solver cmv1.ACMEChallengeSolver) (cmv1.ACMEChallengeSolver, error) {
	s := *solver.DeepCopy()
	if s.HTTP01 == nil {
		return s, nil
	}
	if ing := s.HTTP01.Ingress; ing != nil {
		name, hasName := annotations[AnnotationOverrideIngressName]
		class, hasClass := annotations[AnnotationOverrideIngressClass]
		className, hasClassName := annotations[AnnotationOverrideIngressClassName]
		n := 0
		for _, has := range []bool{hasName, hasClass, hasClassName} {
			if has {
				n++
			}
		}
		if n > 1 {
			return s, fmt.Errorf("only one of the annotations %s, %s and %s may be set", AnnotationOverrideIngressName, AnnotationOverrideIngressClass, AnnotationOverrideIngressClassName)
		}
		switch {
		case hasName:
			ing.Name, ing.Class, ing.IngressClassName = name, nil, nil
		case hasClass:
			ing.Name, ing.Class, ing.IngressClassName = "", &class, nil
		case hasClassName:
			ing.Name, ing.Class, ing.IngressClassName = "", nil, &className
		}
	}
	if gw := s.HTTP01.GatewayHTTPRoute; gw != nil {
		name, hasName := annotations[AnnotationParentRefName]
		kind, hasKind := annotations[AnnotationParentRefKind]
		ns, hasNS := annotations[AnnotationParentRefNamespace]
		if !hasName && (hasKind || hasNS) {
			return s, fmt.Errorf("annotation %s or %s is set without %s", AnnotationParentRefKind, AnnotationParentRefNamespace, AnnotationParentRefName)
		}
		if hasName {
			ref := cmv1.ParentReference{Name: name}
			if hasKind {
				ref.Kind = &kind
			}
			if hasNS {
				ref.Namespace = &ns
			}
			gw.ParentRefs = []cmv1.ParentReference{ref}
		}
	}
	return s, nil
}

// selectorScore is how specifically a selector matched.
type selectorScore struct {
	names, zones, labels int
}

func (a selectorScore) beats(b selectorScore) bool {
	if a.names != b.names {
		return a.names > b.names
	}
	if a.zones != b.zones {
		return a.zones > b.zones
	}
	return a.labels > b.labels
}

// solverType is the first offered type the solver can answer, or "".
func solverType(s *cmv1.ACMEChallengeSolver, offered []string) string {
	for _, t := range offered {
		switch {
		case strings.EqualFold(t, TypeHTTP01) && s.HTTP01 != nil:
			return TypeHTTP01
		case strings.EqualFold(t, TypeDNS01) && s.DNS01 != nil:
			return TypeDNS01
		}
	}
	return ""
}

func emptySelector(sel *cmv1.CertificateDNSNameSelector) bool {
	return sel == nil || (len(sel.MatchLabels) == 0 && len(sel.DNSNames) == 0 && len(sel.DNSZones) == 0)
}

// matchSelector reports whether all of a non-empty selector's parts match
// domain (already normalized) and labels, and how specifically.
func matchSelector(sel *cmv1.CertificateDNSNameSelector, labels map[string]string, domain string) (selectorScore, bool) {
	var sc selectorScore
	for k, v := range sel.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return sc, false
		}
	}
	sc.labels = len(sel.MatchLabels)
	if len(sel.DNSNames) > 0 {
		for _, n := range sel.DNSNames {
			if normalizeName(n) == domain {
				sc.names = 1
				break
			}
		}
		if sc.names == 0 {
			return sc, false
		}
	}
	if len(sel.DNSZones) > 0 {
		for _, z := range sel.DNSZones {
			z = normalizeName(z)
			if z == "" {
				continue
			}
			if domain == z || strings.HasSuffix(domain, "."+z) {
				sc.zones = max(sc.zones, strings.Count(z, ".")+1)
			}
		}
		if sc.zones == 0 {
			return sc, false
		}
	}
	return sc, true
}

func normalizeName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}
