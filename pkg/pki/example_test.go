package pki_test

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"fmt"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// A CA signs a request: the subject proves it holds its key by signing the
// CSR, and the CA copies the request's names into the certificate.
func ExampleCA_Issue() {
	now := time.Now()
	caKey, _ := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	caCert, _ := pki.SelfSign(rand.Reader, now, &pki.Template{
		Subject: pkix.Name{CommonName: "example-ca"}, IsCA: true, Duration: 10 * 365 * 24 * time.Hour,
	}, caKey)
	ca, _ := pki.NewCA(caCert, caKey)

	key, _ := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	req := &pki.Request{CommonName: "web"}
	_ = req.AddHosts("web.example.com", "192.0.2.10")
	csrPEM, _ := pki.CreateCSR(rand.Reader, req, key)

	csr, err := pki.ParseCSRPEM(csrPEM) // verifies proof of possession
	if err != nil {
		fmt.Println(err)
		return
	}
	cert, err := ca.Issue(rand.Reader, now, pki.TemplateFromCSR(csr, []pki.Usage{"digital signature", "server auth"}), csr.PublicKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cert.Subject.CommonName, cert.DNSNames, cert.IPAddresses, pki.UsageNames(cert.KeyUsage, cert.ExtKeyUsage))
	// Output: web [web.example.com] [192.0.2.10] [digital signature server auth]
}
