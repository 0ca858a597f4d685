package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// acmeEnv is one `certplane up` with BIND for example.test and a Pebble
// that validates HTTP-01 at certplane's solver listener and resolves names
// through BIND.
type acmeEnv struct {
	admin      string
	dir        string
	named      *namedServer
	pebble     *pebbleServer
	solverPort int
}

func startACMEEnv(t *testing.T) *acmeEnv {
	t.Helper()
	named := startNamed(t, "example.test", map[string]string{
		"app": "127.0.0.1", "api": "127.0.0.1", "renew": "127.0.0.1", "gone": "127.0.0.1", "nonce": "127.0.0.1", "eab": "127.0.0.1", "reuse": "127.0.0.1",
	})
	solverPort := freePort(t)
	pebble := startPebble(t, pebbleOptions{HTTPPort: solverPort, DNSServer: named.Addr})
	data := t.TempDir()
	startUp(t, data, freePort(t),
		fmt.Sprintf("--acme-http01-solver-address=127.0.0.1:%d", solverPort),
		"--acme-http01-solver-nameservers="+named.Addr,
		"--dns01-recursive-nameservers="+named.Addr, "--dns01-recursive-nameservers-only",
		"--dns01-check-retry-period=1s")
	return &acmeEnv{admin: filepath.Join(data, "admin.conf"), dir: t.TempDir(), named: named, pebble: pebble, solverPort: solverPort}
}

// issuer is an ACME Issuer for p with an HTTP-01 solver for every name and
// a DNS-01 (rfc2136) solver for the zone wild.example.test.
func (e *acmeEnv) issuer(name string, p *pebbleServer, extra string) string {
	return fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: %s
  namespace: acme
spec:
  acme:
    server: %s
    email: Ops@Example.test
    caBundle: %s
    privateKeySecretRef:
      name: %s-account
%s    solvers:
    - http01:
        ingress:
          ingressClassName: nginx
    - selector:
        dnsZones: [wild.example.test]
      dns01:
        rfc2136:
          nameserver: %s
          tsigKeyName: %s
          tsigAlgorithm: HMACSHA256
          tsigSecretSecretRef: {name: tsig, key: secret}
`, name, p.DirectoryURL, base64.StdEncoding.EncodeToString(p.CABundle), name, extra, e.named.Addr, e.named.KeyName)
}

func acmeCertificate(name, issuer string, dnsNames ...string) string {
	return fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: %s
  namespace: acme
  labels: {team: web}
spec:
  secretName: %s-tls
  dnsNames: [%s]
  issuerRef: {name: %s}
`, name, name, strings.Join(dnsNames, ", "), issuer)
}

func (e *acmeEnv) apply(t *testing.T, name, yaml string) {
	t.Helper()
	f := filepath.Join(e.dir, name+".yaml")
	writeFile(t, f, yaml)
	mustKubectl(t, e.admin, "apply", "-f", f)
}

// verifyACMEChain checks that a Secret's tls.crt is a leaf for names plus
// Pebble's intermediate, verifying against Pebble's root.
func (e *acmeEnv) verifyACMEChain(t *testing.T, secret string, p *pebbleServer, names ...string) *x509.Certificate {
	t.Helper()
	leaf := leafOf(t, e.admin, "acme", secret)
	chain, err := pki.ParseCertificatesPEM(secretData(t, e.admin, "acme", secret, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.Roots(t))
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: n}); err != nil {
			t.Errorf("%s: tls.crt does not verify for %s against Pebble's /roots/0: %v", secret, n, err)
		}
	}
	return leaf
}

func (e *acmeEnv) waitReady(t *testing.T, names ...string) {
	t.Helper()
	args := []string{"wait", "--for=condition=Ready", "--timeout=120s", "-n", "acme"}
	for _, n := range names {
		args = append(args, "certificate/"+n)
	}
	if r := kubectl(t, e.admin, args...); r.code != 0 {
		t.Fatalf("kubectl wait: %s%s\n%s\n%s", r.stdout, r.stderr,
			kubectl(t, e.admin, "get", "certificaterequests,orders,challenges", "-n", "acme", "-o", "wide").stdout,
			kubectl(t, e.admin, "describe", "challenges", "-n", "acme").stdout)
	}
}

