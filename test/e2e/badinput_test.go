package e2e

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// The bad-input run: how many objects of each kind are generated (before
// the apiserver refuses some), and in how many namespaces. Together a few
// thousand, sent and settled within about four minutes on a busy two-core
// machine.
const (
	badNamespaces     = 4
	badCASecrets      = 125 // CA Secrets, good and broken, spread over the namespaces and cert-manager
	badSquatters      = 200 // Secrets already at a Certificate's secretName
	badIssuers        = 320
	badClusterIssuers = 60
	badCertificates   = 1400
	badRequests       = 1200
	badCSRs           = 500
	// badSeedEnv overrides the seed, to repeat a run.
	badSeedEnv = "BADINPUT_SEED"
	// badIdleWindow is the quiet window certplane's CPU and API requests
	// are measured over once everything has settled.
	badIdleWindow = 20 * time.Second
	// badIdleCPU is the most CPU certplane may use in the quiet window, as
	// a fraction of one core. Idle, it renews nothing and writes nothing;
	// what remains is Go's runtime, the informers' watches, and the
	// periodic re-reads by design: each CA issuer whose Secret is broken
	// reads it again every 10 s, each waiting CertificateRequest every
	// 30 s, each waiting Certificate every minute. Those are a few hundred
	// GETs of small objects a minute here, well under 1 % of a core; 10 %
	// leaves room for a machine shared with other builds and tests
	// (scheduling noise, a GC cycle) while still failing on any hot loop,
	// which burns a whole core.
	badIdleCPU = 0.10
	// badLongestRecheck is the longest an object waits before certplane
	// looks at it again by itself (a Certificate waiting for its issuer:
	// a minute), with a margin.
	badLongestRecheck = 65 * time.Second
)

var (
	gvrCertificate   = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	gvrRequest       = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}
	gvrIssuer        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	gvrClusterIssuer = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	gvrSecret        = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrCSR           = schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}
	gvrNamespace     = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// badObject is one generated object and what the generator meant it to
// be.
type badObject struct {
	kind  string // Certificate, CertificateRequest, Issuer, ClusterIssuer, Secret/<role>, CertificateSigningRequest
	gvr   schema.GroupVersionResource
	obj   *unstructured.Unstructured
	valid bool   // every field drawn from the schema's valid values
	note  string // which variant, for the failure messages
	// expectFail: a CSR that breaks its signer's rules for certain.
	expectFail bool
	// external: a CertificateRequest for an issuer of another group, which
	// certplane may not approve and does not sign.
	external bool
}

func (o *badObject) ns() string   { return o.obj.GetNamespace() }
func (o *badObject) name() string { return o.obj.GetName() }
func (o *badObject) id() string {
	if o.ns() == "" {
		return o.kind + " " + o.name()
	}
	return o.kind + " " + o.ns() + "/" + o.name()
}

// badStats counts, per kind, what was sent and what the apiserver did.
type badStats struct {
	mu   sync.Mutex
	sent map[string]int
	ok   map[string]int
	// refused counts refusals by kind and status code.
	refused map[string]map[int]int
	// validRefused: objects the generator meant to be valid that the
	// apiserver refused (kind → examples).
	validRefused map[string][]string
	// invalidAccepted: objects meant to break a rule the apiserver took.
	invalidAccepted map[string][]string
}

func newBadStats() *badStats {
	return &badStats{sent: map[string]int{}, ok: map[string]int{}, refused: map[string]map[int]int{},
		validRefused: map[string][]string{}, invalidAccepted: map[string][]string{}}
}

// badGen generates the objects from one seeded source, in one goroutine,
// so that a seed always gives the same specs.
type badGen struct {
	r   *mrand.Rand
	nss []string
	// material made once with crypto/rand: keys for requests, CAs.
	keys      []crypto.Signer
	rsa1024   *rsa.PrivateKey
	good      *pki.CA
	other     *pki.CA
	inter     *pki.CA // issued by good
	expired   *pki.CA
	future    *pki.CA
	leaf      *x509.Certificate
	leafKey   crypto.Signer
	noSignCA  []byte // a CA certificate without the cert sign usage (PEM)
	noSignKey []byte
	weakCA    []byte // an RSA-1024 CA (PEM)
	weakKey   []byte
	expLeaf   *x509.Certificate // an expired leaf of good
	expLeafK  crypto.Signer
	caVariant map[string]string // ns/name → variant
}

func newBadGen(t *testing.T, seed uint64) *badGen {
	t.Helper()
	g := &badGen{r: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), caVariant: map[string]string{}}
	for i := range badNamespaces {
		g.nss = append(g.nss, fmt.Sprintf("badinput-%d", i))
	}
	for range 6 {
		g.keys = append(g.keys, pkitest.Key(t))
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	g.keys = append(g.keys, edKey, pkitest.Key(t, pki.KeySpec{Algorithm: pki.RSA, Size: 2048}))
	var err error
	if g.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	g.good = pkitest.CA(t, "badinput good CA")
	g.other = pkitest.CA(t, "badinput other CA")
	g.expired = pkitest.CAAt(t, "badinput expired CA", now.Add(-72*time.Hour), 24*time.Hour)
	g.future = pkitest.CAAt(t, "badinput future CA", now.Add(30*24*time.Hour), 365*24*time.Hour)
	interKey := pkitest.Key(t)
	interCert, err := g.good.Issue(rand.Reader, now, &pki.Template{Subject: pkix.Name{CommonName: "badinput intermediate"}, IsCA: true, Duration: 200 * 24 * time.Hour}, interKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if g.inter, err = pki.NewCA(interCert, interKey); err != nil {
		t.Fatal(err)
	}
	g.leaf, g.leafKey = pkitest.Leaf(t, g.good, "badinput leaf", []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth}, "leaf.example")
	// An expired leaf of the good CA, which pkg/pki refuses to make.
	g.expLeafK = pkitest.Key(t)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "badinput expired leaf"},
		DNSNames: []string{"old.example"}, NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-48 * time.Hour)}, g.good.Certificate, g.expLeafK.Public(), g.good.Key)
	if err != nil {
		t.Fatal(err)
	}
	if g.expLeaf, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	g.noSignCA, g.noSignKey = rawCA(t, "badinput no cert sign", pkitest.Key(t), x509.KeyUsageDigitalSignature)
	g.weakCA, g.weakKey = rawCA(t, "badinput weak CA", g.rsa1024, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	return g
}

// rawCA makes a self-signed CA with crypto/x509 alone, for what pkg/pki
// refuses to make: weak keys, missing usages.
func rawCA(t *testing.T, cn string, key crypto.Signer, usage x509.KeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: usage}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func (g *badGen) pct(p int) bool           { return g.r.IntN(100) < p }
func (g *badGen) intn(n int) int           { return g.r.IntN(n) }
func (g *badGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g *badGen) ns() string               { return g.nss[g.r.IntN(len(g.nss))] }
func (g *badGen) bytes(n int) []byte       { b := make([]byte, n); fillRand(g.r, b); return b }
func (g *badGen) key() crypto.Signer       { return g.keys[g.r.IntN(len(g.keys))] }
func (g *badGen) some(p int, f func() string) []string {
	var out []string
	for g.pct(p) && len(out) < 6 {
		out = append(out, f())
	}
	return out
}

func fillRand(r *mrand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func (g *badGen) label() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	n := 1 + g.intn(10)
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.intn(len(chars))]
	}
	if b[0] >= '0' && b[0] <= '9' {
		b[0] = 'x'
	}
	return string(b)
}

func (g *badGen) dnsName() string {
	var parts []string
	if g.pct(10) {
		parts = append(parts, "*")
	}
	for range 1 + g.intn(3) {
		parts = append(parts, g.label())
	}
	return strings.Join(append(parts, g.pick("example", "svc", "local", "test", "io")), ".")
}

func (g *badGen) badDNSName() string {
	return g.pick("-bad.example", "a..b", "under_score.example", "10.0.0.1", "*.*.example", "a.*.example", strings.Repeat("x", 64)+".example",
		"ünïcode.example", "with space.example", "trailing.", ".leading", "*")
}

// text is a random string of up to max runes: ASCII, Latin-1, other
// scripts, controls and a NUL.
func (g *badGen) text(max int) string {
	alphabets := []string{"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", " ,=+<>#;\"\\/:@%*?&.-_'()[]{}", "äöüßéñçøå", "日本語中文한국어עבריתالعربية", "\x00\t\n\r\x7f", "😀🔒"}
	n := g.intn(max + 1)
	var b strings.Builder
	for range n {
		a := []rune(alphabets[g.intn(len(alphabets))])
		b.WriteRune(a[g.intn(len(a))])
	}
	return b.String()
}

// ascii is a random printable ASCII string of up to max bytes, for what
// x509 encodes as an IA5String.
func (g *badGen) ascii(max int) string {
	b := make([]byte, g.intn(max+1))
	for i := range b {
		b[i] = byte(' ' + g.intn(95))
	}
	return string(b)
}

// asciiName is a bad DNS name x509 can still encode.
func (g *badGen) asciiName() string {
	for {
		if n := g.badDNSName(); !strings.ContainsFunc(n, func(r rune) bool { return r > 127 }) {
			return n
		}
	}
}

func (g *badGen) ip() string {
	if g.pct(60) {
		return fmt.Sprintf("%d.%d.%d.%d", g.intn(256), g.intn(256), g.intn(256), g.intn(256))
	}
	return g.pick("::1", "fe80::1", "2001:db8::"+strconv.Itoa(g.intn(9999)), "0.0.0.0", "255.255.255.255")
}

func (g *badGen) uri() string {
	return g.pick("spiffe://cluster.local/ns/"+g.label()+"/sa/"+g.label(), "https://"+g.dnsName()+"/p", "urn:x:"+g.label(), "not a uri",
		"%zz", "://", "http://[::1", "mailto:a@b.example", "spiffe://", "x:", g.text(20)+"x")
}

