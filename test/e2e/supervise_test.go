package e2e

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestSupervise: `up`, with its controllers in process, issues 500
// Certificates while kube-apiserver is SIGKILLed, then 500 more while etcd
// is. up starts each again on its ports and data, with a line naming it, its
// exit status and the attempt; the controllers ride through on client-go's
// retries and re-lists, in the same certplane process; every Certificate
// ends Ready at revision 1, and no Secret ever holds a key that does not
// match its certificate or a second certificate (a watch started before the
// Certificates, and etcd's history, which also covers what the watch could
// not see while kube-apiserver was away). Then kube-controller-manager is
// killed: up starts it again and the new one does its work. Last,
// kube-apiserver is killed
// with its port taken so that it cannot start again: up gives up at its
// fifth exit within five minutes, with an error naming it, and leaves no
// process behind.
func TestSupervise(t *testing.T) {
	data := t.TempDir()
	t.Cleanup(func() { assertNoProcessesFor(t, data) }) // runs last, after up's own cleanup
	port := freePort(t)
	u := startUp(t, data, port, "--web-address=", "--acme-http01-solver-address=")
	upPid := u.cmd.Process.Pid
	admin := filepath.Join(data, "admin.conf")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	running := func() {
		t.Helper()
		select {
		case <-u.done:
			t.Fatalf("certplane up ended: %v: %s", u.err, u.stderr.String())
		default:
		}
	}
	for _, component := range []string{"kube-apiserver", "etcd"} {
		const n = 500
		ns := "under-" + component
		audit := watchSecrets(ctx, t, cs, data, ns, n)
		setupCAIssuer(t, admin, ns)
		created := make(chan error, 1)
		go func() { created <- createCertificates(ctx, dyn, ns, n) }()
		select {
		case <-audit.fifth:
		case <-time.After(120 * time.Second):
			t.Fatalf("only %d Secrets written after 2 minutes", audit.count())
		}
		old := childPid(upPid, component)
		if old == 0 {
			t.Fatalf("no %s among up's children", component)
		}
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (pid %d) killed with %d of %d Secrets written", component, old, audit.count()-1, n)
		var again int
		waitFor(t, 60*time.Second, "up to start "+component+" again", func() bool {
			again = childPid(upPid, component)
			return again != 0 && again != old
		})
		if err := <-created; err != nil {
			t.Fatal(err)
		}
		waitCertificatesReady(t, dyn, ns, n+1)
		audit.check(t, n+1)
		t.Logf("%s: the Secret watch was relisted %d times", component, audit.relists.Load())
		running()
		want := component + " exited (signal: killed); restarting it in 1s, attempt 1 (5 exits within 5m0s end it)"
		if !hasLine(u.printed(), want) {
			t.Errorf("up printed %q, want the line %q", u.printed(), want)
		}
	}

	// kube-controller-manager killed: up starts it again, and the new one
	// does its work (a namespace made after the kill gets its default
	// ServiceAccount, which only kube-controller-manager creates).
	// /proc's comm holds the first 15 bytes of the name.
	oldKCM := childPid(upPid, "kube-controller")
	if oldKCM == 0 {
		t.Fatal("no kube-controller-manager among up's children")
	}
	if err := syscall.Kill(oldKCM, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "up to start kube-controller-manager again", func() bool {
		again := childPid(upPid, "kube-controller")
		return again != 0 && again != oldKCM
	})
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "after-kcm"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the new kube-controller-manager to create after-kcm's default ServiceAccount", func() bool {
		_, err := cs.CoreV1().ServiceAccounts("after-kcm").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	running()
	if want := "kube-controller-manager exited (signal: killed); restarting it in 1s, attempt 1 (5 exits within 5m0s end it)"; !hasLine(u.printed(), want) {
		t.Errorf("up printed %q, want the line %q", u.printed(), want)
	}
	t.Logf("up printed, once up:\n%s", strings.Join(u.printed(), "\n"))

	// kube-apiserver killed, and its port taken before up starts it again.
	old := childPid(upPid, "kube-apiserver")
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var hold net.Listener
	waitFor(t, 2*time.Second, "kube-apiserver's port to be free", func() bool {
		hold, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		return err == nil
	})
	defer func() { _ = hold.Close() }()
	select {
	case <-u.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("up still runs 3 minutes after kube-apiserver could no longer start")
	}
	var exit interface{ ExitCode() int }
	if !errors.As(u.err, &exit) || exit.ExitCode() == 0 ||
		!strings.Contains(u.stderr.String(), "kube-apiserver exited 5 times within 5m0s, the last time with exit status 1") {
		t.Errorf("up ended with %v: %q; want an error naming kube-apiserver's five exits", u.err, u.stderr.String())
	}
	for _, want := range []string{
		"kube-apiserver exited (signal: killed); restarting it in 2s, attempt 2 (5 exits within 5m0s end it)",
		"kube-apiserver exited (exit status 1); restarting it in 4s, attempt 3 (5 exits within 5m0s end it)",
		"kube-apiserver exited (exit status 1); restarting it in 8s, attempt 4 (5 exits within 5m0s end it)",
	} {
		if !hasLine(u.printed(), want) {
			t.Errorf("up printed %q, want the line %q", u.printed(), want)
		}
	}
	assertNoProcessesFor(t, data)
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
