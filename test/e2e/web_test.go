package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// browser is a headless Chromium driven over the DevTools protocol, that
// records every error the pages write to the console.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	shots    string
}

// chromium is Debian's chromium, which `make tools` installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is missing: run make tools (it installs Debian's chromium)")
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, for as long as ctx lives.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b := &browser{ctx: ctx}
	shots, err := os.MkdirTemp("", "certplane-web-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	b.shots = shots
	t.Logf("screenshots in %s", shots)
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s %s:%d: %s", m.Type, m.URL, m.Line, m.Text))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions with a deadline.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a script in the page.
func eval[T any](t *testing.T, b *browser, script string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("evaluating %s: %v", script, err)
	}
	return v
}

// waitFor waits until a script in the page is true.
func (b *browser) waitFor(t *testing.T, what, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 95*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](script, chromedp.WithPollingTimeout(90*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// open loads a page and waits until its live updates are connected.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	b.do(t, "loading "+url, chromedp.Navigate(url))
	b.waitFor(t, url+" to be live", `document.querySelector('#live[data-state="live"]') !== null`)
}

// screenshot saves the whole page as name.png.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

const webObjects = `apiVersion: v1
kind: Namespace
metadata: {name: cert-manager}
---
apiVersion: v1
kind: Namespace
metadata: {name: web-e2e}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: root-ca, namespace: cert-manager}
spec:
  isCA: true
  commonName: Web E2E Root CA
  secretName: root-ca
  duration: 8760h
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: ca}
spec: {ca: {secretName: root-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: web-e2e, labels: {app: web}}
spec:
  secretName: web-tls
  dnsNames: [web.web-e2e.svc]
  duration: 2160h
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: ca, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api, namespace: web-e2e, labels: {app: api}}
spec:
  secretName: api-tls
  dnsNames: [api.web-e2e.svc]
  duration: 48h
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: ca, kind: ClusterIssuer}
`

// TestWebView drives `certplane up`'s web view in headless Chromium: every
// page loads without a console error, the inventory lists what the API
// holds and follows its filters, a Certificate created meanwhile appears
// without a reload, the timeline, the issuer graph (seed 000's chain) and
// the certificate page show what they should; a screenshot of each page is
// kept.
func TestWebView(t *testing.T) {
	b := newBrowser(t)
	data := t.TempDir()
	webPort := freePort(t)
	startUp(t, data, freePort(t), "--web-address", "127.0.0.1:"+strconv.Itoa(webPort))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "objects.yaml"), webObjects)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "objects.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "web-e2e", "certificate/web", "certificate/api")
	cs := kubernetes.NewForConfigOrDie(restConfig(t, admin))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	csr, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, newRequest(t, "web-e2e-client", "web-e2e-client"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := approve(ctx, cs, csr); err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(webPort)

	t.Run("inventory lists what the API holds", func(t *testing.T) {
		b.open(t, base+"/")
		want := map[string]bool{"CertificateSigningRequest//web-e2e-client": true, "ClusterIssuer//ca": true}
		var crts struct {
			Items []metav1.PartialObjectMetadata `json:"items"`
		}
		if err := json.Unmarshal([]byte(mustKubectl(t, admin, "get", "certificates", "-A", "-o", "json")), &crts); err != nil {
			t.Fatal(err)
		}
		for _, c := range crts.Items {
			want["Certificate/"+c.Namespace+"/"+c.Name] = true
		}
		if len(want) != 5 {
			t.Fatalf("the API holds %v", want)
		}
		// The CSR is signed while the page is open: wait for all of it.
		b.waitFor(t, "every object in the table", `document.querySelectorAll('tr[data-kind]').length >= 5 &&
			document.querySelector('tr[data-name="web-e2e-client"] .badge')?.textContent === "Issued"`)
		rows := eval[[]string](t, b, `Array.from(document.querySelectorAll('tr[data-kind]')).map(r => r.dataset.kind + "/" + r.dataset.namespace + "/" + r.dataset.name)`)
		for key := range want {
			if !slices.Contains(rows, key) {
				t.Errorf("the inventory lacks %s: %v", key, rows)
			}
		}
		b.screenshot(t, "inventory")
	})

	t.Run("a new Certificate appears without a reload", func(t *testing.T) {
		b.open(t, base+"/?namespace=web-e2e")
		if got := eval[bool](t, b, `window.certplaneTestMarker = true`); !got {
			t.Fatal("could not mark the page")
		}
		writeFile(t, filepath.Join(dir, "live.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: live-cert, namespace: web-e2e}
spec:
  secretName: live-cert-tls
  dnsNames: [live.web-e2e.svc]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: ca, kind: ClusterIssuer}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "live.yaml"))
		b.waitFor(t, "live-cert to appear Ready", `document.querySelector('tr[data-name="live-cert"] .badge')?.textContent === "Ready"`)
		if !eval[bool](t, b, `window.certplaneTestMarker === true`) {
			t.Error("the page was reloaded")
		}
		if n := eval[int](t, b, `document.querySelectorAll('tr[data-kind="ClusterIssuer"], tr[data-kind="CertificateSigningRequest"]').length`); n != 0 {
			t.Errorf("the namespace filter shows %d cluster-scoped rows", n)
		}
		b.screenshot(t, "inventory-live")
	})

	t.Run("filters", func(t *testing.T) {
		b.open(t, base+"/?namespace=web-e2e&expiring-within=30d")
		rows := eval[[]string](t, b, `Array.from(document.querySelectorAll('tr[data-kind]')).map(r => r.dataset.name)`)
		if !slices.Equal(rows, []string{"api"}) {
			t.Errorf("expiring within 30d in web-e2e: %v, want only api (48h)", rows)
		}
		b.open(t, base+"/?selector="+strings.ReplaceAll("app in (web)", " ", "%20"))
		if rows := eval[[]string](t, b, `Array.from(document.querySelectorAll('tr[data-kind]')).map(r => r.dataset.name)`); !slices.Equal(rows, []string{"web"}) {
			t.Errorf("selector app in (web): %v", rows)
		}
	})

	t.Run("timeline", func(t *testing.T) {
		b.open(t, base+"/timeline")
		b.waitFor(t, "the bars", `document.querySelector('svg#timeline g.row[data-name="web"] rect.bar') !== null`)
		if !eval[bool](t, b, `document.querySelector('svg#timeline line.today') !== null && document.querySelector('svg#timeline g.row[data-name="api"]').classList.contains('soon')`) {
			t.Error("the timeline lacks today's line, or api (48h) is not drawn as expiring soon")
		}
		if n := eval[int](t, b, `document.querySelectorAll('svg#timeline path.renew').length`); n < 3 {
			t.Errorf("%d renewal marks, want one per Certificate", n)
		}
		b.screenshot(t, "timeline")
	})

	t.Run("issuer graph as seed 000 draws it", func(t *testing.T) {
		b.open(t, base+"/graph")
		b.waitFor(t, "the graph", `document.querySelector('svg#graph g.node[data-kind="ClusterIssuer"][data-name="ca"]') !== null`)
		// ClusterIssuer selfsigned → Certificate root-ca → ClusterIssuer ca → the leaves, left to right.
		xs := eval[[]float64](t, b, `["selfsigned", "root-ca", "ca", "web"].map(n => Number(document.querySelector('svg#graph g.node[data-name="' + n + '"] rect').getAttribute("x")))`)
		if len(xs) != 4 || !(xs[0] < xs[1] && xs[1] < xs[2] && xs[2] < xs[3]) {
			t.Errorf("columns of selfsigned, root-ca, ca, web: %v", xs)
		}
		if n := eval[int](t, b, `document.querySelectorAll('svg#graph g.edge.signs').length`); n != 1 {
			t.Errorf("%d signs edges, want root-ca → ca", n)
		}
		b.screenshot(t, "graph")
	})

	t.Run("certificate page", func(t *testing.T) {
		b.open(t, base+"/object/certificates/web-e2e/web")
		text := eval[string](t, b, `document.querySelector('main').innerText`)
		for _, want := range []string{"web.web-e2e.svc", "CN=Web E2E Root CA", "SHA-256", "Ready", "Issuing"} {
			if !strings.Contains(text, want) {
				t.Errorf("the certificate page lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "PRIVATE KEY") {
			t.Error("the certificate page shows a private key")
		}
		b.screenshot(t, "certificate")
	})

	if problems := b.consoleErrors(); len(problems) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(problems, "\n"))
	}

	t.Run("an address in use is refused", func(t *testing.T) {
		r := cp(t, "", "", "up", "--data-dir", t.TempDir(), "--port", strconv.Itoa(freePort(t)), "--key-algorithm", "ecdsa-p256",
			"--bin-dir", filepath.Dir(tool(t, "kube-apiserver")), "--web-address", "127.0.0.1:"+strconv.Itoa(webPort))
		if r.code == 0 || !strings.Contains(r.stderr, "--web-address: listen tcp 127.0.0.1:"+strconv.Itoa(webPort)) {
			t.Errorf("up on a taken --web-address: exit %d, %q", r.code, r.stderr)
		}
	})
}

