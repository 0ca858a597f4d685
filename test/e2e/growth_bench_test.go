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
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// growthNamespaces is how many namespaces the Certificates and the
// unrelated Secrets of BenchmarkGrowth are spread over.
const growthNamespaces = 10

// BenchmarkGrowth is issue #15's growth item: for each size N of
// $CERTPLANE_GROWTH (comma-separated, default 1000), a fresh `certplane
// up` holding N small opaque Secrets that certplane has no business with
// ($CERTPLANE_GROWTH_UNRELATED overrides their number), spread with the
// Certificates over 10 namespaces, each with a CA Issuer. It creates N
// ECDSA P-256 Certificates with 64 clients and measures
//
//   - the issuance rate, first create to last Ready, beside the apiserver's
//     raw create rate of TLS-sized Secrets in the same run;
//   - the certplane process's resident memory (VmRSS) and CPU at rest:
//     20 s and 150 s after the certificates controller went idle (past
//     Go's forced garbage collection every two minutes), and its peak
//     (VmHWM); then the time and size of one scrape of /metrics and the
//     memory left resident after it;
//   - etcd's database file;
//   - a full resync: `up` is stopped and started again on the same data,
//     and the time until the certificates controller has reconciled every
//     Certificate once with an empty queue, and the writes in that time, by
//     verb and resource from kube-apiserver's apiserver_request_total and
//     certplane's own rest_client_requests_total. A resync that finds
//     nothing to do should write nothing.
//
// It is a benchmark, not a test: `go test` without -bench never runs it.
func BenchmarkGrowth(b *testing.B) {
	sizes := []int{1000}
	if v := os.Getenv("CERTPLANE_GROWTH"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				b.Fatalf("CERTPLANE_GROWTH: %q is not a positive number", s)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		unrelated := n
		if v := os.Getenv("CERTPLANE_GROWTH_UNRELATED"); v != "" {
			var err error
			if unrelated, err = strconv.Atoi(v); err != nil || unrelated < 0 {
				b.Fatalf("CERTPLANE_GROWTH_UNRELATED: %q is not a number", v)
			}
		}
		b.Run(fmt.Sprintf("certificates=%d/unrelated-secrets=%d", n, unrelated), func(b *testing.B) {
			for b.Loop() {
				runGrowth(b, n, unrelated)
			}
		})
	}
}

