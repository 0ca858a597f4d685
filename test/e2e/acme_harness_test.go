package e2e

// Helpers for end-to-end ACME tests against the real Pebble (an ACME test
// server) and BIND (an RFC 2136 name server), both Debian packages that
// `make tools` installs, and a test that they work together.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// The programs the ACME tests run, from Debian's packages.
const (
	pebbleBin     = "/usr/bin/pebble"       // pebble
	namedBin      = "/usr/sbin/named"       // bind9
	tsigKeygenBin = "/usr/sbin/tsig-keygen" // bind9
	nsupdateBin   = "/usr/bin/nsupdate"     // bind9-dnsutils
	digBin        = "/usr/bin/dig"          // bind9-dnsutils
)

// requireDebianTool skips the test when a program of a Debian package that
// `make tools` installs is missing.
func requireDebianTool(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not installed (Debian package %s): run make tools", path, pkg)
	}
}

// daemon is a server process started for one test, its output in a log file
// that the test shows when it fails.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// startDaemon runs path with args and env added to the environment, its
// stdout and stderr in dir/name.log. It stops the process in t.Cleanup,
// with SIGTERM and SIGKILL after ten seconds, waits until it has exited,
// and then, if the test failed, logs its output.
func startDaemon(t testing.TB, name, dir string, env []string, path string, args ...string) *daemon {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	d := &daemon{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(d.done) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", name, logPath, d.log())
		}
	})
	return d
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *daemon) stop(t testing.TB) {
	if d.exited() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Logf("%s did not stop on SIGTERM within 10s: killed", d.name)
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) log() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// waitReady polls ready until it is true, failing the test with the log if
// the process exits first or a minute passes.
func (d *daemon) waitReady(t testing.TB, what string, ready func() bool) {
	t.Helper()
	waitFor(t, time.Minute, what, func() bool { return d.exited() || ready() })
	if d.exited() {
		t.Fatalf("%s exited (%s) before %s; its log:\n%s", d.name, d.cmd.ProcessState, what, d.log())
	}
}

// freeDNSPort returns a loopback port free for both UDP and TCP.
func freeDNSPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return port
		}
	}
	t.Fatal("found no loopback port free for both UDP and TCP")
	return 0
}

// distinctFreePorts returns n different free loopback TCP ports.
func distinctFreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		if p := freePort(t); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// namedServer is a BIND name server, primary for one zone, that takes
// RFC 2136 updates of TXT records signed with a TSIG key.
type namedServer struct {
	// Addr is where it answers, UDP and TCP: "127.0.0.1:PORT".
	Addr string
	// Port is Addr's port.
	Port int
	// Zone is the zone it serves, such as "example.test", without the
	// final dot.
	Zone string
	// KeyName is the TSIG key's name: "certplane-key".
	KeyName string
	// Secret is the TSIG key's secret, base64 as tsig-keygen writes it.
	Secret string
	// Algorithm is the TSIG algorithm as cert-manager's rfc2136 solver
	// names it in tsigAlgorithm: "HMACSHA256".
	Algorithm string
}

var tsigSecret = regexp.MustCompile(`secret "([^"]+)"`)

