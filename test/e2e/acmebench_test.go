package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkACMEHTTP01 is the ACME issuer at scale: on a fresh `certplane
// up` (started as startACMEEnv starts it) with BIND for example.test and
// Pebble (PEBBLE_VA_NOSLEEP=1, no authorization reuse), the Issuer of
// TestACME, then 100 Certificates created at once, each for one name
// cN.example.test (an A record to 127.0.0.1), ECDSA P-256, all solved with
// HTTP-01 from certplane's listener. It measures the time from the first
// create until a watcher has seen every one Ready; the API writes per
// certificate (kube-apiserver's apiserver_request_total, less the
// benchmark's own creates) and certplane's CPU per certificate, both
// counted until the Challenges and their Services and Ingresses are gone
// again; and certplane's peak resident memory during the run.
func BenchmarkACMEHTTP01(b *testing.B) {
	for b.Loop() {
		runACMEHTTP01Scenario(b, 100)
	}
}

func runACMEHTTP01Scenario(b *testing.B, n int) {
	b.StopTimer()
	records := map[string]string{}
	for i := range n {
		records["c"+strconv.Itoa(i)] = "127.0.0.1"
	}
	named := startNamed(b, "example.test", records)
	solverPort := freePort(b)
	pebble := startPebble(b, pebbleOptions{HTTPPort: solverPort, DNSServer: named.Addr})
	data := b.TempDir()
	flags := []string{
		fmt.Sprintf("--acme-http01-solver-address=127.0.0.1:%d", solverPort),
		"--acme-http01-solver-nameservers=" + named.Addr,
		"--dns01-recursive-nameservers=" + named.Addr, "--dns01-recursive-nameservers-only",
		"--dns01-check-retry-period=1s",
	}
	// CERTPLANE_BENCH_PROFILE=FILE saves certplane's CPU profile of the
	// run's first 20 seconds.
	profile, pprofPort := os.Getenv("CERTPLANE_BENCH_PROFILE"), 0
	if profile != "" {
		pprofPort = freePort(b)
		flags = append(flags, fmt.Sprintf("--pprof-bind-address=127.0.0.1:%d", pprofPort))
	}
	up := startUp(b, data, freePort(b), flags...)
	e := &acmeEnv{admin: filepath.Join(data, "admin.conf"), dir: b.TempDir(), named: named, pebble: pebble, solverPort: solverPort}
	pid := up.cmd.Process.Pid

	cfg, err := clientcmd.BuildConfigFromFlags("", e.admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// The account is registered before the clock starts.
	f := filepath.Join(e.dir, "issuer.yaml")
	writeFile(b, f, e.issuer("pebble", e.pebble, ""))
	mustKubectl(b, e.admin, "apply", "-f", f)
	if r := kubectl(b, e.admin, "wait", "--for=condition=Ready", "--timeout=60s", "-n", "acme", "issuer/pebble"); r.code != 0 {
		b.Fatalf("the Issuer is not Ready: %s%s\n%s", r.stdout, r.stderr, mustKubectl(b, e.admin, "get", "issuer", "pebble", "-n", "acme", "-o", "yaml"))
	}

	// Start-up's own writes (kube-controller-manager's ServiceAccounts,
	// tokens and root CA ConfigMaps, role aggregation) are not the
	// benchmark's: wait until a second passes without a write.
	last, lastChange := apiWrites(b, cs), time.Now()
	waitFor(b, time.Minute, "the apiserver's writes to settle", func() bool {
		now := apiWrites(b, cs)
		changed := writesSince(now, last)
		delete(changed, "PUT leases/")
		if len(changed) > 0 {
			lastChange = time.Now()
		}
		last = now
		return time.Since(lastChange) >= time.Second
	})
	w, err := dyn.Resource(certificatesGVR).Namespace("acme").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	baseline := residentBytes(b, pid)
	resetPeakRSS(b, pid)
	writesBefore, failedBefore := apiWrites(b, cs), failedWrites(b, cs)
	cpuBefore := processCPU(b, pid)
	allBefore := cpuOf(b, data)
	pebbleBefore := processCPU(b, pebble.pid)

	profiled := make(chan struct{})
	if profile != "" {
		go func() {
			defer close(profiled)
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=20", pprofPort))
			if err != nil {
				b.Logf("certplane profile: %v", err)
				return
			}
			defer func() { _ = resp.Body.Close() }()
			p, _ := io.ReadAll(resp.Body)
			_ = os.WriteFile(profile, p, 0o600)
		}()
	} else {
		close(profiled)
	}
	defer func() { <-profiled }()

	b.StartTimer()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		errc <- parallelN(n, 32, func(i int) error {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
				"metadata": map[string]any{"name": fmt.Sprintf("c%d", i)},
				"spec": map[string]any{
					"secretName": fmt.Sprintf("c%d-tls", i),
					"dnsNames":   []any{fmt.Sprintf("c%d.example.test", i)},
					"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256)},
					"issuerRef":  map[string]any{"name": "pebble", "kind": "Issuer"},
				},
			}}
			_, err := dyn.Resource(certificatesGVR).Namespace("acme").Create(ctx, obj, metav1.CreateOptions{})
			return err
		})
	}()
	readyAt := map[string]time.Duration{}
	watchCertificatesReady(b, ctx, dyn.Resource(certificatesGVR).Namespace("acme"), &w, errc, 5*time.Minute,
		func() bool { return len(readyAt) >= n },
		func(u *unstructured.Unstructured) {
			if _, seen := readyAt[u.GetName()]; !seen {
				readyAt[u.GetName()] = time.Since(start)
			}
		},
		func() string {
			return fmt.Sprintf("%d of %d Ready after 5 minutes:\n%s", len(readyAt), n,
				mustKubectl(b, e.admin, "get", "certificaterequests,orders,challenges", "-n", "acme", "-o", "wide"))
		})
	elapsed := time.Since(start)
	b.StopTimer()
	writesReady := writesSince(apiWrites(b, cs), writesBefore)
	cpuReady := processCPU(b, pid) - cpuBefore
	peak := peakRSS(b, pid)

	// Valid Orders delete their Challenges, whose finalizers remove the
	// solver Services and Ingresses: count those writes and that CPU too.
	waitFor(b, 2*time.Minute, "the Challenges and their solver objects to go", func() bool {
		out := mustKubectl(b, e.admin, "get", "challenges,services,ingresses", "-n", "acme", "-o", "name")
		return !strings.Contains(out, "challenge") && !strings.Contains(out, "cm-acme-http-solver")
	})
	writes := writesSince(apiWrites(b, cs), writesBefore)
	failed := writesSince(failedWrites(b, cs), failedBefore)
	cpu := processCPU(b, pid) - cpuBefore
	if p := peakRSS(b, pid); p > peak {
		peak = p
	}

	times := make([]time.Duration, 0, n)
	for _, d := range readyAt {
		times = append(times, d)
	}
	slices.Sort(times)
	var total, totalReady float64
	for _, v := range writes {
		total += v
	}
	for _, v := range writesReady {
		totalReady += v
	}
	b.Logf("%d Certificates Ready: first after %.2fs, median %.2fs, last %.2fs", n,
		times[0].Seconds(), times[n/2].Seconds(), times[n-1].Seconds())
	b.Logf("API writes until all Ready (%d of them the benchmark's creates): %.0f\n  %s", n, totalReady, formatWriteCounts(writesReady))
	b.Logf("API writes until the Challenges and solver objects were gone: %.0f\n  %s", total, formatWriteCounts(writes))
	b.Logf("of which refused (409 conflicts, 404 deletes of what was gone):\n  %s", formatWriteCounts(failed))
	b.Logf("CPU until all were gone: %s, pebble %.2fs; certplane %.2fs until all Ready",
		cpuSince(b, data, allBefore), (processCPU(b, pebble.pid) - pebbleBefore).Seconds(), cpuReady.Seconds())
	b.Logf("Events by kind, type and reason:\n  %s", eventCounts(b, cs, "acme"))
	b.Logf("certplane RSS %.1f MiB before the run, peak %.1f MiB during it", mebibytes(baseline), mebibytes(peak))

	b.ReportMetric(elapsed.Seconds(), "s-to-ready")
	b.ReportMetric((total-float64(n))/float64(n), "writes/cert")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/cert")
	b.ReportMetric(mebibytes(peak), "peak-RSS-MiB")
	b.StartTimer() // b.Loop checks the timer runs
}

// eventCounts counts the Events of a namespace by involved kind, type and
// reason, each Event once (not by its count).
func eventCounts(b *testing.B, cs kubernetes.Interface, ns string) string {
	b.Helper()
	l, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	counts := map[string]float64{}
	for _, ev := range l.Items {
		counts[ev.InvolvedObject.Kind+" "+ev.Type+" "+ev.Reason]++
	}
	return formatWriteCounts(counts)
}

// failedWrites reads kube-apiserver's apiserver_request_total for the
// write verbs that did not succeed (a code other than 2xx), by verb,
// resource, subresource and code.
func failedWrites(b *testing.B, cs kubernetes.Interface) map[string]float64 {
	b.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(raw)) {
		labels, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "apiserver_request_total{"), "} ")
		if !ok || !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				l[k] = strings.Trim(v, `"`)
			}
		}
		if !slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE", "APPLY"}, l["verb"]) || strings.HasPrefix(l["code"], "2") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[l["verb"]+" "+l["resource"]+"/"+l["subresource"]+" "+l["code"]] += v
		}
	}
	return out
}
