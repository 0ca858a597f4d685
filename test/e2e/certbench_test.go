package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var certificatesGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}

// BenchmarkCertificates is issue #5's scenario: on a fresh `certplane up`,
// 1000 ECDSA P-256 Certificates behind a bootstrapped CA Issuer, created at
// once, until every one is Ready. Beside certificates per second it
// measures, in the same run, how fast the same apiserver takes raw creates
// of Secrets of the same size, the API writes per certificate (from
// kube-apiserver's apiserver_request_total, less the benchmark's own
// creates), the CPU the certplane process spent per certificate, and its
// peak resident memory. The second case first fills the cluster with 20,000
// unrelated Secrets, which must not change the memory.
func BenchmarkCertificates(b *testing.B) {
	for _, unrelated := range []int{0, 20000} {
		b.Run(fmt.Sprintf("unrelated-secrets=%d", unrelated), func(b *testing.B) {
			for b.Loop() {
				runCertificateScenario(b, 1000, unrelated, nil)
			}
		})
	}
}

// runCertificateScenario runs the scenario with n Certificates and that many
// unrelated Secrets. setup, if set, runs once the CA Issuer is Ready and
// before anything is measured, with admin.conf's path (for example to add
// CertificateRequestPolicies).
func runCertificateScenario(b *testing.B, n, unrelated int, setup func(b *testing.B, admin string)) {
	b.StopTimer()
	data := b.TempDir()
	var extra []string
	pprofPort := 0
	if os.Getenv("CERTPLANE_BENCH_PROFILE") != "" {
		pprofPort = freePort(b)
		extra = append(extra, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort))
	}
	up := startUp(b, data, freePort(b), extra...)
	admin := filepath.Join(data, "admin.conf")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling: measure the server
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	const workers = 32

	for _, ns := range []string{"bench", "raw", "unrelated"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// A TLS Secret's size: what the controller writes per certificate.
	payload := map[string][]byte{"tls.crt": make([]byte, 900), "tls.key": make([]byte, 230), "ca.crt": make([]byte, 560)}
	if unrelated > 0 {
		if err := parallelN(unrelated, workers, func(i int) error {
			_, err := cs.CoreV1().Secrets("unrelated").Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i)}, Data: payload,
			}, metav1.CreateOptions{})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}

	dir := b.TempDir()
	writeFile(b, filepath.Join(dir, "issuer.yaml"), `apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: bench-ca, namespace: bench}
spec:
  isCA: true
  commonName: bench CA
  secretName: bench-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: bench}
spec: {ca: {secretName: bench-ca}}
`)
	mustKubectl(b, admin, "apply", "-f", filepath.Join(dir, "issuer.yaml"))
	mustKubectl(b, admin, "wait", "--for=condition=Ready", "--timeout=120s", "-n", "bench", "certificate/bench-ca", "issuer/ca")
	if setup != nil {
		setup(b, admin)
	}

	// The apiserver's raw create rate, in this run.
	start := time.Now()
	if err := parallelN(n, workers, func(i int) error {
		_, err := cs.CoreV1().Secrets("raw").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("raw-%04d", i)}, Data: payload,
		}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	rawRate := float64(n) / time.Since(start).Seconds()

	w, err := dyn.Resource(certificatesGVR).Namespace("bench").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	writesBefore := apiWrites(b, cs)
	cpuBefore := processCPU(b, up.cmd.Process.Pid)
	others := processesFor(data) // etcd, kube-apiserver (and certplane up)
	othersBefore := map[int]time.Duration{}
	for _, pid := range others {
		othersBefore[pid] = processCPU(b, pid)
	}
	selfBefore := processCPU(b, os.Getpid())

	// CERTPLANE_BENCH_PROFILE=FILE saves kube-apiserver's CPU profile of
	// the run, to see where the server's time goes.
	profiled := make(chan []byte, 1)
	if out := os.Getenv("CERTPLANE_BENCH_PROFILE"); out != "" {
		go func() {
			p, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "6").DoRaw(ctx)
			if err != nil {
				b.Logf("profile: %v", err)
			}
			profiled <- p
		}()
		defer func() { _ = os.WriteFile(out, <-profiled, 0o600) }()
		go func() {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=6", pprofPort))
			if err != nil {
				b.Logf("certplane profile: %v", err)
				return
			}
			defer func() { _ = resp.Body.Close() }()
			p, _ := io.ReadAll(resp.Body)
			_ = os.WriteFile(out+".certplane", p, 0o600)
		}()
	}
	b.StartTimer()
	start = time.Now()
	var created atomic.Int64
	errc := make(chan error, 1)
	go func() {
		errc <- parallelN(n, workers, func(i int) error {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
				"metadata": map[string]any{"name": fmt.Sprintf("svc-%04d", i)},
				"spec": map[string]any{
					"secretName": fmt.Sprintf("svc-%04d-tls", i),
					"dnsNames":   []any{fmt.Sprintf("svc-%04d.bench.svc", i), fmt.Sprintf("svc-%04d.bench.svc.cluster.local", i)},
					"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256)},
					"issuerRef":  map[string]any{"name": "ca", "kind": "Issuer"},
				},
			}}
			_, err := dyn.Resource(certificatesGVR).Namespace("bench").Create(ctx, obj, metav1.CreateOptions{})
			created.Add(1)
			return err
		})
	}()
	ready := map[string]bool{"bench-ca": true}
	watchCertificatesReady(b, ctx, dyn.Resource(certificatesGVR).Namespace("bench"), &w, errc, 5*time.Minute,
		func() bool { return len(ready) >= n+1 },
		func(u *unstructured.Unstructured) { ready[u.GetName()] = true },
		func() string {
			return fmt.Sprintf("%d of %d Ready after 5 minutes (%d created)", len(ready)-1, n, created.Load())
		})
	elapsed := time.Since(start)
	b.StopTimer()
	// Events are sent from a queue and may trail the last Ready by a few
	// seconds: count the writes and the CPU once they have all been made.
	trail := settleWrites(b, cs, 30*time.Second)
	b.Logf("writes settled %.1fs after the last Ready", trail.Seconds())

	cpu := processCPU(b, up.cmd.Process.Pid) - cpuBefore
	split := []string{fmt.Sprintf("benchmark clients %.2fs", (processCPU(b, os.Getpid()) - selfBefore).Seconds())}
	for _, pid := range others {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		split = append(split, fmt.Sprintf("%s %.2fs", strings.TrimSpace(string(comm)), (processCPU(b, pid)-othersBefore[pid]).Seconds()))
	}
	b.Logf("CPU during the %.2fs run: %s", elapsed.Seconds(), strings.Join(split, ", "))
	writes := apiWrites(b, cs)
	var total float64
	var lines []string
	for k, v := range writes {
		d := v - writesBefore[k]
		if d == 0 {
			continue
		}
		total += d
		lines = append(lines, fmt.Sprintf("%s %.0f", k, d))
	}
	sort.Strings(lines)
	b.Logf("API writes during the run (the benchmark's own %d creates included):\n  %s", n, strings.Join(lines, "\n  "))
	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "certs/s")
	b.ReportMetric(rawRate, "raw-creates/s")
	b.ReportMetric(rate/rawRate, "ratio")
	b.ReportMetric((total-float64(n))/float64(n), "writes/cert")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/cert")
	b.ReportMetric(float64(peakRSS(b, up.cmd.Process.Pid))/(1<<20), "peak-RSS-MB")
	b.StartTimer() // b.Loop checks the timer runs
}