// startNamed runs named (`named -g -n 1 -c named.conf`) on a free loopback
// port, primary for zone, with `$TTL 60`, an SOA, `NS ns`, `ns A 127.0.0.1`
// and records: a name relative to the zone ("app", "*.wild", "@") to its
// IPv4 (A) or IPv6 (AAAA) address. The TSIG key certplane-key
// (hmac-sha256, made by tsig-keygen) may add and delete TXT records
// anywhere in the zone; other updates are refused. It returns once the SOA
// answers, and stops named in t.Cleanup. It skips the test when BIND is
// not installed.
func startNamed(t testing.TB, zone string, records map[string]string) *namedServer {
	t.Helper()
	requireDebianTool(t, namedBin, "bind9")
	requireDebianTool(t, tsigKeygenBin, "bind9")
	requireDebianTool(t, digBin, "bind9-dnsutils")
	requireDebianTool(t, nsupdateBin, "bind9-dnsutils")
	zone = strings.TrimSuffix(zone, ".")
	dir := t.TempDir()

	const keyName = "certplane-key"
	key := runIn(t, dir, "", tsigKeygenBin, "-a", "hmac-sha256", keyName)
	if key.code != 0 {
		t.Fatalf("tsig-keygen: exit %d: %s", key.code, key.stderr)
	}
	m := tsigSecret.FindStringSubmatch(key.stdout)
	if m == nil {
		t.Fatalf("tsig-keygen wrote no secret: %q", key.stdout)
	}
	writeFile(t, filepath.Join(dir, "tsig.key"), key.stdout)

	var z strings.Builder
	fmt.Fprintf(&z, "$TTL 60\n$ORIGIN %s.\n", zone)
	fmt.Fprintf(&z, "@ IN SOA ns.%s. hostmaster.%s. ( 1 3600 600 86400 60 )\n", zone, zone)
	z.WriteString("@ IN NS ns\nns IN A 127.0.0.1\n")
	for _, name := range slices.Sorted(maps.Keys(records)) {
		ip := net.ParseIP(records[name])
		switch {
		case ip == nil:
			t.Fatalf("startNamed: record %s: %q is not an IP address", name, records[name])
		case ip.To4() != nil:
			fmt.Fprintf(&z, "%s IN A %s\n", name, ip)
		default:
			fmt.Fprintf(&z, "%s IN AAAA %s\n", name, ip)
		}
	}
	zoneFile := filepath.Join(dir, zone+".zone")
	writeFile(t, zoneFile, z.String())

	port := freeDNSPort(t)
	conf := fmt.Sprintf(`include %[1]q;
options {
	directory %[2]q;
	pid-file %[3]q;
	session-keyfile %[4]q;
	listen-on port %[5]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
zone %[6]q {
	type primary;
	file %[7]q;
	update-policy { grant %[8]s zonesub TXT; };
};
`, filepath.Join(dir, "tsig.key"), dir, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"),
		port, zone, zoneFile, keyName)
	confFile := filepath.Join(dir, "named.conf")
	writeFile(t, confFile, conf)

	d := startDaemon(t, "named", dir, nil, namedBin, "-g", "-n", "1", "-c", confFile)
	ns := &namedServer{
		Addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:      port,
		Zone:      zone,
		KeyName:   keyName,
		Secret:    m[1],
		Algorithm: "HMACSHA256",
	}
	d.waitReady(t, "named to answer for "+zone, func() bool {
		return len(ns.dig(t, "SOA", zone+".")) > 0
	})
	return ns
}

// dig asks the server for name's records of type typ and returns the
// answers as dig +short prints them, one a line.
func (ns *namedServer) dig(t testing.TB, typ, name string) []string {
	t.Helper()
	r := runIn(t, "", "", digBin, "+short", "+time=2", "+tries=1", "-p", strconv.Itoa(ns.Port), "@127.0.0.1", typ, name)
	if r.code != 0 {
		return nil
	}
	var lines []string
	for l := range strings.Lines(r.stdout) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ";") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TXT returns the TXT records the server has at fqdn, each record's
// strings joined, sorted. It fails the test when dig fails.
func (ns *namedServer) TXT(t testing.TB, fqdn string) []string {
	t.Helper()
	r := runIn(t, "", "", digBin, "+short", "+time=2", "+tries=1", "-p", strconv.Itoa(ns.Port), "@127.0.0.1", "TXT", fqdn)
	if r.code != 0 {
		t.Fatalf("dig TXT %s at %s: exit %d: %s%s", fqdn, ns.Addr, r.code, r.stdout, r.stderr)
	}
	var txt []string
	for l := range strings.Lines(r.stdout) {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		// dig prints a record's strings quoted, separated by spaces; the
		// values ACME uses hold neither quotes nor spaces.
		txt = append(txt, strings.ReplaceAll(strings.Trim(l, `"`), `" "`, ""))
	}
	slices.Sort(txt)
	return txt
}

// Update sends an RFC 2136 update, signed with the TSIG key, with nsupdate:
// lines such as `update add NAME 60 TXT "v"`, between the server and zone
// lines and send. It fails the test unless the server accepts it.
func (ns *namedServer) Update(t testing.TB, lines ...string) {
	t.Helper()
	script := fmt.Sprintf("server 127.0.0.1 %d\nzone %s.\n%s\nsend\n", ns.Port, ns.Zone, strings.Join(lines, "\n"))
	r := runIn(t, "", script, nsupdateBin, "-y", "hmac-sha256:"+ns.KeyName+":"+ns.Secret)
	if r.code != 0 {
		t.Fatalf("nsupdate %q: exit %d: %s%s", lines, r.code, r.stdout, r.stderr)
	}
}

