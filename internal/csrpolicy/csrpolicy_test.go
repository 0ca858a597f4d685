package csrpolicy_test

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certplane/certplane/internal/csrpolicy"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

func request(t *testing.T, req pki.Request) *x509.CertificateRequest {
	t.Helper()
	data, err := pki.CreateCSR(rand.Reader, &req, pkitest.Key(t))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSRPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

var (
	ds  = certv1.UsageDigitalSignature
	ke  = certv1.UsageKeyEncipherment
	ca  = certv1.UsageClientAuth
	sa  = certv1.UsageServerAuth
	cs  = certv1.UsageCodeSigning
	u   = func(us ...certv1.KeyUsage) []certv1.KeyUsage { return us }
	ips = []net.IP{net.ParseIP("192.0.2.24")}
)

func TestValidate(t *testing.T) {
	node := pki.Request{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}
	serving := node
	serving.DNSNames, serving.IPAddresses = []string{"n1.example"}, ips
	withURI := serving
	withURI.URIs = []*url.URL{{Scheme: "spiffe", Host: "x", Path: "/y"}}
	withEmail := serving
	withEmail.EmailAddresses = []string{"a@b.c"}
	wrongOrg := serving
	wrongOrg.Organization = []string{"system:nodes", "extra"}
	wrongCN := serving
	wrongCN.CommonName = "n1"
	clientWithSAN := node
	clientWithSAN.DNSNames = []string{"n1"}

	tests := []struct {
		name     string
		signer   string
		req      pki.Request
		usages   []certv1.KeyUsage
		wantRule string // "" means valid
	}{
		{"client ok", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "jane"}, u(ds, ke, ca), ""},
		{"client only client auth", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "jane"}, u(ca), ""},
		{"client server auth", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "jane"}, u(ds, ca, sa), `usage "server auth" is not allowed`},
		{"client without client auth", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "jane"}, u(ds, ke), "must include client auth"},
		{"client system:masters", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "mallory", Organization: []string{"system:masters"}}, u(ds, ca), `subject organization "system:masters" is not allowed`},
		{"client system:masters among others", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "mallory", Organization: []string{"dev", "system:masters"}}, u(ca), `subject organization "system:masters" is not allowed`},
		{"client other groups", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "jane", Organization: []string{"dev", "system:master", "System:Masters"}}, u(ca), ""},
		{"unknown usage", csrpolicy.KubeAPIServerClient, pki.Request{CommonName: "jane"}, u(ds, "serverauth"), `usage "serverauth" is not a known key usage`},
		{"kubelet client ok", csrpolicy.KubeAPIServerClientKubelet, node, u(ds, ke, ca), ""},
		{"kubelet client short set", csrpolicy.KubeAPIServerClientKubelet, node, u(ca, ds), ""},
		{"kubelet client SAN", csrpolicy.KubeAPIServerClientKubelet, clientWithSAN, u(ds, ca), "subject alternative names are not allowed"},
		{"kubelet client extra usage", csrpolicy.KubeAPIServerClientKubelet, node, u(ds, ca, cs), "usages must be exactly"},
		{"serving ok", csrpolicy.KubeletServing, serving, u(ds, ke, sa), ""},
		{"serving short set", csrpolicy.KubeletServing, serving, u(ds, sa), ""},
		{"serving no SAN", csrpolicy.KubeletServing, node, u(ds, sa), "at least one DNS or IP"},
		{"serving URI", csrpolicy.KubeletServing, withURI, u(ds, ke, sa), "URI subject alternative names are not allowed"},
		{"serving email", csrpolicy.KubeletServing, withEmail, u(ds, ke, sa), "email subject alternative names are not allowed"},
		{"serving wrong O", csrpolicy.KubeletServing, wrongOrg, u(ds, ke, sa), `organization must be exactly ["system:nodes"]`},
		{"serving wrong CN", csrpolicy.KubeletServing, wrongCN, u(ds, ke, sa), `must begin with "system:node:"`},
		{"serving client auth", csrpolicy.KubeletServing, serving, u(ds, ca), "usages must be exactly"},
		{"legacy anything", csrpolicy.LegacyUnknown, pki.Request{CommonName: "x"}, u(cs, sa), ""},
		{"unknown signer", "example.com/signer", pki.Request{CommonName: "x"}, u(ca), "not a signer certplane serves"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := csrpolicy.Validate(tt.signer, request(t, tt.req), tt.usages)
			if tt.wantRule == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var re *csrpolicy.RuleError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantRule) || re.Signer != tt.signer {
				t.Fatalf("error = %v, want a rule error naming %q", err, tt.wantRule)
			}
		})
	}
}

