package acmepolicy

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
)

// The labels of the objects that route an HTTP-01 challenge, as
// cert-manager's solver objects carry them.
const (
	LabelHTTP01Solver = "acme.cert-manager.io/http01-solver"
	LabelHTTPDomain   = "acme.cert-manager.io/http-domain"
	LabelHTTPToken    = "acme.cert-manager.io/http-token"
)

// AnnotationIngressClass is the annotation an ingress solver's class sets.
const AnnotationIngressClass = "kubernetes.io/ingress.class"

// AnnotationNginxWhitelist is set on new solver Ingresses, as cert-manager
// does, so that an ingress-nginx source allow-list does not keep the ACME
// server out. An ingressTemplate annotation may override it.
const AnnotationNginxWhitelist = "nginx.ingress.kubernetes.io/whitelist-source-range"

// SolverNamePrefix starts the names of the objects of an HTTP-01 challenge.
const SolverNamePrefix = "cm-acme-http-solver-"

// ChallengePathPrefix is the path under which HTTP-01 tokens are served.
const ChallengePathPrefix = "/.well-known/acme-challenge/"

// HTTPRouteGVK is the Gateway API HTTPRoute that SolverHTTPRoute builds.
var HTTPRouteGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}

// ChallengePath is the path the ACME server fetches for token.
func ChallengePath(token string) string {
	return ChallengePathPrefix + token
}

// SolverLabels are the labels of the objects routing the HTTP-01 challenge
// ch: LabelHTTP01Solver "true", and the decimal FNV-1 32-bit hashes of the
// challenge's DNS name (LabelHTTPDomain) and token (LabelHTTPToken), which
// always make valid label values.
func SolverLabels(ch *acmev1.Challenge) map[string]string {
	return map[string]string{
		LabelHTTP01Solver: "true",
		LabelHTTPDomain:   fnv32(ch.Spec.DNSName),
		LabelHTTPToken:    fnv32(ch.Spec.Token),
	}
}

func fnv32(s string) string {
	h := fnv.New32()
	h.Write([]byte(s))
	return strconv.FormatUint(uint64(h.Sum32()), 10)
}

// SolverObjectName is the name of the Service, Ingress or HTTPRoute of the
// HTTP-01 challenge ch: SolverNamePrefix and five lower-case letters or
// digits taken from the SHA-256 of the challenge's name. cert-manager lets
// the API server generate the suffix; a name derived from the challenge
// makes a retried create find the object instead of adding another.
func SolverObjectName(ch *acmev1.Challenge) string {
	sum := sha256.Sum256([]byte(ch.Name))
	const n = 36 * 36 * 36 * 36 * 36
	s := strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])%n, 36)
	return SolverNamePrefix + strings.Repeat("0", 5-len(s)) + s
}

// challengeOwner is the controller reference to ch that every solver object
// carries, so it is garbage-collected with the Challenge.
func challengeOwner(ch *acmev1.Challenge) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion:         acmev1.GroupVersion.String(),
		Kind:               "Challenge",
		Name:               ch.Name,
		UID:                ch.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}

// SolverService is the Service, in the challenge's namespace, through which
// the challenge's Ingress or HTTPRoute reaches certplane's solver listener:
// type ExternalName with externalName (the FQDN of the listener's Service,
// such as certplane-acme-solver.certplane.svc.cluster.local) and one port
// named http, port.
func SolverService(ch *acmev1.Challenge, externalName string, port int32) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            SolverObjectName(ch),
			Namespace:       ch.Namespace,
			Labels:          SolverLabels(ch),
			OwnerReferences: []metav1.OwnerReference{challengeOwner(ch)},
		},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: externalName,
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Protocol:   corev1.ProtocolTCP,
				Port:       port,
				TargetPort: intstr.FromInt32(port),
			}},
		},
	}
}

// challengePath is the Ingress path that sends ch's token to the Service.
func challengePath(ch *acmev1.Challenge, serviceName string, port int32) networkingv1.HTTPIngressPath {
	exact := networkingv1.PathTypeExact
	return networkingv1.HTTPIngressPath{
		Path:     ChallengePath(ch.Spec.Token),
		PathType: &exact,
		Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{
				Name: serviceName,
				Port: networkingv1.ServiceBackendPort{Number: port},
			},
		},
	}
}

// SolverIngress is the new Ingress for the challenge ch, whose solver uses
// http01.ingress without a name: one rule for the challenge's DNS name with
// the Exact path of its token to serviceName:port. The solver's
// ingressClassName becomes spec.ingressClassName and its class the
// AnnotationIngressClass annotation. The ingressTemplate's labels and
// annotations are added; SolverLabels and the class annotation win over
// them.
func SolverIngress(ch *acmev1.Challenge, serviceName string, port int32) *networkingv1.Ingress {
	labels := map[string]string{}
	annotations := map[string]string{AnnotationNginxWhitelist: "0.0.0.0/0,::/0"}
	var className *string
	if h := ch.Spec.Solver.HTTP01; h != nil && h.Ingress != nil {
		ing := h.Ingress
		if t := ing.IngressTemplate; t != nil {
			for k, v := range t.Metadata.Labels {
				labels[k] = v
			}
			for k, v := range t.Metadata.Annotations {
				annotations[k] = v
			}
		}
		if ing.Class != nil {
			annotations[AnnotationIngressClass] = *ing.Class
		}
		if ing.IngressClassName != nil {
			c := *ing.IngressClassName
			className = &c
		}
	}
	for k, v := range SolverLabels(ch) {
		labels[k] = v
	}
	return &networkingv1.Ingress{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            SolverObjectName(ch),
			Namespace:       ch.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{challengeOwner(ch)},
		},
		Spec: networkingv1.IngressSpec{
			IngressClassName: className,
			Rules: []networkingv1.IngressRule{{
				Host: ch.Spec.DNSName,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{challengePath(ch, serviceName, port)},
				}},
			}},
		},
	}
}

