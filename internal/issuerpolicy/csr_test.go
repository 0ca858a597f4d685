package issuerpolicy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/issuerpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

func TestParseSignerName(t *testing.T) {
	tests := []struct {
		signer  string
		want    issuerpolicy.SignerRef
		wantErr string
	}{
		{"issuers.cert-manager.io/sandbox.ca", issuerpolicy.SignerRef{Namespace: "sandbox", Name: "ca"}, ""},
		// Namespaces have no dots, so the name keeps the rest.
		{"issuers.cert-manager.io/sandbox.my.ca", issuerpolicy.SignerRef{Namespace: "sandbox", Name: "my.ca"}, ""},
		{"clusterissuers.cert-manager.io/root", issuerpolicy.SignerRef{Cluster: true, Name: "root"}, ""},
		{"clusterissuers.cert-manager.io/my.root", issuerpolicy.SignerRef{Cluster: true, Name: "my.root"}, ""},
		{"issuers.cert-manager.io/noDot", issuerpolicy.SignerRef{}, "the form is issuers.cert-manager.io/<namespace>.<name>"},
		{"issuers.cert-manager.io/.ca", issuerpolicy.SignerRef{}, "does not name an Issuer"},
		{"issuers.cert-manager.io/sandbox.", issuerpolicy.SignerRef{}, "does not name an Issuer"},
		{"issuers.cert-manager.io/", issuerpolicy.SignerRef{}, "does not name an Issuer"},
		{"issuers.cert-manager.io/sandbox.a/b", issuerpolicy.SignerRef{}, "does not name an Issuer"},
		{"clusterissuers.cert-manager.io/", issuerpolicy.SignerRef{}, "the form is clusterissuers.cert-manager.io/<name>"},
		{"clusterissuers.cert-manager.io/a/b", issuerpolicy.SignerRef{}, "does not name a ClusterIssuer"},
		{"kubernetes.io/kube-apiserver-client", issuerpolicy.SignerRef{}, "not a cert-manager.io issuer signer name"},
		{"example.com/issuers.cert-manager.io/sandbox.ca", issuerpolicy.SignerRef{}, "not a cert-manager.io issuer signer name"},
	}
	for _, tt := range tests {
		t.Run(tt.signer, func(t *testing.T) {
			notOurs := strings.Contains(tt.wantErr, "not a cert-manager.io issuer signer name")
			if got := issuerpolicy.IsIssuerSigner(tt.signer); got == notOurs {
				t.Errorf("IsIssuerSigner = %v", got)
			}
			got, err := issuerpolicy.ParseSignerName(tt.signer)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if errors.Is(err, issuerpolicy.ErrNotIssuerSigner) != notOurs {
					t.Errorf("errors.Is(err, ErrNotIssuerSigner) = %v", !notOurs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if back := got.SignerName(); back != tt.signer {
				t.Errorf("SignerName() = %q, want it back as %q", back, tt.signer)
			}
		})
	}
}

func TestSignerRef(t *testing.T) {
	ns := issuerpolicy.SignerRef{Namespace: "sandbox", Name: "ca"}
	cl := issuerpolicy.SignerRef{Cluster: true, Name: "root"}
	for _, tt := range []struct {
		ref      issuerpolicy.SignerRef
		issuer   cmv1.ObjectReference
		str      string
		refNames []string
	}{
		{ns, cmv1.ObjectReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, `Issuer "sandbox/ca"`, []string{"ca", "*"}},
		{cl, cmv1.ObjectReference{Name: "root", Kind: "ClusterIssuer", Group: "cert-manager.io"}, `ClusterIssuer "root"`, []string{"root", "*"}},
	} {
		if got := tt.ref.IssuerRef(); got != tt.issuer {
			t.Errorf("%v IssuerRef() = %+v, want %+v", tt.ref, got, tt.issuer)
		}
		if got := tt.ref.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.ref.ReferenceNames(); !slices.Equal(got, tt.refNames) {
			t.Errorf("%v ReferenceNames() = %q, want %q", tt.ref, got, tt.refNames)
		}
	}
}

func TestRequestDuration(t *testing.T) {
	secs := func(s int32) *int32 { return &s }
	ann := func(v string) map[string]string { return map[string]string{issuerpolicy.AnnotationRequestDuration: v} }
	tests := []struct {
		name        string
		expiration  *int32
		annotations map[string]string
		want        time.Duration
		wantErr     string
	}{
		{"default 90 days", nil, nil, 2160 * time.Hour, ""},
		{"expirationSeconds", secs(3600), nil, time.Hour, ""},
		{"expirationSeconds wins over the annotation", secs(7200), ann("24h"), 2 * time.Hour, ""},
		{"annotation", nil, ann("24h"), 24 * time.Hour, ""},
		{"annotation at the minimum", nil, ann("10m"), 10 * time.Minute, ""},
		{"annotation below the minimum", nil, ann("599s"), 0, "shorter than the minimum of 10m0s"},
		{"annotation not a duration", nil, ann("90d"), 0, `"90d" is not a duration`},
		{"annotation empty", nil, ann(""), 0, "is not a duration"},
		{"expirationSeconds below the minimum", secs(60), nil, 0, "shorter than the minimum"},
		{"other annotations ignored", nil, map[string]string{"a": "1m"}, 2160 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := issuerpolicy.RequestDuration(tt.expiration, tt.annotations)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestRequestIsCA(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "false": false, "True": false, "": false} {
		if got := issuerpolicy.RequestIsCA(map[string]string{issuerpolicy.AnnotationRequestIsCA: v}); got != want {
			t.Errorf("request-is-ca %q: %v, want %v", v, got, want)
		}
	}
	if issuerpolicy.RequestIsCA(nil) {
		t.Error("no annotations asks for a CA")
	}
}

func TestRequestUsagesAreKnownToPKI(t *testing.T) {
	all := []certv1.KeyUsage{
		certv1.UsageSigning, certv1.UsageDigitalSignature, certv1.UsageContentCommitment, certv1.UsageKeyEncipherment,
		certv1.UsageKeyAgreement, certv1.UsageDataEncipherment, certv1.UsageCertSign, certv1.UsageCRLSign,
		certv1.UsageEncipherOnly, certv1.UsageDecipherOnly, certv1.UsageAny, certv1.UsageServerAuth, certv1.UsageClientAuth,
		certv1.UsageCodeSigning, certv1.UsageEmailProtection, certv1.UsageSMIME, certv1.UsageIPsecEndSystem,
		certv1.UsageIPsecTunnel, certv1.UsageIPsecUser, certv1.UsageTimestamping, certv1.UsageOCSPSigning,
		certv1.UsageMicrosoftSGC, certv1.UsageNetscapeSGC,
	}
	got := issuerpolicy.RequestUsages(all)
	if !slices.Equal(got, pki.Usages()) {
		t.Errorf("RequestUsages = %q, want pki.Usages() %q", got, pki.Usages())
	}
	if _, _, err := pki.ParseUsages(got); err != nil {
		t.Error(err)
	}
}