// AddTXT adds the TXT record value at fqdn, with a TTL of 60 seconds.
func (ns *namedServer) AddTXT(t testing.TB, fqdn, value string) {
	t.Helper()
	ns.Update(t, fmt.Sprintf("update add %s 60 TXT %q", dotted(fqdn), value))
}

// DeleteTXT deletes the TXT record value at fqdn.
func (ns *namedServer) DeleteTXT(t testing.TB, fqdn, value string) {
	t.Helper()
	ns.Update(t, fmt.Sprintf("update delete %s TXT %q", dotted(fqdn), value))
}

func dotted(name string) string { return strings.TrimSuffix(name, ".") + "." }

// pebbleOptions configure startPebble. The zero value is a Pebble that
// validates HTTP-01 on a port nobody listens on and asks the system
// resolver.
type pebbleOptions struct {
	// HTTPPort is the port Pebble validates HTTP-01 on; if zero, a free one.
	HTTPPort int
	// TLSPort is the port Pebble validates TLS-ALPN-01 on; if zero, a free
	// one.
	TLSPort int
	// DNSServer, "host:port", is where Pebble resolves names and looks up
	// DNS-01 TXT records (-dnsserver); if empty, the system resolver.
	DNSServer string
	// EAB maps key IDs to base64url (unpadded) HMAC keys; if any, every
	// new account needs an external account binding.
	EAB map[string]string
	// Blocklist are domains Pebble refuses to issue for.
	Blocklist []string
	// NonceReject is the percentage of good nonces Pebble rejects with
	// badNonce (PEBBLE_WFE_NONCEREJECT; Pebble's own default is 5).
	NonceReject int
	// AuthzReuse is the percentage of valid authorizations Pebble reuses
	// for new orders (PEBBLE_AUTHZREUSE; Pebble's own default is 50).
	// Zero is not never: Pebble makes a new authorization only when
	// rand.Intn(100) > AuthzReuse, so it still reuses one in a hundred.
	AuthzReuse int
	// Validity is how long the certificates Pebble issues are valid for,
	// in whole seconds; if zero, Pebble's default of five years.
	Validity time.Duration
}

// pebbleServer is a running Pebble.
type pebbleServer struct {
	// DirectoryURL is the ACME directory: "https://127.0.0.1:PORT/dir".
	DirectoryURL string
	// ManagementURL is the management interface: "https://127.0.0.1:PORT".
	ManagementURL string
	// CABundle is the PEM of the CA that signed the certificate of both
	// listeners, for an Issuer's caBundle.
	CABundle []byte
	// HTTPPort and TLSPort are the ports Pebble validates HTTP-01 and
	// TLS-ALPN-01 on.
	HTTPPort, TLSPort int
	// Client is an HTTP client that trusts CABundle.
	Client *http.Client
	// pid is Pebble's process, for the benchmarks' CPU figures.
	pid int
}

// pebbleConfig is Pebble's configuration file, {"pebble": {...}}.
type pebbleConfig struct {
	ListenAddress                  string            `json:"listenAddress"`
	ManagementListenAddress        string            `json:"managementListenAddress"`
	Certificate                    string            `json:"certificate"`
	PrivateKey                     string            `json:"privateKey"`
	HTTPPort                       int               `json:"httpPort"`
	TLSPort                        int               `json:"tlsPort"`
	OCSPResponderURL               string            `json:"ocspResponderURL"`
	ExternalAccountBindingRequired bool              `json:"externalAccountBindingRequired"`
	ExternalAccountMACKeys         map[string]string `json:"externalAccountMACKeys,omitempty"`
	DomainBlocklist                []string          `json:"domainBlocklist,omitempty"`
	CertificateValidityPeriod      uint64            `json:"certificateValidityPeriod,omitempty"`
}