func (g *badGen) email() string {
	return g.pick(g.label()+"@"+g.dnsName(), "a@b", "x@@y", "a@@", "a@"+g.text(8)+"x", "ü@ü.example", "a b@c")
}

func (g *badGen) goodDuration() string {
	return g.pick("1h", "2h30m", "24h", "720h", "2160h", "8760h", "87600h", "1.5h", "61m", "3600s", "2562047h", "+2h", "1h0m0.5s", "100000h")
}

func (g *badGen) usages() []any {
	all := []string{"signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment", "cert sign",
		"crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing", "email protection", "s/mime",
		"ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"}
	var out []any
	for range g.intn(5) {
		out = append(out, all[g.intn(len(all))])
	}
	return out
}

func strs(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func newObject(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// --- Secrets ---

// caSecret is a CA Secret of a random variant, good or broken.
func (g *badGen) caSecret(ns, name string) *badObject {
	certPEM := pki.EncodeCertificatesPEM(g.good.Certificate)
	keyPEM, _ := pki.MarshalPrivateKeyPEM(g.good.Key, pki.FormatDefault)
	pemOf := func(ca *pki.CA) ([]byte, []byte) {
		k, _ := pki.MarshalPrivateKeyPEM(ca.Key, pki.FormatPKCS8)
		return pki.EncodeCertificatesPEM(ca.Certificate), k
	}
	data := map[string][]byte{}
	variants := []string{"good", "intermediate", "garbage-crt", "garbage-key", "garbage-both", "truncated-crt", "truncated-key", "mismatched",
		"expired", "not-yet-valid", "not-ca", "no-cert-sign", "weak-rsa", "empty", "missing-key", "missing-crt", "swapped", "der",
		"garbage-ca.crt", "many-certs", "huge", "key-uri", "expired-leaf"}
	v := variants[g.intn(len(variants))]
	switch v {
	case "good":
		data["tls.crt"], data["tls.key"] = certPEM, keyPEM
	case "intermediate":
		c, k := pemOf(g.inter)
		data["tls.crt"], data["tls.key"], data["ca.crt"] = append(c, certPEM...), k, certPEM
	case "garbage-crt":
		data["tls.crt"], data["tls.key"] = g.bytes(1+g.intn(2000)), keyPEM
	case "garbage-key":
		data["tls.crt"], data["tls.key"] = certPEM, g.bytes(1+g.intn(2000))
	case "garbage-both":
		data["tls.crt"], data["tls.key"] = g.bytes(1+g.intn(2000)), g.bytes(1+g.intn(2000))
	case "truncated-crt":
		data["tls.crt"], data["tls.key"] = certPEM[:1+g.intn(len(certPEM)-1)], keyPEM
	case "truncated-key":
		data["tls.crt"], data["tls.key"] = certPEM, keyPEM[:1+g.intn(len(keyPEM)-1)]
	case "mismatched":
		_, k := pemOf(g.other)
		data["tls.crt"], data["tls.key"] = certPEM, k
	case "expired":
		data["tls.crt"], data["tls.key"] = pemOf(g.expired)
	case "not-yet-valid":
		data["tls.crt"], data["tls.key"] = pemOf(g.future)
	case "not-ca":
		k, _ := pki.MarshalPrivateKeyPEM(g.leafKey, pki.FormatPKCS8)
		data["tls.crt"], data["tls.key"] = pki.EncodeCertificatesPEM(g.leaf), k
	case "no-cert-sign":
		data["tls.crt"], data["tls.key"] = g.noSignCA, g.noSignKey
	case "weak-rsa":
		data["tls.crt"], data["tls.key"] = g.weakCA, g.weakKey
	case "empty":
	case "missing-key":
		data["tls.crt"] = certPEM
	case "missing-crt":
		data["tls.key"] = keyPEM
	case "swapped":
		data["tls.crt"], data["tls.key"] = keyPEM, certPEM
	case "der":
		kder, _ := x509.MarshalPKCS8PrivateKey(g.good.Key)
		data["tls.crt"], data["tls.key"] = g.good.Certificate.Raw, kder
	case "garbage-ca.crt":
		data["tls.crt"], data["tls.key"], data["ca.crt"] = certPEM, keyPEM, g.bytes(1+g.intn(500))
	case "many-certs":
		var b []byte
		for range 100 + g.intn(200) {
			b = append(b, pki.EncodeCertificatesPEM(g.leaf, g.other.Certificate)...)
		}
		data["tls.crt"], data["tls.key"] = append(certPEM, b...), keyPEM
	case "huge":
		junk := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.bytes(200_000 + g.intn(300_000))})
		data["tls.crt"], data["tls.key"] = junk, keyPEM
	case "key-uri":
		data["tls.crt"] = certPEM
		data["tls.key-uri"] = []byte(g.pick("pkcs11:token=x;object=y", "pkcs11:", "pkcs11:module-path=/etc/passwd;object=x", "file:///x", g.text(40)))
	case "expired-leaf":
		k, _ := pki.MarshalPrivateKeyPEM(g.expLeafK, pki.FormatPKCS8)
		data["tls.crt"], data["tls.key"] = pki.EncodeCertificatesPEM(g.expLeaf), k
	}
	g.caVariant[ns+"/"+name] = v
	return g.secret("Secret/ca", ns, name, data, v)
}

func (g *badGen) secret(kind, ns, name string, data map[string][]byte, note string) *badObject {
	u := newObject("v1", "Secret", ns, name)
	d := map[string]any{}
	for k, v := range data {
		d[k] = b64(v)
	}
	u.Object["data"] = d
	typ := "Opaque"
	_, hasCrt := data["tls.crt"]
	_, hasKey := data["tls.key"]
	valid := true
	if g.pct(30) {
		typ = "kubernetes.io/tls"
		valid = hasCrt && hasKey
	}
	u.Object["type"] = typ
	return &badObject{kind: kind, gvr: gvrSecret, obj: u, valid: valid, note: note + " " + typ}
}

// squatter is a Secret already at a name Certificates will use, holding
// something certplane did not write.
func (g *badGen) squatter(ns, name string) *badObject {
	certPEM := pki.EncodeCertificatesPEM(g.leaf)
	keyPEM, _ := pki.MarshalPrivateKeyPEM(g.leafKey, pki.FormatPKCS8)
	data := map[string][]byte{}
	v := g.pick("garbage", "truncated", "foreign-pair", "mismatched", "expired", "empty", "ca-pair", "only-key", "garbage-extras")
	switch v {
	case "garbage":
		data["tls.crt"], data["tls.key"] = g.bytes(1+g.intn(1500)), g.bytes(1+g.intn(1500))
	case "truncated":
		data["tls.crt"], data["tls.key"] = certPEM[:1+g.intn(len(certPEM)-1)], keyPEM[:1+g.intn(len(keyPEM)-1)]
	case "foreign-pair":
		data["tls.crt"], data["tls.key"] = certPEM, keyPEM
	case "mismatched":
		k, _ := pki.MarshalPrivateKeyPEM(g.key(), pki.FormatPKCS8)
		data["tls.crt"], data["tls.key"] = certPEM, k
	case "expired":
		k, _ := pki.MarshalPrivateKeyPEM(g.expLeafK, pki.FormatPKCS8)
		data["tls.crt"], data["tls.key"] = pki.EncodeCertificatesPEM(g.expLeaf), k
	case "empty":
	case "ca-pair":
		k, _ := pki.MarshalPrivateKeyPEM(g.good.Key, pki.FormatPKCS8)
		data["tls.crt"], data["tls.key"] = pki.EncodeCertificatesPEM(g.good.Certificate), k
	case "only-key":
		data["tls.key"] = keyPEM
	case "garbage-extras":
		data["tls.crt"], data["tls.key"], data["ca.crt"], data["keystore.p12"], data["keystore.jks"] = certPEM, keyPEM, g.bytes(100), g.bytes(300), g.bytes(300)
	}
	o := g.secret("Secret/squatter", ns, name, data, v)
	if g.pct(30) {
		// Claimed: cached by certplane, or said to belong to some Certificate.
		labels := map[string]string{"controller.cert-manager.io/fao": "true"}
		o.obj.SetLabels(labels)
	}
	if g.pct(30) {
		o.obj.SetAnnotations(map[string]string{
			"cert-manager.io/certificate-name": g.pick("cert-"+strconv.Itoa(g.intn(badCertificates)), g.label()),
			"cert-manager.io/issuer-name":      g.label(),
			"cert-manager.io/alt-names":        g.text(30),
			"cert-manager.io/revision":         g.pick("1", "-3", "x", "99999999999999999999"),
		})
	}
	return o
}

// --- Issuers ---

