package crpolicy_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/crpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

func cond(typ string, status cmv1.ConditionStatus, reason string) cmv1.CertificateRequestCondition {
	return cmv1.CertificateRequestCondition{Type: typ, Status: status, Reason: reason}
}

func withConditions(cs ...cmv1.CertificateRequestCondition) *cmv1.CertificateRequest {
	return &cmv1.CertificateRequest{Status: cmv1.CertificateRequestStatus{Conditions: cs}}
}

func TestState(t *testing.T) {
	approved := cond("Approved", cmv1.ConditionTrue, "cert-manager.io")
	tests := []struct {
		name                      string
		cr                        *cmv1.CertificateRequest
		want                      crpolicy.State
		needsApproval, sign, done bool
	}{
		{"new", withConditions(), crpolicy.State{}, true, false, false},
		{"only ready pending", withConditions(cond("Ready", cmv1.ConditionFalse, "Pending")), crpolicy.State{}, true, false, false},
		{"approved", withConditions(approved), crpolicy.State{Approved: true}, false, true, false},
		{"approved and pending", withConditions(approved, cond("Ready", cmv1.ConditionFalse, "Pending")), crpolicy.State{Approved: true}, false, true, false},
		{"approved and issued", withConditions(approved, cond("Ready", cmv1.ConditionTrue, "Issued")), crpolicy.State{Approved: true, Ready: true}, false, false, true},
		{"approved and failed", withConditions(approved, cond("Ready", cmv1.ConditionFalse, "Failed")), crpolicy.State{Approved: true, Failed: true}, false, false, true},
		{"denied", withConditions(cond("Denied", cmv1.ConditionTrue, "policy")), crpolicy.State{Denied: true}, false, false, false},
		{"denied and final", withConditions(cond("Denied", cmv1.ConditionTrue, "policy"), cond("Ready", cmv1.ConditionFalse, "Denied")), crpolicy.State{Denied: true, Failed: true}, false, false, true},
		// An approval condition of another status is not approval, but the
		// built-in approver leaves it alone all the same.
		{"approved false", withConditions(cond("Approved", cmv1.ConditionFalse, "x")), crpolicy.State{}, false, false, false},
		{"denied unknown", withConditions(cond("Denied", cmv1.ConditionUnknown, "x")), crpolicy.State{}, false, false, false},
		{"both", withConditions(approved, cond("Denied", cmv1.ConditionTrue, "x")), crpolicy.State{Approved: true, Denied: true}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := crpolicy.StateOf(tt.cr)
			if got != tt.want {
				t.Errorf("StateOf = %+v, want %+v", got, tt.want)
			}
			if n := crpolicy.NeedsApproval(tt.cr); n != tt.needsApproval {
				t.Errorf("NeedsApproval = %v, want %v", n, tt.needsApproval)
			}
			if s := got.ReadyToSign(); s != tt.sign {
				t.Errorf("ReadyToSign = %v, want %v", s, tt.sign)
			}
			if f := got.Final(); f != tt.done {
				t.Errorf("Final = %v, want %v", f, tt.done)
			}
		})
	}
}

func TestSignerName(t *testing.T) {
	tests := []struct {
		ref            cmv1.ObjectReference
		builtIn        bool
		name, wildcard string
	}{
		{cmv1.ObjectReference{Name: "ca"}, true, "issuers.cert-manager.io/sandbox.ca", "issuers.cert-manager.io/*"},
		{cmv1.ObjectReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, true, "issuers.cert-manager.io/sandbox.ca", "issuers.cert-manager.io/*"},
		{cmv1.ObjectReference{Name: "root", Kind: "ClusterIssuer"}, true, "clusterissuers.cert-manager.io/root", "clusterissuers.cert-manager.io/*"},
		{cmv1.ObjectReference{Name: "root", Kind: "ClusterIssuer", Group: "cert-manager.io"}, true, "clusterissuers.cert-manager.io/root", "clusterissuers.cert-manager.io/*"},
		{cmv1.ObjectReference{Name: "step", Kind: "StepIssuer", Group: "certmanager.step.sm"}, false, "stepissuers.certmanager.step.sm/sandbox.step", "stepissuers.certmanager.step.sm/*"},
		{cmv1.ObjectReference{Name: "step", Kind: "StepClusterIssuer", Group: "certmanager.step.sm"}, false, "stepclusterissuers.certmanager.step.sm/step", "stepclusterissuers.certmanager.step.sm/*"},
		{cmv1.ObjectReference{Name: "x", Kind: "Policy", Group: "example.com"}, false, "policies.example.com/sandbox.x", "policies.example.com/*"},
		{cmv1.ObjectReference{Name: "x", Kind: "Address", Group: "example.com"}, false, "addresses.example.com/sandbox.x", "addresses.example.com/*"},
		// The default kind in another group is still called Issuer.
		{cmv1.ObjectReference{Name: "x", Group: "example.com"}, false, "issuers.example.com/sandbox.x", "issuers.example.com/*"},
		// A kind cert-manager.io does not have is not built in.
		{cmv1.ObjectReference{Name: "x", Kind: "Foo"}, false, "foos.cert-manager.io/sandbox.x", "foos.cert-manager.io/*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crpolicy.BuiltIn(tt.ref); got != tt.builtIn {
				t.Errorf("BuiltIn = %v, want %v", got, tt.builtIn)
			}
			if got := crpolicy.SignerName("sandbox", tt.ref); got != tt.name {
				t.Errorf("SignerName = %q, want %q", got, tt.name)
			}
			if got := crpolicy.SignerWildcard(tt.ref); got != tt.wildcard {
				t.Errorf("SignerWildcard = %q, want %q", got, tt.wildcard)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	csr := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "app"}, DNSNames: []string{"app.sandbox.svc"}}
	tests := []struct {
		name     string
		spec     cmv1.CertificateRequestSpec
		usages   []pki.Usage
		duration time.Duration
		isCA     bool
	}{
		{"defaults", cmv1.CertificateRequestSpec{}, []pki.Usage{"digital signature", "key encipherment"}, 2160 * time.Hour, false},
		{"given usages", cmv1.CertificateRequestSpec{Usages: []cmv1.KeyUsage{"server auth", "client auth"}}, []pki.Usage{"server auth", "client auth"}, 2160 * time.Hour, false},
		{"duration", cmv1.CertificateRequestSpec{Duration: &metav1.Duration{Duration: time.Hour}}, []pki.Usage{"digital signature", "key encipherment"}, time.Hour, false},
		{"zero duration", cmv1.CertificateRequestSpec{Duration: &metav1.Duration{}}, []pki.Usage{"digital signature", "key encipherment"}, 2160 * time.Hour, false},
		{"CA adds cert sign", cmv1.CertificateRequestSpec{IsCA: true}, []pki.Usage{"digital signature", "key encipherment", "cert sign"}, 2160 * time.Hour, true},
		{"CA with cert sign", cmv1.CertificateRequestSpec{IsCA: true, Usages: []cmv1.KeyUsage{"cert sign"}}, []pki.Usage{"cert sign"}, 2160 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := crpolicy.Template(csr, &tt.spec)
			if !slices.Equal(got.Usages, tt.usages) {
				t.Errorf("usages %q, want %q", got.Usages, tt.usages)
			}
			if got.Duration != tt.duration || got.IsCA != tt.isCA {
				t.Errorf("duration %s isCA %v, want %s %v", got.Duration, got.IsCA, tt.duration, tt.isCA)
			}
			if got.Subject.CommonName != "app" || !slices.Equal(got.DNSNames, csr.DNSNames) {
				t.Errorf("subject %s SANs %v, not the CSR's", got.Subject, got.DNSNames)
			}
		})
	}
}

