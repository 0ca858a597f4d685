package cli

import (
	"strings"
	"testing"
	"time"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

// TestWriteOrder: the text of status certificate for an ACME Certificate
// has cmctl's Order and Challenges sections after the CertificateRequest.
func TestWriteOrder(t *testing.T) {
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	st := &certificateStatus{
		Name: "web", Namespace: "acme", CreatedAt: now, Conditions: []cmv1.CertificateCondition{},
		CertificateRequest: &requestStatus{Name: "web-1", Namespace: "acme"},
		Order: &orderStatus{Name: "web-1-42", State: "pending", URL: "https://acme.test/order/1",
			Authorizations: []authorizationStatus{{Identifier: "app.example.test", InitialState: "pending"}}},
		Challenges: []challengeStatus{{Name: "web-1-42-7", Type: "HTTP-01", DNSName: "app.example.test", State: "pending",
			Reason: "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'", Processing: true, Presented: true}},
	}
	var b strings.Builder
	if err := st.writeText(&b, now); err != nil {
		t.Fatal(err)
	}
	want := "CertificateRequest:\n  Name: web-1\n"
	got := b.String()
	i := strings.Index(got, want)
	if i < 0 {
		t.Fatalf("no CertificateRequest section:\n%s", got)
	}
	for _, line := range []string{
		"Order:\n  Name: web-1-42\n  State: pending, Reason: \n  URL: https://acme.test/order/1\n  Authorizations:\n" +
			"    Identifier: app.example.test, Initial State: pending, Wildcard: false\n",
		"Challenges:\n- Name: web-1-42-7, Type: HTTP-01, DNS Name: app.example.test, State: pending, " +
			"Reason: Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200', Processing: true, Presented: true\n",
	} {
		if j := strings.Index(got, line); j < i {
			t.Errorf("status lacks, after the CertificateRequest,\n%s\ngot:\n%s", line, got)
		}
	}

	st.Order, st.Challenges, st.OrderError = nil, nil, "No Order found for this Certificate"
	b.Reset()
	if err := st.writeText(&b, now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "No Order found for this Certificate\n") || strings.Contains(b.String(), "Challenges") {
		t.Errorf("without an Order:\n%s", b.String())
	}
}