func (g *badGen) issuerSpec(secretNS string) (map[string]any, bool, string) {
	valid := true
	var spec map[string]any
	var note string
	switch k := g.intn(100); {
	case k < 20:
		note = "selfSigned"
		ss := map[string]any{}
		if g.pct(30) {
			ss["crlDistributionPoints"] = strs(g.some(60, g.uri))
		}
		spec = map[string]any{"selfSigned": ss}
	case k < 70:
		name := fmt.Sprintf("ca-%d", g.intn(badCASecrets/(badNamespaces+1)+3))
		if g.pct(10) {
			name = "missing-" + g.label()
		}
		note = "ca " + secretNS + "/" + name + " " + g.caVariant[secretNS+"/"+name]
		ca := map[string]any{"secretName": name}
		if g.pct(20) {
			ca["crlDistributionPoints"] = strs(g.some(60, g.uri))
		}
		if g.pct(20) {
			ca["ocspServers"] = strs(g.some(60, g.uri))
		}
		if g.pct(20) {
			ca["issuingCertificateURLs"] = strs(g.some(60, g.uri))
		}
		spec = map[string]any{"ca": ca}
	case k < 82:
		note = "acme"
		acme := map[string]any{
			"server":              g.pick("https://127.0.0.1:1/directory", "http://[::1]:1/dir", "not a url", "https://localhost:1/acme", "ftp://127.0.0.1/x", "https://127.0.0.1:1/"+g.text(10)),
			"privateKeySecretRef": map[string]any{"name": "acme-" + g.label()},
		}
		if g.pct(50) {
			acme["email"] = g.email()
		}
		if g.pct(20) {
			acme["skipTLSVerify"] = true
		} else if g.pct(20) {
			acme["caBundle"] = b64([]byte(g.ascii(300) + "x")) // see certificateRequest on binary data
		}
		if g.pct(20) {
			acme["disableAccountKeyGeneration"] = true
		}
		if g.pct(15) {
			acme["externalAccountBinding"] = map[string]any{"keyID": g.text(10), "keySecretRef": map[string]any{"name": "eab-" + g.label(), "key": g.label()}}
		}
		if g.pct(60) {
			var solvers []any
			for range 1 + g.intn(3) {
				s := map[string]any{}
				if g.pct(50) {
					s["http01"] = map[string]any{"ingress": map[string]any{"ingressClassName": g.label()}}
				} else {
					s["dns01"] = map[string]any{"rfc2136": map[string]any{"nameserver": g.pick("127.0.0.1:1", "[::1]:53", "bogus", g.text(10)),
						"tsigAlgorithm": g.pick("HMACSHA256", "bogus", ""), "tsigKeyName": g.label()}}
				}
				if g.pct(20) {
					s["selector"] = map[string]any{"dnsZones": strs(g.some(70, g.dnsName))}
				}
				if g.pct(10) {
					s["waitInsteadOfSelfCheck"] = g.goodDuration()
				}
				solvers = append(solvers, s)
			}
			acme["solvers"] = solvers
		}
		spec = map[string]any{"acme": acme}
	case k < 90:
		note = "vault"
		auth := map[string]any{}
		switch g.intn(5) {
		case 0:
			auth["tokenSecretRef"] = map[string]any{"name": "tok-" + g.label()}
		case 1:
			auth["appRole"] = map[string]any{"path": "approle", "roleId": g.text(10), "secretRef": map[string]any{"name": "sid-" + g.label()}}
		case 2:
			auth["kubernetes"] = map[string]any{"role": "r", "serviceAccountRef": map[string]any{"name": "sa-" + g.label()}}
		case 3:
			auth["clientCertificate"] = map[string]any{"secretName": "cc-" + g.label()}
		default:
			auth["aws"] = map[string]any{"role": "r"}
		}
		vault := map[string]any{"server": g.pick("https://127.0.0.1:1", "http://127.0.0.1:1", "garbage", "https://[::1]:1"), "path": g.pick("pki/sign/x", "pki/"+g.label()), "auth": auth}
		if g.pct(20) {
			vault["caBundle"] = b64([]byte(g.ascii(300) + "x"))
		}
		spec = map[string]any{"vault": vault}
	default:
		note = "venafi"
		spec = map[string]any{"venafi": map[string]any{"zone": g.text(10), "tpp": map[string]any{"url": "https://127.0.0.1:1"}}}
	}
	if g.pct(12) {
		valid = false
		switch g.intn(6) {
		case 0:
			spec, note = map[string]any{}, "no issuer kind"
		case 1:
			spec["selfSigned"], spec["ca"], note = map[string]any{}, map[string]any{"secretName": "x"}, "two kinds"
		case 2:
			spec, note = map[string]any{"ca": map[string]any{"secretName": "Bad_Name"}}, "bad CA Secret name"
		case 3:
			spec, note = map[string]any{"ca": map[string]any{"secretName": "x", "ocspServers": []any{""}}}, "empty OCSP URL"
		case 4:
			spec, note = map[string]any{"acme": map[string]any{"server": "", "privateKeySecretRef": map[string]any{"name": "k"}}}, "acme without server"
		default:
			spec, note = map[string]any{"acme": map[string]any{"server": "https://127.0.0.1:1/", "privateKeySecretRef": map[string]any{"name": "k"},
				"solvers": []any{map[string]any{"http01": map[string]any{"ingress": map[string]any{}}, "waitInsteadOfSelfCheck": g.pick("garbage", "1d", "3000000h")}}}}, "unparsable waitInsteadOfSelfCheck"
		}
	}
	return spec, valid, note
}

func (g *badGen) issuer(ns, name string) *badObject {
	spec, valid, note := g.issuerSpec(ns)
	u := newObject("cert-manager.io/v1", "Issuer", ns, name)
	u.Object["spec"] = spec
	return &badObject{kind: "Issuer", gvr: gvrIssuer, obj: u, valid: valid, note: note}
}

func (g *badGen) clusterIssuer(name string) *badObject {
	spec, valid, note := g.issuerSpec("cert-manager")
	u := newObject("cert-manager.io/v1", "ClusterIssuer", "", name)
	u.Object["spec"] = spec
	return &badObject{kind: "ClusterIssuer", gvr: gvrClusterIssuer, obj: u, valid: valid, note: note}
}

// issuerRef names an issuer: the good anchors, the random ones (which may
// not exist), ClusterIssuers, odd names and external issuers.
func (g *badGen) issuerRef() (map[string]any, bool) {
	perNS := badIssuers / badNamespaces
	switch k := g.intn(100); {
	case k < 30:
		return map[string]any{"name": g.pick("anchor-ca", "anchor-ss")}, false
	case k < 38:
		return map[string]any{"name": g.pick("badinput-anchor-ca", "badinput-anchor-ss"), "kind": "ClusterIssuer", "group": "cert-manager.io"}, false
	case k < 78:
		return map[string]any{"name": fmt.Sprintf("iss-%d", g.intn(perNS+perNS/10+1))}, false
	case k < 88:
		return map[string]any{"name": fmt.Sprintf("ciss-%d", g.intn(badClusterIssuers+5)), "kind": "ClusterIssuer"}, false
	case k < 93:
		return map[string]any{"name": g.pick("UPPER", "with space", "../x", "a/b", "ü", g.text(20)+"x"), "kind": g.pick("Issuer", "ClusterIssuer", "")}, false
	default:
		return map[string]any{"name": g.label(), "kind": g.pick("FooIssuer", "Issuer"), "group": g.pick("example.com", "external.issuer.io")}, true
	}
}

// --- Certificates ---