func eventReasons(t *testing.T, kubeconfig, ns, kind, name string) string {
	t.Helper()
	return mustKubectl(t, kubeconfig, "get", "events", "-n", ns, "--field-selector", "involvedObject.kind="+kind+",involvedObject.name="+name,
		"-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
}

// TestACME: cert-manager's ACME manifests against Pebble and BIND through
// `certplane up`: HTTP-01 for two names from certplane's own listener, a
// DNS-01 wildcard over RFC 2136 with TSIG, solver selection by zone, the
// account, Orders and Challenges as cert-manager names and reports them,
// and renewal through a new Order.
func TestACME(t *testing.T) {
	e := startACMEEnv(t)
	mustKubectl(t, e.admin, "create", "namespace", "acme")
	mustKubectl(t, e.admin, "create", "secret", "generic", "tsig", "-n", "acme", "--from-literal=secret="+e.named.Secret)
	e.apply(t, "issuer", e.issuer("pebble", e.pebble, ""))
	mustKubectl(t, e.admin, "wait", "--for=condition=Ready", "--timeout=60s", "-n", "acme", "issuer/pebble")

	t.Run("account registered as cert-manager reports it", func(t *testing.T) {
		got := mustKubectl(t, e.admin, "get", "issuer", "pebble", "-n", "acme", "-o",
			`jsonpath={.status.conditions[0].reason}|{.status.conditions[0].message}|{.status.acme.lastRegisteredEmail}|{.status.acme.uri}`)
		parts := strings.Split(got, "|")
		if len(parts) != 4 || parts[0] != "ACMEAccountRegistered" || parts[1] != "The ACME account was registered with the ACME server" ||
			parts[2] != "Ops@Example.test" || !strings.HasPrefix(parts[3], "https://127.0.0.1:") {
			t.Errorf("issuer status = %q", got)
		}
		key := secretData(t, e.admin, "acme", "pebble-account", "tls.key")
		if !strings.HasPrefix(string(key), "-----BEGIN RSA PRIVATE KEY-----") {
			t.Errorf("account key is not PKCS#1 RSA PEM")
		}
		if _, err := pki.ParsePrivateKeyPEM(key); err != nil {
			t.Errorf("account key: %v", err)
		}
	})

	e.apply(t, "certs", acmeCertificate("web", "pebble", "app.example.test", "api.example.test")+"---\n"+
		acmeCertificate("wild", "pebble", "'*.wild.example.test'", "wild.example.test"))
	e.waitReady(t, "web", "wild")

	t.Run("HTTP-01 for two names", func(t *testing.T) {
		e.verifyACMEChain(t, "web-tls", e.pebble, "app.example.test", "api.example.test")
		order := mustKubectl(t, e.admin, "get", "orders", "-n", "acme", "-o", `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="web-1")]}{.metadata.name}{end}`)
		if !strings.HasPrefix(order, "web-1-") {
			t.Fatalf("Order of web = %q, want web-1-<hash>", order)
		}
		ev := eventReasons(t, e.admin, "acme", "Order", order)
		for _, want := range []string{`Created: Created Challenge resource "` + order + `-`, `for domain "app.example.test"`, `for domain "api.example.test"`, "Complete: Order completed successfully"} {
			if !strings.Contains(ev, want) {
				t.Errorf("events of Order %s lack %q:\n%s", order, want, ev)
			}
		}
		if got := mustKubectl(t, e.admin, "get", "order", order, "-n", "acme", "-o", "jsonpath={.status.state} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.labels.team}"); got != "valid CertificateRequest/web-1 web" {
			t.Errorf("Order %s: %q", order, got)
		}
		if out := mustKubectl(t, e.admin, "get", "orders", "-n", "acme"); !strings.Contains(out, order) || !strings.Contains(out, "valid") {
			t.Errorf("kubectl get orders:\n%s", out)
		}
	})

	t.Run("DNS-01 wildcard, solver chosen by zone", func(t *testing.T) {
		e.verifyACMEChain(t, "wild-tls", e.pebble, "x.wild.example.test", "wild.example.test")
		order := mustKubectl(t, e.admin, "get", "orders", "-n", "acme", "-o", `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="wild-1")]}{.metadata.name}{end}`)
		ev := eventReasons(t, e.admin, "acme", "Order", order)
		if strings.Count(ev, "Created: Created Challenge resource") != 2 {
			t.Errorf("events of Order %s:\n%s", order, ev)
		}
		// Both names went through DNS-01 (the zone's solver beats the
		// default HTTP-01 one for wild.example.test), and the records are
		// gone again.
		for _, n := range []string{"_acme-challenge.wild.example.test."} {
			if txt := e.named.TXT(t, n); len(txt) != 0 {
				t.Errorf("TXT %s still holds %v after the challenges", n, txt)
			}
		}
		chEvents := mustKubectl(t, e.admin, "get", "events", "-n", "acme", "--field-selector", "involvedObject.kind=Challenge",
			"-o", `jsonpath={range .items[*]}{.involvedObject.name} {.reason}: {.message}{"\n"}{end}`)
		if n := strings.Count(chEvents, order+"-"); n < 4 || !strings.Contains(chEvents, "Presented challenge using DNS-01 challenge mechanism") ||
			!strings.Contains(chEvents, `verified with "DNS-01" validation`) {
			t.Errorf("Challenge events of %s:\n%s", order, chEvents)
		}
		if strings.Contains(chEvents, order+"-") && strings.Contains(chEvents, "HTTP-01") && strings.Count(chEvents, "HTTP-01") > 4 {
			t.Errorf("wild's challenges used HTTP-01:\n%s", chEvents)
		}
		// A valid Order's Challenges are deleted, with their records.
		waitFor(t, 30*time.Second, "the Challenges of valid Orders to go", func() bool {
			return strings.TrimSpace(mustKubectl(t, e.admin, "get", "challenges", "-n", "acme", "-o", "name")) == ""
		})
		if out := mustKubectl(t, e.admin, "get", "ingress,services", "-n", "acme", "-o", "name"); strings.Contains(out, "cm-acme-http-solver") {
			t.Errorf("solver objects left:\n%s", out)
		}
	})

	t.Run("renewal goes through a new Order", func(t *testing.T) {
		before := leafOf(t, e.admin, "acme", "web-tls")
		must(t, e.dir, "", "renew", "--kubeconfig", e.admin, "-n", "acme", "web")
		waitCertificate(t, e.admin, "acme", "web", 2)
		after := e.verifyACMEChain(t, "web-tls", e.pebble, "app.example.test")
		if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
			t.Error("renewal kept the serial")
		}
		if out := mustKubectl(t, e.admin, "get", "orders", "-n", "acme", "-o", "name"); !strings.Contains(out, "order.acme.cert-manager.io/web-2-") {
			t.Errorf("no Order for web-2:\n%s", out)
		}
	})
}
