package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
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
	// metrics is certplane's metrics endpoint.
	metrics string
}

func startACMEEnv(t *testing.T) *acmeEnv {
	t.Helper()
	named := startNamed(t, "example.test", map[string]string{
		"app": "127.0.0.1", "api": "127.0.0.1", "renew": "127.0.0.1", "gone": "127.0.0.1", "nonce": "127.0.0.1", "eab": "127.0.0.1", "reuse": "127.0.0.1",
	})
	solverPort := freePort(t)
	pebble := startPebble(t, pebbleOptions{HTTPPort: solverPort, DNSServer: named.Addr})
	data := t.TempDir()
	metricsPort := freePort(t)
	startUp(t, data, freePort(t),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--acme-http01-solver-address=127.0.0.1:%d", solverPort),
		"--acme-http01-solver-nameservers="+named.Addr,
		"--dns01-recursive-nameservers="+named.Addr, "--dns01-recursive-nameservers-only",
		"--dns01-check-retry-period=1s")
	return &acmeEnv{admin: filepath.Join(data, "admin.conf"), dir: t.TempDir(), named: named, pebble: pebble, solverPort: solverPort,
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
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

	t.Run("ACME client metrics as cert-manager's", func(t *testing.T) {
		samples, meta := scrape(t, e.metrics)
		for name, typ := range map[string]string{
			"certmanager_http_acme_client_request_count":            "counter",
			"certmanager_http_acme_client_request_duration_seconds": "summary",
		} {
			if !strings.Contains(meta, "# TYPE "+name+" "+typ+"\n") {
				t.Errorf("%s is not exported as a %s", name, typ)
			}
		}
		host := strings.TrimSuffix(strings.TrimPrefix(e.pebble.DirectoryURL, "https://"), "/dir")
		for _, l := range []string{
			`action="get_directory",host="` + host + `",method="GET",scheme="https",status="200"`,
			`action="new_nonce",host="` + host + `",method="HEAD",scheme="https",status="200"`,
			`action="new_order",host="` + host + `",method="POST",scheme="https",status="201"`,
			`action="finalize_order",host="` + host + `",method="POST",scheme="https",status="200"`,
			`action="get_authorization",host="` + host + `",method="POST",scheme="https",status="200"`,
			`action="challenge",host="` + host + `",method="POST",scheme="https",status="200"`,
			`action="get_certificate",host="` + host + `",method="POST",scheme="https",status="200"`,
		} {
			if v := samples["certmanager_http_acme_client_request_count{"+l+"}"]; v < 1 {
				t.Errorf("certmanager_http_acme_client_request_count{%s} = %v, want > 0", l, v)
			}
			if v := samples["certmanager_http_acme_client_request_duration_seconds_count{"+l+"}"]; v < 1 {
				t.Errorf("certmanager_http_acme_client_request_duration_seconds_count{%s} = %v, want > 0", l, v)
			}
		}
		for k := range samples {
			if strings.HasPrefix(k, "certmanager_http_acme_client_request_count{") && (strings.Contains(k, `action="other"`) || strings.Contains(k, "path=")) {
				t.Errorf("unclassified ACME request: %s", k)
			}
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
		// Every event of wild's own Challenges names DNS-01: none went
		// through the default HTTP-01 solver.
		for _, line := range strings.Split(chEvents, "\n") {
			if strings.HasPrefix(line, order+"-") && strings.Contains(line, "HTTP-01") {
				t.Errorf("wild's challenge used HTTP-01: %s", line)
			}
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

// inNamespace moves manifests made for namespace acme to ns.
func inNamespace(yaml, ns string) string {
	return strings.ReplaceAll(yaml, "namespace: acme\n", "namespace: "+ns+"\n")
}

func (e *acmeEnv) issuerReady(t *testing.T, ns, name string) string {
	t.Helper()
	return mustKubectl(t, e.admin, "get", "issuer", name, "-n", ns, "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`)
}

func (e *acmeEnv) waitIssuer(t *testing.T, ns, name, prefix string) string {
	t.Helper()
	var got string
	waitFor(t, 60*time.Second, fmt.Sprintf("issuer %s/%s: %s", ns, name, prefix), func() bool {
		got = e.issuerReady(t, ns, name)
		return strings.HasPrefix(got, prefix)
	})
	return got
}

// TestACMEServerOptions: Pebble requiring external account binding,
// rejecting half of the nonces, reusing every valid authorization, and
// refusing a blocked name.
func TestACMEServerOptions(t *testing.T) {
	e := startACMEEnv(t)
	mustKubectl(t, e.admin, "create", "namespace", "acme")
	mustKubectl(t, e.admin, "create", "secret", "generic", "tsig", "-n", "acme", "--from-literal=secret="+e.named.Secret)
	const eabKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	eab := startPebble(t, pebbleOptions{HTTPPort: e.solverPort, DNSServer: e.named.Addr, EAB: map[string]string{"kid-1": eabKey}})
	nonces := startPebble(t, pebbleOptions{HTTPPort: e.solverPort, DNSServer: e.named.Addr, NonceReject: 50})
	reuse := startPebble(t, pebbleOptions{HTTPPort: e.solverPort, DNSServer: e.named.Addr, AuthzReuse: 100})
	blocked := startPebble(t, pebbleOptions{HTTPPort: e.solverPort, DNSServer: e.named.Addr, Blocklist: []string{"blocked.example.test"}})
	mustKubectl(t, e.admin, "create", "secret", "generic", "eab", "-n", "acme", "--from-literal=secret="+eabKey)
	e.apply(t, "issuers", e.issuer("eab", eab, "    externalAccountBinding:\n      keyID: kid-1\n      keySecretRef: {name: eab, key: secret}\n")+"---\n"+
		e.issuer("no-eab", eab, "")+"---\n"+e.issuer("nonces", nonces, "")+"---\n"+e.issuer("reuse", reuse, "")+"---\n"+e.issuer("blocked", blocked, ""))

	t.Run("external account binding", func(t *testing.T) {
		if got := e.waitIssuer(t, "acme", "no-eab", "False"); !strings.Contains(got, "ErrRegisterACMEAccount: Failed to register ACME account:") || !strings.Contains(got, "externalAccountRequired") {
			t.Errorf("issuer without EAB: %q", got)
		}
		e.waitIssuer(t, "acme", "eab", "True ACMEAccountRegistered")
		e.apply(t, "eab-cert", acmeCertificate("eab", "eab", "eab.example.test"))
		e.waitReady(t, "eab")
		e.verifyACMEChain(t, "eab-tls", eab, "eab.example.test")
	})

	t.Run("badNonce is retried", func(t *testing.T) {
		e.waitIssuer(t, "acme", "nonces", "True")
		e.apply(t, "nonce-cert", acmeCertificate("nonce", "nonces", "nonce.example.test", "'*.wild.example.test'"))
		e.waitReady(t, "nonce")
		e.verifyACMEChain(t, "nonce-tls", nonces, "nonce.example.test", "a.wild.example.test")
	})

	t.Run("valid authorizations are reused without a Challenge", func(t *testing.T) {
		e.waitIssuer(t, "acme", "reuse", "True")
		e.apply(t, "reuse-cert", acmeCertificate("reuse", "reuse", "reuse.example.test"))
		e.waitReady(t, "reuse")
		must(t, e.dir, "", "renew", "--kubeconfig", e.admin, "-n", "acme", "reuse")
		waitCertificate(t, e.admin, "acme", "reuse", 2)
		order := mustKubectl(t, e.admin, "get", "orders", "-n", "acme", "-o", `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="reuse-2")]}{.metadata.name}{end}`)
		if got := mustKubectl(t, e.admin, "get", "order", order, "-n", "acme", "-o", "jsonpath={.status.authorizations[*].initialState}"); got != "valid" {
			t.Errorf("Order %s authorizations' initial state = %q, want valid", order, got)
		}
		if ev := eventReasons(t, e.admin, "acme", "Order", order); strings.Contains(ev, "Created Challenge") || !strings.Contains(ev, "Complete") {
			t.Errorf("events of Order %s:\n%s", order, ev)
		}
	})

	t.Run("a refused name errors the Order and the Certificate backs off", func(t *testing.T) {
		e.waitIssuer(t, "acme", "blocked", "True")
		e.apply(t, "blocked-cert", acmeCertificate("blocked", "blocked", "blocked.example.test"))
		var reason string
		waitFor(t, 60*time.Second, "the blocked Order to be errored", func() bool {
			reason = mustKubectl(t, e.admin, "get", "orders", "-n", "acme", "-o", `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="blocked-1")]}{.status.state}: {.status.reason}{end}`)
			return strings.HasPrefix(reason, "errored")
		})
		if !strings.Contains(reason, "Failed to create Order: 400 urn:ietf:params:acme:error:rejectedIdentifier") {
			t.Errorf("Order: %q", reason)
		}
		waitFor(t, 60*time.Second, "the Certificate to record the failure", func() bool {
			return certField(t, e.admin, "acme", "blocked", "{.status.failedIssuanceAttempts}") == "1"
		})
		if got := certField(t, e.admin, "acme", "blocked", `{.status.conditions[?(@.type=="Issuing")].status} {.status.conditions[?(@.type=="Issuing")].reason}`); got != "False Failed" {
			t.Errorf("Issuing = %q", got)
		}
		if cr := mustKubectl(t, e.admin, "get", "certificaterequest", "blocked-1", "-n", "acme", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`); !strings.HasPrefix(cr, "Failed: Failed to wait for order resource") || !strings.Contains(cr, `"errored"`) {
			t.Errorf("CertificateRequest blocked-1: %q", cr)
		}
	})
}

// fakeACMEServer is an HTTPS server that answers as a broken ACME server
// would: a directory that is not JSON, or problem documents that are
// garbage.
func fakeACMEServer(t *testing.T, mode string) (url string, caPEM []byte) {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", "bm9uY2U")
		switch {
		case r.URL.Path == "/dir" && mode == "malformed-directory":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"newNonce": 42, <<<not json`))
		case r.URL.Path == "/dir":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"newNonce":"%[1]s/nonce","newAccount":"%[1]s/account","newOrder":"%[1]s/order"}`, srv.URL)
		case r.URL.Path == "/nonce":
			w.WriteHeader(http.StatusOK)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("\x00\xff garbage {{{"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/dir", pki.EncodeCertificatesPEM(srv.Certificate())
}

// TestACMEFailures: what users hit, each with a clear reason and nothing
// crashing: a wrong caBundle, unreachable and broken servers, a refused
// TSIG key that is then fixed, a challenge that cannot pass, and a
// Certificate deleted mid-challenge, whose Orders, Challenges, Ingress,
// Service and TXT record all go.
func TestACMEFailures(t *testing.T) {
	e := startACMEEnv(t)
	for _, ns := range []string{"acme", "acme-bad"} {
		mustKubectl(t, e.admin, "create", "namespace", ns)
	}
	mustKubectl(t, e.admin, "create", "secret", "generic", "tsig", "-n", "acme", "--from-literal=secret="+e.named.Secret)
	wrong := base64.StdEncoding.EncodeToString([]byte("not the key of certplane-key, 32b"))
	mustKubectl(t, e.admin, "create", "secret", "generic", "tsig", "-n", "acme-bad", "--from-literal=secret="+wrong)

	other := pkitest.CA(t, "not Pebble CA")
	malformedURL, malformedCA := fakeACMEServer(t, "malformed-directory")
	garbageURL, garbageCA := fakeACMEServer(t, "garbage-problems")
	withServer := func(name, url string, ca []byte) string {
		y := e.issuer(name, e.pebble, "")
		y = strings.Replace(y, "server: "+e.pebble.DirectoryURL, "server: "+url, 1)
		return strings.Replace(y, base64.StdEncoding.EncodeToString(e.pebble.CABundle), base64.StdEncoding.EncodeToString(ca), 1)
	}
	slow := strings.Replace(e.issuer("slow", e.pebble, ""), "      dns01:\n", "      waitInsteadOfSelfCheck: 1h\n      dns01:\n", 1)
	e.apply(t, "issuers", e.issuer("pebble", e.pebble, "")+"---\n"+slow+"---\n"+
		withServer("wrong-ca", e.pebble.DirectoryURL, pki.EncodeCertificatesPEM(other.Certificate))+"---\n"+
		withServer("unreachable", fmt.Sprintf("https://127.0.0.1:%d/dir", freePort(t)), e.pebble.CABundle)+"---\n"+
		withServer("malformed", malformedURL, malformedCA)+"---\n"+
		withServer("garbage", garbageURL, garbageCA)+"---\n"+
		inNamespace(e.issuer("badtsig", e.pebble, ""), "acme-bad")+"---\n"+
		e.issuer("profiled", e.pebble, "    profile: shortlived\n"))

	t.Run("a profile the server does not offer errors the Order", func(t *testing.T) {
		e.waitIssuer(t, "acme", "profiled", "True")
		e.apply(t, "profiled-cert", acmeCertificate("profiled", "profiled", "app.example.test"))
		var got string
		waitFor(t, 60*time.Second, "the Order to be errored", func() bool {
			got = mustKubectl(t, e.admin, "get", "orders", "-n", "acme", "-o", `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="profiled-1")]}{.spec.profile} {.status.state}: {.status.reason}{end}`)
			return strings.Contains(got, "errored")
		})
		if got != "shortlived errored: Failed to create Order: acme: the ACME server does not support certificate profiles" {
			t.Errorf("Order: %q", got)
		}
	})

	t.Run("bad servers give Ready=False with the reason", func(t *testing.T) {
		for name, want := range map[string]string{
			"wrong-ca":    "certificate signed by unknown authority",
			"unreachable": "connection refused",
			"malformed":   "Failed to register ACME account:",
			"garbage":     "Failed to register ACME account: 400",
		} {
			got := e.waitIssuer(t, "acme", name, "False")
			if !strings.HasPrefix(got, "False ErrRegisterACMEAccount: Failed to register ACME account: ") || !strings.Contains(got, want) {
				t.Errorf("issuer %s: %q, want ErrRegisterACMEAccount with %q", name, got, want)
			}
		}
	})

	t.Run("a refused TSIG key is shown, then fixed", func(t *testing.T) {
		e.waitIssuer(t, "acme-bad", "badtsig", "True")
		e.apply(t, "bad-cert", inNamespace(acmeCertificate("bad", "badtsig", "bad.wild.example.test"), "acme-bad"))
		var reason string
		waitFor(t, 60*time.Second, "the Challenge to show the refusal", func() bool {
			reason = mustKubectl(t, e.admin, "get", "challenges", "-n", "acme-bad", "-o", "jsonpath={.items[*].status.reason}")
			return strings.Contains(reason, "BADSIG")
		})
		if !strings.HasPrefix(reason, "Error presenting challenge: dns01: update of \"_acme-challenge.bad.wild.example.test.\" refused by "+e.named.Addr) || strings.Contains(reason, wrong) {
			t.Errorf("Challenge reason: %q", reason)
		}
		if out := mustKubectl(t, e.admin, "describe", "challenges", "-n", "acme-bad"); !strings.Contains(out, "PresentError") {
			t.Errorf("kubectl describe challenge lacks the PresentError event:\n%s", out)
		}
		mustKubectl(t, e.admin, "delete", "secret", "tsig", "-n", "acme-bad")
		mustKubectl(t, e.admin, "create", "secret", "generic", "tsig", "-n", "acme-bad", "--from-literal=secret="+e.named.Secret)
		if r := kubectl(t, e.admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "acme-bad", "certificate/bad"); r.code != 0 {
			t.Fatalf("certificate bad after the fix: %s%s\n%s", r.stdout, r.stderr, mustKubectl(t, e.admin, "get", "challenges", "-n", "acme-bad", "-o", "wide"))
		}
	})

	t.Run("deleted mid-challenge, everything is cleaned up", func(t *testing.T) {
		// missing.example.test has no address: its HTTP-01 self-check
		// cannot pass; the slow issuer waits an hour before asking for
		// the DNS-01 validation of stuck.wild.example.test.
		e.apply(t, "stuck", acmeCertificate("gone", "pebble", "missing.example.test")+"---\n"+acmeCertificate("stuck", "slow", "stuck.wild.example.test"))
		var reason string
		waitFor(t, 60*time.Second, "the HTTP-01 Challenge to wait for propagation", func() bool {
			reason = mustKubectl(t, e.admin, "get", "challenges", "-n", "acme", "-o", `jsonpath={range .items[?(@.spec.dnsName=="missing.example.test")]}{.status.reason}{end}`)
			return strings.HasPrefix(reason, "Waiting for HTTP-01 challenge propagation: ")
		})
		if !strings.Contains(reason, "missing.example.test") {
			t.Errorf("reason does not name the name: %q", reason)
		}
		status := must(t, "", "", "status", "certificate", "gone", "-n", "acme", "--kubeconfig", e.admin)
		for _, want := range []string{
			"CertificateRequest:\n  Name: gone-1\n", "Order:\n  Name: gone-1-", "  State: pending, Reason: \n  URL: " + strings.TrimSuffix(e.pebble.DirectoryURL, "dir"),
			"Identifier: missing.example.test, Initial State: pending, Wildcard: false\n",
			"Challenges:\n- Name: gone-1-", ", Type: HTTP-01, DNS Name: missing.example.test, State: pending, Reason: Waiting for HTTP-01 challenge propagation: ", ", Processing: true, Presented: true\n",
		} {
			if !strings.Contains(status, want) {
				t.Errorf("status certificate gone lacks %q:\n%s", want, status)
			}
		}
		ing := mustKubectl(t, e.admin, "get", "ingress", "-n", "acme", "-l", "acme.cert-manager.io/http01-solver=true", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.spec.ingressClassName} {.spec.rules[0].host} {.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].path}{"\n"}{end}`)
		if !strings.HasPrefix(ing, "cm-acme-http-solver-") || !strings.Contains(ing, " nginx missing.example.test Exact /.well-known/acme-challenge/") {
			t.Errorf("solver Ingress: %q", ing)
		}
		if svc := mustKubectl(t, e.admin, "get", "services", "-n", "acme", "-l", "acme.cert-manager.io/http01-solver=true", "-o", "jsonpath={.items[*].spec.type}"); svc != "ExternalName" {
			t.Errorf("solver Service type = %q", svc)
		}
		waitFor(t, 60*time.Second, "the DNS-01 record of stuck to be presented", func() bool {
			return len(e.named.TXT(t, "_acme-challenge.stuck.wild.example.test.")) == 1
		})
		mustKubectl(t, e.admin, "delete", "certificate", "gone", "stuck", "-n", "acme")
		waitFor(t, 90*time.Second, "Orders, Challenges, Ingress and Service to go", func() bool {
			out := mustKubectl(t, e.admin, "get", "orders,challenges,ingress,services", "-n", "acme", "-o", "name")
			return !strings.Contains(out, "gone-") && !strings.Contains(out, "stuck-") && !strings.Contains(out, "cm-acme-http-solver")
		})
		if txt := e.named.TXT(t, "_acme-challenge.stuck.wild.example.test."); len(txt) != 0 {
			t.Errorf("TXT record left: %v", txt)
		}
	})

	t.Run("the controllers still work", func(t *testing.T) {
		e.apply(t, "after", acmeCertificate("after", "pebble", "app.example.test"))
		e.waitReady(t, "after")
		e.verifyACMEChain(t, "after-tls", e.pebble, "app.example.test")
	})
}

// httpRouteCRD is a stand-in for Gateway API's HTTPRoute CRD (not shipped
// with Kubernetes): enough for the apiserver to store HTTPRoutes.
const httpRouteCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: httproutes.gateway.networking.k8s.io
  annotations:
    api-approved.kubernetes.io: https://github.com/kubernetes-sigs/gateway-api/pull/2466
spec:
  group: gateway.networking.k8s.io
  names: {kind: HTTPRoute, listKind: HTTPRouteList, plural: httproutes, singular: httproute}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// TestACMERoutes: an HTTP-01 solver naming an existing Ingress gets the
// challenge path added to it and removed again; a gatewayHTTPRoute solver
// gets an HTTPRoute as cert-manager would create it.
func TestACMERoutes(t *testing.T) {
	e := startACMEEnv(t)
	mustKubectl(t, e.admin, "create", "namespace", "acme")
	mustKubectl(t, e.admin, "create", "secret", "generic", "tsig", "-n", "acme", "--from-literal=secret="+e.named.Secret)
	e.apply(t, "crd", httpRouteCRD)
	mustKubectl(t, e.admin, "wait", "--for=condition=Established", "--timeout=60s", "crd/httproutes.gateway.networking.k8s.io")
	named := strings.Replace(e.issuer("named", e.pebble, ""), "          ingressClassName: nginx\n", "          name: shop\n", 1)
	route := strings.Replace(e.issuer("route", e.pebble, ""), "        ingress:\n          ingressClassName: nginx\n",
		"        gatewayHTTPRoute:\n          labels: {gateway: public}\n          parentRefs:\n          - {name: public, namespace: gateways, sectionName: http}\n", 1)
	e.apply(t, "issuers", named+"---\n"+route+`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: acme
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
`)
	e.waitIssuer(t, "acme", "named", "True")
	e.waitIssuer(t, "acme", "route", "True")
	// Neither name resolves, so the self-checks wait and the routes stay.
	e.apply(t, "certs", acmeCertificate("shop", "named", "missing-shop.example.test")+"---\n"+acmeCertificate("gw", "route", "missing-gw.example.test"))

	var paths string
	waitFor(t, 60*time.Second, "the challenge path in Ingress shop", func() bool {
		paths = mustKubectl(t, e.admin, "get", "ingress", "shop", "-n", "acme", "-o",
			`jsonpath={range .spec.rules[*]}{.host}:{range .http.paths[*]}{.pathType} {.path} {.backend.service.name};{end}{"\n"}{end}`)
		return strings.Contains(paths, "missing-shop.example.test:Exact /.well-known/acme-challenge/")
	})
	if !strings.Contains(paths, "shop.example.test:Prefix / shop;") {
		t.Errorf("the Ingress's own rule changed:\n%s", paths)
	}
	var got string
	waitFor(t, 60*time.Second, "the solver HTTPRoute", func() bool {
		got = kubectl(t, e.admin, "get", "httproutes", "-n", "acme", "-l", "acme.cert-manager.io/http01-solver=true,gateway=public", "-o",
			`jsonpath={range .items[*]}{.spec.hostnames[0]} {.spec.parentRefs[0].namespace}/{.spec.parentRefs[0].name}/{.spec.parentRefs[0].sectionName} {.spec.rules[0].matches[0].path.type} {.spec.rules[0].matches[0].path.value} {.spec.rules[0].backendRefs[0].kind}{end}`).stdout
		return got != ""
	})
	if !strings.HasPrefix(got, "missing-gw.example.test gateways/public/http Exact /.well-known/acme-challenge/") || !strings.HasSuffix(got, " Service") {
		t.Errorf("HTTPRoute: %q", got)
	}

	mustKubectl(t, e.admin, "delete", "certificate", "shop", "gw", "-n", "acme")
	waitFor(t, 90*time.Second, "the routes to go", func() bool {
		paths = mustKubectl(t, e.admin, "get", "ingress", "shop", "-n", "acme", "-o", `jsonpath={range .spec.rules[*]}{.host};{end}`)
		routes := mustKubectl(t, e.admin, "get", "httproutes,services", "-n", "acme", "-o", "name")
		return paths == "shop.example.test;" && !strings.Contains(routes, "cm-acme-http-solver")
	})
}
