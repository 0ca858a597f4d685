package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkCSRSigning compares certplane's kubernetes.io signer with
// kube-controller-manager's csrsigning, side by side on one `certplane up`
// started with --controllers=*,-csrsigning: its other controllers run, its
// signer does not. (With kube-controller-manager's syntax, -csrsigning
// alone would turn every controller off.)
// Each b.Loop iteration runs both signers once, each as its own process
// started for the run and stopped after it, alternating which goes first:
//
//   - kube-controller-manager from bin/, --controllers=csrsigning, on the
//     up's cluster CA and admin.conf, --kube-api-qps 1000 --kube-api-burst
//     1000, no leader election;
//   - `certplane controller --controllers=csrsigning
//     --enable-kubernetes-signers` on the same CA and kubeconfig.
//
// A run creates 500 kube-apiserver-client requests with 32 clients (timed:
// the apiserver's raw create rate just before), starts the signer and waits
// until it has signed a warm-up request (so that its cache is synced and
// its queue drained), approves the 500 at once with 32 clients and waits
// until a watcher has seen every certificate, then creates 500 more
// requests, left pending (timed: the raw create rate just after). The
// machine's load drifts within seconds, so the raw rate of the run is the
// mean of both. signed/s is 500 over the time from the first approval to
// the last certificate; latency is from the moment a request's approval is
// sent to the moment the watcher sees its certificate. Requests are never
// deleted (that would load the next run).
//
// The metrics are medians over the iterations: "ratio" is signed/s over
// raw creates/s in the same run, certplane/kcm the quotient of the two
// signers' ratios within an iteration, certplane/kcm-signed/s that of their
// signed/s. Every run is printed, with the CPU each process spent in it and
// the API requests (by verb, resource and code, watches left out).
//
// CERTPLANE_BENCH_PROFILE=FILE saves CPU profiles of the last approval
// phases: certplane's (through --pprof-bind-address) and kube-apiserver's.
func BenchmarkCSRSigning(b *testing.B) {
	const n = 500
	data := b.TempDir()
	// Registered first, so that it runs after every other cleanup.
	b.Cleanup(func() { assertNoProcessesFor(b, data) })
	up := startUp(b, data, freePort(b), "--controllers=*,-csrsigning")
	admin := filepath.Join(data, "admin.conf")
	caCert, caKey := filepath.Join(data, "pki", "ca.crt"), filepath.Join(data, "pki", "ca.key")

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling: measure the server
	cfg.ContentType = runtime.ContentTypeProtobuf
	cs := kubernetes.NewForConfigOrDie(cfg)

	signers := []csrSigner{
		{name: "kcm", start: func(b *testing.B, logDir string) *signerProcess {
			port := freePort(b)
			return startSignerProcess(b, "kube-controller-manager", logDir, tool(b, "kube-controller-manager"),
				"--controllers=csrsigning", "--kubeconfig", admin,
				"--cluster-signing-cert-file", caCert, "--cluster-signing-key-file", caKey,
				"--kube-api-qps", "1000", "--kube-api-burst", "1000", "--leader-elect=false",
				"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port), "--cert-dir", logDir)
		}},
		{name: "certplane", start: func(b *testing.B, logDir string) *signerProcess {
			args := []string{"controller", "--controllers=csrsigning", "--kubeconfig", admin, "--enable-kubernetes-signers",
				"--cluster-signing-cert-file", caCert, "--cluster-signing-key-file", caKey, "--leader-elect=false",
				"--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(freePort(b))}
			pprofPort := 0
			if os.Getenv("CERTPLANE_BENCH_PROFILE") != "" {
				pprofPort = freePort(b)
				args = append(args, "--pprof-bind-address", "127.0.0.1:"+strconv.Itoa(pprofPort))
			}
			p := startSignerProcess(b, "certplane", logDir, certplane, args...)
			p.pprofPort = pprofPort
			return p
		}},
	}

	// up's kube-controller-manager keeps writing for a while after up
	// reports ready (ServiceAccounts, ConfigMaps, roles): let it finish.
	waitQuiet(b, cs)

	results := map[string][]signRun{}
	var quotients, signedQuotients []float64
	round := 0
	// Only the approval phases are timed, so that the default -benchtime
	// (1s) runs one iteration; -benchtime 5x runs five.
	for b.Loop() {
		b.StopTimer()
		round++
		order := []csrSigner{signers[0], signers[1]}
		if round%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		byName := map[string]signRun{}
		for _, s := range order {
			r := runSigner(b, cs, data, s, round, n)
			// Printed, not logged: the testing package keeps only the
			// first lines of a benchmark's log.
			fmt.Printf("round %d %-9s raw creates %4.0f/s, signed %4.0f/s, ratio %.3f, p50 %4d ms, p99 %4d ms\n"+
				"    CPU in the %.2fs: %s\n    API requests: %s\n",
				round, s.name, r.raw, r.signed, r.signed/r.raw, r.p50.Milliseconds(), r.p99.Milliseconds(), r.elapsed.Seconds(), r.cpu, r.writes)
			results[s.name] = append(results[s.name], r)
			byName[s.name] = r
		}
		kcm, ours := byName["kcm"], byName["certplane"]
		quotients = append(quotients, (ours.signed/ours.raw)/(kcm.signed/kcm.raw))
		signedQuotients = append(signedQuotients, ours.signed/kcm.signed)
		b.StartTimer()
	}
	for _, s := range signers {
		rs := results[s.name]
		b.ReportMetric(median(rs, func(r signRun) float64 { return r.raw }), s.name+"-raw-creates/s")
		b.ReportMetric(median(rs, func(r signRun) float64 { return r.signed }), s.name+"-signed/s")
		b.ReportMetric(median(rs, func(r signRun) float64 { return r.signed / r.raw }), s.name+"-ratio")
		b.ReportMetric(median(rs, func(r signRun) float64 { return float64(r.p50.Microseconds()) / 1000 }), s.name+"-p50-ms")
		b.ReportMetric(median(rs, func(r signRun) float64 { return float64(r.p99.Microseconds()) / 1000 }), s.name+"-p99-ms")
	}
	fmt.Printf("certplane/kcm by round: ratios %.2f, signed/s %.2f\n", quotients, signedQuotients)
	sort.Float64s(quotients)
	sort.Float64s(signedQuotients)
	b.ReportMetric(quotients[len(quotients)/2], "certplane/kcm")
	b.ReportMetric(signedQuotients[len(signedQuotients)/2], "certplane/kcm-signed/s")
	up.stop(b)
}

type csrSigner struct {
	name  string
	start func(b *testing.B, logDir string) *signerProcess
}

type signRun struct {
	raw, signed float64 // per second
	p50, p99    time.Duration
	elapsed     time.Duration
	cpu         string // CPU of each process during the approval phase
	writes      string // API requests during the approval phase
}

func median(rs []signRun, f func(signRun) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// runSigner is one run of one signer: creates (timed: the raw rate), the
// signer's start, approvals and the wait for every certificate.
func runSigner(b *testing.B, cs kubernetes.Interface, data string, s csrSigner, round, n int) signRun {
	b.Helper()
	ctx := context.Background()
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	label := fmt.Sprintf("%s-%d", s.name, round)
	selector := "certplane-bench=" + label
	// createAll creates n requests with 32 clients and returns them and
	// the rate.
	createAll := func(prefix string) ([]*certv1.CertificateSigningRequest, float64) {
		reqs := make([]*certv1.CertificateSigningRequest, n)
		for i := range reqs {
			reqs[i] = newRequest(b, fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf("bench-user-%03d", i))
			reqs[i].Labels = map[string]string{"certplane-bench": label}
		}
		start := time.Now()
		if err := parallelN(n, 32, func(i int) error {
			created, err := csrs.Create(ctx, reqs[i], metav1.CreateOptions{})
			reqs[i] = created
			return err
		}); err != nil {
			b.Fatal(err)
		}
		return reqs, float64(n) / time.Since(start).Seconds()
	}
	reqs, rawBefore := createAll("bench-" + label)

	logDir := b.TempDir()
	p := s.start(b, logDir)
	defer p.stop(b)
	// The warm-up request comes after the 500 in the signer's queue.
	warm := newRequest(b, "bench-"+label+"-warm-up", "warm-up")
	warm.Labels = map[string]string{"certplane-bench": label}
	warm, err := csrs.Create(ctx, warm, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := approve(ctx, cs, warm); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := csrs.Get(ctx, warm.Name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Status.Certificate) > 0 {
			break
		}
		select {
		case <-p.done:
			b.Fatalf("%s exited before it signed: see %s", s.name, p.logPath)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s signed no request within 2 minutes: see %s", s.name, p.logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}

	list, err := csrs.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		b.Fatal(err)
	}
	lastRV := list.ResourceVersion
	w, err := csrs.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: lastRV})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	requestsBefore := apiRequests(b, cs)
	pids := append(processesFor(data), os.Getpid())
	cpuBefore := map[int]time.Duration{}
	for _, pid := range pids {
		cpuBefore[pid] = processCPU(b, pid)
	}
	// CERTPLANE_BENCH_PROFILE=FILE: 2 s CPU profiles of the approval
	// phase, certplane's in FILE, kube-apiserver's in
	// FILE.kube-apiserver-with-<signer>.
	var profiles sync.WaitGroup
	if out := os.Getenv("CERTPLANE_BENCH_PROFILE"); out != "" {
		profiles.Go(func() {
			prof, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "2").DoRaw(ctx)
			if err != nil {
				b.Logf("kube-apiserver profile: %v", err)
				return
			}
			_ = os.WriteFile(out+".kube-apiserver-with-"+s.name, prof, 0o600)
		})
		if p.pprofPort != 0 {
			profiles.Go(func() {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=2", p.pprofPort))
				if err != nil {
					b.Logf("certplane profile: %v", err)
					return
				}
				defer func() { _ = resp.Body.Close() }()
				prof, _ := io.ReadAll(resp.Body)
				_ = os.WriteFile(out, prof, 0o600)
			})
		}
	}

	var approvedAt sync.Map
	b.StartTimer() // only the approval phases are timed
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- parallelN(n, 32, func(i int) error {
			approvedAt.Store(reqs[i].Name, time.Now())
			return approve(ctx, cs, reqs[i])
		})
	}()
	latencies := make([]time.Duration, 0, n)
	seen := map[string]bool{}
	timeout := time.After(3 * time.Minute)
	for len(seen) < n {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				// The apiserver may end a watch at any time: resume
				// where it stopped.
				if w, err = csrs.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: lastRV}); err != nil {
					b.Fatal(err)
				}
				continue
			}
			if ev.Type == watch.Error {
				b.Fatalf("watch: %v", ev.Object)
			}
			c, ok := ev.Object.(*certv1.CertificateSigningRequest)
			if !ok {
				continue
			}
			lastRV = c.ResourceVersion
			if ev.Type != watch.Modified || len(c.Status.Certificate) == 0 || seen[c.Name] || c.Name == warm.Name {
				continue
			}
			seen[c.Name] = true
			if at, ok := approvedAt.Load(c.Name); ok {
				latencies = append(latencies, time.Since(at.(time.Time)))
			}
		case err := <-errc:
			if err != nil {
				b.Fatal(err)
			}
			errc = nil
		case <-p.done:
			b.Fatalf("%s exited during the run: see %s", s.name, p.logPath)
		case <-timeout:
			b.Fatalf("%s: %d of %d signed after 3 minutes", s.name, len(seen), n)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()

	var split []string
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			continue // a process of up's that ended
		}
		split = append(split, fmt.Sprintf("%s %.2fs", processName(pid), (processCPU(b, pid)-cpuBefore[pid]).Seconds()))
	}
	sort.Strings(split)
	var writes []string
	for k, v := range apiRequests(b, cs) {
		if d := v - requestsBefore[k]; d > 0 && !strings.HasPrefix(k, "WATCH") {
			writes = append(writes, fmt.Sprintf("%s %.0f", k, d))
		}
	}
	sort.Strings(writes)
	profiles.Wait()
	// The raw rate again, just after: the machine's load drifts within
	// seconds, and the mean of both brackets the approval phase. These
	// requests stay pending.
	_, rawAfter := createAll("raw-" + label)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	return signRun{
		raw: (rawBefore + rawAfter) / 2, signed: float64(n) / elapsed.Seconds(), elapsed: elapsed,
		p50: latencies[len(latencies)/2], p99: latencies[len(latencies)*99/100],
		cpu: strings.Join(split, ", "), writes: strings.Join(writes, ", "),
	}
}