func TestParseRequestGarbage(t *testing.T) {
	_, err := csrpolicy.ParseRequest(csrpolicy.KubeAPIServerClient, []byte("garbage"))
	var re *csrpolicy.RuleError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "not a valid PEM certificate request") {
		t.Errorf("error = %v", err)
	}
}

func TestState(t *testing.T) {
	cond := func(ty certv1.RequestConditionType) certv1.CertificateSigningRequestCondition {
		return certv1.CertificateSigningRequestCondition{Type: ty, Status: corev1.ConditionTrue}
	}
	tests := []struct {
		name  string
		conds []certv1.CertificateSigningRequestCondition
		cert  []byte
		ready bool
	}{
		{"pending", nil, nil, false},
		{"approved", []certv1.CertificateSigningRequestCondition{cond(certv1.CertificateApproved)}, nil, true},
		{"denied", []certv1.CertificateSigningRequestCondition{cond(certv1.CertificateDenied)}, nil, false},
		{"approved and denied", []certv1.CertificateSigningRequestCondition{cond(certv1.CertificateApproved), cond(certv1.CertificateDenied)}, nil, false},
		{"failed", []certv1.CertificateSigningRequestCondition{cond(certv1.CertificateApproved), cond(certv1.CertificateFailed)}, nil, false},
		{"issued", []certv1.CertificateSigningRequestCondition{cond(certv1.CertificateApproved)}, []byte("x"), false},
		{"approved false", []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateApproved, Status: corev1.ConditionFalse}}, nil, false},
	}
	for _, tt := range tests {
		csr := &certv1.CertificateSigningRequest{Status: certv1.CertificateSigningRequestStatus{Conditions: tt.conds, Certificate: tt.cert}}
		if got := csrpolicy.ReadyToSign(csrpolicy.StateOf(csr)); got != tt.ready {
			t.Errorf("%s: ReadyToSign = %v, want %v", tt.name, got, tt.ready)
		}
	}
}

