package certmanager

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
)

func TestIssuanceStart(t *testing.T) {
	created := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	issuing := created.Add(time.Hour)
	renewal := created.Add(2 * time.Hour)
	now := created.Add(3 * time.Hour)
	revision := 1
	at := func(t time.Time) *metav1.Time { v := metav1.NewTime(t); return &v }
	tests := []struct {
		name   string
		status cmv1.CertificateStatus
		want   time.Time
	}{
		{"a first issuance: from creation", cmv1.CertificateStatus{}, created},
		{"Issuing=True: from its transition", cmv1.CertificateStatus{Revision: &revision, Conditions: []cmv1.CertificateCondition{
			{Type: "Issuing", Status: cmv1.ConditionTrue, LastTransitionTime: at(issuing)}}}, issuing},
		{"Issuing=False is no trigger", cmv1.CertificateStatus{Revision: &revision, Conditions: []cmv1.CertificateCondition{
			{Type: "Issuing", Status: cmv1.ConditionFalse, LastTransitionTime: at(issuing)}}}, time.Time{}},
		{"a renewal: from the renewal time", cmv1.CertificateStatus{Revision: &revision, RenewalTime: at(renewal)}, renewal},
		{"renewal not due: not known", cmv1.CertificateStatus{Revision: &revision, RenewalTime: at(now.Add(time.Hour))}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crt := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}, Status: tt.status}
			if got := issuanceStart(crt, now); !got.Equal(tt.want) {
				t.Errorf("issuanceStart = %v, want %v", got, tt.want)
			}
		})
	}
}