// loopbackListenerCert makes the CA "certplane e2e <server> listener CA"
// and from it a 24-hour server certificate for localhost and 127.0.0.1,
// writes that certificate to certFile and its key (mode 0600) to keyFile,
// and returns the CA.
func loopbackListenerCert(t testing.TB, server, certFile, keyFile string) *pki.CA {
	t.Helper()
	ca := pkitest.CA(t, "certplane e2e "+server+" listener CA")
	key := pkitest.Key(t)
	cert, err := ca.Issue(rand.Reader, time.Now(), &pki.Template{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		Usages:      []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth},
		Duration:    24 * time.Hour,
	}, key.Public())
	if err != nil {
		t.Fatalf("issuing %s's listener certificate: %v", server, err)
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, string(pki.EncodeCertificatesPEM(cert)))
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// startPebble runs Pebble on free loopback ports with a listener
// certificate for 127.0.0.1 and localhost from a CA made for the test,
// without its random sleep before validating (PEBBLE_VA_NOSLEEP=1). It
// returns once the directory answers 200, and stops Pebble in t.Cleanup.
// It skips the test when Pebble is not installed.
func startPebble(t testing.TB, o pebbleOptions) *pebbleServer {
	t.Helper()
	requireDebianTool(t, pebbleBin, "pebble")
	dir := t.TempDir()

	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := loopbackListenerCert(t, "Pebble", certFile, keyFile)

	ports := distinctFreePorts(t, 4)
	listen, mgmt := ports[0], ports[1]
	if o.HTTPPort == 0 {
		o.HTTPPort = ports[2]
	}
	if o.TLSPort == 0 {
		o.TLSPort = ports[3]
	}
	cfg := pebbleConfig{
		ListenAddress:                  net.JoinHostPort("127.0.0.1", strconv.Itoa(listen)),
		ManagementListenAddress:        net.JoinHostPort("127.0.0.1", strconv.Itoa(mgmt)),
		Certificate:                    certFile,
		PrivateKey:                     keyFile,
		HTTPPort:                       o.HTTPPort,
		TLSPort:                        o.TLSPort,
		ExternalAccountBindingRequired: len(o.EAB) > 0,
		ExternalAccountMACKeys:         o.EAB,
		DomainBlocklist:                o.Blocklist,
		CertificateValidityPeriod:      uint64(o.Validity / time.Second),
	}
	data, err := json.MarshalIndent(map[string]pebbleConfig{"pebble": cfg}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "pebble-config.json")
	writeFile(t, cfgFile, string(data))

	args := []string{"-config", cfgFile}
	if o.DNSServer != "" {
		args = append(args, "-dnsserver", o.DNSServer)
	}
	env := []string{
		"PEBBLE_VA_NOSLEEP=1",
		"PEBBLE_WFE_NONCEREJECT=" + strconv.Itoa(o.NonceReject),
		"PEBBLE_AUTHZREUSE=" + strconv.Itoa(o.AuthzReuse),
	}
	d := startDaemon(t, "pebble", dir, env, pebbleBin, args...)

	caPEM := pki.EncodeCertificatesPEM(ca.Certificate)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate)
	p := &pebbleServer{
		pid:           d.cmd.Process.Pid,
		DirectoryURL:  fmt.Sprintf("https://%s/dir", cfg.ListenAddress),
		ManagementURL: "https://" + cfg.ManagementListenAddress,
		CABundle:      caPEM,
		HTTPPort:      o.HTTPPort,
		TLSPort:       o.TLSPort,
		Client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		},
	}
	t.Cleanup(p.Client.CloseIdleConnections)
	d.waitReady(t, "Pebble's directory to answer 200", func() bool {
		status, _, err := p.get(p.DirectoryURL)
		return err == nil && status == http.StatusOK
	})
	return p
}

