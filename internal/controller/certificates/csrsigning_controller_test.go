package certificates_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/certplane/certplane/internal/controller/certificates"
	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

type staticCA struct{ ca *pki.CA }

func (s staticCA) CA() (*pki.CA, error) { return s.ca, nil }

// recordedEvents keeps what the reconciler records, as "type reason note".
type recordedEvents struct {
	mu     sync.Mutex
	events []string
}

func (r *recordedEvents) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason+" "+fmt.Sprintf(note, args...))
}

func approvedCSR(t *testing.T, name string, req pki.Request) *certv1.CertificateSigningRequest {
	t.Helper()
	data, err := pki.CreateCSR(rand.Reader, &req, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certv1.CertificateSigningRequestSpec{
			Request: data, SignerName: csrpolicy.KubeAPIServerClient,
			Usages: []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth},
		},
		Status: certv1.CertificateSigningRequestStatus{Conditions: []certv1.CertificateSigningRequestCondition{{
			Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test",
		}}},
	}
}

// TestCSRSigning: an approved kube-apiserver-client request is signed with
// one status write and no Event; one naming system:masters is marked
// Failed (SignerValidationFailure, the rule in the message) with a Warning
// Event and no certificate, even though no admission plugin stopped it.
func TestCSRSigning(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		req        pki.Request
		wantIssued bool
		wantFailed string // "reason: message" substring of the Failed condition
		wantEvents []string
	}{
		{name: "jane", req: pki.Request{CommonName: "jane", Organization: []string{"dev"}}, wantIssued: true},
		{
			name: "mallory", req: pki.Request{CommonName: "mallory", Organization: []string{"dev", "system:masters"}},
			wantFailed: `SignerValidationFailure: kubernetes.io/kube-apiserver-client: subject organization "system:masters" is not allowed`,
			wantEvents: []string{`Warning SignerValidationFailure kubernetes.io/kube-apiserver-client: subject organization "system:masters" is not allowed`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := approvedCSR(t, tt.name, tt.req)
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(csr).WithStatusSubresource(csr).Build()
			events := &recordedEvents{}
			r := &certificates.CSRSigningReconciler{
				Reader: c, Status: c.Status(), Events: events,
				CAs: map[string]certificates.CASource{csrpolicy.KubeAPIServerClient: staticCA{pkitest.CA(t, "cluster CA")}},
			}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: tt.name}}); err != nil {
				t.Fatal(err)
			}
			got := &certv1.CertificateSigningRequest{}
			if err := c.Get(context.Background(), types.NamespacedName{Name: tt.name}, got); err != nil {
				t.Fatal(err)
			}
			if issued := len(got.Status.Certificate) > 0; issued != tt.wantIssued {
				t.Errorf("issued = %v, want %v", issued, tt.wantIssued)
			}
			if tt.wantIssued {
				certs, err := pki.ParseCertificatesPEM(got.Status.Certificate)
				if err != nil || certs[0].Subject.CommonName != tt.name {
					t.Errorf("certificate: %v %v", certs, err)
				}
			}
			var failed string
			for _, cond := range got.Status.Conditions {
				if cond.Type == certv1.CertificateFailed && cond.Status == corev1.ConditionTrue {
					failed = cond.Reason + ": " + cond.Message
				}
			}
			if (tt.wantFailed == "") != (failed == "") || !strings.Contains(failed, tt.wantFailed) {
				t.Errorf("Failed condition %q, want %q", failed, tt.wantFailed)
			}
			if len(events.events) != len(tt.wantEvents) {
				t.Fatalf("events %q, want %q", events.events, tt.wantEvents)
			}
			for i, want := range tt.wantEvents {
				if !strings.HasPrefix(events.events[i], want) {
					t.Errorf("event %q, want %q", events.events[i], want)
				}
			}
		})
	}
}