// processName names a process by its binary and, for certplane, its
// subcommand.
func processName(pid int) string {
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if pid == os.Getpid() {
		return "benchmark clients"
	}
	name := filepath.Base(args[0])
	if name == filepath.Base(certplane) && len(args) > 1 {
		name += " " + args[1]
	}
	if name == "kube-controller-manager" && slices.Contains(args, "--controllers=csrsigning") {
		name += " (csrsigning)"
	}
	return name
}

// signerProcess is a signer started for one run.
type signerProcess struct {
	cmd       *exec.Cmd
	done      chan struct{}
	logPath   string
	pprofPort int
	stopped   bool
}

func startSignerProcess(b *testing.B, name, logDir, path string, args ...string) *signerProcess {
	b.Helper()
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &signerProcess{cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	b.Cleanup(func() { p.stop(b) })
	return p
}

// stop ends the process with SIGTERM, and SIGKILL after 30 seconds.
func (p *signerProcess) stop(b *testing.B) {
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		b.Logf("%s did not stop on SIGTERM within 30s: killed", p.cmd.Path)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitQuiet waits, at most a minute, until a second passes in which the
// apiserver takes no writes but Lease renewals and Events.
func waitQuiet(b *testing.B, cs kubernetes.Interface) {
	b.Helper()
	before := apiWrites(b, cs)
	for range 60 {
		time.Sleep(time.Second)
		now := apiWrites(b, cs)
		quiet := true
		for k, v := range now {
			if v != before[k] && !strings.Contains(k, " leases/") && !strings.Contains(k, " events/") {
				quiet = false
			}
		}
		if quiet {
			return
		}
		before = now
	}
	b.Log("the apiserver still takes writes after a minute; measuring anyway")
}

// apiRequests reads kube-apiserver's apiserver_request_total by verb,
// resource, subresource and code.
func apiRequests(b testing.TB, cs kubernetes.Interface) map[string]float64 {
	b.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[strings.IndexByte(line, '{')+1:strings.LastIndexByte(line, '}')], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			continue
		}
		out[labels["verb"]+" "+labels["resource"]+"/"+labels["subresource"]+" "+labels["code"]] += v
	}
	return out
}
