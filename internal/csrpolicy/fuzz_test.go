package csrpolicy

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// FuzzParseRequestAndValidate: whatever a CertificateSigningRequest's
// spec.request, usages and user hold, the signers' decisions (parse,
// rules, template, the approvers' kubelet rules) answer without a panic,
// and every refusal is a RuleError, which marks the request Failed rather
// than retrying it.
func FuzzParseRequestAndValidate(f *testing.F) {
	key := pkitest.Key(f)
	csr := func(cn string, orgs []string, dns ...string) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: cn, Organization: orgs}, DNSNames: dns, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
		}, key)
		if err != nil {
			f.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	node := csr("system:node:n1", []string{"system:nodes"}, "n1.example")
	f.Add(uint8(0), node, "digital signature,client auth", "system:node:n1")
	f.Add(uint8(1), node, "digital signature,key encipherment,client auth", "system:node:n1")
	f.Add(uint8(2), node, "digital signature,server auth", "system:node:n1")
	f.Add(uint8(3), csr("app", []string{"system:masters"}), "client auth", "someone")
	f.Add(uint8(4), csr("x", nil), "bogus", "")
	f.Add(uint8(0), node[:len(node)/2], "client auth", "")
	f.Add(uint8(2), []byte("junk"), "", "")
	signers := []string{KubeAPIServerClient, KubeAPIServerClientKubelet, KubeletServing, LegacyUnknown, "example.com/other"}
	f.Fuzz(func(t *testing.T, which uint8, request []byte, usageList, user string) {
		signer := signers[int(which)%len(signers)]
		var usages []certv1.KeyUsage
		for _, u := range strings.Split(usageList, ",") {
			usages = append(usages, certv1.KeyUsage(u))
		}
		parsed, err := ParseRequest(signer, request)
		if err == nil {
			err = Validate(signer, parsed, usages)
		}
		var rule *RuleError
		if err != nil {
			if !errors.As(err, &rule) {
				t.Fatalf("%s: %v is not a RuleError", signer, err)
			}
			return
		}
		_ = Template(parsed, usages, time.Hour)
		obj := &certv1.CertificateSigningRequest{Spec: certv1.CertificateSigningRequestSpec{SignerName: signer, Request: request, Usages: usages, Username: user}}
		_ = KubeletClientKind(obj, parsed)
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: "n1.example"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}}}
		_, _ = ServingApproval(obj, parsed, n)
	})
}
