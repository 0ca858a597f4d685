package certmanager

import (
	"testing"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certcache"
)

func TestWaitsOn(t *testing.T) {
	issuer := cmv1.ObjectReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}
	cluster := cmv1.ObjectReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	ready := certcache.Summary{IssuerRef: issuer, NotAfter: 9000, Ready: cmv1.ConditionTrue}
	with := func(s certcache.Summary, f func(*certcache.Summary)) certcache.Summary { f(&s); return s }
	for _, tt := range []struct {
		name                        string
		sum                         certcache.Summary
		namespace, kind, issuerName string
		want                        bool
	}{
		{"never issued", with(ready, func(s *certcache.Summary) { s.NotAfter, s.Ready = 0, "" }), "a", "Issuer", "ca", true},
		{"ready: settled", ready, "a", "Issuer", "ca", false},
		{"not ready", with(ready, func(s *certcache.Summary) { s.Ready = cmv1.ConditionFalse }), "a", "Issuer", "ca", true},
		{"issuing", with(ready, func(s *certcache.Summary) { s.IssuingStatus = cmv1.ConditionFalse }), "a", "Issuer", "ca", true},
		{"kind left out: an Issuer", with(ready, func(s *certcache.Summary) { s.IssuerRef.Kind, s.Ready = "", "" }), "a", "Issuer", "ca", true},
		{"an Issuer of another namespace", with(ready, func(s *certcache.Summary) { s.Ready = "" }), "b", "Issuer", "ca", false},
		{"another Issuer", with(ready, func(s *certcache.Summary) { s.Ready = "" }), "a", "Issuer", "other", false},
		{"a ClusterIssuer, any namespace", with(ready, func(s *certcache.Summary) { s.IssuerRef, s.Ready = cluster, "" }), "", "ClusterIssuer", "ca", true},
		{"the ClusterIssuer of the same name is not the Issuer", with(ready, func(s *certcache.Summary) { s.IssuerRef, s.Ready = cluster, "" }), "a", "Issuer", "ca", false},
	} {
		if got := waitsOn(tt.sum, "a", tt.kind, tt.namespace, tt.issuerName); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
