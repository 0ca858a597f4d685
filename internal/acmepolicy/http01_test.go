package acmepolicy_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	acmev1 "github.com/certplane/certplane/api/acme/v1"
	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/acmepolicy"
)

func challenge(solver cmv1.ACMEChallengeSolver) *acmev1.Challenge {
	return &acmev1.Challenge{
		ObjectMeta: metav1.ObjectMeta{Name: "web-tls-1-123-456", Namespace: "shop", UID: types.UID("uid-1")},
		Spec: acmev1.ChallengeSpec{
			DNSName: "www.example.com",
			Type:    acmev1.ACMEChallengeTypeHTTP01,
			Token:   "tok_EN-1",
			Key:     "tok_EN-1.thumb",
			Solver:  solver,
		},
	}
}

func checkOwner(t *testing.T, refs []metav1.OwnerReference) {
	t.Helper()
	yes := true
	want := []metav1.OwnerReference{{APIVersion: "acme.cert-manager.io/v1", Kind: "Challenge", Name: "web-tls-1-123-456", UID: "uid-1", Controller: &yes, BlockOwnerDeletion: &yes}}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("owner references %+v, want %+v", refs, want)
	}
}

func TestSolverLabels(t *testing.T) {
	ch := challenge(cmv1.ACMEChallengeSolver{})
	got := acmepolicy.SolverLabels(ch)
	want := map[string]string{
		"acme.cert-manager.io/http01-solver": "true",
		"acme.cert-manager.io/http-domain":   fnv1Bytes("www.example.com"),
		"acme.cert-manager.io/http-token":    fnv1Bytes("tok_EN-1"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range got {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			t.Errorf("label key %q: %v", k, msgs)
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			t.Errorf("label %s value %q: %v", k, v, msgs)
		}
	}
}

// fnv1Bytes is the decimal FNV-1 32-bit hash of s; FNV-1 of "a" is
// 0x050c5d7e (FNV-1a would give 0xe40c292c).
func fnv1Bytes(s string) string {
	const prime, offset = 16777619, 2166136261
	h := uint32(offset)
	for _, c := range []byte(s) {
		h *= prime
		h ^= uint32(c)
	}
	return strconv.FormatUint(uint64(h), 10)
}

func TestFNV1Vector(t *testing.T) {
	if fnv1Bytes("a") != "84696446" { // 0x050c5d7e
		t.Fatal("the test's FNV-1 is wrong")
	}
}

func TestSolverObjectName(t *testing.T) {
	re := regexp.MustCompile(`^cm-acme-http-solver-[a-z0-9]{5}$`)
	seen := map[string]string{}
	for _, name := range []string{"a", "b", "web-tls-1-123-456", strings.Repeat("x", 63), "web-tls-1-123-457"} {
		ch := &acmev1.Challenge{ObjectMeta: metav1.ObjectMeta{Name: name}}
		got := acmepolicy.SolverObjectName(ch)
		if !re.MatchString(got) {
			t.Errorf("%q: %q", name, got)
		}
		if msgs := validation.IsDNS1035Label(got); len(msgs) > 0 {
			t.Errorf("%q: %v", got, msgs)
		}
		if got != acmepolicy.SolverObjectName(ch.DeepCopy()) {
			t.Error("not deterministic")
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%q and %q share %q", name, other, got)
		}
		seen[got] = name
	}
}

func TestSolverService(t *testing.T) {
	ch := challenge(cmv1.ACMEChallengeSolver{})
	svc := acmepolicy.SolverService(ch, "certplane-acme-solver.certplane.svc.cluster.local", 8089)
	if svc.Name != acmepolicy.SolverObjectName(ch) || svc.Namespace != "shop" {
		t.Errorf("name %s/%s", svc.Namespace, svc.Name)
	}
	if !reflect.DeepEqual(svc.Labels, acmepolicy.SolverLabels(ch)) {
		t.Errorf("labels %v", svc.Labels)
	}
	checkOwner(t, svc.OwnerReferences)
	want := corev1.ServiceSpec{
		Type:         corev1.ServiceTypeExternalName,
		ExternalName: "certplane-acme-solver.certplane.svc.cluster.local",
		Ports:        []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8089, TargetPort: intstr.FromInt32(8089)}},
	}
	if !reflect.DeepEqual(svc.Spec, want) {
		t.Errorf("spec %+v, want %+v", svc.Spec, want)
	}
}