// AddIngressPath adds the challenge's path to the existing Ingress ing (a
// solver's http01.ingress.name), editing ing in place, and reports whether
// it changed it. A path for the token under a rule for the challenge's DNS
// name is made to point at serviceName:port with pathType Exact; otherwise
// the path is put first in the first rule for that name (ahead of any
// catch-all), or a rule is appended. Other rules and paths are left alone;
// calling it again changes nothing.
func AddIngressPath(ing *networkingv1.Ingress, ch *acmev1.Challenge, serviceName string, port int32) (changed bool) {
	want := challengePath(ch, serviceName, port)
	host := ch.Spec.DNSName
	for i := range ing.Spec.Rules {
		r := &ing.Spec.Rules[i]
		if !strings.EqualFold(r.Host, host) || r.HTTP == nil {
			continue
		}
		for j := range r.HTTP.Paths {
			p := &r.HTTP.Paths[j]
			if p.Path != want.Path {
				continue
			}
			if samePath(*p, want) {
				return false
			}
			*p = want
			return true
		}
	}
	for i := range ing.Spec.Rules {
		r := &ing.Spec.Rules[i]
		if !strings.EqualFold(r.Host, host) {
			continue
		}
		if r.HTTP == nil {
			r.HTTP = &networkingv1.HTTPIngressRuleValue{}
		}
		r.HTTP.Paths = append([]networkingv1.HTTPIngressPath{want}, r.HTTP.Paths...)
		return true
	}
	ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
		Host:             host,
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{want}}},
	})
	return true
}

func samePath(a, b networkingv1.HTTPIngressPath) bool {
	if a.Path != b.Path || a.PathType == nil || b.PathType == nil || *a.PathType != *b.PathType {
		return false
	}
	if a.Backend.Resource != nil || a.Backend.Service == nil || b.Backend.Service == nil {
		return false
	}
	return a.Backend.Service.Name == b.Backend.Service.Name &&
		a.Backend.Service.Port.Number == b.Backend.Service.Port.Number &&
		a.Backend.Service.Port.Name == b.Backend.Service.Port.Name
}

// RemoveIngressPath removes the challenge's token path from the rules for
// its DNS name in ing, editing ing in place, and reports whether it changed
// it. A rule left without paths is removed; other rules are left alone.
func RemoveIngressPath(ing *networkingv1.Ingress, ch *acmev1.Challenge) (changed bool) {
	path := ChallengePath(ch.Spec.Token)
	rules := ing.Spec.Rules[:0:0]
	for _, r := range ing.Spec.Rules {
		if !strings.EqualFold(r.Host, ch.Spec.DNSName) || r.HTTP == nil {
			rules = append(rules, r)
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range r.HTTP.Paths {
			if p.Path == path {
				changed = true
				continue
			}
			paths = append(paths, p)
		}
		if len(paths) == 0 && len(r.HTTP.Paths) > 0 {
			continue
		}
		if len(paths) != len(r.HTTP.Paths) {
			r.HTTP = &networkingv1.HTTPIngressRuleValue{Paths: paths}
		}
		rules = append(rules, r)
	}
	if changed {
		ing.Spec.Rules = rules
	}
	return changed
}

// SolverHTTPRoute is the Gateway API HTTPRoute (gateway.networking.k8s.io/v1)
// for the challenge ch, whose solver uses http01.gatewayHTTPRoute: hostname
// the challenge's DNS name, the solver's parentRefs, the solver's labels
// plus SolverLabels (which win), and one rule sending the Exact path of the
// token to serviceName:port. It is unstructured so that certplane needs no
// Gateway API module.
func SolverHTTPRoute(ch *acmev1.Challenge, serviceName string, port int32) *unstructured.Unstructured {
	labels := map[string]string{}
	parentRefs := []any{}
	if h := ch.Spec.Solver.HTTP01; h != nil && h.GatewayHTTPRoute != nil {
		for k, v := range h.GatewayHTTPRoute.Labels {
			labels[k] = v
		}
		for _, ref := range h.GatewayHTTPRoute.ParentRefs {
			m := map[string]any{"name": ref.Name}
			for key, v := range map[string]*string{"group": ref.Group, "kind": ref.Kind, "namespace": ref.Namespace, "sectionName": ref.SectionName} {
				if v != nil {
					m[key] = *v
				}
			}
			if ref.Port != nil {
				m["port"] = int64(*ref.Port)
			}
			parentRefs = append(parentRefs, m)
		}
	}
	for k, v := range SolverLabels(ch) {
		labels[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"parentRefs": parentRefs,
			"hostnames":  []any{ch.Spec.DNSName},
			"rules": []any{map[string]any{
				"matches": []any{map[string]any{
					"path": map[string]any{"type": "Exact", "value": ChallengePath(ch.Spec.Token)},
				}},
				"backendRefs": []any{map[string]any{
					"group": "",
					"kind":  "Service",
					"name":  serviceName,
					"port":  int64(port),
				}},
			}},
		},
	}}
	u.SetGroupVersionKind(HTTPRouteGVK)
	u.SetName(SolverObjectName(ch))
	u.SetNamespace(ch.Namespace)
	u.SetLabels(labels)
	u.SetOwnerReferences([]metav1.OwnerReference{challengeOwner(ch)})
	return u
}
