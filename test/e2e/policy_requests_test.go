package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPolicyThroughRequests: with the built-in approver off, Certificates
// go through CertificateRequests that certplane creates, and the policies
// decide them for the user who asked for the Certificate (recorded by the
// apiserver), not for certplane.
func TestPolicyThroughRequests(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t), "--disable-certificaterequest-approver")
	admin := filepath.Join(data, "admin.conf")
	mustApply(t, admin, policyCluster)
	mustApply(t, admin, teamLeaves)
	waitPolicyReady(t, admin, "team-leaves")
	// No policy selects the team's CA: without the built-in approver its
	// request waits for a person, as with cert-manager.
	waitFor(t, 60*time.Second, "team-ca's CertificateRequest", func() bool {
		return kubectl(t, admin, "get", "certificaterequest", "team-ca-1", "-n", "team").code == 0
	})
	must(t, t.TempDir(), "", "approve", "--kubeconfig", admin, "-n", "team", "team-ca-1")
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team", "issuer/ca")

	createAs(t, admin, policyCertificate("team", "web", "{name: ca}", "  dnsNames: [web.team.svc]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
	createAs(t, admin, policyCertificate("team", "google", "{name: ca}", "  dnsNames: [www.google.com]\n  privateKey: {algorithm: ECDSA}\n"), asAlice...)
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team", "certificate/web")
	if got := teamCRCondition(t, admin, "web-1", "Approved"); got != `True policy.cert-manager.io: Approved by CertificateRequestPolicy: "team-leaves"` {
		t.Errorf("web-1 Approved = %q (decided for alice, who may use team-leaves)", got)
	}
	var got string
	waitFor(t, 60*time.Second, "google-1 to be denied", func() bool {
		got = teamCRCondition(t, admin, "google-1", "Denied")
		return strings.HasPrefix(got, "True")
	})
	// Denied for what alice asked, not "not bound" as certplane's own
	// identity would be.
	if !strings.Contains(got, `team-leaves: spec.allowed.dnsNames.values: Invalid value: ["www.google.com"]`) {
		t.Errorf("google-1 Denied = %q", got)
	}
	if user := mustKubectl(t, admin, "get", "certificaterequest", "google-1", "-n", "team", "-o", "jsonpath={.spec.username}"); user != "certplane:controller" {
		t.Errorf("google-1 was requested by %q, want certplane's own identity", user)
	}
}