func TestSolverIngress(t *testing.T) {
	str := func(s string) *string { return &s }
	ingSolver := func(ing cmv1.ACMEChallengeSolverHTTP01Ingress) cmv1.ACMEChallengeSolver {
		return cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{Ingress: &ing}}
	}
	template := &cmv1.ACMEChallengeSolverHTTP01IngressTemplate{Metadata: cmv1.ObjectMetaTemplate{
		Labels:      map[string]string{"team": "web", "acme.cert-manager.io/http01-solver": "false"},
		Annotations: map[string]string{"kubernetes.io/ingress.class": "template", "nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8", "x": "y"},
	}}
	tests := []struct {
		name            string
		solver          cmv1.ACMEChallengeSolver
		wantClassName   *string
		wantAnnotations map[string]string
		wantExtraLabels map[string]string
	}{
		{"ingressClassName", ingSolver(cmv1.ACMEChallengeSolverHTTP01Ingress{IngressClassName: str("nginx")}), str("nginx"),
			map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}, nil},
		{"class", ingSolver(cmv1.ACMEChallengeSolverHTTP01Ingress{Class: str("traefik")}), nil,
			map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0", "kubernetes.io/ingress.class": "traefik"}, nil},
		{"default class", ingSolver(cmv1.ACMEChallengeSolverHTTP01Ingress{}), nil,
			map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}, nil},
		{"template merged, ours win", ingSolver(cmv1.ACMEChallengeSolverHTTP01Ingress{Class: str("nginx"), IngressTemplate: template}), nil,
			map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8", "kubernetes.io/ingress.class": "nginx", "x": "y"},
			map[string]string{"team": "web"}},
		{"no ingress solver", cmv1.ACMEChallengeSolver{}, nil,
			map[string]string{"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := challenge(tt.solver)
			ing := acmepolicy.SolverIngress(ch, "cm-acme-http-solver-abcde", 8089)
			if ing.Name != acmepolicy.SolverObjectName(ch) || ing.Namespace != "shop" {
				t.Errorf("name %s/%s", ing.Namespace, ing.Name)
			}
			checkOwner(t, ing.OwnerReferences)
			if !reflect.DeepEqual(ing.Spec.IngressClassName, tt.wantClassName) {
				t.Errorf("ingressClassName %v, want %v", ing.Spec.IngressClassName, tt.wantClassName)
			}
			if !reflect.DeepEqual(ing.Annotations, tt.wantAnnotations) {
				t.Errorf("annotations %v, want %v", ing.Annotations, tt.wantAnnotations)
			}
			wantLabels := acmepolicy.SolverLabels(ch)
			for k, v := range tt.wantExtraLabels {
				wantLabels[k] = v
			}
			if !reflect.DeepEqual(ing.Labels, wantLabels) {
				t.Errorf("labels %v, want %v", ing.Labels, wantLabels)
			}
			exact := networkingv1.PathTypeExact
			wantRules := []networkingv1.IngressRule{{
				Host: "www.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/.well-known/acme-challenge/tok_EN-1",
					PathType: &exact,
					Backend:  networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "cm-acme-http-solver-abcde", Port: networkingv1.ServiceBackendPort{Number: 8089}}},
				}}}},
			}}
			if !reflect.DeepEqual(ing.Spec.Rules, wantRules) {
				t.Errorf("rules %+v", ing.Spec.Rules)
			}
		})
	}
}

// ingressPath is a path of an Ingress under test.
func ingressPath(path, service string, port int32, pathType networkingv1.PathType) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{
		Path:     path,
		PathType: &pathType,
		Backend:  networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: service, Port: networkingv1.ServiceBackendPort{Number: port}}},
	}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	r := networkingv1.IngressRule{Host: host}
	if paths != nil {
		r.HTTP = &networkingv1.HTTPIngressRuleValue{Paths: paths}
	}
	return r
}

func TestAddRemoveIngressPath(t *testing.T) {
	ch := challenge(cmv1.ACMEChallengeSolver{})
	const svc = "cm-acme-http-solver-abcde"
	ours := ingressPath("/.well-known/acme-challenge/tok_EN-1", svc, 8089, networkingv1.PathTypeExact)
	site := ingressPath("/", "shop", 80, networkingv1.PathTypePrefix)
	other := rule("api.example.com", ingressPath("/", "api", 80, networkingv1.PathTypePrefix))
	tests := []struct {
		name        string
		rules       []networkingv1.IngressRule
		wantAdded   []networkingv1.IngressRule
		wantChanged bool
		// wantRemoved is the rules after RemoveIngressPath on wantAdded.
		wantRemoved []networkingv1.IngressRule
	}{
		{"no rules", nil,
			[]networkingv1.IngressRule{rule("www.example.com", ours)}, true,
			[]networkingv1.IngressRule{}},
		{"other host only", []networkingv1.IngressRule{other},
			[]networkingv1.IngressRule{other, rule("www.example.com", ours)}, true,
			[]networkingv1.IngressRule{other}},
		{"host rule with a catch-all", []networkingv1.IngressRule{other, rule("www.example.com", site)},
			[]networkingv1.IngressRule{other, rule("www.example.com", ours, site)}, true,
			[]networkingv1.IngressRule{other, rule("www.example.com", site)}},
		{"host rule without http", []networkingv1.IngressRule{rule("www.example.com")},
			[]networkingv1.IngressRule{rule("www.example.com", ours)}, true,
			[]networkingv1.IngressRule{}},
		{"already there", []networkingv1.IngressRule{rule("www.example.com", site, ours)},
			[]networkingv1.IngressRule{rule("www.example.com", site, ours)}, false,
			[]networkingv1.IngressRule{rule("www.example.com", site)}},
		{"there with another backend", []networkingv1.IngressRule{rule("www.example.com", site, ingressPath(ours.Path, "old", 80, networkingv1.PathTypePrefix))},
			[]networkingv1.IngressRule{rule("www.example.com", site, ours)}, true,
			[]networkingv1.IngressRule{rule("www.example.com", site)}},
		{"there in a second rule for the host", []networkingv1.IngressRule{rule("www.example.com", site), rule("WWW.example.com", ours)},
			[]networkingv1.IngressRule{rule("www.example.com", site), rule("WWW.example.com", ours)}, false,
			[]networkingv1.IngressRule{rule("www.example.com", site)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: tt.rules}}
			before := ing.DeepCopy()
			if got := acmepolicy.AddIngressPath(ing, ch, svc, 8089); got != tt.wantChanged {
				t.Errorf("changed %v, want %v", got, tt.wantChanged)
			}
			if !reflect.DeepEqual(ing.Spec.Rules, tt.wantAdded) {
				t.Fatalf("after add %+v\nwant %+v", ing.Spec.Rules, tt.wantAdded)
			}
			if acmepolicy.AddIngressPath(ing, ch, svc, 8089) {
				t.Error("a second add changed the Ingress")
			}
			added := ing.DeepCopy()
			if !acmepolicy.RemoveIngressPath(ing, ch) {
				t.Error("remove changed nothing")
			}
			if !reflect.DeepEqual(ing.Spec.Rules, tt.wantRemoved) {
				t.Errorf("after remove %+v\nwant %+v", ing.Spec.Rules, tt.wantRemoved)
			}
			if acmepolicy.RemoveIngressPath(ing, ch) {
				t.Error("a second remove changed the Ingress")
			}
			if !tt.wantChanged && !reflect.DeepEqual(added, before) {
				t.Error("an unchanged add edited the Ingress")
			}
		})
	}
}

