package bundlepolicy

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	trustv1alpha1 "github.com/certplane/certplane/api/trust/v1alpha1"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func TestHash(t *testing.T) {
	pw := "secret"
	base := func() *trustv1alpha1.BundleTarget {
		return &trustv1alpha1.BundleTarget{
			ConfigMap: &trustv1alpha1.TargetTemplate{Key: "ca.crt", Metadata: trustv1alpha1.TargetMetadata{
				Labels: map[string]string{"a": "1", "b": "2"}, Annotations: map[string]string{"n": "x"}}},
			Secret:            &trustv1alpha1.TargetTemplate{Key: "ca.crt"},
			AdditionalFormats: &trustv1alpha1.AdditionalFormats{JKS: &trustv1alpha1.JKS{KeySelector: trustv1alpha1.KeySelector{Key: "t.jks"}}},
		}
	}
	h0 := Hash("PEM", base(), KindConfigMap)
	if Hash("PEM", base(), KindConfigMap) != h0 {
		t.Fatal("the hash is not stable")
	}
	if len(h0) != 64 {
		t.Errorf("hash %q is not hex SHA-256", h0)
	}
	changes := map[string]func(t *trustv1alpha1.BundleTarget) (string, Kind){
		"PEM":  func(*trustv1alpha1.BundleTarget) (string, Kind) { return "PEM2", KindConfigMap },
		"kind": func(*trustv1alpha1.BundleTarget) (string, Kind) { return "PEM", KindSecret },
		"key": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.ConfigMap.Key = "bundle.pem"
			return "PEM", KindConfigMap
		},
		"label": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.ConfigMap.Metadata.Labels["a"] = "9"
			return "PEM", KindConfigMap
		},
		"label key/value": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.ConfigMap.Metadata.Labels = map[string]string{"a1": "", "b": "2"}
			return "PEM", KindConfigMap
		},
		"annotation": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.ConfigMap.Metadata.Annotations = nil
			return "PEM", KindConfigMap
		},
		"jks password": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.AdditionalFormats.JKS.Password = "other"
			return "PEM", KindConfigMap
		},
		"jks key": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.AdditionalFormats.JKS.Key = "x.jks"
			return "PEM", KindConfigMap
		},
		"pkcs12 added": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.AdditionalFormats.PKCS12 = &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}}
			return "PEM", KindConfigMap
		},
		"formats removed": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.AdditionalFormats = nil
			return "PEM", KindConfigMap
		},
		"pkcs12 password": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.AdditionalFormats.PKCS12 = &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}, Password: &pw}
			return "PEM", KindConfigMap
		},
		"pkcs12 profile": func(t *trustv1alpha1.BundleTarget) (string, Kind) {
			t.AdditionalFormats.PKCS12 = &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}, Profile: trustv1alpha1.Modern2023PKCS12Profile}
			return "PEM", KindConfigMap
		},
	}
	seen := map[string]string{h0: "base"}
	for name, change := range changes {
		target := base()
		text, kind := change(target)
		h := Hash(text, target, kind)
		if prev, ok := seen[h]; ok {
			t.Errorf("%s gives the same hash as %s", name, prev)
		}
		seen[h] = name
	}
	// Defaults hash as the values they stand for.
	a, b := base(), base()
	b.AdditionalFormats.JKS.Password = trustv1alpha1.DefaultJKSPassword
	if Hash("PEM", a, KindConfigMap) != Hash("PEM", b, KindConfigMap) {
		t.Error(`an unset JKS password and "changeit" hash differently`)
	}
	// The Secret's hash does not see the ConfigMap template's metadata.
	a.ConfigMap.Metadata.Labels = nil
	if Hash("PEM", a, KindSecret) != Hash("PEM", b, KindSecret) {
		t.Error("the ConfigMap template changes the Secret's hash")
	}
}

