package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/internal/localcp"
)

// TestCleanerAndLeaderElection runs `certplane controller` with leader
// election on and short retention periods: it holds the Lease, and the
// cleaner deletes a denied request once its retention has passed while it
// keeps a pending one.
func TestCleanerAndLeaderElection(t *testing.T) {
	cp := startControlPlane(t)
	admin := cp.Kubeconfig("admin.conf")
	mustKubectl(t, admin, "create", "namespace", "certplane-system")
	port, err := localcp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "controller.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(certplane, "controller", "--kubeconfig", admin, "--leader-elect", "--leader-election-namespace", "certplane-system",
		"--csr-denied-retention", "2s", "--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	waitHTTPOK(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port))

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	waitFor(t, 60*time.Second, "the leader election Lease", func() bool {
		lease, err := cs.CoordinationV1().Leases("certplane-system").Get(ctx, "certplane-controller", metav1.GetOptions{})
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	})

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "r.json"), `{"CN":"x"}`)
	for _, name := range []string{"to-deny", "pending"} {
		must(t, dir, "", "csr", "create", name, "--genkey", "r.json", "--key-out", name+".key", "--signer", "kubernetes.io/kube-apiserver-client",
			"--usages", "client auth", "--kubeconfig", admin)
	}
	must(t, dir, "", "csr", "deny", "to-deny", "--kubeconfig", admin)
	waitFor(t, 60*time.Second, "the denied request to be deleted", func() bool {
		r := kubectl(t, admin, "get", "csr", "to-deny")
		return r.code != 0 && strings.Contains(r.stderr, "NotFound")
	})
	if r := kubectl(t, admin, "get", "csr", "pending"); r.code != 0 {
		t.Errorf("the pending request was deleted too: %s", r.stderr)
	}
	select {
	case <-done:
		t.Fatal("the controller exited")
	default:
	}
}
