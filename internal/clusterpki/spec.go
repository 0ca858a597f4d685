// Package clusterpki makes and maintains a cluster's PKI as kubeadm lays it
// out: the cluster, front-proxy and etcd CAs, every component's server and
// client certificate, the service-account key pair, and the kubeconfigs,
// with kubeadm's file names, names, usages, validity and file modes.
//
// A tree lives in one directory, Dir: certificates and keys under Dir/pki
// (kubeadm's /etc/kubernetes/pki), kubeconfigs in Dir (/etc/kubernetes).
package clusterpki

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// Defaults, as kubeadm's.
const (
	DefaultValidity    = 365 * 24 * time.Hour
	DefaultCAValidity  = 10 * 365 * 24 * time.Hour
	DefaultServiceCIDR = "10.96.0.0/12"
	DefaultDNSDomain   = "cluster.local"
	DefaultClusterName = "kubernetes"
	DefaultPort        = 6443
)

// Options describe a tree. The zero value of every field but Dir is a
// usable default.
type Options struct {
	// Dir holds the tree: certificates under Dir/pki, kubeconfigs in Dir.
	Dir string
	// NodeName names this node in the apiserver and etcd certificates and
	// in kubelet.conf. If empty, the host name.
	NodeName string
	// AdvertiseAddress is the apiserver's and etcd's address. If nil,
	// 127.0.0.1.
	AdvertiseAddress net.IP
	// ServiceCIDR is the service network; its first address is a SAN of
	// the apiserver certificate. If empty, 10.96.0.0/12.
	ServiceCIDR string
	// DNSDomain is the cluster's DNS domain. If empty, cluster.local.
	DNSDomain string
	// CertSANs are extra apiserver SANs: IP addresses or DNS names.
	CertSANs []string
	// ClusterName names the cluster in kubeconfigs. If empty, kubernetes.
	ClusterName string
	// Server is the apiserver URL written into kubeconfigs. If empty,
	// https://<AdvertiseAddress>:6443.
	Server string
	// Key is the algorithm of new keys. If its Algorithm is empty, RSA
	// 2048, kubeadm's default.
	Key pki.KeySpec
	// Validity is how long leaf certificates are valid. If zero, 8760h.
	Validity time.Duration
	// CAValidity is how long new CAs are valid. If zero, 87600h.
	CAValidity time.Duration
	// CAKeys finds the CAs' private keys. If nil, TreeKeys: the key files
	// in Dir/pki, or the keys in tokens whose URIs the tree remembers,
	// opened with OpenKey.
	CAKeys KeyStore
	// CAKeyURIs names, by kubeadm CA name (ca, etcd-ca, front-proxy-ca),
	// keys in hardware tokens (PKCS#11 URIs) that Init makes or checks
	// those CAs for, instead of key files. Init remembers each in
	// Dir/pki/<base>.key-uri. If empty, the tree's own.
	CAKeyURIs map[string]string
	// OpenKey opens a key URI. If nil, a CA whose key is in a token cannot
	// sign.
	OpenKey func(uri string) (crypto.Signer, error)
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Rand is the entropy source. If nil, crypto/rand.
	Rand io.Reader
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("no directory given for the PKI")
	}
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("finding the node name: %w", err)
		}
		o.NodeName = h
	}
	o.NodeName = strings.ToLower(o.NodeName)
	if o.AdvertiseAddress == nil {
		o.AdvertiseAddress = net.IPv4(127, 0, 0, 1)
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = DefaultServiceCIDR
	}
	if _, _, err := net.ParseCIDR(o.ServiceCIDR); err != nil {
		return o, fmt.Errorf("service CIDR %q: %w", o.ServiceCIDR, err)
	}
	if o.DNSDomain == "" {
		o.DNSDomain = DefaultDNSDomain
	}
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	if err := checkSANs(&o); err != nil {
		return o, err
	}
	if o.Server == "" {
		o.Server = "https://" + net.JoinHostPort(o.AdvertiseAddress.String(), fmt.Sprint(DefaultPort))
	}
	if u, err := url.Parse(o.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		return o, fmt.Errorf("server %q is not an https URL", o.Server)
	}
	if o.Key.Algorithm == "" {
		o.Key = pki.RSA2048
	}
	if err := o.Key.Validate(); err != nil {
		return o, err
	}
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	for name := range o.CAKeyURIs {
		if _, ok := CABase(name); !ok {
			return o, fmt.Errorf("no CA named %q: want one of %s", name, strings.Join(CANames(), ", "))
		}
	}
	if o.CAKeys == nil {
		o.CAKeys = TreeKeys{Dir: o.Dir, Open: o.OpenKey}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o, nil
}

// caSpec is one of the three CAs.
type caSpec struct {
	name string // kubeadm's name: ca, front-proxy-ca, etcd-ca
	base string // file base under pki/: ca, front-proxy-ca, etcd/ca
	cn   string
}

var cas = []caSpec{
	{"ca", "ca", "kubernetes"},
	{"etcd-ca", "etcd/ca", "etcd-ca"},
	{"front-proxy-ca", "front-proxy-ca", "front-proxy-ca"},
}

// certSpec is a leaf certificate under pki/.
type certSpec struct {
	name string // kubeadm's name
	base string // file base under pki/
	ca   string // the caSpec name that signs it
	cn   func(o *Options) string
	org  []string
	eku  []pki.Usage
	sans func(o *Options) ([]string, []net.IP)
}