// parallelN runs f for 0..n-1 on workers goroutines and returns the first
// error.
func parallelN(n, workers int, f func(i int) error) error {
	next := atomic.Int64{}
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					errs <- nil
					return
				}
				if err := f(i); err != nil {
					next.Store(int64(n))
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// settleWrites waits until kube-apiserver's write counts have not moved
// for a second, at most limit, and returns how long that took.
func settleWrites(b *testing.B, cs kubernetes.Interface, limit time.Duration) time.Duration {
	b.Helper()
	start := time.Now()
	sum := func() float64 {
		var t float64
		for _, v := range apiWrites(b, cs) {
			t += v
		}
		return t
	}
	last, since := sum(), time.Now()
	for time.Since(start) < limit {
		time.Sleep(250 * time.Millisecond)
		if now := sum(); now != last {
			last, since = now, time.Now()
		} else if time.Since(since) >= time.Second {
			return since.Sub(start)
		}
	}
	return time.Since(start)
}

// apiWrites reads kube-apiserver's apiserver_request_total for the write
// verbs, by verb, resource and subresource; dry runs (stored nowhere) are
// counted apart, their key ending in " (dry run)".
func apiWrites(b *testing.B, cs kubernetes.Interface) map[string]float64 {
	b.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels := line[strings.IndexByte(line, '{')+1 : strings.LastIndexByte(line, '}')]
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				l[k] = strings.Trim(v, `"`)
			}
		}
		switch l["verb"] {
		case "POST", "PUT", "PATCH", "DELETE", "APPLY":
		default:
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			continue
		}
		key := l["verb"] + " " + l["resource"] + "/" + l["subresource"]
		if l["dry_run"] != "" {
			key += " (dry run)"
		}
		out[key] += v
	}
	return out
}

// processCPU is the user and system time a process has used.
func processCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// peakRSS is a process's high-water resident set size in bytes.
func peakRSS(b *testing.B, pid int) int64 { return procStatusBytes(b, pid, "VmHWM") }

// residentBytes is a process's resident set size in bytes.
func residentBytes(b *testing.B, pid int) int64 { return procStatusBytes(b, pid, "VmRSS") }

// procStatusBytes reads a memory field (in kB) of /proc/PID/status, in bytes.
func procStatusBytes(b *testing.B, pid int, field string) int64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, field+":") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// watchCertificatesReady reads the Certificate events of *w, a watch of
// certs, until done reports true, calling ready for each Added or Modified
// Certificate whose Ready condition is True. The apiserver ends watches of a
// CRD's objects when it rebuilds the CRD's storage: it resumes from the last
// resourceVersion seen and stores the new watch in *w for the caller to stop.
// It fails tb on a watch error, on an error from creating (the creators'
// result, read once), or, with the message stalled returns, when timeout
// passes first. It reports whether it has read creating's result.
func watchCertificatesReady(tb testing.TB, ctx context.Context, certs dynamic.ResourceInterface, w *watch.Interface,
	creating <-chan error, timeout time.Duration, done func() bool, ready func(*unstructured.Unstructured), stalled func() string) bool {
	tb.Helper()
	lastRV := ""
	expired := time.After(timeout)
	for !done() {
		select {
		case ev, ok := <-(*w).ResultChan():
			if !ok {
				var err error
				if *w, err = certs.Watch(ctx, metav1.ListOptions{ResourceVersion: lastRV}); err != nil {
					tb.Fatal(err)
				}
				continue
			}
			if ev.Type == watch.Error {
				tb.Fatalf("watch: %v", ev.Object)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			lastRV = u.GetResourceVersion()
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
					ready(u)
				}
			}
		case err := <-creating:
			if err != nil {
				tb.Fatal(err)
			}
			creating = nil
		case <-expired:
			tb.Fatal(stalled())
		}
	}
	return creating == nil
}