func TestRemoveIngressPathKeepsOthers(t *testing.T) {
	ch := challenge(cmv1.ACMEChallengeSolver{})
	site := ingressPath("/", "shop", 80, networkingv1.PathTypePrefix)
	otherToken := ingressPath("/.well-known/acme-challenge/other", "x", 8089, networkingv1.PathTypeExact)
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		rule("www.example.com", site, otherToken),
		rule("api.example.com", ingressPath("/.well-known/acme-challenge/tok_EN-1", "x", 8089, networkingv1.PathTypeExact)),
		rule("www.example.com", networkingv1.HTTPIngressPath{}),
	}}}
	before := ing.DeepCopy()
	if acmepolicy.RemoveIngressPath(ing, ch) {
		t.Error("removed a path of another challenge or host")
	}
	if !reflect.DeepEqual(ing, before) {
		t.Error("the Ingress changed")
	}
}

func TestSolverHTTPRoute(t *testing.T) {
	group, kind, ns, section := "gateway.networking.k8s.io", "Gateway", "infra", "http"
	port := int32(80)
	ch := challenge(cmv1.ACMEChallengeSolver{HTTP01: &cmv1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &cmv1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{
		Labels: map[string]string{"gw": "public", "acme.cert-manager.io/http-token": "mine"},
		ParentRefs: []cmv1.ParentReference{
			{Name: "public", Group: &group, Kind: &kind, Namespace: &ns, SectionName: &section, Port: &port},
			{Name: "internal"},
		},
	}}})
	u := acmepolicy.SolverHTTPRoute(ch, "cm-acme-http-solver-abcde", 8089)
	if u.GetAPIVersion() != "gateway.networking.k8s.io/v1" || u.GetKind() != "HTTPRoute" {
		t.Errorf("type %s %s", u.GetAPIVersion(), u.GetKind())
	}
	if u.GetName() != acmepolicy.SolverObjectName(ch) || u.GetNamespace() != "shop" {
		t.Errorf("name %s/%s", u.GetNamespace(), u.GetName())
	}
	wantLabels := acmepolicy.SolverLabels(ch)
	wantLabels["gw"] = "public"
	if !reflect.DeepEqual(u.GetLabels(), wantLabels) {
		t.Errorf("labels %v, want %v", u.GetLabels(), wantLabels)
	}
	checkOwner(t, u.GetOwnerReferences())
	// Unstructured content must hold only JSON types.
	runtime.DeepCopyJSON(u.Object)
	spec, err := json.Marshal(u.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"hostnames":["www.example.com"],` +
		`"parentRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"public","namespace":"infra","port":80,"sectionName":"http"},{"name":"internal"}],` +
		`"rules":[{"backendRefs":[{"group":"","kind":"Service","name":"cm-acme-http-solver-abcde","port":8089}],` +
		`"matches":[{"path":{"type":"Exact","value":"/.well-known/acme-challenge/tok_EN-1"}}]}]}`
	if string(spec) != want {
		t.Errorf("spec\n%s\nwant\n%s", spec, want)
	}

	// A solver without gatewayHTTPRoute still gives a well-formed route.
	bare := acmepolicy.SolverHTTPRoute(challenge(cmv1.ACMEChallengeSolver{}), "svc", 8089)
	runtime.DeepCopyJSON(bare.Object)
}