// confSpec is a kubeconfig in Dir with a client certificate from ca.
type confSpec struct {
	name string // file name: admin.conf
	cn   func(o *Options) string
	org  []string
}

func fixed(s string) func(*Options) string { return func(*Options) string { return s } }

var (
	serverAuth = []pki.Usage{pki.UsageServerAuth}
	clientAuth = []pki.Usage{pki.UsageClientAuth}
	both       = []pki.Usage{pki.UsageServerAuth, pki.UsageClientAuth}
)

var certs = []certSpec{
	{name: "apiserver", base: "apiserver", ca: "ca", cn: fixed("kube-apiserver"), eku: serverAuth, sans: apiserverSANs},
	{name: "apiserver-kubelet-client", base: "apiserver-kubelet-client", ca: "ca", cn: fixed("kube-apiserver-kubelet-client"), eku: clientAuth},
	{name: "front-proxy-client", base: "front-proxy-client", ca: "front-proxy-ca", cn: fixed("front-proxy-client"), eku: clientAuth},
	{name: "etcd-server", base: "etcd/server", ca: "etcd-ca", cn: nodeName, eku: both, sans: etcdSANs},
	{name: "etcd-peer", base: "etcd/peer", ca: "etcd-ca", cn: nodeName, eku: both, sans: etcdSANs},
	{name: "etcd-healthcheck-client", base: "etcd/healthcheck-client", ca: "etcd-ca", cn: fixed("kube-etcd-healthcheck-client"), eku: clientAuth},
	{name: "apiserver-etcd-client", base: "apiserver-etcd-client", ca: "etcd-ca", cn: fixed("kube-apiserver-etcd-client"), eku: clientAuth},
}

var confs = []confSpec{
	{name: "admin.conf", cn: fixed("kubernetes-admin"), org: []string{"kubeadm:cluster-admins"}},
	{name: "super-admin.conf", cn: fixed("kubernetes-super-admin"), org: []string{"system:masters"}},
	{name: "controller-manager.conf", cn: fixed("system:kube-controller-manager")},
	{name: "scheduler.conf", cn: fixed("system:kube-scheduler")},
	{name: "kubelet.conf", cn: func(o *Options) string { return "system:node:" + o.NodeName }, org: []string{"system:nodes"}},
}

func nodeName(o *Options) string { return o.NodeName }

// apiserverSANs are kubeadm's, plus 127.0.0.1 and localhost so that
// loopback clients can reach the apiserver.
func apiserverSANs(o *Options) ([]string, []net.IP) {
	dns := []string{o.NodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + o.DNSDomain, "localhost"}
	_, svc, _ := net.ParseCIDR(o.ServiceCIDR)
	first := make(net.IP, len(svc.IP))
	copy(first, svc.IP)
	first[len(first)-1]++
	ips := []net.IP{first, o.AdvertiseAddress, net.IPv4(127, 0, 0, 1)}
	for _, s := range o.CertSANs {
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, s)
		}
	}
	return dedupe(dns), dedupeIPs(ips)
}

// checkSANs refuses names that cannot be SANs, as kubeadm does: the node
// name and DNS domain must be DNS names, each of CertSANs an IP address or a
// DNS name (a leading wildcard label allowed), in one line naming it.
func checkSANs(o *Options) error {
	for _, n := range []struct{ what, name string }{{"node name", o.NodeName}, {"DNS domain", o.DNSDomain}} {
		err := pki.ValidateDNSName(n.name)
		if err == nil && strings.Contains(n.name, "*") {
			err = &pki.NameError{Name: n.name, Want: "a valid DNS name", Reason: "it may not be a wildcard"}
		}
		if ne, ok := errors.AsType[*pki.NameError](err); ok {
			return fmt.Errorf("%s %q is not %s: %s", n.what, ne.Name, ne.Want, ne.Reason)
		}
	}
	for _, san := range o.CertSANs {
		if ne, ok := errors.AsType[*pki.NameError](pki.ValidateHost(san)); ok {
			return fmt.Errorf("cert SAN %q is not %s: %s", ne.Name, ne.Want, ne.Reason)
		}
	}
	return nil
}

func etcdSANs(o *Options) ([]string, []net.IP) {
	return dedupe([]string{o.NodeName, "localhost"}),
		dedupeIPs([]net.IP{o.AdvertiseAddress, net.IPv4(127, 0, 0, 1), net.IPv6loopback})
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func dedupeIPs(ips []net.IP) []net.IP {
	var out []net.IP
	seen := map[string]bool{}
	for _, ip := range ips {
		if k := ip.String(); !seen[k] {
			seen[k] = true
			out = append(out, ip)
		}
	}
	return out
}

// Paths in the tree.
func certPath(dir, base string) string { return filepath.Join(dir, "pki", base+".crt") }
func keyPath(dir, base string) string  { return filepath.Join(dir, "pki", base+".key") }

// rel names a file relative to the tree, for messages.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil {
		return r
	}
	return path
}

// leafUsages are kubeadm's key usages for every leaf, whatever the key
// type, followed by the leaf's extended key usages.
func leafUsages(eku []pki.Usage) []pki.Usage {
	return append([]pki.Usage{pki.UsageDigitalSignature, pki.UsageKeyEncipherment}, eku...)
}
