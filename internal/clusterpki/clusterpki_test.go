package clusterpki_test

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/clusterpki"
	"github.com/certplane/certplane/internal/kubeconfig"
	"github.com/certplane/certplane/pkg/pki"
)

var start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func options(dir string) clusterpki.Options {
	return clusterpki.Options{
		Dir:              dir,
		NodeName:         "node-a",
		AdvertiseAddress: net.ParseIP("192.168.10.5"),
		CertSANs:         []string{"api.example.com", "203.0.113.7"},
		Key:              pki.ECDSAP256,
		Now:              func() time.Time { return start },
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func ips(list []net.IP) []string {
	var s []string
	for _, ip := range list {
		s = append(s, ip.String())
	}
	return s
}

// TestInitKubeadmTree checks every file against kubeadm's table: names,
// issuers, subjects, SANs, usages, validity and modes.
func TestInitKubeadmTree(t *testing.T) {
	dir := t.TempDir()
	res, err := clusterpki.Init(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 3*2+7*2+2+5 || len(res.Checked) != 0 {
		t.Fatalf("created %d files %v, checked %v", len(res.Created), res.Created, res.Checked)
	}
	tests := []struct {
		base, issuer, cn string
		org              []string
		eku              []x509.ExtKeyUsage
		dns, ips         []string
	}{
		{"ca", "kubernetes", "kubernetes", nil, nil, []string{"kubernetes"}, nil},
		{"front-proxy-ca", "front-proxy-ca", "front-proxy-ca", nil, nil, []string{"front-proxy-ca"}, nil},
		{"etcd/ca", "etcd-ca", "etcd-ca", nil, nil, []string{"etcd-ca"}, nil},
		{"apiserver", "kubernetes", "kube-apiserver", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			[]string{"node-a", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", "api.example.com"},
			[]string{"10.96.0.1", "192.168.10.5", "127.0.0.1", "203.0.113.7"}},
		{"apiserver-kubelet-client", "kubernetes", "kube-apiserver-kubelet-client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
		{"front-proxy-client", "front-proxy-ca", "front-proxy-client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
		{"etcd/server", "etcd-ca", "node-a", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			[]string{"node-a", "localhost"}, []string{"192.168.10.5", "127.0.0.1", "::1"}},
		{"etcd/peer", "etcd-ca", "node-a", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			[]string{"node-a", "localhost"}, []string{"192.168.10.5", "127.0.0.1", "::1"}},
		{"etcd/healthcheck-client", "etcd-ca", "kube-etcd-healthcheck-client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
		{"apiserver-etcd-client", "etcd-ca", "kube-apiserver-etcd-client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			c := readCert(t, filepath.Join(dir, "pki", tt.base+".crt"))
			if c.Issuer.CommonName != tt.issuer || c.Subject.CommonName != tt.cn || !slices.Equal(c.Subject.Organization, tt.org) {
				t.Errorf("issuer %q subject %q O %v", c.Issuer.CommonName, c.Subject.CommonName, c.Subject.Organization)
			}
			if !slices.Equal(c.ExtKeyUsage, tt.eku) || !slices.Equal(c.DNSNames, tt.dns) || !slices.Equal(ips(c.IPAddresses), tt.ips) {
				t.Errorf("eku %v dns %v ips %v", c.ExtKeyUsage, c.DNSNames, ips(c.IPAddresses))
			}
			wantKU := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
			wantLife := clusterpki.DefaultValidity
			if c.IsCA {
				wantKU |= x509.KeyUsageCertSign
				wantLife = clusterpki.DefaultCAValidity
			}
			if c.KeyUsage != wantKU {
				t.Errorf("key usage %v, want %v", c.KeyUsage, wantKU)
			}
			if !c.NotBefore.Equal(start.Add(-5*time.Minute)) || !c.NotAfter.Equal(start.Add(wantLife)) {
				t.Errorf("valid %s to %s", c.NotBefore, c.NotAfter)
			}
			assertMode(t, filepath.Join(dir, "pki", tt.base+".crt"), 0o644)
			assertMode(t, filepath.Join(dir, "pki", tt.base+".key"), 0o600)
		})
	}
	assertMode(t, filepath.Join(dir, "pki"), 0o700|os.ModeDir)
	assertMode(t, filepath.Join(dir, "pki", "etcd"), 0o700|os.ModeDir)
	assertMode(t, filepath.Join(dir, "pki", "sa.key"), 0o600)
	assertMode(t, filepath.Join(dir, "pki", "sa.pub"), 0o600)

	confs := []struct {
		name, cn string
		org      []string
	}{
		{"admin.conf", "kubernetes-admin", []string{"kubeadm:cluster-admins"}},
		{"super-admin.conf", "kubernetes-super-admin", []string{"system:masters"}},
		{"controller-manager.conf", "system:kube-controller-manager", nil},
		{"scheduler.conf", "system:kube-scheduler", nil},
		{"kubelet.conf", "system:node:node-a", []string{"system:nodes"}},
	}
	ca := readCert(t, filepath.Join(dir, "pki", "ca.crt"))
	for _, c := range confs {
		path := filepath.Join(dir, c.name)
		assertMode(t, path, 0o600)
		data, _ := os.ReadFile(path)
		kc, err := kubeconfig.Parse(data, dir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if kc.Clusters[0].Server != "https://192.168.10.5:6443" || kc.CurrentContext != c.cn+"@kubernetes" {
			t.Errorf("%s: server %q context %q", c.name, kc.Clusters[0].Server, kc.CurrentContext)
		}
		certs, _ := pki.ParseCertificatesPEM(kc.Users[0].Certificate)
		if certs[0].Subject.CommonName != c.cn || !slices.Equal(certs[0].Subject.Organization, c.org) ||
			!slices.Equal(certs[0].ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || certs[0].CheckSignatureFrom(ca) != nil {
			t.Errorf("%s: client certificate %v %v %v", c.name, certs[0].Subject, certs[0].ExtKeyUsage, certs[0].CheckSignatureFrom(ca))
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestInitDefaultsAreKubeadms(t *testing.T) {
	dir := t.TempDir()
	if _, err := clusterpki.Init(clusterpki.Options{Dir: dir, NodeName: "n"}); err != nil {
		t.Fatal(err)
	}
	c := readCert(t, filepath.Join(dir, "pki", "apiserver.crt"))
	if alg, bits := pki.KeyDescription(c.PublicKey); alg != "RSA" || bits != 2048 {
		t.Errorf("default key %s %d, want RSA 2048", alg, bits)
	}
	if !slices.Contains(ips(c.IPAddresses), "127.0.0.1") || !slices.Contains(c.DNSNames, "localhost") {
		t.Errorf("apiserver SANs lack loopback: %v %v", c.DNSNames, c.IPAddresses)
	}
}

func TestInitIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	if _, err := clusterpki.Init(options(dir)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.key"))
	// Remove one leaf pair: the second run makes only that, checks the rest.
	_ = os.Remove(filepath.Join(dir, "pki", "front-proxy-client.crt"))
	_ = os.Remove(filepath.Join(dir, "pki", "front-proxy-client.key"))
	res, err := clusterpki.Init(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Created, []string{"pki/front-proxy-client.crt", "pki/front-proxy-client.key"}) {
		t.Errorf("second run created %v", res.Created)
	}
	if len(res.Checked) != 3*2+6*2+2+5 { // every file there, keys too
		t.Errorf("second run checked %d files: %v", len(res.Checked), res.Checked)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.key"))
	if string(before) != string(after) {
		t.Error("an existing key was rewritten")
	}
	c := readCert(t, filepath.Join(dir, "pki", "front-proxy-client.crt"))
	if err := c.CheckSignatureFrom(readCert(t, filepath.Join(dir, "pki", "front-proxy-ca.crt"))); err != nil {
		t.Errorf("recreated leaf not signed by the existing CA: %v", err)
	}
}

func TestInitRefusesInconsistentTree(t *testing.T) {
	good := t.TempDir()
	if _, err := clusterpki.Init(options(good)); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := clusterpki.Init(options(other)); err != nil {
		t.Fatal(err)
	}
	copyFile := func(t *testing.T, from, to string) {
		t.Helper()
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   string
	}{
		{"leaf signed by another CA", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other, "pki", "apiserver.crt"), filepath.Join(dir, "pki", "apiserver.crt"))
			copyFile(t, filepath.Join(other, "pki", "apiserver.key"), filepath.Join(dir, "pki", "apiserver.key"))
		}, "pki/apiserver.crt: not signed by the CA"},
		{"key does not match", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other, "pki", "etcd", "peer.key"), filepath.Join(dir, "pki", "etcd", "peer.key"))
		}, "pki/etcd/peer.crt: pki: private key does not match certificate"},
		{"half a pair", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "pki", "apiserver-etcd-client.key"))
		}, "pki/apiserver-etcd-client.crt exists but pki/apiserver-etcd-client.key is missing"},
		{"CA key of another CA", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other, "pki", "ca.key"), filepath.Join(dir, "pki", "ca.key"))
		}, "pki/ca.crt: pki: private key does not match"},
		{"garbage certificate", func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(dir, "pki", "front-proxy-client.crt"), []byte("garbage"), 0o644)
		}, "pki/front-proxy-client.crt: pki: no PEM data found"},
		{"kubeconfig from another CA", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other, "admin.conf"), filepath.Join(dir, "admin.conf"))
		}, "admin.conf: not signed by the CA"},
		{"mismatched sa pair", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other, "pki", "sa.pub"), filepath.Join(dir, "pki", "sa.pub"))
		}, "pki/sa.pub does not match pki/sa.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			tt.break_(t, dir)
			_ = os.Remove(filepath.Join(dir, "scheduler.conf")) // something to (not) create
			_, err := clusterpki.Init(options(dir))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "scheduler.conf")); !os.IsNotExist(err) {
				t.Error("a failed init wrote scheduler.conf")
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		o := options(good)
		o.Now = func() time.Time { return start.Add(366 * 24 * time.Hour) }
		_, err := clusterpki.Init(o)
		if err == nil || !strings.Contains(err.Error(), "expired on 2027-11-23T12:00:00Z") {
			t.Fatalf("error = %v, want an expired certificate named", err)
		}
	})
}