func TestDurationAndTemplate(t *testing.T) {
	max := 8760 * time.Hour
	secs := func(s int32) *int32 { return &s }
	tests := []struct {
		in   *int32
		want time.Duration
	}{
		{nil, max},
		{secs(3600), time.Hour},
		{secs(60), 10 * time.Minute},
		{secs(600), 10 * time.Minute},
		{secs(1 << 30), max},
	}
	for _, tt := range tests {
		if got := csrpolicy.Duration(tt.in, max); got != tt.want {
			t.Errorf("Duration(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	csr := request(t, pki.Request{CommonName: "jane", Organization: []string{"dev"}})
	short := csrpolicy.Template(csr, u(ds, ca), time.Hour)
	long := csrpolicy.Template(csr, u(ds, ca), 24*time.Hour)
	if short.Duration != time.Hour || long.Duration != 24*time.Hour-5*time.Minute || short.Backdate != 5*time.Minute {
		t.Errorf("short %s long %s backdate %s", short.Duration, long.Duration, short.Backdate)
	}
	if short.Subject.CommonName != "jane" || short.Subject.Organization[0] != "dev" || len(short.Usages) != 2 {
		t.Errorf("template %+v", short)
	}
}

func TestKubeletClientKind(t *testing.T) {
	parsed := request(t, pki.Request{CommonName: "system:node:n1", Organization: []string{"system:nodes"}})
	csr := &certv1.CertificateSigningRequest{Spec: certv1.CertificateSigningRequestSpec{
		SignerName: csrpolicy.KubeAPIServerClientKubelet, Usages: u(ds, ke, ca), Username: "system:node:n1",
	}}
	if k := csrpolicy.KubeletClientKind(csr, parsed); k != "selfnodeclient" {
		t.Errorf("own CSR: %q", k)
	}
	csr.Spec.Username = "system:bootstrap:abcdef"
	if k := csrpolicy.KubeletClientKind(csr, parsed); k != "nodeclient" {
		t.Errorf("bootstrap CSR: %q", k)
	}
	csr.Spec.SignerName = csrpolicy.KubeAPIServerClient
	if k := csrpolicy.KubeletClientKind(csr, parsed); k != "" {
		t.Errorf("other signer: %q", k)
	}
}

func TestServingApproval(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "n1.example"}, {Type: corev1.NodeInternalIP, Address: "192.0.2.24"},
	}}}
	base := pki.Request{CommonName: "system:node:n1", Organization: []string{"system:nodes"}, DNSNames: []string{"n1.example"}, IPAddresses: ips}
	foreign := base
	foreign.DNSNames = []string{"n1.example", "evil.example"}
	apiserver := base
	apiserver.DNSNames = []string{"kubernetes.default.svc.cluster.local"}
	loopback := base
	loopback.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	ipAsDNS := base
	ipAsDNS.DNSNames = []string{"192.0.2.24"}
	// A node that claims the apiserver's names among its own addresses.
	greedy := node.DeepCopy()
	greedy.Status.Addresses = append(greedy.Status.Addresses,
		corev1.NodeAddress{Type: corev1.NodeInternalDNS, Address: "kubernetes.default.svc.cluster.local"},
		corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"})
	spec := func(user string) *certv1.CertificateSigningRequest {
		return &certv1.CertificateSigningRequest{Spec: certv1.CertificateSigningRequestSpec{SignerName: csrpolicy.KubeletServing, Usages: u(ds, ke, sa), Username: user}}
	}
	tests := []struct {
		name    string
		csr     *certv1.CertificateSigningRequest
		req     pki.Request
		node    *corev1.Node
		wantErr string
	}{
		{"ok", spec("system:node:n1"), base, node, ""},
		{"no node", spec("system:node:n1"), base, nil, `node "n1" does not exist`},
		{"foreign SAN", spec("system:node:n1"), foreign, node, `DNS name "evil.example" is not a hostname or DNS address`},
		{"other requester", spec("mallory"), base, node, `requested by "mallory"`},
		{"apiserver name claimed by the node", spec("system:node:n1"), apiserver, greedy, "belongs to the apiserver"},
		{"loopback claimed by the node", spec("system:node:n1"), loopback, greedy, "loopback address"},
		{"IP address as a DNS name", spec("system:node:n1"), ipAsDNS, node, `DNS name "192.0.2.24" is not a hostname`},
	}
	for _, tt := range tests {
		msg, err := csrpolicy.ServingApproval(tt.csr, request(t, tt.req), tt.node)
		if tt.wantErr == "" && (err != nil || !strings.Contains(msg, "every SAN")) {
			t.Errorf("%s: %q %v", tt.name, msg, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestDeleteAt(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ca := pkitest.CAAt(t, "ca", t0, 365*24*time.Hour)
	leaf, err := ca.Issue(rand.Reader, t0, &pki.Template{Duration: 30 * time.Minute}, pkitest.Key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pki.EncodeCertificatesPEM(leaf)
	cond := func(ty certv1.RequestConditionType, at time.Time) certv1.CertificateSigningRequestCondition {
		return certv1.CertificateSigningRequestCondition{Type: ty, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(at)}
	}
	mk := func(conds []certv1.CertificateSigningRequestCondition, cert []byte) *certv1.CertificateSigningRequest {
		return &certv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)},
			Status:     certv1.CertificateSigningRequestStatus{Conditions: conds, Certificate: cert},
		}
	}
	approved := []certv1.CertificateSigningRequestCondition{cond(certv1.CertificateApproved, t0)}
	tests := []struct {
		name   string
		csr    *certv1.CertificateSigningRequest
		r      csrpolicy.Retention
		want   time.Time
		wantOK bool
	}{
		{"pending", mk(nil, nil), csrpolicy.Retention{}, t0.Add(24 * time.Hour), true},
		{"pending custom", mk(nil, nil), csrpolicy.Retention{Pending: time.Hour}, t0.Add(time.Hour), true},
		{"denied", mk([]certv1.CertificateSigningRequestCondition{cond(certv1.CertificateDenied, t0)}, nil), csrpolicy.Retention{}, t0.Add(time.Hour), true},
		{"failed", mk([]certv1.CertificateSigningRequestCondition{cond(certv1.CertificateApproved, t0), cond(certv1.CertificateFailed, t0.Add(time.Minute))}, nil), csrpolicy.Retention{}, t0.Add(61 * time.Minute), true},
		{"issued: certificate expires first", mk(approved, leafPEM), csrpolicy.Retention{}, leaf.NotAfter, true},
		{"issued: approval retention first", mk(approved, leafPEM), csrpolicy.Retention{Approved: 10 * time.Minute}, t0.Add(10 * time.Minute), true},
		{"approved, never issued", mk(approved, nil), csrpolicy.Retention{}, time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := csrpolicy.DeleteAt(tt.csr, tt.r)
		if ok != tt.wantOK || !got.Equal(tt.want) {
			t.Errorf("%s: DeleteAt = %s %v, want %s %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}