func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWebAuth: `certplane controller --web-address` against a cluster
// reviews each request's bearer token and shows a user only the namespaces
// and kinds RBAC lets them list, as kube-rbac-proxy would.
func TestWebAuth(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t), "--web-address", "")
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	var objs strings.Builder
	for _, ns := range []string{"team-a", "team-b"} {
		fmt.Fprintf(&objs, `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: %[1]s}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %[1]s-cert, namespace: %[1]s}
spec:
  secretName: %[1]s-tls
  dnsNames: [%[1]s.example]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: selfsigned}
---
`, ns)
	}
	writeFile(t, filepath.Join(dir, "teams.yaml"), objs.String())
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "teams.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team-a", "certificate/team-a-cert")
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team-b", "certificate/team-b-cert")
	mustKubectl(t, admin, "create", "serviceaccount", "viewer", "-n", "team-a")
	mustKubectl(t, admin, "create", "rolebinding", "viewer", "-n", "team-a", "--clusterrole=view", "--serviceaccount=team-a:viewer")
	mustKubectl(t, admin, "create", "serviceaccount", "auditor", "-n", "team-b")
	mustKubectl(t, admin, "create", "clusterrolebinding", "web-e2e-auditor", "--clusterrole=view", "--serviceaccount=team-b:auditor")
	// view covers cert-manager.io once kube-controller-manager has
	// aggregated cert-manager's roles into it, a moment after up.
	waitFor(t, 60*time.Second, "the view role to cover Certificates", func() bool {
		return strings.TrimSpace(kubectl(t, admin, "auth", "can-i", "list", "certificates.cert-manager.io", "-n", "team-b",
			"--as", "system:serviceaccount:team-b:auditor").stdout) == "yes"
	})
	viewer := strings.TrimSpace(mustKubectl(t, admin, "create", "token", "viewer", "-n", "team-a"))
	auditor := strings.TrimSpace(mustKubectl(t, admin, "create", "token", "auditor", "-n", "team-b"))

	// The web view alone: no controllers, only the cache they would share.
	webPort, probePort := freePort(t), freePort(t)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "controller.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(certplane, "controller", "--kubeconfig", admin, "--controllers=", "--leader-elect=false", "--metrics-bind-address=0",
		"--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(probePort), "--web-address", "127.0.0.1:"+strconv.Itoa(webPort))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(webPort)
	waitHTTPOK(t, base+"/login")

	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	names := func(token string) ([]string, []string) {
		t.Helper()
		code, body := get("/api/inventory", token)
		if code != http.StatusOK {
			t.Fatalf("/api/inventory: %d %s", code, body)
		}
		var rep struct {
			Items []struct {
				Kind, Namespace, Name string
			} `json:"items"`
			Skipped []string `json:"skipped"`
		}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range rep.Items {
			if it.Kind == "Certificate" {
				out = append(out, it.Namespace+"/"+it.Name)
			}
		}
		slices.Sort(out)
		return out, rep.Skipped
	}

	for _, token := range []string{"", "not-a-token"} {
		if code, _ := get("/api/inventory", token); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", token, code)
		}
		if code, body := get("/", token); code != http.StatusUnauthorized || !strings.Contains(body, `name="token"`) {
			t.Errorf("page with token %q: %d, want 401 and the login form", token, code)
		}
	}
	got, skipped := names(viewer)
	if !slices.Equal(got, []string{"team-a/team-a-cert"}) {
		t.Errorf("team-a's viewer sees %v, want team-a's Certificate only", got)
	}
	if !slices.ContainsFunc(skipped, func(s string) bool { return strings.HasPrefix(s, "certificatesigningrequests: not permitted") }) {
		t.Errorf("the viewer's listing does not say CSRs are left out: %v", skipped)
	}
	if got, _ := names(auditor); !slices.Equal(got, []string{"team-a/team-a-cert", "team-b/team-b-cert"}) {
		t.Errorf("the cluster-wide auditor sees %v", got)
	}
	if code, body := get("/", viewer); code != http.StatusOK || !strings.Contains(body, `data-name="team-a-cert"`) || strings.Contains(body, `data-name="team-b-cert"`) {
		t.Errorf("the viewer's inventory page: %d", code)
	}
	if code, _ := get("/object/certificates/team-b/team-b-cert", viewer); code != http.StatusForbidden {
		t.Errorf("the viewer's page of team-b's Certificate: %d, want 403", code)
	}
	if code, body := get("/object/certificates/team-a/team-a-cert", viewer); code != http.StatusOK || !strings.Contains(body, "You may not get Secret team-a/team-a-tls") {
		t.Errorf("the viewer's page of team-a's Certificate: %d (view may not read Secrets)", code)
	}
}