func TestTruststores(t *testing.T) {
	a, b := pkitest.CA(t, "a").Certificate, pkitest.CA(t, "b").Certificate
	bundle, err := Build([]Input{{Source: "x", Data: []byte(pemOf(a, b))}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pw := "p12pass"
	empty := ""
	for _, c := range []struct {
		name    string
		formats *trustv1alpha1.AdditionalFormats
		p12pw   string
	}{
		{"jks default password, pkcs12 without", &trustv1alpha1.AdditionalFormats{
			JKS:    &trustv1alpha1.JKS{KeySelector: trustv1alpha1.KeySelector{Key: "t.jks"}},
			PKCS12: &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}, Password: &empty}}, ""},
		{"legacy RC2 with a password", &trustv1alpha1.AdditionalFormats{
			JKS:    &trustv1alpha1.JKS{KeySelector: trustv1alpha1.KeySelector{Key: "t.jks"}, Password: "jkspass"},
			PKCS12: &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}, Password: &pw}}, pw},
		{"modern", &trustv1alpha1.AdditionalFormats{
			PKCS12: &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}, Password: &pw, Profile: trustv1alpha1.Modern2023PKCS12Profile}}, pw},
		{"legacy DES", &trustv1alpha1.AdditionalFormats{
			PKCS12: &trustv1alpha1.PKCS12{KeySelector: trustv1alpha1.KeySelector{Key: "t.p12"}, Password: &pw, Profile: trustv1alpha1.LegacyDESPKCS12Profile}}, pw},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Truststores(bundle, c.formats, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if c.formats.PKCS12 != nil {
				certs, err := pkcs12.DecodeTrustStore(out["t.p12"], c.p12pw)
				if err != nil || len(certs) != 2 || !certs[0].Equal(bundle.Certificates[0]) || !certs[1].Equal(bundle.Certificates[1]) {
					t.Errorf("PKCS#12: %d certificates, %v", len(certs), err)
				}
			}
			if j := c.formats.JKS; j != nil {
				ks := keystore.New()
				if err := ks.Load(bytes.NewReader(out["t.jks"]), []byte(jksPassword(j))); err != nil {
					t.Fatalf("JKS: %v", err)
				}
				aliases := ks.Aliases()
				if len(aliases) != 2 {
					t.Fatalf("JKS aliases %v", aliases)
				}
				// Aliases come in no particular order: each entry must be
				// one of the bundle's certificates, each certificate once.
				seen := map[int]bool{}
				for _, al := range aliases {
					e, err := ks.GetTrustedCertificateEntry(al)
					if err != nil {
						t.Errorf("JKS entry %s: %v", al, err)
						continue
					}
					found := -1
					for i, c := range bundle.Certificates {
						if bytes.Equal(e.Certificate.Content, c.Raw) {
							found = i
						}
					}
					if found < 0 || seen[found] {
						t.Errorf("JKS entry %s is not one of the bundle's certificates, or repeats one", al)
					}
					seen[found] = true
				}
			}
		})
	}
	if out, err := Truststores(bundle, nil, rand.Reader); err != nil || len(out) != 0 {
		t.Errorf("no formats: %v, %v", out, err)
	}
}

func TestSelectNamespaces(t *testing.T) {
	nss := []Namespace{
		{Name: "b", Labels: map[string]string{"trust": "yes"}},
		{Name: "a", Labels: map[string]string{"trust": "yes"}},
		{Name: "c"},
		{Name: "gone", Labels: map[string]string{"trust": "yes"}, Terminating: true},
	}
	cases := map[string]struct {
		sel  *metav1.LabelSelector
		want []string
	}{
		"nil selects all":          {nil, []string{"a", "b", "c"}},
		"empty selects all":        {&metav1.LabelSelector{}, []string{"a", "b", "c"}},
		"labels":                   {&metav1.LabelSelector{MatchLabels: map[string]string{"trust": "yes"}}, []string{"a", "b"}},
		"expression":               {&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "trust", Operator: metav1.LabelSelectorOpDoesNotExist}}}, []string{"c"}},
		"no namespace matches all": {&metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}}, nil},
	}
	for name, c := range cases {
		got, err := SelectNamespaces(c.sel, nss)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, c.want)
		}
	}
	if _, err := SelectNamespaces(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Near"}}}, nss); err == nil {
		t.Error("an invalid selector is accepted")
	}
}

