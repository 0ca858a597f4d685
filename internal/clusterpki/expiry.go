package clusterpki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Expiration is one row of check-expiration, with the fields of kubeadm's
// CertificateExpirationInfo output.
type Expiration struct {
	Name                 string        `json:"name"`
	ExpirationDate       time.Time     `json:"expirationDate,omitzero"`
	ResidualTime         time.Duration `json:"residualTime"`
	CertificateAuthority string        `json:"certificateAuthority,omitempty"`
	ExternallyManaged    bool          `json:"externallyManaged"`
	// HSM marks a CA whose key is in a hardware token (a key URI in
	// pki/<base>.key-uri): not externally managed, yet without a key file.
	HSM     bool `json:"hsm,omitempty"`
	Missing bool `json:"missing,omitempty"`
}

// ExpirationReport is check-expiration's two tables.
type ExpirationReport struct {
	Certificates           []Expiration `json:"certificates"`
	CertificateAuthorities []Expiration `json:"certificateAuthorities"`
}

// CheckExpiration reads every certificate of the tree in dir, as kubeadm
// certs check-expiration does: the leaves and kubeconfigs (not
// kubelet.conf, whose certificate the kubelet rotates), then the CAs, each
// sorted by name. A CA whose key keys cannot find is externally managed, and
// so are the certificates it signs. A CA whose key URI the tree remembers
// is marked HSM; its token is not opened.
func CheckExpiration(dir string, now time.Time, keys KeyStore) (*ExpirationReport, error) {
	if keys == nil {
		keys = FileKeys{Dir: dir}
	}
	external := map[string]bool{}
	r := &ExpirationReport{}
	for _, c := range cas {
		uri, err := ReadKeyURI(dir, c.base)
		if err != nil {
			return nil, err
		}
		if uri == "" {
			_, err := keys.Signer(c.base)
			external[c.name] = errors.Is(err, ErrNoKey)
		}
		cert, err := readCert(certPath(dir, c.base))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel(dir, certPath(dir, c.base)), err)
		}
		e := row(c.name, cert, "", external[c.name], now)
		e.HSM = uri != ""
		r.CertificateAuthorities = append(r.CertificateAuthorities, e)
	}
	for _, s := range certs {
		cert, err := readCert(certPath(dir, s.base))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel(dir, certPath(dir, s.base)), err)
		}
		r.Certificates = append(r.Certificates, row(s.name, cert, s.ca, external[s.ca], now))
	}
	for _, c := range confs {
		if c.name == "kubelet.conf" {
			continue
		}
		cert, err := readKubeconfigCert(filepath.Join(dir, c.name), dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		r.Certificates = append(r.Certificates, row(c.name, cert, "ca", external["ca"], now))
	}
	sort.Slice(r.Certificates, func(i, j int) bool { return r.Certificates[i].Name < r.Certificates[j].Name })
	sort.Slice(r.CertificateAuthorities, func(i, j int) bool {
		return r.CertificateAuthorities[i].Name < r.CertificateAuthorities[j].Name
	})
	return r, nil
}

// ExpiringWithin names the rows that are missing or expire within d of now.
func (r *ExpirationReport) ExpiringWithin(d time.Duration) []string {
	var names []string
	for _, rows := range [][]Expiration{r.Certificates, r.CertificateAuthorities} {
		for _, e := range rows {
			if e.Missing || e.ResidualTime < d {
				names = append(names, e.Name)
			}
		}
	}
	return names
}

func row(name string, cert *x509.Certificate, ca string, external bool, now time.Time) Expiration {
	e := Expiration{Name: name, CertificateAuthority: ca, ExternallyManaged: external}
	if cert == nil {
		e.Missing = true
		return e
	}
	e.ExpirationDate = cert.NotAfter.UTC()
	e.ResidualTime = cert.NotAfter.Sub(now)
	return e
}

// readKubeconfigCert reads the client certificate of a kubeconfig's only
// user; nil if the file does not exist.
func readKubeconfigCert(path, dir string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cert, _, _, err := kubeconfigCredentials(data, dir)
	return cert, err
}