func (g *badGen) certificate(ns, name string) *badObject {
	spec := map[string]any{}
	hasName := false
	if g.pct(60) {
		spec["commonName"] = g.pick(g.dnsName(), g.text(63)+"x", "system:node:"+g.label(), strings.Repeat("x", 64))
		hasName = true
	} else if g.pct(15) {
		spec["literalSubject"] = g.pick("CN="+g.label()+",O="+g.label(), "=,+", `CN=a\`, "1.2.3=x", "CN=#zz", "O=only,C=XX", g.text(40)+"x", "CN=a+CN=b", "2.5.4.3=#0c0161")
		hasName = true
	}
	if g.pct(60) || !hasName {
		spec["dnsNames"] = strs(append([]string{g.dnsName()}, g.some(40, g.dnsName)...))
	}
	if g.pct(20) {
		spec["ipAddresses"] = strs(append([]string{g.ip()}, g.some(30, g.ip)...))
	}
	if g.pct(15) {
		spec["uris"] = strs(append([]string{g.uri()}, g.some(30, g.uri)...))
	}
	if g.pct(10) {
		spec["emailAddresses"] = strs(append([]string{g.email()}, g.some(30, g.email)...))
	}
	if g.pct(5) {
		spec["otherNames"] = []any{map[string]any{"oid": g.pick("1.3.6.1.4.1.311.20.2.3", "1.2.3", "2.999."+strconv.Itoa(g.intn(99999))), "utf8Value": g.text(20) + "x"}}
	}
	if _, lit := spec["literalSubject"]; !lit && g.pct(20) {
		subj := map[string]any{}
		for _, f := range []string{"organizations", "countries", "organizationalUnits", "localities", "provinces", "streetAddresses", "postalCodes"} {
			if g.pct(30) {
				subj[f] = strs(g.some(60, func() string { return g.text(20) }))
			}
		}
		if g.pct(20) {
			subj["serialNumber"] = g.text(20)
		}
		spec["subject"] = subj
	}
	duration := "2160h"
	if g.pct(40) {
		duration = g.goodDuration()
		spec["duration"] = duration
	}
	// Renewal at least half an hour after issuance: a spec may ask for
	// one every minute (duration 61m, renewBefore 1h), which is work the
	// user asked for, not the idle the test measures.
	d, _ := time.ParseDuration(duration)
	switch {
	case g.pct(15):
		for _, rb := range []string{"5m", "1h", "30m", "720h", "2000h"} {
			if r, _ := time.ParseDuration(rb); d-r >= 30*time.Minute && g.pct(50) {
				spec["renewBefore"] = rb
				break
			}
		}
	case g.pct(10):
		if most := int(100 - (30*time.Minute*100+d-1)/d); most >= 1 {
			spec["renewBeforePercentage"] = int64(1 + g.intn(min(most, 99)))
		}
	}
	if g.pct(5) {
		ren := map[string]any{"policy": g.pick("RenewBefore", "Disabled")}
		if ren["policy"] == "RenewBefore" && g.pct(50) {
			ren["windows"] = []any{map[string]any{"cron": g.pick("0 2 * * *", "bogus", g.text(10)), "timezone": g.pick("UTC", "Mars/Olympus", ""), "windowDuration": g.goodDuration()}}
		}
		spec["renewal"] = ren
	}
	if g.pct(10) {
		spec["isCA"] = true
	}
	if g.pct(30) {
		spec["usages"] = g.usages()
	}
	algo := "RSA"
	if g.pct(85) {
		pk := map[string]any{}
		switch k := g.intn(100); {
		case k < 50:
			algo = "ECDSA"
			pk["algorithm"] = algo
			if g.pct(70) {
				pk["size"] = int64([]int{256, 384, 521}[g.intn(3)])
			}
		case k < 85:
			algo = "Ed25519"
			pk["algorithm"] = algo
		default:
			if g.pct(50) {
				pk["algorithm"] = "RSA"
			}
			// 8192 is as valid, and takes tens of seconds to generate.
			pk["size"] = int64([]int{2048, 2048, 2048, 3072, 4096}[g.intn(5)])
			if g.pct(90) {
				pk["size"] = int64(2048)
			}
		}
		if g.pct(30) {
			pk["rotationPolicy"] = g.pick("Never", "Always")
		}
		if g.pct(30) {
			pk["encoding"] = g.pick("PKCS1", "PKCS8")
		}
		spec["privateKey"] = pk
	}
	if g.pct(15) {
		switch algo {
		case "ECDSA":
			spec["signatureAlgorithm"] = g.pick("ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512")
		case "Ed25519":
			spec["signatureAlgorithm"] = "PureEd25519"
		default:
			spec["signatureAlgorithm"] = g.pick("SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA")
		}
	}
	perNS := badCertificates / badNamespaces
	switch k := g.intn(100); {
	case k < 4:
		spec["secretName"] = fmt.Sprintf("ca-%d", g.intn(badCASecrets/(badNamespaces+1)))
	default:
		spec["secretName"] = fmt.Sprintf("tls-%d", g.intn(perNS))
	}
	if g.pct(10) {
		tmpl := map[string]any{}
		kv := func() map[string]any {
			m := map[string]any{}
			for range 1 + g.intn(3) {
				m[g.pick(g.label(), "example.com/"+g.label(), "bad key!", "a/b/c", strings.Repeat("k", 70), "UPPER_ok")] = g.pick(g.label(), g.text(20), strings.Repeat("v", 70), "")
			}
			return m
		}
		if g.pct(60) {
			tmpl["labels"] = kv()
		}
		if g.pct(60) {
			tmpl["annotations"] = kv()
		}
		spec["secretTemplate"] = tmpl
	}
	if g.pct(10) {
		ks := map[string]any{}
		store := func() map[string]any {
			s := map[string]any{"create": g.pct(80)}
			if g.pct(50) {
				s["password"] = g.text(10) + "x"
			} else {
				s["passwordSecretRef"] = map[string]any{"name": g.pick("pw-0", "pw-1", "pw-missing"), "key": g.pick("password", "other")}
			}
			return s
		}
		if g.pct(50) {
			ks["jks"] = store()
		}
		if g.pct(50) {
			p := store()
			if g.pct(50) {
				p["profile"] = g.pick("LegacyRC2", "LegacyDES", "Modern2023", "Modern2026")
			}
			ks["pkcs12"] = p
		}
		spec["keystores"] = ks
	}
	if g.pct(10) {
		var f []any
		for _, t := range []string{"DER", "CombinedPEM"} {
			if g.pct(50) {
				f = append(f, map[string]any{"type": t})
			}
		}
		if len(f) > 0 {
			spec["additionalOutputFormats"] = f
		}
	}
	if spec["isCA"] == true && g.pct(30) {
		item := func() map[string]any {
			return map[string]any{"dnsDomains": strs(g.some(60, g.dnsName)), "ipRanges": strs(g.some(40, func() string {
				return g.pick("10.0.0.0/8", "192.168.0.0/33", "bogus", "::/0", g.ip())
			})), "emailAddresses": strs(g.some(30, g.email)), "uriDomains": strs(g.some(30, g.dnsName))}
		}
		nc := map[string]any{"critical": g.pct(50), "permitted": item()}
		if g.pct(50) {
			nc["excluded"] = item()
		}
		spec["nameConstraints"] = nc
	}
	if g.pct(5) {
		spec["encodeUsagesInRequest"] = g.pct(50)
	}
	if g.pct(5) {
		spec["revisionHistoryLimit"] = int64(1 + g.intn(5))
	}
	ref, external := g.issuerRef()
	spec["issuerRef"] = ref
	valid, note := true, ""
	if g.pct(15) {
		valid = false
		switch g.intn(17) {
		case 0:
			spec["commonName"], note = strings.Repeat("c", 65), "commonName too long"
		case 1:
			spec["dnsNames"], note = []any{g.badDNSName()}, "bad DNS name"
		case 2:
			spec["ipAddresses"], note = []any{g.pick("300.1.1.1", "bogus", "1.2.3", "::g", "::ffff:10.0.0.1")}, "bad IP"
		case 3:
			spec["emailAddresses"], note = []any{g.pick("noat", "@x", "x@")}, "bad email"
		case 4:
			spec["duration"], note = g.pick("garbage", "30m", "3000000h", "1d", "-1h", "1hh"), "bad duration"
		case 5:
			delete(spec, "renewBeforePercentage")
			spec["duration"], spec["renewBefore"], note = "2h", "3h", "renewBefore beyond duration"
		case 6:
			spec["renewBefore"], spec["renewBeforePercentage"], note = "1h", int64(50), "renewBefore and percentage"
		case 7:
			spec["privateKey"], note = map[string]any{"algorithm": "RSA", "size": int64(g.pick2(1024, 512, 9000, 2047))}, "bad RSA size"
		case 8:
			spec["privateKey"], note = map[string]any{"algorithm": "ECDSA", "size": int64(g.pick2(255, 2048, 1))}, "bad ECDSA size"
		case 9:
			spec["privateKey"], spec["signatureAlgorithm"], note = map[string]any{"algorithm": "Ed25519"}, "SHA256WithRSA", "signature algorithm for another key"
		case 10:
			spec["secretName"], note = g.pick("Bad_Name", "", "-x", strings.Repeat("a", 254)), "bad secretName"
		case 11:
			spec["issuerRef"], note = map[string]any{"name": ""}, "empty issuer name"
		case 12:
			spec["issuerRef"], note = map[string]any{"name": "x", "kind": "Foo", "group": "cert-manager.io"}, "bad issuer kind"
		case 13:
			spec["literalSubject"], spec["commonName"], note = "CN=x", "y", "literalSubject with commonName"
		case 14:
			delete(spec, "isCA")
			spec["nameConstraints"], note = map[string]any{"permitted": map[string]any{"dnsDomains": []any{"x.example"}}}, "nameConstraints without isCA"
		case 15:
			for _, f := range []string{"commonName", "literalSubject", "dnsNames", "ipAddresses", "uris", "emailAddresses", "otherNames"} {
				delete(spec, f)
			}
			note = "no names"
		default:
			spec["renewal"], note = map[string]any{"windows": []any{map[string]any{"cron": "0 2 * * *", "windowDuration": g.pick("garbage", "1d", "3000000h")}}}, "unparsable windowDuration"
		}
	}
	u := newObject("cert-manager.io/v1", "Certificate", ns, name)
	u.Object["spec"] = spec
	if note == "" {
		note = fmt.Sprintf("issuerRef %v", ref)
	}
	return &badObject{kind: "Certificate", gvr: gvrCertificate, obj: u, valid: valid, note: note, external: external}
}

func (g *badGen) pick2(xs ...int) int { return xs[g.intn(len(xs))] }

// --- CSRs and CertificateRequests ---

// csrDER makes a request for key with a random subject and names; odd
// names when odd is set.
func (g *badGen) csrDER(key crypto.Signer, cn string, orgs []string, odd bool) []byte {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}
	for range g.intn(3) {
		tmpl.DNSNames = append(tmpl.DNSNames, g.dnsName())
	}
	if g.pct(20) {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(g.ip()))
	}
	if odd {
		switch g.intn(5) {
		case 0:
			tmpl.DNSNames = append(tmpl.DNSNames, g.asciiName(), g.ascii(20))
		case 1:
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, "@", g.ascii(10))
		case 2:
			for i := range 1000 {
				tmpl.DNSNames = append(tmpl.DNSNames, fmt.Sprintf("n%d.example", i))
			}
		case 3:
			tmpl.Subject.CommonName = strings.Repeat("c", 300)
		default:
			tmpl.Subject.CommonName = "nul\x00in\x00name " + g.text(10)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		panic(err) // the generator's own mistake
	}
	return der
}

func pemCSR(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Kinds of spec.request: a good request, one that parses as PEM and
// PKCS#10 but that no signer should take, and one that does not parse
// (the apiserver refuses those in a CertificateSigningRequest).
const (
	requestGood = iota
	requestOdd
	requestUnparsable
)

// request is a spec.request, good or broken, with its kind and variant.
func (g *badGen) request() ([]byte, int, string) {
	good := pemCSR(g.csrDER(g.key(), g.dnsName(), nil, false))
	if g.pct(45) {
		return good, requestGood, "good request"
	}
	der := g.csrDER(g.key(), g.dnsName(), nil, false)
	v := g.pick("random bytes", "truncated PEM", "DER", "CERTIFICATE block", "random DER", "bad signature", "two requests",
		"leading garbage", "private key", "header only", "RSA-1024", "odd names", "certificate")
	switch v {
	case "random bytes":
		return g.bytes(1 + g.intn(1000)), requestUnparsable, v
	case "truncated PEM":
		return good[:1+g.intn(len(good)-1)], requestUnparsable, v
	case "DER":
		return der, requestUnparsable, v
	case "CERTIFICATE block":
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), requestUnparsable, v
	case "random DER":
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: g.bytes(1 + g.intn(600))}), requestUnparsable, v
	case "bad signature":
		b := slices.Clone(der)
		b[len(b)-2-g.intn(8)] ^= 0x5a
		return pemCSR(b), requestUnparsable, v
	case "two requests":
		return append(good, pemCSR(der)...), requestOdd, v
	case "leading garbage":
		return append([]byte(g.text(40)+"\n"), good...), requestOdd, v
	case "private key":
		k, _ := pki.MarshalPrivateKeyPEM(g.key(), pki.FormatPKCS8)
		return k, requestUnparsable, v
	case "header only":
		return []byte("-----BEGIN CERTIFICATE REQUEST-----\n"), requestUnparsable, v
	case "RSA-1024":
		return pemCSR(g.csrDER(g.rsa1024, g.dnsName(), nil, false)), requestOdd, v
	case "odd names":
		return pemCSR(g.csrDER(g.key(), g.dnsName(), nil, true)), requestOdd, v
	default:
		return pki.EncodeCertificatesPEM(g.leaf), requestUnparsable, v
	}
}

func (g *badGen) certificateRequest(ns, name string) *badObject {
	req, _, note := g.request() // the apiserver takes any bytes here
	ref, external := g.issuerRef()
	spec := map[string]any{"request": b64(req), "issuerRef": ref}
	if g.pct(40) {
		spec["duration"] = g.pick(g.goodDuration(), "-1h", "0s", "1ns", "30m")
	}
	if g.pct(10) {
		spec["isCA"] = true
	}
	if g.pct(30) {
		spec["usages"] = g.usages()
	}
	if g.pct(10) {
		spec["username"], spec["groups"], spec["uid"] = g.text(10), []any{"system:masters", g.text(5)}, g.text(5)
		spec["extra"] = map[string]any{g.label(): []any{g.text(5)}}
	}
	// The apiserver turns a format: byte field into CEL bytes for the
	// rules with go-openapi's base64 decoder, which reads the URL alphabet:
	// base64 with '+' or '/' is refused (422) wherever a rule reads the
	// field. A PEM request never has them (its bytes are ASCII below '>'
	// in every third position); binary garbage often does.
	valid := !strings.ContainsAny(spec["request"].(string), "+/")
	if g.pct(8) {
		valid = false
		switch g.intn(4) {
		case 0:
			spec["request"], note = "", "empty request"
		case 1:
			spec["duration"], note = g.pick("garbage", "1d", "3000000h", "5"), "unparsable duration"
		case 2:
			spec["usages"], note = []any{"bogus"}, "unknown usage"
		default:
			spec["issuerRef"], note = map[string]any{"name": ""}, "empty issuer name"
		}
	}
	u := newObject("cert-manager.io/v1", "CertificateRequest", ns, name)
	u.Object["spec"] = spec
	if g.pct(15) {
		u.SetAnnotations(map[string]string{"cert-manager.io/private-key-secret-name": g.pick("tls-"+strconv.Itoa(g.intn(20)), "missing", "ca-1", "anchor-ca")})
	}
	return &badObject{kind: "CertificateRequest", gvr: gvrRequest, obj: u, valid: valid, note: note + fmt.Sprintf(" issuerRef %v", ref), external: external}
}

// csr is a certificates.k8s.io request to one of certplane's signers.
func (g *badGen) csr(name string) *badObject {
	perNS := badIssuers / badNamespaces
	var signer string
	switch k := g.intn(100); {
	case k < 30:
		signer = "kubernetes.io/kube-apiserver-client"
	case k < 45:
		signer = "kubernetes.io/kube-apiserver-client-kubelet"
	case k < 60:
		signer = "kubernetes.io/kubelet-serving"
	case k < 70:
		signer = "issuers.cert-manager.io/" + g.ns() + ".anchor-ca"
	case k < 80:
		signer = fmt.Sprintf("issuers.cert-manager.io/%s.iss-%d", g.ns(), g.intn(perNS))
	case k < 85:
		signer = "clusterissuers.cert-manager.io/badinput-anchor-" + g.pick("ca", "ss")
	case k < 92:
		signer = fmt.Sprintf("clusterissuers.cert-manager.io/ciss-%d", g.intn(badClusterIssuers))
	default:
		signer = g.pick("issuers.cert-manager.io/nodot", "issuers.cert-manager.io/"+g.label()+"."+g.label()+"."+g.label(), "clusterissuers.cert-manager.io/a.b")
	}
	kubelet := signer == "kubernetes.io/kube-apiserver-client-kubelet" || signer == "kubernetes.io/kubelet-serving"
	cn, orgs := g.dnsName(), []string(nil)
	node := g.pct(50)
	if node {
		cn, orgs = "system:node:"+g.label(), []string{"system:nodes"}
	}
	key := g.key()
	if g.pct(8) {
		key = g.rsa1024
	}
	request, kind, variant := pemCSR(g.csrDER(key, cn, orgs, g.pct(20))), requestGood, "request for "+cn
	if g.pct(10) {
		request, kind, variant = g.request()
	}
	all := []string{"digital signature", "key encipherment", "client auth", "server auth", "cert sign", "any", "code signing"}
	var usages []string
	for range 1 + g.intn(4) {
		if u := all[g.intn(len(all))]; !slices.Contains(usages, u) {
			usages = append(usages, u)
		}
	}
	// Requests that break their signer's rules for certain, whatever else
	// they hold: the kubelet signers' need a node's subject, and the client
	// signer's client auth and nothing beyond its three usages.
	expectFail := (kubelet && !node) || signer == "issuers.cert-manager.io/nodot" ||
		(signer == "kubernetes.io/kube-apiserver-client" && (!slices.Contains(usages, "client auth") ||
			slices.ContainsFunc(usages, func(u string) bool { return !slices.Contains(all[:3], u) })))
	spec := map[string]any{"request": b64(request), "signerName": signer, "usages": strs(usages)}
	if g.pct(40) {
		spec["expirationSeconds"] = int64(g.pick2(600, 3600, 86400, 31536000, 2147483647))
	}
	valid := kind != requestUnparsable
	note := signer + " " + variant
	if g.pct(5) {
		valid = false
		spec["expirationSeconds"], note = int64(g.pick2(1, 599, -5)), signer+" short expirationSeconds"
	}
	u := newObject("certificates.k8s.io/v1", "CertificateSigningRequest", "", name)
	u.Object["spec"] = spec
	if g.pct(20) {
		u.SetAnnotations(map[string]string{"experimental.cert-manager.io/private-key-secret-name": g.pick("missing", "tls-1"),
			"experimental.cert-manager.io/request-duration": g.pick("1h", "garbage", "-5m", "3000000h"), "experimental.cert-manager.io/request-is-ca": g.pick("true", "yes")})
	}
	return &badObject{kind: "CertificateSigningRequest", gvr: gvrCSR, obj: u, valid: valid, note: note, expectFail: expectFail}
}

// --- the test ---

// TestBadInputAPI sends a few thousand random but mostly schema-valid
// Certificates, CertificateRequests, Issuers, ClusterIssuers,
// CertificateSigningRequests and Secrets (good and broken CAs, Secrets
// already at a Certificate's secretName, garbage requests), generated from
// one seed, to `certplane up`. The apiserver may refuse some, always with a
// 4xx and a message; certplane must take the rest without crashing,
// without a hot loop, leave every object with a condition that says why,
// and go back to idle.
func TestBadInputAPI(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(badSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", badSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (repeat with %s=%d)", seed, badSeedEnv, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d: repeat with %s=%d", seed, badSeedEnv, seed)
		}
	})
	start := time.Now()
	g := newBadGen(t, seed)

	// Generate everything first, in order, from the seed.
	var secrets, issuers, certs, requests, csrs []*badObject
	perNSSecrets := badCASecrets / (badNamespaces + 1)
	for _, ns := range append(slices.Clone(g.nss), "cert-manager") {
		for i := range perNSSecrets {
			secrets = append(secrets, g.caSecret(ns, fmt.Sprintf("ca-%d", i)))
		}
	}
	squatted := map[string]bool{}
	for len(squatted) < badSquatters {
		ns, name := g.ns(), fmt.Sprintf("tls-%d", g.intn(badCertificates/badNamespaces))
		if !squatted[ns+"/"+name] {
			squatted[ns+"/"+name] = true
			secrets = append(secrets, g.squatter(ns, name))
		}
	}
	for i := range badIssuers {
		issuers = append(issuers, g.issuer(g.nss[i%badNamespaces], fmt.Sprintf("iss-%d", i/badNamespaces)))
	}
	for i := range badClusterIssuers {
		issuers = append(issuers, g.clusterIssuer(fmt.Sprintf("ciss-%d", i)))
	}
	for i := range badCertificates {
		certs = append(certs, g.certificate(g.nss[i%badNamespaces], fmt.Sprintf("cert-%d", i/badNamespaces)))
	}
	for i := range badRequests {
		requests = append(requests, g.certificateRequest(g.nss[i%badNamespaces], fmt.Sprintf("cr-%d", i)))
	}
	for i := range badCSRs {
		csrs = append(csrs, g.csr(fmt.Sprintf("badinput-csr-%d", i)))
	}
	t.Logf("generated %d objects in %s", len(secrets)+len(issuers)+len(certs)+len(requests)+len(csrs), time.Since(start).Round(time.Second))

	data := t.TempDir()
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", freePort(t))
	up := startUp(t, data, freePort(t), "--metrics-bind-address", strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), "/metrics"), "--web-address", "")
	pid := up.cmd.Process.Pid
	admin := filepath.Join(data, "admin.conf")
	cfg := restConfig(t, admin)
	cfg.QPS, cfg.Burst = -1, 0             // the apiserver's priority and fairness is the limit
	cfg.WarningHandler = rest.NoWarnings{} // kubernetes.io/tls Secrets with garbage get one each
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	apiBefore := apiServerErrors(t, cs)
	t.Logf("certplane up (pid %d) after %s", pid, time.Since(start).Round(time.Second))

	// The anchors: namespaces, a good CA, good issuers in each namespace
	// and two good ClusterIssuers, so that many random specs are signed.
	stats := newBadStats()
	caCert := pki.EncodeCertificatesPEM(g.good.Certificate)
	caKey, _ := pki.MarshalPrivateKeyPEM(g.good.Key, pki.FormatPKCS8)
	var anchors []*badObject
	for _, ns := range append(slices.Clone(g.nss), "cert-manager") {
		anchors = append(anchors, &badObject{kind: "Namespace", gvr: gvrNamespace, obj: newObject("v1", "Namespace", "", ns), valid: true})
	}
	sendAll(ctx, t, dyn, anchors, stats, true)
	anchors = nil
	for _, ns := range append(slices.Clone(g.nss), "cert-manager") {
		s := newObject("v1", "Secret", ns, "anchor-ca")
		s.Object["data"] = map[string]any{"tls.crt": b64(caCert), "tls.key": b64(caKey)}
		anchors = append(anchors, &badObject{kind: "Secret/anchor", gvr: gvrSecret, obj: s, valid: true})
		for _, p := range []string{"pw-0", "pw-1"} {
			s := newObject("v1", "Secret", ns, p)
			s.Object["data"] = map[string]any{"password": b64([]byte(g.text(12) + "x"))}
			anchors = append(anchors, &badObject{kind: "Secret/anchor", gvr: gvrSecret, obj: s, valid: true})
		}
	}
	for _, ns := range g.nss {
		ca := newObject("cert-manager.io/v1", "Issuer", ns, "anchor-ca")
		ca.Object["spec"] = map[string]any{"ca": map[string]any{"secretName": "anchor-ca"}}
		ss := newObject("cert-manager.io/v1", "Issuer", ns, "anchor-ss")
		ss.Object["spec"] = map[string]any{"selfSigned": map[string]any{}}
		anchors = append(anchors, &badObject{kind: "Issuer", gvr: gvrIssuer, obj: ca, valid: true, note: "anchor"},
			&badObject{kind: "Issuer", gvr: gvrIssuer, obj: ss, valid: true, note: "anchor"})
	}
	cca := newObject("cert-manager.io/v1", "ClusterIssuer", "", "badinput-anchor-ca")
	cca.Object["spec"] = map[string]any{"ca": map[string]any{"secretName": "anchor-ca"}}
	css := newObject("cert-manager.io/v1", "ClusterIssuer", "", "badinput-anchor-ss")
	css.Object["spec"] = map[string]any{"selfSigned": map[string]any{}}
	anchors = append(anchors, &badObject{kind: "ClusterIssuer", gvr: gvrClusterIssuer, obj: cca, valid: true, note: "anchor"},
		&badObject{kind: "ClusterIssuer", gvr: gvrClusterIssuer, obj: css, valid: true, note: "anchor"})

	sendStart := time.Now()
	accepted := sendAll(ctx, t, dyn, anchors, stats, true)
	for _, batch := range [][]*badObject{secrets, issuers, certs, requests, csrs} {
		accepted = append(accepted, sendAll(ctx, t, dyn, batch, stats, false)...)
	}
	t.Logf("sent in %s", time.Since(sendStart).Round(time.Second))
	decideCSRs(ctx, t, cs, accepted, g)
	t.Logf("CSRs approved or denied after %s", time.Since(sendStart).Round(time.Second))
	reportSent(t, stats)

	// Every accepted object ends with a condition that says why.
	settleStart := time.Now()
	missing := waitConditions(ctx, t, dyn, cs, accepted, 150*time.Second)
	for kind, ids := range missing {
		t.Errorf("%d %s objects without the condition they should have, e.g.:\n  %s", len(ids), kind, strings.Join(ids[:min(len(ids), 8)], "\n  "))
	}
	t.Logf("conditions settled %s after the last object was sent", time.Since(settleStart).Round(time.Second))
	settled := time.Now()
	summarizeOutcomes(ctx, t, dyn, accepted)

	// Bad input by update: garbage written over issued Secrets. Each
	// Certificate issues again, or says why not.
	corruptIssued(ctx, t, dyn, accepted, g, 40)

	// Idle again: certplane's CPU and API traffic over a quiet window.
	// The window starts once the longest recheck of a waiting object has
	// come round since everything settled (a Certificate waiting for its
	// issuer looks again after a minute, and may only then find that
	// another Certificate has written the Secret it names: one more status
	// write, not a loop), and the objects have taken no write for 5 s.
	waitSettled(t, cs, settled.Add(badLongestRecheck), 3*time.Minute)
	before := snapshot(ctx, t, dyn, accepted, g.nss)
	m0, _ := scrape(t, metricsURL)
	api0 := apiRequests(t, cs)
	cpu0, wall0 := processCPU(t, pid), time.Now()
	time.Sleep(badIdleWindow) // the window itself is the measurement
	cpu1, wall1 := processCPU(t, pid), time.Now()
	m1, _ := scrape(t, metricsURL)
	api1 := apiRequests(t, cs)
	window := wall1.Sub(wall0)
	secs := window.Seconds()
	frac := float64(cpu1-cpu0) / float64(window)
	t.Logf("idle: certplane used %s of CPU in %s (%.1f%% of one core; bound %.0f%%)", cpu1-cpu0, window.Round(time.Millisecond), 100*frac, 100*badIdleCPU)
	if frac > badIdleCPU {
		t.Errorf("certplane is not idle: %.1f%% of a core over %s", 100*frac, window.Round(time.Second))
	}
	t.Logf("idle: certplane's requests to the apiserver per second, by method: %s", formatRates(metricDelta(m0, m1, "rest_client_requests_total", "method"), secs))
	t.Logf("idle: reconciles per second, by controller and result: %s", formatRates(metricDelta(m0, m1, "controller_runtime_reconcile_total", "controller", "result"), secs))
	writes := map[string]float64{}
	for k, v := range api1 {
		verb, rest, _ := strings.Cut(k, " ")
		resource, _, _ := strings.Cut(rest, " ")
		if d := v - api0[k]; d > 0 && slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE", "APPLY"}, verb) && !strings.HasPrefix(resource, "leases/") {
			writes[verb+" "+resource] += d
		}
	}
	t.Logf("idle: writes the apiserver took per second (all clients but leases): %s", formatRates(writes, secs))
	for k, n := range writes {
		if resource := k[strings.IndexByte(k, ' ')+1:]; slices.Contains(badResources, resource[:strings.IndexByte(resource, '/')]) && n > 0 {
			t.Errorf("idle: %v writes %s in the quiet window", n, k)
		}
	}
	if ev := writes["POST events/"] + writes["PATCH events/"]; ev > float64(len(accepted))/100 {
		t.Errorf("idle: %v Events in the quiet window", ev)
	}
	// A hot loop shows as a controller that reconciles faster than its
	// objects' shortest recheck (10 s), or one that fails.
	live := listAll(ctx, t, dyn, accepted)
	count := map[string]int{}
	for id := range live {
		count[id[:strings.IndexByte(id, ' ')]]++
	}
	for c, n := range metricDelta(m0, m1, "controller_runtime_reconcile_total", "controller") {
		objects := 0
		for _, kind := range badControllerKinds[c] {
			objects += count[kind]
		}
		if limit := max(5, float64(objects)/10); n/secs > limit {
			t.Errorf("idle: controller %s reconciles %.1f times a second for %d objects (at most %.1f)", c, n/secs, objects, limit)
		}
	}
	// Each periodic recheck reads an object at most once per 10 s.
	var requested float64
	for _, n := range metricDelta(m0, m1, "rest_client_requests_total", "method") {
		requested += n
	}
	if limit := float64(len(live)) / 10; requested/secs > limit {
		t.Errorf("idle: certplane makes %.1f requests a second for %d objects (at most %.1f)", requested/secs, len(live), limit)
	}
	for c, n := range metricDelta(m0, m1, "controller_runtime_reconcile_errors_total", "controller") {
		if n > 0 {
			t.Errorf("idle: controller %s returned %v errors", c, n)
		}
	}
	if changed := changedSince(ctx, t, dyn, accepted, g.nss, before); len(changed) > 0 {
		slices.SortStableFunc(changed, func(a, b string) int { // Secrets first: fewer, and worse
			return strings.Compare(strings.Fields(b)[0], strings.Fields(a)[0])
		})
		t.Errorf("%d objects were rewritten in the quiet window (a loop?), e.g.:\n  %s", len(changed), strings.Join(changed[:min(len(changed), 12)], "\n  "))
	}

	// Still the same process, still serving, no panic in its log.
	select {
	case <-up.done:
		t.Fatalf("certplane exited: %v", up.err)
	default:
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
		t.Errorf("certplane's process %d is gone: %v", pid, err)
	}
	if resp, err := http.Get(metricsURL); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("metrics endpoint after the run: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	logData, err := os.ReadFile(filepath.Join(data, "logs", "controllers.log"))
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(strings.ToLower(string(logData)), "panic"); i >= 0 {
		t.Errorf("controllers.log mentions a panic: %s", string(logData[max(0, i-300):min(len(logData), i+700)]))
	}
	t.Logf("controllers.log: %d lines, %d Reconciler errors", strings.Count(string(logData), "\n"), strings.Count(string(logData), "Reconciler error"))
	logReconcilerErrors(t, string(logData))
	if d := apiServerErrors(t, cs) - apiBefore; d > 0 {
		t.Errorf("kube-apiserver answered %d requests with a 5xx during the run", d)
	}
	t.Logf("TestBadInputAPI took %s", time.Since(start).Round(time.Second))
}

// sendAll creates the objects with a few workers and returns those the
// apiserver accepted. A refusal must be a 4xx with a message; anchors must
// be accepted.
func sendAll(ctx context.Context, t *testing.T, dyn dynamic.Interface, objs []*badObject, stats *badStats, anchors bool) []*badObject {
	t.Helper()
	var (
		mu  sync.Mutex
		out []*badObject
	)
	err := parallelN(len(objs), 8, func(i int) error {
		o := objs[i]
		res := dyn.Resource(o.gvr)
		var err error
		if o.ns() != "" {
			_, err = res.Namespace(o.ns()).Create(ctx, o.obj, metav1.CreateOptions{})
		} else {
			_, err = res.Create(ctx, o.obj, metav1.CreateOptions{})
		}
		if anchors && apierrors.IsAlreadyExists(err) {
			err = nil
		}
		stats.mu.Lock()
		defer stats.mu.Unlock()
		stats.sent[o.kind]++
		if err == nil {
			stats.ok[o.kind]++
			if !o.valid {
				stats.invalidAccepted[o.kind] = append(stats.invalidAccepted[o.kind], o.id()+" ("+o.note+")")
			}
			mu.Lock()
			out = append(out, o)
			mu.Unlock()
			return nil
		}
		var st apierrors.APIStatus
		if !errors.As(err, &st) {
			return fmt.Errorf("creating %s: %w", o.id(), err)
		}
		code := int(st.Status().Code)
		if stats.refused[o.kind] == nil {
			stats.refused[o.kind] = map[int]int{}
		}
		stats.refused[o.kind][code]++
		if code < 400 || code >= 500 || st.Status().Message == "" {
			return fmt.Errorf("creating %s (%s): refused with %d %q, want a 4xx with a message", o.id(), o.note, code, st.Status().Message)
		}
		if anchors {
			return fmt.Errorf("creating %s: %w", o.id(), err)
		}
		if o.valid && len(stats.validRefused[o.kind]) < 20 {
			stats.validRefused[o.kind] = append(stats.validRefused[o.kind], fmt.Sprintf("%s (%s): %d %s", o.id(), o.note, code, firstLine(st.Status().Message, 300)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func reportSent(t *testing.T, s *badStats) {
	t.Helper()
	kinds := make([]string, 0, len(s.sent))
	for k := range s.sent {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var total, totalOK int
	for _, k := range kinds {
		total += s.sent[k]
		totalOK += s.ok[k]
		var codes []string
		for c, n := range s.refused[k] {
			codes = append(codes, fmt.Sprintf("%d×%d", n, c))
		}
		sort.Strings(codes)
		t.Logf("sent %-26s %5d: accepted %5d, refused %4d %s", k, s.sent[k], s.ok[k], s.sent[k]-s.ok[k], strings.Join(codes, " "))
		// Most of what the generator means to be valid must be accepted.
		if k != "Namespace" && float64(s.ok[k]) < 0.6*float64(s.sent[k]) {
			t.Errorf("only %d of %d %s objects accepted: the generator strays from the schema", s.ok[k], s.sent[k], k)
		}
		if ex := s.validRefused[k]; len(ex) > 0 {
			t.Logf("  %s meant to be valid but refused (%d shown):\n    %s", k, len(ex), strings.Join(ex, "\n    "))
		}
		if ex := s.invalidAccepted[k]; len(ex) > 0 {
			t.Errorf("  %d %s meant to break a schema rule were accepted, e.g.:\n    %s", len(ex), k, strings.Join(ex[:min(len(ex), 10)], "\n    "))
		}
	}
	t.Logf("sent %d objects: %d accepted, %d refused", total, totalOK, total-totalOK)
}

// decideCSRs approves nine in ten accepted CSRs and denies the rest, as an
// admin would, so that every one has something for its signer to do.
func decideCSRs(ctx context.Context, t *testing.T, cs kubernetes.Interface, objs []*badObject, g *badGen) {
	t.Helper()
	var todo []*badObject
	for _, o := range objs {
		if o.kind == "CertificateSigningRequest" {
			todo = append(todo, o)
		}
	}
	deny := make([]bool, len(todo))
	for i := range todo {
		deny[i] = g.pct(10)
	}
	err := parallelN(len(todo), 8, func(i int) error {
		o := todo[i]
		for range 5 {
			csr, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, o.name(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range csr.Status.Conditions {
				if c.Type == certv1.CertificateApproved || c.Type == certv1.CertificateDenied {
					return nil // the kubelet-client approver was first
				}
			}
			cond := certv1.CertificateSigningRequestCondition{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "BadInput", Message: "approved by TestBadInputAPI"}
			if deny[i] {
				cond = certv1.CertificateSigningRequestCondition{Type: certv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "BadInput", Message: "denied by TestBadInputAPI"}
			}
			csr.Status.Conditions = append(csr.Status.Conditions, cond)
			_, err = cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
			if !apierrors.IsConflict(err) {
				return err
			}
		}
		return fmt.Errorf("approving %s: conflicts", o.name())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// conditionsOf reads status.conditions as type → (status, reason,
// message).
func conditionsOf(u *unstructured.Unstructured) map[string][3]string {
	out := map[string][3]string{}
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range list {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		out[s("type")] = [3]string{s("status"), s("reason"), s("message")}
	}
	return out
}

// settled says whether an object has the condition it should end with,
// and if not, what it has.
func settled(o *badObject, u *unstructured.Unstructured, warned map[string]bool) (bool, string) {
	conds := conditionsOf(u)
	has := func(typ string) bool {
		c, ok := conds[typ]
		return ok && c[0] != "" && c[1] != "" && strings.TrimSpace(c[2]) != ""
	}
	describe := fmt.Sprintf("%s (%s): conditions %v", o.id(), o.note, conds)
	switch o.kind {
	case "Certificate":
		return has("Ready"), describe
	case "Issuer", "ClusterIssuer":
		// A ready selfSigned issuer says IsReady with no message, as
		// cert-manager's does; every other state has a message.
		c := conds["Ready"]
		return has("Ready") || (c[0] == "True" && c[1] != ""), describe
	case "CertificateRequest":
		if has("Ready") {
			r := conds["Ready"][1]
			return slices.Contains([]string{"Issued", "Pending", "Failed", "Denied"}, r), describe
		}
		if o.external {
			// certplane may not approve for other groups' issuers and
			// does not sign for them: an Event says so.
			return has("Approved") || has("Denied") || warned["CertificateRequest "+o.ns()+"/"+o.name()], describe
		}
		return false, describe
	case "CertificateSigningRequest":
		issued, _, _ := unstructured.NestedString(u.Object, "status", "certificate")
		describe += fmt.Sprintf(" issued %v", issued != "")
		switch {
		case has("Denied") || has("Failed"):
			return true, describe
		case issued != "":
			return !o.expectFail, describe + " (should have failed)"
		}
		// Waiting for a cert-manager issuer that is missing or not ready:
		// a Warning Event says which.
		return has("Approved") && strings.Contains(o.note, "cert-manager.io/") && warned["CertificateSigningRequest "+o.name()], describe
	}
	return true, ""
}

// waitConditions polls until every accepted object has its condition, and
// returns, per kind, those that never got one.
func waitConditions(ctx context.Context, t *testing.T, dyn dynamic.Interface, cs kubernetes.Interface, objs []*badObject, timeout time.Duration) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		live := listAll(ctx, t, dyn, objs)
		warned := warnedObjects(ctx, t, cs)
		missing := map[string][]string{}
		for _, o := range objs {
			if o.kind == "Namespace" || strings.HasPrefix(o.kind, "Secret/") {
				continue
			}
			u, ok := live[o.id()]
			if !ok {
				continue // deleted: a Certificate prunes its old requests
			}
			if ok, why := settled(o, u, warned); !ok {
				missing[o.kind] = append(missing[o.kind], why)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(2 * time.Second)
	}
}

// warnedObjects are the objects with a Warning Event: "Kind ns/name" or
// "Kind name".
func warnedObjects(ctx context.Context, t *testing.T, cs kubernetes.Interface) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	list, err := cs.EventsV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		r := e.Regarding
		if r.Namespace == "" {
			out[r.Kind+" "+r.Name] = true
		} else {
			out[r.Kind+" "+r.Namespace+"/"+r.Name] = true
		}
	}
	return out
}

// listAll lists every kind the objects have, by id.
func listAll(ctx context.Context, t *testing.T, dyn dynamic.Interface, objs []*badObject) map[string]*unstructured.Unstructured {
	t.Helper()
	kinds := map[string]schema.GroupVersionResource{}
	for _, o := range objs {
		if o.kind != "Namespace" && !strings.HasPrefix(o.kind, "Secret/") {
			kinds[o.kind] = o.gvr
		}
	}
	out := map[string]*unstructured.Unstructured{}
	for kind, gvr := range kinds {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			id := kind + " " + u.GetName()
			if u.GetNamespace() != "" {
				id = kind + " " + u.GetNamespace() + "/" + u.GetName()
			}
			out[id] = u
		}
	}
	return out
}

// summarizeOutcomes logs, per kind, how the objects ended: the Ready
// reasons, or for CSRs issued, failed or denied.
func summarizeOutcomes(ctx context.Context, t *testing.T, dyn dynamic.Interface, objs []*badObject) {
	t.Helper()
	live := listAll(ctx, t, dyn, objs)
	counts := map[string]map[string]int{}
	examples := map[string][]string{} // up to three different messages per outcome
	for _, o := range objs {
		u, ok := live[o.id()]
		if !ok {
			continue
		}
		conds := conditionsOf(u)
		outcome := "Ready=" + conds["Ready"][0] + " " + conds["Ready"][1]
		example := conds["Ready"][2]
		switch {
		case o.kind == "CertificateSigningRequest":
			issued, _, _ := unstructured.NestedString(u.Object, "status", "certificate")
			switch {
			case issued != "":
				outcome = "Issued"
			case conds["Failed"][0] == "True":
				outcome, example = "Failed "+conds["Failed"][1], conds["Failed"][2]
			case conds["Denied"][0] == "True":
				outcome = "Denied"
			default:
				outcome = "waiting"
			}
		case o.kind == "CertificateRequest" && conds["Ready"][0] == "":
			outcome = "no Ready (external issuer)"
		}
		if counts[o.kind] == nil {
			counts[o.kind] = map[string]int{}
		}
		counts[o.kind][outcome]++
		k := o.kind + " " + outcome
		if ex := examples[k]; example != "" && len(ex) < 3 && !slices.ContainsFunc(ex, func(e string) bool {
			_, msg, _ := strings.Cut(e, ": ")
			return firstLine(msg, 50) == firstLine(example, 50)
		}) {
			examples[k] = append(ex, o.id()+": "+firstLine(example, 240))
		}
	}
	for kind, m := range counts {
		var parts []string
		for k, n := range m {
			parts = append(parts, fmt.Sprintf("%s: %d", k, n))
		}
		sort.Strings(parts)
		t.Logf("outcome %s: %s", kind, strings.Join(parts, ", "))
	}
	keys := make([]string, 0, len(examples))
	for k := range examples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  e.g. %s — %s", k, strings.Join(examples[k], " | "))
	}
}

// corruptIssued overwrites the Secrets of up to n ready Certificates with
// garbage (certplane's labels and annotations kept, so that it sees the
// change) and waits until each is ready again with a new revision, or has
// Ready=False with a message.
func corruptIssued(ctx context.Context, t *testing.T, dyn dynamic.Interface, objs []*badObject, g *badGen, n int) {
	t.Helper()
	live := listAll(ctx, t, dyn, objs)
	var ready []*badObject
	for _, o := range objs {
		if u, ok := live[o.id()]; ok && o.kind == "Certificate" && conditionsOf(u)["Ready"][0] == "True" {
			ready = append(ready, o)
		}
	}
	g.r.Shuffle(len(ready), func(i, j int) { ready[i], ready[j] = ready[j], ready[i] })
	ready = ready[:min(n, len(ready))]
	revisions := map[string]int64{}
	kinds := map[string]int{}
	var corrupted []*badObject
	how := map[string]string{}
	for _, o := range ready {
		u := live[o.id()]
		revisions[o.id()], _, _ = unstructured.NestedInt64(u.Object, "status", "revision")
		secretName, _, _ := unstructured.NestedString(u.Object, "spec", "secretName")
		res := dyn.Resource(gvrSecret).Namespace(o.ns())
		s, err := res.Get(ctx, secretName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("Secret of ready %s: %v", o.id(), err)
		}
		data, _, _ := unstructured.NestedStringMap(s.Object, "data")
		v := g.pick("garbage crt", "garbage key", "truncated crt", "no key", "other pair", "empty")
		switch crt, _ := base64.StdEncoding.DecodeString(data["tls.crt"]); v {
		case "garbage crt":
			data["tls.crt"] = b64(g.bytes(1 + g.intn(1000)))
		case "garbage key":
			data["tls.key"] = b64(g.bytes(1 + g.intn(1000)))
		case "truncated crt":
			data["tls.crt"] = b64(crt[:len(crt)/2])
		case "no key":
			delete(data, "tls.key")
		case "other pair":
			k, _ := pki.MarshalPrivateKeyPEM(g.leafKey, pki.FormatPKCS8)
			data["tls.crt"], data["tls.key"] = b64(pki.EncodeCertificatesPEM(g.leaf)), b64(k)
		default:
			data = map[string]string{}
		}
		if err := unstructured.SetNestedStringMap(s.Object, data, "data"); err != nil {
			t.Fatal(err)
		}
		_, err = res.Update(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsInvalid(err) {
			kinds[v+" (refused)"]++ // a kubernetes.io/tls Secret keeps its two keys
			continue
		}
		if err != nil {
			t.Fatalf("corrupting the Secret of %s: %v", o.id(), err)
		}
		kinds[v]++
		corrupted = append(corrupted, o)
		how[o.id()] = v + " of Secret " + secretName
	}
	t.Logf("corrupted the Secrets of %d ready Certificates: %v", len(corrupted), kinds)
	ready = corrupted
	var pending []string
	waitErr := func() bool {
		pending = nil
		live := listAll(ctx, t, dyn, ready)
		for _, o := range ready {
			u := live[o.id()]
			c := conditionsOf(u)["Ready"]
			rev, _, _ := unstructured.NestedInt64(u.Object, "status", "revision")
			reissued, saysWhy := c[0] == "True" && rev > revisions[o.id()], c[0] == "False" && c[2] != ""
			if !reissued && !saysWhy {
				secretName, _, _ := unstructured.NestedString(u.Object, "spec", "secretName")
				s, err := dyn.Resource(gvrSecret).Namespace(o.ns()).Get(ctx, secretName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				data, _, _ := unstructured.NestedStringMap(s.Object, "data")
				sizes := map[string]int{}
				for k, v := range data {
					sizes[k] = len(v)
				}
				pending = append(pending, fmt.Sprintf("%s (%s): revision %d, Ready %v; Secret resourceVersion %s labels %v annotations %v data sizes %v",
					o.id(), how[o.id()], rev, c, s.GetResourceVersion(), s.GetLabels(), s.GetAnnotations(), sizes))
			}
		}
		return len(pending) == 0
	}
	deadline := time.Now().Add(90 * time.Second)
	for !waitErr() && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
	}
	if len(pending) > 0 {
		t.Errorf("%d Certificates neither issued again nor said why after their Secret was corrupted, e.g.:\n  %s", len(pending), strings.Join(pending[:min(8, len(pending))], "\n  "))
	}
}

// badResources are the resources the test creates, whose writes an idle
// certplane must not make.
var badResources = []string{"certificates", "certificaterequests", "issuers", "clusterissuers", "secrets", "certificatesigningrequests"}

// badControllerKinds are the kinds of object each controller is for.
var badControllerKinds = map[string][]string{
	"certificates":                       {"Certificate"},
	"issuers":                            {"Issuer"},
	"clusterissuers":                     {"ClusterIssuer"},
	"issuer-clustertrustbundles":         {"Issuer", "ClusterIssuer"},
	"certificaterequests-approver":       {"CertificateRequest", "Certificate"},
	"certificaterequests-issuer":         {"CertificateRequest", "Certificate"},
	"certificaterequests-issuer-acme":    {"CertificateRequest", "Certificate"},
	"orders":                             {"CertificateRequest", "Certificate"},
	"challenges":                         {"CertificateRequest", "Certificate"},
	"csrsigning":                         {"CertificateSigningRequest"},
	"csrapproving":                       {"CertificateSigningRequest"},
	"csrcleaner":                         {"CertificateSigningRequest"},
	"certificatesigningrequests-issuers": {"CertificateSigningRequest"},
	"certificatesigningrequests-policy":  {"CertificateSigningRequest"},
}

// snapshot is each object's resourceVersion and status, with the Secrets
// of the namespaces, by id.
func snapshot(ctx context.Context, t *testing.T, dyn dynamic.Interface, objs []*badObject, namespaces []string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for id, u := range listAll(ctx, t, dyn, objs) {
		out[id] = [2]string{u.GetResourceVersion(), fmt.Sprint(conditionsOf(u))}
	}
	for _, ns := range append(slices.Clone(namespaces), "cert-manager") {
		list, err := dyn.Resource(gvrSecret).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list.Items {
			out["Secret "+ns+"/"+u.GetName()] = [2]string{u.GetResourceVersion(), fmt.Sprint(u.GetAnnotations())}
		}
	}
	return out
}

// changedSince describes the objects whose resourceVersion moved since
// before.
func changedSince(ctx context.Context, t *testing.T, dyn dynamic.Interface, objs []*badObject, namespaces []string, before map[string][2]string) []string {
	t.Helper()
	var out []string
	for id, now := range snapshot(ctx, t, dyn, objs, namespaces) {
		if old, ok := before[id]; ok && old[0] != now[0] {
			out = append(out, fmt.Sprintf("%s: %s → %s", id, old[1], now[1]))
		}
	}
	sort.Strings(out)
	return out
}

// waitSettled waits until after, and until five seconds pass in which the
// apiserver takes no write to the kinds the test made (Events and leases
// aside), at most timeout.
func waitSettled(t *testing.T, cs kubernetes.Interface, after time.Time, timeout time.Duration) {
	t.Helper()
	writes := func() float64 {
		var n float64
		for k, v := range apiRequests(t, cs) {
			verb, rest, _ := strings.Cut(k, " ")
			resource, _, _ := strings.Cut(rest, "/")
			if verb != "GET" && verb != "LIST" && verb != "WATCH" && slices.Contains(badResources, resource) {
				n += v
			}
		}
		return n
	}
	deadline := time.Now().Add(timeout)
	prev := writes()
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Second)
		now := writes()
		if now == prev && time.Now().After(after) {
			return
		}
		prev = now
	}
	t.Logf("still writing after %s; measuring anyway", timeout)
}

// metricDelta sums, by some labels, how much a counter grew from m0 to m1.
func metricDelta(m0, m1 map[string]float64, name string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m1 {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		var key []string
		for _, l := range labels {
			key = append(key, labelValue(k, l))
		}
		out[strings.Join(key, "/")] += v - m0[k]
	}
	return out
}

func labelValue(sample, label string) string {
	i := strings.Index(sample, label+`="`)
	if i < 0 {
		return ""
	}
	rest := sample[i+len(label)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

func formatRates(m map[string]float64, secs float64) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]/secs))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// logReconcilerErrors logs the distinct errors the reconcilers returned,
// by controller, the first of each.
func logReconcilerErrors(t *testing.T, log string) {
	t.Helper()
	seen := map[string]int{}
	var order []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "Reconciler error") {
			continue
		}
		key := labelValueJSON(line, "controller") + ": " + firstLine(labelValueJSON(line, "error"), 160)
		if seen[key] == 0 {
			order = append(order, key)
		}
		seen[key]++
	}
	for _, k := range order[:min(len(order), 15)] {
		t.Logf("  Reconciler error ×%d %s", seen[k], k)
	}
}

func labelValueJSON(line, key string) string {
	i := strings.Index(line, `"`+key+`": "`)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key)+5:]
	var b strings.Builder
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' && j+1 < len(rest) {
			b.WriteByte(rest[j+1])
			j++
			continue
		}
		if rest[j] == '"' {
			break
		}
		b.WriteByte(rest[j])
	}
	return b.String()
}

// apiServerErrors is how many requests kube-apiserver has answered with a
// 5xx.
func apiServerErrors(t testing.TB, cs kubernetes.Interface) int {
	t.Helper()
	n := 0
	for k, v := range apiRequests(t, cs) {
		if strings.HasPrefix(k[strings.LastIndexByte(k, ' ')+1:], "5") {
			n += int(v)
		}
	}
	return n
}