// applied is the managed fields entry of a server-side apply by manager
// (or of an update, when op says so) that set keys and, with hash, the
// hash annotation.
func applied(manager string, op metav1.ManagedFieldsOperationType, hash bool, keys ...string) metav1.ManagedFieldsEntry {
	fields := `{"f:data":{`
	for i, k := range keys {
		if i > 0 {
			fields += ","
		}
		fields += fmt.Sprintf(`"f:%s":{}`, k)
	}
	fields += `}`
	if hash {
		fields += `,"f:metadata":{"f:annotations":{".":{},"f:trust.cert-manager.io/hash":{}},"f:labels":{"f:trust.cert-manager.io/bundle":{}}}`
	}
	fields += `}`
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}
}

const mgr = "trust-manager"

func TestCurrent(t *testing.T) {
	yes := true
	w := Want{Bundle: "b", UID: "u", Hash: "h", Keys: []string{"ca.crt", "t.jks"}}
	target := func(fields ...metav1.ManagedFieldsEntry) *Target {
		return &Target{Labels: map[string]string{trustv1alpha1.BundleLabelKey: "b"},
			Annotations:     map[string]string{trustv1alpha1.BundleHashAnnotationKey: "h"},
			OwnerReferences: []metav1.OwnerReference{{UID: "u", Controller: &yes}}, ManagedFields: fields}
	}
	apply := metav1.ManagedFieldsOperationApply
	update := metav1.ManagedFieldsOperationUpdate
	otherHash := target(applied(mgr, apply, true, "ca.crt", "t.jks"), applied("kubectl-annotate", update, true))
	otherHash.Annotations[trustv1alpha1.BundleHashAnnotationKey] = "h"
	wrongOwner := target(applied(mgr, apply, true, "ca.crt", "t.jks"))
	wrongOwner.OwnerReferences[0].UID = "old"
	cases := map[string]struct {
		t    *Target
		want bool
	}{
		"applied, untouched":                    {target(applied(mgr, apply, true, "ca.crt", "t.jks")), true},
		"another key beside ours":               {target(applied(mgr, apply, true, "ca.crt", "t.jks"), applied("kubectl-edit", update, false, "mine")), true},
		"a key edited by hand":                  {target(applied(mgr, apply, true, "t.jks"), applied("kubectl-patch", update, false, "ca.crt")), false},
		"a key removed by hand":                 {target(applied(mgr, apply, true, "ca.crt")), false},
		"written by an update, not an apply":    {target(applied(mgr, update, true, "ca.crt", "t.jks")), false},
		"no managed fields (cannot tell)":       {target(), false},
		"hash annotation set by someone else":   {otherHash, false},
		"another Bundle of that name (old uid)": {wrongOwner, false},
		"unreadable entry":                      {target(applied(mgr, apply, true, "ca.crt", "t.jks"), metav1.ManagedFieldsEntry{Manager: "x", FieldsV1: metav1.NewFieldsV1("{")}), true},
	}
	for name, c := range cases {
		if got := Current(w, c.t, mgr); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	stale := target(applied(mgr, apply, true, "ca.crt", "t.jks"))
	stale.Annotations[trustv1alpha1.BundleHashAnnotationKey] = "old"
	if Current(w, stale, mgr) {
		t.Error("another hash is current")
	}
	if OthersLeft(target(applied(mgr, apply, true, "ca.crt", "t.jks")), mgr) || !OthersLeft(target(applied(mgr, apply, true, "ca.crt"), applied("x", update, false, "mine")), mgr) {
		t.Error("OthersLeft")
	}
}

func TestDecide(t *testing.T) {
	yes := true
	w := Want{Bundle: "b", UID: "uid-1", Hash: "h2", Keys: []string{"ca.crt"}}
	target := func(hash, rv string) *Target {
		return &Target{Namespace: "ns", ResourceVersion: rv,
			Labels:          map[string]string{trustv1alpha1.BundleLabelKey: "b"},
			Annotations:     map[string]string{trustv1alpha1.BundleHashAnnotationKey: hash},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Bundle", Name: "b", UID: "uid-1", Controller: &yes}},
			ManagedFields:   []metav1.ManagedFieldsEntry{applied(mgr, metav1.ManagedFieldsOperationApply, true, "ca.crt")}}
	}
	cases := map[string]struct {
		cached *Target
		rec    Record
		want   Action
	}{
		"missing, never written":               {nil, Record{}, Write},
		"missing, written before (cache lags)": {nil, Record{Hash: "h2", ResourceVersion: "7"}, Verify},
		"missing, an old content written":      {nil, Record{Hash: "h1", ResourceVersion: "7"}, Write},
		"current, as written":                  {target("h2", "7"), Record{Hash: "h2", ResourceVersion: "7"}, Skip},
		"current, after a restart":             {target("h2", "7"), Record{}, Skip},
		"stale":                                {target("h1", "5"), Record{Hash: "h1", ResourceVersion: "5"}, Write},
		"stale in cache, new content written":  {target("h1", "5"), Record{Hash: "h2", ResourceVersion: "8"}, Verify},
		"stale, never written":                 {target("h1", "5"), Record{}, Write},
	}
	for name, c := range cases {
		if got := Decide(w, c.cached, c.rec, mgr); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}

func TestPlan(t *testing.T) {
	yes := true
	w := Want{Bundle: "b", UID: "uid-1", Hash: "h", Keys: []string{"ca.crt"}}
	mk := func(ns, hash string, controlled, deleting bool) Target {
		t := Target{Namespace: ns, ResourceVersion: "1",
			Labels:      map[string]string{trustv1alpha1.BundleLabelKey: "b"},
			Annotations: map[string]string{trustv1alpha1.BundleHashAnnotationKey: hash}, Deleting: deleting,
			ManagedFields: []metav1.ManagedFieldsEntry{applied(mgr, metav1.ManagedFieldsOperationApply, true, "ca.crt")}}
		if controlled {
			t.OwnerReferences = []metav1.OwnerReference{{UID: "uid-1", Controller: &yes}}
		}
		return t
	}
	cached := []Target{
		mk("current", "h", true, false),
		mk("stale", "old", true, false),
		mk("unselected", "h", true, false),
		mk("unselected-foreign", "h", false, false),
		mk("unselected-deleting", "h", true, true),
	}
	got := Plan(w, []string{"current", "new", "stale"}, cached, nil, mgr)
	var s []string
	for _, st := range got {
		s = append(s, fmt.Sprintf("%s:%s", st.Namespace, st.Action))
	}
	want := []string{"new:write", "stale:write", "unselected:remove"}
	if !slices.Equal(s, want) {
		t.Errorf("plan %v, want %v", s, want)
	}
}

// FuzzOwners: whatever the managed fields hold, reading them does not
// panic, and a key is never both ours and nobody's.
func FuzzOwners(f *testing.F) {
	f.Add([]byte(`{"f:data":{"f:ca.crt":{}},"f:metadata":{"f:annotations":{"f:trust.cert-manager.io/hash":{}}}}`), true)
	f.Add([]byte(`{"f:binaryData":{"f:x":{}}}`), false)
	f.Add([]byte(`[]`), true)
	f.Fuzz(func(t *testing.T, raw []byte, ours bool) {
		op := metav1.ManagedFieldsOperationUpdate
		if ours {
			op = metav1.ManagedFieldsOperationApply
		}
		o := Owners([]metav1.ManagedFieldsEntry{{Manager: mgr, Operation: op, FieldsV1: metav1.NewFieldsV1(string(raw))}}, mgr)
		if ours && (len(o.Others) > 0 || o.OthersHash) || !ours && len(o.Ours) > 0 {
			t.Fatalf("one entry counted for the wrong manager: %+v", o)
		}
	})
}