func runGrowth(b *testing.B, n, unrelated int) {
	b.StopTimer()
	defer b.StartTimer() // b.Loop checks the timer runs
	data := b.TempDir()
	port := freePort(b)
	metricsPort := freePort(b)
	upArgs := []string{"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort), "--web-address", fmt.Sprintf("127.0.0.1:%d", freePort(b))}
	// CERTPLANE_GROWTH_PROFILE=PREFIX saves certplane's heap profile at
	// rest as PREFIX-N.heap.
	profile := os.Getenv("CERTPLANE_GROWTH_PROFILE")
	pprofPort := 0
	if profile != "" {
		pprofPort = freePort(b)
		upArgs = append(upArgs, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort))
	}
	up := startUp(b, data, port, upArgs...)
	admin := filepath.Join(data, "admin.conf")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	const workers = 64
	nsName := func(i int) string { return fmt.Sprintf("growth-%02d", i%growthNamespaces) }

	for i := range growthNamespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "raw"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	small := map[string][]byte{"value": make([]byte, 64)}
	if err := parallelN(unrelated, workers, func(i int) error {
		_, err := cs.CoreV1().Secrets(nsName(i)).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%06d", i)}, Type: corev1.SecretTypeOpaque, Data: small,
		}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d unrelated Secrets created in %.1fs", unrelated, time.Since(start).Seconds())

	var manifest strings.Builder
	manifest.WriteString("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: selfsigned}\nspec: {selfSigned: {}}\n")
	for i := range growthNamespaces {
		fmt.Fprintf(&manifest, `---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: growth-ca, namespace: %[1]s}
spec:
  isCA: true
  commonName: growth CA %[1]s
  secretName: growth-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: %[1]s}
spec: {ca: {secretName: growth-ca}}
`, nsName(i))
	}
	dir := b.TempDir()
	writeFile(b, filepath.Join(dir, "issuers.yaml"), manifest.String())
	mustKubectl(b, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
	for i := range growthNamespaces {
		mustKubectl(b, admin, "wait", "--for=condition=Ready", "--timeout=120s", "-n", nsName(i), "certificate/growth-ca", "issuer/ca")
	}

	// The apiserver's raw create rate, in this run, as in
	// BenchmarkCertificates: the load on this shared machine moves both.
	payload := map[string][]byte{"tls.crt": make([]byte, 900), "tls.key": make([]byte, 230), "ca.crt": make([]byte, 560)}
	start = time.Now()
	if err := parallelN(1000, 32, func(i int) error {
		_, err := cs.CoreV1().Secrets("raw").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("raw-%04d", i)}, Data: payload,
		}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	rawRate := 1000 / time.Since(start).Seconds()

	w, err := dyn.Resource(certificatesGVR).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	pid := up.cmd.Process.Pid
	cpuBefore := processCPU(b, pid)
	b.StartTimer()
	start = time.Now()
	errc := make(chan error, 1)
	var createdIn time.Duration
	go func() {
		errc <- parallelN(n, workers, func(i int) error {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
				"metadata": map[string]any{"name": fmt.Sprintf("svc-%06d", i)},
				"spec": map[string]any{
					"secretName": fmt.Sprintf("svc-%06d-tls", i),
					"dnsNames":   []any{fmt.Sprintf("svc-%06d.%s.svc", i, nsName(i)), fmt.Sprintf("svc-%06d.%s.svc.cluster.local", i, nsName(i))},
					"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256)},
					"issuerRef":  map[string]any{"name": "ca", "kind": "Issuer"},
				},
			}}
			_, err := dyn.Resource(certificatesGVR).Namespace(nsName(i)).Create(ctx, obj, metav1.CreateOptions{})
			return err
		})
		createdIn = time.Since(start)
	}()
	ready := map[string]bool{}
	for i := range growthNamespaces {
		ready[nsName(i)+"/growth-ca"] = true
	}
	limit := 5*time.Minute + time.Duration(n)*50*time.Millisecond
	creatorDone := watchCertificatesReady(b, ctx, dyn.Resource(certificatesGVR), &w, errc, limit,
		func() bool { return len(ready) >= n+growthNamespaces },
		func(u *unstructured.Unstructured) { ready[u.GetNamespace()+"/"+u.GetName()] = true },
		func() string { return fmt.Sprintf("%d of %d Ready after %s", len(ready)-growthNamespaces, n, limit) })
	elapsed := time.Since(start)
	b.StopTimer()
	issueCPU := processCPU(b, pid) - cpuBefore
	if !creatorDone {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	w.Stop()
	rate := float64(n) / elapsed.Seconds()
	b.Logf("issuance: %d Certificates Ready in %.1fs (created in %.1fs), %.1f/s; raw creates %.0f/s; certplane CPU %.2fs",
		n, elapsed.Seconds(), createdIn.Seconds(), rate, rawRate, issueCPU.Seconds())

	// At rest: once the certificates controller has been idle for 5 s.
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	growthQuiet(b, metricsURL, 5*time.Second, 10*time.Minute)
	restStart, settleCPU := time.Now(), processCPU(b, pid)
	quietFor := 20 * time.Second
	growthWait(b, quietFor+5*time.Second, func() bool { return time.Since(restStart) >= quietFor })
	earlyRSS := residentBytes(b, pid)
	// Garbage left by the last burst (the issuance, the scrapes above) is
	// resident until a garbage collection frees it: certplane returns it
	// to the OS once its controllers have been idle for 30 s (after a
	// burst of at least 100 reconciles), and Go forces a collection every
	// two minutes. At rest is after that; its CPU is read over the last
	// 20 s before, and the CPU of the whole settling apart.
	settle := 150 * time.Second
	growthWait(b, settle, func() bool { return time.Since(restStart) >= settle-quietFor })
	restCPUStart, restCPU := time.Now(), processCPU(b, pid)
	growthWait(b, settle+5*time.Second, func() bool { return time.Since(restStart) >= settle })
	restCPUShare := float64(processCPU(b, pid)-restCPU) / float64(time.Since(restCPUStart))
	settleCPU = processCPU(b, pid) - settleCPU
	rss, hwm := residentBytes(b, pid), peakRSS(b, pid)
	// The profile collects garbage first (gc=1), after the readings: without
	// it, the heap in use is as of a collection up to two cycles old, which
	// may hold the last scrape's samples.
	if profile != "" {
		// What the resident set holds: the binary's pages (RssFile) and
		// the Go runtime's (RssAnon): the live heap, the free room in the
		// heap's spans, what the heap keeps but the OS may take, stacks.
		b.Logf("at rest, resident: RssAnon %.1f MB, RssFile %.1f MB; Go: %s", float64(procStatusBytes(b, pid, "RssAnon"))/(1<<20),
			float64(procStatusBytes(b, pid, "RssFile"))/(1<<20), goMemStats(b, pprofPort))
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", pprofPort)); err != nil {
			b.Logf("heap profile: %v", err)
		} else {
			p, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			_ = os.WriteFile(fmt.Sprintf("%s-%d.heap", profile, n), p, 0o600)
		}
	}
	db := growthFileSize(filepath.Join(data, "etcd", "member", "snap", "db"))
	b.Logf("at rest: certplane VmRSS %.1f MB after %s idle (%.1f MB after %s), VmHWM %.1f MB, CPU %.2f%% of a core over the last %s (%.2fs of CPU in all %s); etcd db %.1f MB",
		float64(rss)/(1<<20), settle, float64(earlyRSS)/(1<<20), quietFor, float64(hwm)/(1<<20), 100*restCPUShare, quietFor, settleCPU.Seconds(), settle, float64(db)/(1<<20))
	// One scrape of /metrics, as Prometheus makes every 15 to 60 s: its
	// time, its size and the memory it leaves resident.
	scrapeStart := time.Now()
	page := growthPageSize(b, metricsURL)
	scrapeTime := time.Since(scrapeStart)
	scrapedRSS := residentBytes(b, pid)
	b.Logf("one scrape of /metrics at rest: %.1f MB in %.2fs; certplane VmRSS %.1f MB after it",
		float64(page)/(1<<20), scrapeTime.Seconds(), float64(scrapedRSS)/(1<<20))

	// A full resync: the same data, a new process.
	_ = up.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-up.done:
	case <-time.After(2 * time.Minute):
		b.Fatal("certplane up did not stop within 2 minutes")
	}
	restart := time.Now()
	up = startUp(b, data, port, upArgs...)
	upIn := time.Since(restart)
	pid = up.cmd.Process.Pid
	// kube-apiserver and certplane were started again: their counters
	// begin at zero, so what follows counts every write since the restart,
	// up's own start included (what certplane wrote before it was up is
	// logged apart).
	ownAtUp := growthScrapeSum(b, metricsURL, "rest_client_requests_total", growthWriteMethod)
	want := float64(n + growthNamespaces)
	var resynced time.Duration
	growthWait(b, limit, func() bool {
		m := growthScrape(b, metricsURL)
		if m[`certmanager_controller_sync_call_count{controller="certificates"}`] < want || growthQueueDepth(m) != 0 {
			return false
		}
		resynced = time.Since(restart)
		return true
	})
	// The writes a reconcile decided on may still be in flight: wait for
	// the controller to be idle before counting.
	growthQuiet(b, metricsURL, 5*time.Second, 5*time.Minute)
	writes := apiWrites(b, cs)
	own := growthScrapeSum(b, metricsURL, "rest_client_requests_total", growthWriteMethod)
	var lines []string
	var resyncWrites, resyncEvents float64
	for k, v := range writes {
		if d := v; d > 0 {
			lines = append(lines, fmt.Sprintf("%s %.0f", k, d))
			switch {
			case strings.HasSuffix(k, "(dry run)"):
				// up's admission check at start: stored nowhere.
			case strings.Contains(k, " certificate") || strings.Contains(k, " secrets/"):
				resyncWrites += d
			case strings.Contains(k, " events/"):
				resyncEvents += d
			}
		}
	}
	sort.Strings(lines)
	resyncRSS, resyncHWM := residentBytes(b, pid), peakRSS(b, pid)
	b.Logf("resync: up again in %.1fs; every Certificate reconciled, queue empty, %.1fs after the restart; certplane VmRSS %.1f MB, VmHWM %.1f MB",
		upIn.Seconds(), resynced.Seconds(), float64(resyncRSS)/(1<<20), float64(resyncHWM)/(1<<20))
	b.Logf("apiserver writes since the restart, to the end of the resync (every client):\n  %s\ncertplane's own write requests (rest_client_requests_total, leases and up's start included): %.0f, of which %.0f before it was up",
		strings.Join(lines, "\n  "), own, ownAtUp)

	b.ReportMetric(rate, "certs/s")
	b.ReportMetric(rawRate, "raw-creates/s")
	b.ReportMetric(rate/rawRate, "ratio")
	b.ReportMetric(float64(issueCPU.Microseconds())/1000/float64(n), "cpu-ms/cert")
	b.ReportMetric(float64(rss)/(1<<20), "rest-RSS-MB")
	b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(earlyRSS)/(1<<20), "idle20s-RSS-MB")
	b.ReportMetric(float64(scrapedRSS)/(1<<20), "scraped-RSS-MB")
	b.ReportMetric(scrapeTime.Seconds(), "scrape-s")
	b.ReportMetric(100*restCPUShare, "rest-cpu-%")
	b.ReportMetric(settleCPU.Seconds(), "settle-cpu-s")
	b.ReportMetric(float64(db)/(1<<20), "etcd-db-MB")
	b.ReportMetric(resynced.Seconds(), "resync-s")
	b.ReportMetric(resyncWrites, "resync-writes")
	b.ReportMetric(resyncEvents, "resync-events")
	b.ReportMetric(float64(resyncHWM)/(1<<20), "resync-peak-RSS-MB")
}

