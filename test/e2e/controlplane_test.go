package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/localcp"
	"github.com/certplane/certplane/pkg/pki"
)

// tool is the path of a pinned tool in the project's bin/, built by `make
// tools`; tests never build it themselves.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run make tools", p)
	}
	return p
}

func kubectl(t testing.TB, kubeconfig string, args ...string) result {
	t.Helper()
	return runIn(t, "", "", tool(t, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

func mustKubectl(t testing.TB, kubeconfig string, args ...string) string {
	t.Helper()
	r := kubectl(t, kubeconfig, args...)
	if r.code != 0 {
		t.Fatalf("kubectl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// curl runs curl and returns the HTTP status, or its own exit code as
// "exit N" when no HTTP answer came (a refused TLS handshake, say).
func curl(t *testing.T, args ...string) (status string, body string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required: apt-get install curl")
	}
	out, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	_ = out.Close()
	r := runIn(t, "", "", "curl", append([]string{"-sS", "--max-time", "20", "-o", out.Name(), "-w", "%{http_code}"}, args...)...)
	if r.code != 0 {
		return fmt.Sprintf("exit %d", r.code), r.stderr
	}
	data, _ := os.ReadFile(out.Name())
	return r.stdout, string(data)
}

// startControlPlane starts etcd and kube-apiserver with the project's
// launcher on free ports in a fresh data directory, and stops them when the
// test ends.
func startControlPlane(t testing.TB) *localcp.ControlPlane {
	t.Helper()
	port, err := localcp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := localcp.Start(context.Background(), localcp.Options{
		DataDir:  t.TempDir(),
		Port:     port,
		BinDir:   filepath.Dir(tool(t, "kube-apiserver")),
		Key:      pki.ECDSAP256, // RSA key generation would add seconds per test
		NodeName: "e2e-node",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
		assertNoProcessesFor(t, cp.DataDir)
	})
	return cp
}

// assertNoProcessesFor fails if any process's command line names dir.
func assertNoProcessesFor(t testing.TB, dir string) {
	t.Helper()
	if pids := processesFor(dir); len(pids) > 0 {
		t.Errorf("processes left behind for %s: %v", dir, pids)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func processesFor(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestControlPlane checks a control plane the way a cluster's users and
// operators do: kubectl with kubeadm's kubeconfigs, a new user onboarded
// with a client certificate, curl as in seed 003, and etcd's mTLS.
func TestControlPlane(t *testing.T) {
	cp := startControlPlane(t)
	data := cp.DataDir

	t.Run("super-admin.conf", func(t *testing.T) {
		out := mustKubectl(t, filepath.Join(data, "super-admin.conf"), "get", "ns")
		if !strings.Contains(out, "kube-system") || !strings.Contains(out, "default") {
			t.Errorf("kubectl get ns:\n%s", out)
		}
	})

	t.Run("admin.conf through kubeadm:cluster-admins", func(t *testing.T) {
		admin := filepath.Join(data, "admin.conf")
		who := mustKubectl(t, admin, "auth", "whoami")
		if !strings.Contains(who, "kubernetes-admin") || !strings.Contains(who, "kubeadm:cluster-admins") {
			t.Errorf("whoami:\n%s", who)
		}
		if out := mustKubectl(t, admin, "auth", "can-i", "*", "*"); strings.TrimSpace(out) != "yes" {
			t.Errorf("admin can-i * * = %q", out)
		}
	})

	t.Run("pki kubeconfig onboards jane in group dev", func(t *testing.T) {
		jane := filepath.Join(t.TempDir(), "jane.kubeconfig")
		must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", "jane", "--group", "dev", "--out", jane, "--key-algorithm", "ecdsa-p256")
		who := mustKubectl(t, jane, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
		if who != `jane ["dev","system:authenticated"]` {
			t.Errorf("jane is %q", who)
		}
		r := kubectl(t, jane, "get", "pods", "-n", "default")
		if r.code == 0 || !strings.Contains(r.stderr, "Forbidden") {
			t.Fatalf("jane listed pods before any RoleBinding: exit %d %s", r.code, r.stderr)
		}
		// An explicit Role: the aggregated ClusterRoles (view, edit) get
		// their rules from kube-controller-manager, which does not run here.
		admin := filepath.Join(data, "admin.conf")
		mustKubectl(t, admin, "create", "role", "pod-reader", "-n", "default", "--verb=get,list,watch", "--resource=pods")
		mustKubectl(t, admin, "create", "rolebinding", "dev-pod-reader", "-n", "default", "--role=pod-reader", "--group=dev")
		// RBAC changes reach the authorizer through an informer: wait for it.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r = kubectl(t, jane, "get", "pods", "-n", "default")
			if r.code == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.code != 0 {
			t.Errorf("jane still cannot list pods after the RoleBinding: %s", r.stderr)
		}
	})

	t.Run("curl with a client certificate, as in seed 003", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "k8s-new-client-csr.json"), `{"CN":"k8s-new-client","key":{"algo":"rsa","size":2048},"names":[{"O":"system:masters"}]}`)
		must(t, dir, "", "gencert", "-ca", filepath.Join(data, "pki", "ca.crt"), "-ca-key", filepath.Join(data, "pki", "ca.key"),
			"-profile", "client", "k8s-new-client-csr.json")
		status, body := curl(t, "--cacert", filepath.Join(data, "pki", "ca.crt"), "--cert", filepath.Join(dir, "k8s-new-client.pem"),
			"--key", filepath.Join(dir, "k8s-new-client-key.pem"), cp.URL+"/api")
		if status != "200" || !strings.Contains(body, `"kind": "APIVersions"`) {
			t.Errorf("curl /api with the new client certificate: %s %s", status, body)
		}
		// kubectl with the same files given as flags, as the seed does.
		r := runIn(t, "", "", tool(t, "kubectl"), "--server", cp.URL, "--certificate-authority", filepath.Join(data, "pki", "ca.crt"),
			"--client-certificate", filepath.Join(dir, "k8s-new-client.pem"), "--client-key", filepath.Join(dir, "k8s-new-client-key.pem"),
			"get", "pod", "-n", "kube-system")
		if r.code != 0 {
			t.Errorf("kubectl with --client-certificate: %s", r.stderr)
		}

		pkiDir(t, dir, "foreign")
		status, body = curl(t, "--cacert", filepath.Join(data, "pki", "ca.crt"), "--cert", filepath.Join(dir, "foreign-client.pem"),
			"--key", filepath.Join(dir, "foreign-client-key.pem"), cp.URL+"/api")
		if status != "401" {
			t.Errorf("client certificate from another CA: %s %s, want 401", status, body)
		}
	})

	t.Run("etcd requires a client certificate from the etcd CA", func(t *testing.T) {
		p := func(name string) string { return filepath.Join(data, "pki", name) }
		health := cp.EtcdURL + "/health"
		if status, body := curl(t, "--cacert", p("etcd/ca.crt"), "--cert", p("etcd/healthcheck-client.crt"), "--key", p("etcd/healthcheck-client.key"), health); status != "200" || !strings.Contains(body, `"health":"true"`) {
			t.Fatalf("etcd health with the healthcheck client: %s %s", status, body)
		}
		if status, _ := curl(t, "--cacert", p("etcd/ca.crt"), health); status == "200" {
			t.Error("etcd answered a client without a certificate")
		}
		if status, _ := curl(t, "--cacert", p("etcd/ca.crt"), "--cert", p("apiserver-kubelet-client.crt"), "--key", p("apiserver-kubelet-client.key"), health); status == "200" {
			t.Error("etcd answered a client whose certificate comes from the cluster CA")
		}
	})

	t.Run("check-expiration on the fresh tree", func(t *testing.T) {
		out := must(t, "", "", "pki", "check-expiration", "--dir", data)
		for _, want := range []string{"CERTIFICATE   ", "EXTERNALLY MANAGED", "apiserver-etcd-client", "super-admin.conf", "364d", "front-proxy-ca", "9y"} {
			if !strings.Contains(out, want) {
				t.Errorf("check-expiration lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "kubelet.conf") || strings.Contains(out, "MISSING") {
			t.Errorf("check-expiration:\n%s", out)
		}
		var report struct {
			Certificates []struct {
				Name                 string `json:"name"`
				CertificateAuthority string `json:"certificateAuthority"`
				ResidualTime         int64  `json:"residualTime"`
			} `json:"certificates"`
			CertificateAuthorities []struct{ Name string } `json:"certificateAuthorities"`
		}
		if err := json.Unmarshal([]byte(must(t, "", "", "pki", "check-expiration", "--dir", data, "-o", "json")), &report); err != nil {
			t.Fatal(err)
		}
		if len(report.Certificates) != 11 || len(report.CertificateAuthorities) != 3 ||
			report.Certificates[1].Name != "apiserver" || report.Certificates[1].CertificateAuthority != "ca" ||
			time.Duration(report.Certificates[1].ResidualTime) < 364*24*time.Hour {
			t.Errorf("check-expiration -o json: %+v", report)
		}
		if y := must(t, "", "", "pki", "check-expiration", "--dir", data, "-o", "yaml"); !strings.Contains(y, "certificateAuthorities:") || !strings.Contains(y, "name: etcd-ca") {
			t.Errorf("check-expiration -o yaml:\n%s", y)
		}
		r := cp0(t, "pki", "check-expiration", "--dir", data, "--warn", "8761h")
		if r.code == 0 || !strings.Contains(r.stderr, "expiring within") {
			t.Errorf("--warn beyond the leaves' lifetime: exit %d %q", r.code, r.stderr)
		}
	})
}

func cp0(t *testing.T, args ...string) result { t.Helper(); return cp(t, "", "", args...) }

// upProcess is `certplane up` running as a user runs it.
type upProcess struct {
	cmd    *exec.Cmd
	stderr *strings.Builder // complete once done is closed
	lines  chan string
	output strings.Builder // what it printed until it was up
	done   chan struct{}   // closed when the process has exited
	err    error           // its exit status, once done
	mu     sync.Mutex
	later  []string // what it printed once up
}

// printed is what up printed since it was up.
func (u *upProcess) printed() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.later...)
}

func startUp(t testing.TB, dataDir string, port int, extra ...string) *upProcess {
	t.Helper()
	cmd := exec.Command(certplane, append([]string{"up", "--data-dir", dataDir, "--port", strconv.Itoa(port), "--key-algorithm", "ecdsa-p256",
		"--bin-dir", filepath.Dir(tool(t, "kube-apiserver"))}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// A test binary that dies (a panic skips the cleanups) takes its `up`
	// with it, and `up` stops its components as on Ctrl-C.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u := &upProcess{cmd: cmd, stderr: &stderr, lines: make(chan string, 64), done: make(chan struct{})}
	// One goroutine reads standard output to its end and only then waits,
	// as os/exec requires.
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			u.lines <- sc.Text()
		}
		close(u.lines)
		u.err = cmd.Wait()
		close(u.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-u.done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case line, ok := <-u.lines:
			if !ok {
				<-u.done // stderr is complete once the process has been waited for
				t.Fatalf("certplane up ended before it was up: %s", stderr.String())
			}
			u.output.WriteString(line + "\n")
			if strings.HasPrefix(line, "certplane is up at ") {
				go func() {
					for line := range u.lines {
						u.mu.Lock()
						u.later = append(u.later, line)
						u.mu.Unlock()
					}
				}()
				return u
			}
		case <-deadline:
			t.Fatal("certplane up not up within 3 minutes")
		}
	}
}

// stop sends SIGTERM, as Ctrl-C would, and waits for a clean exit.
func (u *upProcess) stop(t testing.TB) {
	t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-u.done:
		if u.err != nil {
			t.Fatalf("certplane up exited with %v: %s", u.err, u.stderr.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatal("certplane up did not stop within 90s")
	}
}

func serialAndNames(t *testing.T, path string) (serial string, names string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	return c.SerialNumber.String(), fmt.Sprint(c.Subject.String(), c.DNSNames, c.IPAddresses, c.ExtKeyUsage)
}

// TestUpRestartAndRenew: `certplane up` stops cleanly on SIGTERM and leaves
// nothing running; renewal keeps names and changes serials; the next `up`
// brings the same cluster back with its data and accepts the renewed
// kubeconfigs.
func TestUpRestartAndRenew(t *testing.T) {
	data := t.TempDir()
	port, err := localcp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(data, "admin.conf")

	u := startUp(t, data, port)
	mustKubectl(t, admin, "create", "configmap", "survivor", "--from-literal=k=v")
	u.stop(t)
	assertNoProcessesFor(t, data)

	before := map[string][2]string{}
	for _, f := range []string{"apiserver.crt", "etcd/server.crt", "apiserver-etcd-client.crt", "front-proxy-client.crt"} {
		s, n := serialAndNames(t, filepath.Join(data, "pki", f))
		before[f] = [2]string{s, n}
	}
	adminBefore, _ := os.ReadFile(admin)
	out := must(t, "", "", "pki", "renew", "all", "--dir", data)
	if !strings.Contains(out, "renewed apiserver") || !strings.Contains(out, "renewed admin.conf") {
		t.Errorf("renew all:\n%s", out)
	}
	for f, b := range before {
		s, n := serialAndNames(t, filepath.Join(data, "pki", f))
		if s == b[0] {
			t.Errorf("%s: serial unchanged by renewal", f)
		}
		if n != b[1] {
			t.Errorf("%s: names changed by renewal: %s, were %s", f, n, b[1])
		}
	}
	if adminAfter, _ := os.ReadFile(admin); string(adminAfter) == string(adminBefore) {
		t.Error("admin.conf unchanged by renew all")
	}

	u = startUp(t, data, port)
	if got := mustKubectl(t, admin, "get", "configmap", "survivor", "-o", "jsonpath={.data.k}"); got != "v" {
		t.Errorf("configmap after restart: %q", got)
	}
	u.stop(t)
	assertNoProcessesFor(t, data)
	// What up does when a component dies: TestSupervise.
}

// TestUpRefuses: a port in use, a missing binary and an inconsistent PKI
// each give one clear line, a non-zero exit, and no process left.
func TestUpRefuses(t *testing.T) {
	bins := filepath.Dir(tool(t, "kube-apiserver"))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	broken := t.TempDir()
	must(t, "", "", "pki", "init", "--dir", broken, "--key-algorithm", "ecdsa-p256")
	other := t.TempDir()
	must(t, "", "", "pki", "init", "--dir", other, "--key-algorithm", "ecdsa-p256")
	key, _ := os.ReadFile(filepath.Join(other, "pki", "apiserver.key"))
	if err := os.WriteFile(filepath.Join(broken, "pki", "apiserver.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"up", "--data-dir", t.TempDir(), "--port", strconv.Itoa(busyPort), "--bin-dir", bins}, fmt.Sprintf("kube-apiserver port %d is in use", busyPort)},
		{"missing binary", []string{"up", "--data-dir", t.TempDir(), "--bin-dir", t.TempDir()}, `etcd not found in`},
		{"inconsistent PKI", []string{"up", "--data-dir", broken, "--port", "0", "--bin-dir", bins}, "pki/apiserver.crt: pki: private key does not match certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cp(t, "", "", tt.args...)
			if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want a failure naming %q", r.code, r.stderr, tt.want)
			}
			if strings.Contains(tt.want, "not found") && !strings.Contains(r.stderr, "make tools") {
				t.Errorf("missing binary error does not say to run make tools: %q", r.stderr)
			}
			assertNoProcessesFor(t, tt.args[2])
		})
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	port, err := localcp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