func TestCheckExpiration(t *testing.T) {
	dir := t.TempDir()
	if _, err := clusterpki.Init(options(dir)); err != nil {
		t.Fatal(err)
	}
	r, err := clusterpki.CheckExpiration(dir, start, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range r.Certificates {
		names = append(names, e.Name)
		if e.Missing || e.ExternallyManaged || e.ResidualTime != clusterpki.DefaultValidity {
			t.Errorf("%+v", e)
		}
	}
	want := []string{"admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf",
		"etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client", "scheduler.conf", "super-admin.conf"}
	if !slices.Equal(names, want) {
		t.Errorf("rows %v, want kubeadm's %v", names, want)
	}
	if len(r.CertificateAuthorities) != 3 || r.CertificateAuthorities[0].Name != "ca" || r.CertificateAuthorities[1].Name != "etcd-ca" {
		t.Errorf("CA rows %+v", r.CertificateAuthorities)
	}
	if got := r.ExpiringWithin(30 * 24 * time.Hour); len(got) != 0 {
		t.Errorf("fresh tree expiring: %v", got)
	}
	if got := r.ExpiringWithin(366 * 24 * time.Hour); len(got) != 11 {
		t.Errorf("within a year and a day: %v, want the 11 leaves", got)
	}

	_ = os.Remove(filepath.Join(dir, "pki", "apiserver.crt"))
	_ = os.Rename(filepath.Join(dir, "pki", "front-proxy-ca.key"), filepath.Join(t.TempDir(), "moved"))
	r, err = clusterpki.CheckExpiration(dir, start, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Certificates {
		if e.Name == "apiserver" && !e.Missing {
			t.Error("missing apiserver.crt not reported")
		}
		if e.Name == "front-proxy-client" && !e.ExternallyManaged {
			t.Error("leaf of a CA without key not externally managed")
		}
	}
	if got := r.ExpiringWithin(time.Hour); !slices.Equal(got, []string{"apiserver"}) {
		t.Errorf("ExpiringWithin = %v, want [apiserver]", got)
	}
}

func TestRenew(t *testing.T) {
	dir := t.TempDir()
	if _, err := clusterpki.Init(options(dir)); err != nil {
		t.Fatal(err)
	}
	old := readCert(t, filepath.Join(dir, "pki", "apiserver.crt"))
	oldKey, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.key"))
	oldCA, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	later := options(dir)
	later.Now = func() time.Time { return start.Add(100 * 24 * time.Hour) }
	res, err := clusterpki.Renew(later, []string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Renewed) != 11 {
		t.Errorf("renewed %v", res.Renewed)
	}
	renewed := readCert(t, filepath.Join(dir, "pki", "apiserver.crt"))
	newKey, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.key"))
	if renewed.SerialNumber.Cmp(old.SerialNumber) == 0 || string(newKey) == string(oldKey) {
		t.Error("serial or key unchanged")
	}
	if renewed.Subject.String() != old.Subject.String() || !slices.Equal(renewed.DNSNames, old.DNSNames) ||
		!slices.Equal(ips(renewed.IPAddresses), ips(old.IPAddresses)) || !slices.Equal(renewed.ExtKeyUsage, old.ExtKeyUsage) {
		t.Errorf("renewal changed names or usages: %v %v %v", renewed.Subject, renewed.DNSNames, renewed.ExtKeyUsage)
	}
	if !renewed.NotAfter.Equal(start.Add(100*24*time.Hour + clusterpki.DefaultValidity)) {
		t.Errorf("renewed NotAfter %s", renewed.NotAfter)
	}
	if caNow, _ := os.ReadFile(filepath.Join(dir, "pki", "ca.crt")); string(caNow) != string(oldCA) {
		t.Error("renew all touched the CA")
	}
	if backup, _ := os.ReadFile(filepath.Join(res.BackupDir, "pki", "apiserver.key")); string(backup) != string(oldKey) {
		t.Error("old key not kept in the backup")
	}
	if _, err := clusterpki.Init(later); err != nil {
		t.Errorf("tree inconsistent after renew: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "admin.conf"))
	kc, _ := kubeconfig.Parse(data, dir)
	adminCert, _ := pki.ParseCertificatesPEM(kc.Users[0].Certificate)
	if adminCert[0].NotBefore.Before(start.Add(99*24*time.Hour)) || adminCert[0].Subject.Organization[0] != "kubeadm:cluster-admins" {
		t.Errorf("admin.conf not renewed: %v from %s", adminCert[0].Subject, adminCert[0].NotBefore)
	}

	if _, err := clusterpki.Renew(later, []string{"ca"}); err == nil || !strings.Contains(err.Error(), "CAs are never renewed") {
		t.Errorf("renew ca: %v", err)
	}
	if _, err := clusterpki.Renew(later, []string{"nope"}); err == nil || !strings.Contains(err.Error(), "unknown certificate") {
		t.Errorf("renew nope: %v", err)
	}
	_ = os.Rename(filepath.Join(dir, "pki", "etcd", "ca.key"), filepath.Join(t.TempDir(), "moved"))
	before, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.crt"))
	if _, err := clusterpki.Renew(later, []string{"all"}); err == nil || !strings.Contains(err.Error(), "CA key is absent") {
		t.Errorf("renew without etcd CA key: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.crt")); string(after) != string(before) {
		t.Error("a refused renewal wrote something")
	}
}

func TestUserKubeconfig(t *testing.T) {
	dir := t.TempDir()
	o := options(dir)
	o.Server = "https://127.0.0.1:7443"
	if _, err := clusterpki.Init(o); err != nil {
		t.Fatal(err)
	}
	data, err := clusterpki.UserKubeconfig(options(dir), "jane", []string{"dev", "qa"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeconfig.Parse(data, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := pki.ParseCertificatesPEM(kc.Users[0].Certificate)
	if c[0].Subject.CommonName != "jane" || !slices.Equal(c[0].Subject.Organization, []string{"dev", "qa"}) ||
		!c[0].NotAfter.Equal(start.Add(24*time.Hour)) || kc.Clusters[0].Server != "https://127.0.0.1:7443" {
		t.Errorf("jane: %v until %s on %s", c[0].Subject, c[0].NotAfter, kc.Clusters[0].Server)
	}
}