// growthWriteMethod selects the write verbs of rest_client_requests_total.
func growthWriteMethod(labels string) bool {
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if strings.Contains(labels, `method="`+m+`"`) {
			return true
		}
	}
	return false
}

// growthQuiet waits until certplane's certificates controller has run no
// reconcile for idle, with its queue empty.
func growthQuiet(b *testing.B, metricsURL string, idle, limit time.Duration) {
	b.Helper()
	last, since := -1.0, time.Now()
	growthWait(b, limit, func() bool {
		m := growthScrape(b, metricsURL)
		calls := m[`certmanager_controller_sync_call_count{controller="certificates"}`]
		if calls != last || growthQueueDepth(m) != 0 {
			last, since = calls, time.Now()
			return false
		}
		return time.Since(since) >= idle
	})
}

// growthQueueDepth is the depth of the certificates controller's workqueue.
func growthQueueDepth(m map[string]float64) float64 {
	var d float64
	for k, v := range m {
		if strings.HasPrefix(k, "workqueue_depth{") && strings.Contains(k, `name="certificates"`) {
			d += v
		}
	}
	return d
}

// growthWait polls cond every second until it holds, failing after limit.
func growthWait(b *testing.B, limit time.Duration, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(time.Second)
	}
}

// growthScrape reads a Prometheus text endpoint into series (name{labels} as
// printed) and values.
// growthPageSize reads a whole page and returns its size in bytes.
func growthPageSize(b *testing.B, url string) int64 {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func growthScrape(b *testing.B, url string) map[string]float64 {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	// At 100k Certificates the page is about 120 MB (cert-manager's
	// per-Certificate series), and the controller's counters come after
	// them: read it all.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// growthScrapeSum adds up the series of a metric whose labels match.
func growthScrapeSum(b *testing.B, url, name string, match func(labels string) bool) float64 {
	var sum float64
	for k, v := range growthScrape(b, url) {
		if strings.HasPrefix(k, name+"{") && match(k[len(name):]) {
			sum += v
		}
	}
	return sum
}

// growthFileSize is a file's size, or 0 if it cannot be read.
func growthFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// goMemStats reads the Go runtime's memory figures from the heap profile's
// text form (its MemStats lines), as of now, without a collection.
func goMemStats(b *testing.B, pprofPort int) string {
	b.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?debug=1", pprofPort))
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(page), "\n") {
		for _, name := range []string{"HeapAlloc", "HeapInuse", "HeapIdle", "HeapReleased", "Stack", "GCSys", "OtherSys", "NextGC"} {
			if v, ok := strings.CutPrefix(line, "# "+name+" = "); ok {
				n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				out = append(out, fmt.Sprintf("%s %.1f MB", name, float64(n)/(1<<20)))
			}
		}
	}
	return strings.Join(out, ", ")
}