func (p *pebbleServer) get(url string) (int, []byte, error) {
	resp, err := p.Client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (p *pebbleServer) management(t testing.TB, path string) []byte {
	t.Helper()
	status, body, err := p.get(p.ManagementURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// Roots returns the PEM of Pebble's root CA (/roots/0), which signs the
// certificates it issues through its intermediate. It is new at every start.
func (p *pebbleServer) Roots(t testing.TB) []byte {
	t.Helper()
	return p.management(t, "/roots/0")
}

// Intermediates returns the PEM of Pebble's intermediate CA
// (/intermediates/0).
func (p *pebbleServer) Intermediates(t testing.TB) []byte {
	t.Helper()
	return p.management(t, "/intermediates/0")
}

// http01Responder answers HTTP-01 challenges, as a solver would, on
// 127.0.0.1:port.
type http01Responder struct {
	mu        sync.Mutex
	responses map[string]string // path to key authorization
}

func startHTTP01Responder(t *testing.T, port int) *http01Responder {
	t.Helper()
	r := &http01Responder{responses: map[string]string{}}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *http01Responder) set(path, keyAuth string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.responses[path] = keyAuth
}

func (r *http01Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	body, ok := r.responses[req.URL.Path]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	_, _ = io.WriteString(w, body)
}

// TestACMEHarness proves the harness without certplane: x/crypto's ACME
// client gets certificates from Pebble, solving dns-01 with TXT records
// that nsupdate adds to named with the TSIG key, and http-01 from a
// responder on Pebble's HTTP port at the address named gives the name; the
// chains verify against Pebble's root and intermediate. It also checks
// that named refuses an update signed with a wrong secret, and that EAB and
// the blocklist reach Pebble.
func TestACMEHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ns := startNamed(t, "example.test", map[string]string{"app": "127.0.0.1"})
	if got := ns.dig(t, "A", "app.example.test."); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Fatalf("named answers A app.example.test with %q, want 127.0.0.1", got)
	}
	wrongKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	script := fmt.Sprintf("server 127.0.0.1 %d\nzone example.test.\nupdate add x.example.test. 60 TXT \"v\"\nsend\n", ns.Port)
	if r := runIn(t, "", script, nsupdateBin, "-y", "hmac-sha256:"+ns.KeyName+":"+wrongKey); r.code == 0 {
		t.Errorf("named took an update signed with the wrong TSIG secret: %s", r.stdout)
	}
	if got := ns.TXT(t, "x.example.test."); len(got) > 0 {
		t.Errorf("named has TXT x.example.test %q after a refused update", got)
	}

	httpPort := freePort(t)
	responder := startHTTP01Responder(t, httpPort)
	p := startPebble(t, pebbleOptions{HTTPPort: httpPort, DNSServer: ns.Addr})

	// newAccount registers a fresh account. Each subtest has its own:
	// Pebble reuses valid authorizations per account, and even with
	// PEBBLE_AUTHZREUSE=0 it does so one time in a hundred (it creates a
	// new authorization only when rand.Intn(100) > the percentage).
	newAccount := func(t *testing.T) *acme.Client {
		client := &acme.Client{Key: pkitest.Key(t), DirectoryURL: p.DirectoryURL, HTTPClient: p.Client}
		if _, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
			t.Fatalf("registering with Pebble: %v", err)
		}
		return client
	}

	// roots holds Pebble's root; the intermediate must come in the chain.
	roots, err := pki.ParseCertificatesPEM(p.Roots(t))
	if err != nil || len(roots) != 1 {
		t.Fatalf("Pebble's /roots/0: %d certificates, %v", len(roots), err)
	}
	intermediates, err := pki.ParseCertificatesPEM(p.Intermediates(t))
	if err != nil || len(intermediates) != 1 {
		t.Fatalf("Pebble's /intermediates/0: %d certificates, %v", len(intermediates), err)
	}

	solveDNS01 := func(t *testing.T, client *acme.Client, z *acme.Authorization, chal *acme.Challenge) {
		rec, err := client.DNS01ChallengeRecord(chal.Token)
		if err != nil {
			t.Fatal(err)
		}
		fqdn := "_acme-challenge." + z.Identifier.Value + "."
		ns.AddTXT(t, fqdn, rec)
		if got := ns.TXT(t, fqdn); !slices.Contains(got, rec) {
			t.Fatalf("named has TXT %s %q after nsupdate, want %q among them", fqdn, got, rec)
		}
		t.Cleanup(func() {
			ns.DeleteTXT(t, fqdn, rec)
			if got := ns.TXT(t, fqdn); slices.Contains(got, rec) {
				t.Errorf("named still has TXT %s %q after the delete", fqdn, got)
			}
		})
	}
	solveHTTP01 := func(t *testing.T, client *acme.Client, _ *acme.Authorization, chal *acme.Challenge) {
		body, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			t.Fatal(err)
		}
		responder.set(client.HTTP01ChallengePath(chal.Token), body)
	}

	for _, tc := range []struct {
		name      string
		challenge string
		names     []string
		solve     func(*testing.T, *acme.Client, *acme.Authorization, *acme.Challenge)
	}{
		{"dns-01", "dns-01", []string{"app.example.test", "*.wild.example.test"}, solveDNS01},
		{"http-01", "http-01", []string{"app.example.test"}, solveHTTP01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := newAccount(t)
			order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(tc.names...))
			if err != nil {
				t.Fatalf("ordering %v: %v", tc.names, err)
			}
			for _, u := range order.AuthzURLs {
				z, err := client.GetAuthorization(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				if z.Status != acme.StatusPending {
					t.Fatalf("authorization for %s is %s, want pending (a new account, PEBBLE_AUTHZREUSE=0)", z.Identifier.Value, z.Status)
				}
				i := slices.IndexFunc(z.Challenges, func(c *acme.Challenge) bool { return c.Type == tc.challenge })
				if i < 0 {
					t.Fatalf("authorization for %s offers no %s", z.Identifier.Value, tc.challenge)
				}
				tc.solve(t, client, z, z.Challenges[i])
				if _, err := client.Accept(ctx, z.Challenges[i]); err != nil {
					t.Fatalf("accepting %s for %s: %v", tc.challenge, z.Identifier.Value, err)
				}
				if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
					t.Fatalf("%s for %s: %v", tc.challenge, z.Identifier.Value, err)
				}
			}
			order, err = client.WaitOrder(ctx, order.URI)
			if err != nil {
				t.Fatalf("waiting for the order: %v", err)
			}
			key := pkitest.Key(t)
			csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: tc.names}, key)
			if err != nil {
				t.Fatal(err)
			}
			der, _, err := client.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
			if err != nil {
				t.Fatalf("finalizing: %v", err)
			}
			var chain []*x509.Certificate
			for _, d := range der {
				c, err := x509.ParseCertificate(d)
				if err != nil {
					t.Fatal(err)
				}
				chain = append(chain, c)
			}
			if len(chain) != 2 || !chain[1].Equal(intermediates[0]) {
				t.Errorf("chain has %d certificates, want the leaf and Pebble's /intermediates/0", len(chain))
			}
			if err := pki.VerifyChain(chain, roots, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
				t.Errorf("chain does not verify against Pebble's /roots/0: %v", err)
			}
			leaf := chain[0]
			if got, want := slices.Sorted(slices.Values(leaf.DNSNames)), slices.Sorted(slices.Values(tc.names)); !slices.Equal(got, want) {
				t.Errorf("leaf names %q, want %q", got, want)
			}
			if !pki.KeyMatches(leaf.PublicKey, key) {
				t.Error("leaf is not for the CSR's key")
			}
		})
	}

	t.Run("options", func(t *testing.T) {
		mac := make([]byte, 48)
		_, _ = rand.Read(mac)
		p := startPebble(t, pebbleOptions{
			EAB:       map[string]string{"kid-1": base64.RawURLEncoding.EncodeToString(mac)},
			Blocklist: []string{"blocked.example.test"},
		})
		client := &acme.Client{Key: pkitest.Key(t), DirectoryURL: p.DirectoryURL, HTTPClient: p.Client}
		dir, err := client.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !dir.ExternalAccountRequired {
			t.Error("directory meta does not say externalAccountRequired")
		}
		_, err = client.Register(ctx, &acme.Account{}, acme.AcceptTOS)
		if e := (*acme.Error)(nil); !errors.As(err, &e) || !strings.HasSuffix(e.ProblemType, ":externalAccountRequired") {
			t.Errorf("registering without EAB: %v, want externalAccountRequired", err)
		}
		acct := &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{KID: "kid-1", Key: mac}}
		if _, err := client.Register(ctx, acct, acme.AcceptTOS); err != nil {
			t.Fatalf("registering with EAB kid-1: %v", err)
		}
		_, err = client.AuthorizeOrder(ctx, acme.DomainIDs("blocked.example.test"))
		if e := (*acme.Error)(nil); !errors.As(err, &e) || !strings.HasSuffix(e.ProblemType, ":rejectedIdentifier") {
			t.Errorf("ordering a blocked name: %v, want rejectedIdentifier", err)
		}
		if _, err := client.AuthorizeOrder(ctx, acme.DomainIDs("app.example.test")); err != nil {
			t.Errorf("ordering a name off the blocklist: %v", err)
		}
		if r, err := pki.ParseCertificatesPEM(p.Roots(t)); err != nil || len(r) != 1 || r[0].Equal(roots[0]) {
			t.Errorf("a second Pebble's /roots/0 (%d certificates, %v) is not a new root", len(r), err)
		}
	})
}