func TestPendingMessage(t *testing.T) {
	tests := []struct {
		notFound bool
		message  string
		want     string
	}{
		{true, `Issuer "missing" not found`, `Referenced Issuer "missing" not found`},
		{false, "", "Referenced issuer does not have a Ready status condition"},
		{false, `Error getting keypair for CA issuer: secret "root" not found`, `Referenced issuer does not have a Ready status condition: Error getting keypair for CA issuer: secret "root" not found`},
	}
	for _, tt := range tests {
		if got := crpolicy.PendingMessage(tt.notFound, tt.message); got != tt.want {
			t.Errorf("PendingMessage(%v, %q) = %q, want %q", tt.notFound, tt.message, got, tt.want)
		}
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		name                string
		got                 cmv1.CertificateRequestCondition
		typ                 string
		status              cmv1.ConditionStatus
		reason, wantMessage string
	}{
		{"approved", crpolicy.ApprovedCondition(), "Approved", cmv1.ConditionTrue, "cert-manager.io", "Certificate request has been approved by cert-manager.io"},
		{"issued", crpolicy.Issued(), "Ready", cmv1.ConditionTrue, "Issued", "Certificate fetched from issuer successfully"},
		{"denied", crpolicy.Denied(), "Ready", cmv1.ConditionFalse, "Denied", "The CertificateRequest was denied by an approval controller"},
		{"pending", crpolicy.Pending("wait"), "Ready", cmv1.ConditionFalse, "Pending", "wait"},
		{"failed", crpolicy.Failed("bad"), "Ready", cmv1.ConditionFalse, "Failed", "bad"},
		{"invalid", crpolicy.InvalidRequest("bad"), "InvalidRequest", cmv1.ConditionTrue, "Failed", "bad"},
	}
	for _, tt := range tests {
		c := tt.got
		if c.Type != tt.typ || c.Status != tt.status || c.Reason != tt.reason || c.Message != tt.wantMessage {
			t.Errorf("%s: %+v, want %s=%s %s %q", tt.name, c, tt.typ, tt.status, tt.reason, tt.wantMessage)
		}
	}
}

func TestSetCondition(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	st := &cmv1.CertificateRequestStatus{}
	crpolicy.SetCondition(st, crpolicy.ApprovedCondition(), t0)
	crpolicy.SetCondition(st, crpolicy.Pending("wait"), t0)
	crpolicy.SetCondition(st, crpolicy.Pending("still waiting"), t0.Add(time.Minute))
	if len(st.Conditions) != 2 {
		t.Fatalf("conditions %+v, want Approved and Ready", st.Conditions)
	}
	ready := crpolicy.FindCondition(st.Conditions, "Ready")
	if ready.Message != "still waiting" || !ready.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("same status: %+v, want the new message and the first transition time", ready)
	}
	crpolicy.SetCondition(st, crpolicy.Issued(), t0.Add(2*time.Minute))
	ready = crpolicy.FindCondition(st.Conditions, "Ready")
	if ready.Status != cmv1.ConditionTrue || !ready.LastTransitionTime.Time.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("new status: %+v, want True at the new time", ready)
	}
	if a := crpolicy.FindCondition(st.Conditions, "Approved"); a == nil || !a.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("Approved changed: %+v", a)
	}
}
