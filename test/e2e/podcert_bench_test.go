package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
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

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkPodCertificates is issue #14's scenario: on a fresh `certplane
// up` (etcd, kube-apiserver and the certplane.io/spiffe signer in the
// certplane process, all on the same cores), 300 PodCertificateRequests,
// each with its own ECDSA P-256 key, created at once by 32 cluster-admin
// clients, until a watcher has seen every one Issued.
//
// Keys and stub PKCS#10 requests are made before the clock starts. The
// apiserver's raw create rate is measured in the same run, just before and
// just after, with 300 PodCertificateRequests of the same shape for
// example.com/none, a signer nothing serves (certplane ignores them); the
// run's raw rate is the mean of both, because the machine's load drifts
// within seconds. A warm-up request is issued first, so that the signer's
// cache is synced.
//
// issued/s is 300 over the time from the first create to the last Issued
// seen; ratio is issued/s over raw creates/s. Latency is from the moment a
// request's create is sent to the moment the watcher sees it Issued (the
// status condition's lastTransitionTime and creationTimestamp have whole
// seconds only). writes/req counts every apiserver write of the run but
// the benchmark's own creates and Lease renewals (Events included),
// status-writes/req the PUTs of
// podcertificaterequests/status alone; cpu-ms/req is the certplane
// process's CPU (from /proc) over the run, per request. cpu-ratio is the
// CPU all processes (etcd, kube-apiserver, up's kube-controller-manager,
// certplane and the benchmark's clients) spend on a raw create over what
// they spend on a request until Issued: on saturated cores that bounds the
// ratio, and it depends far less than the rates on what else the machine
// runs. Each run prints the CPU of every process, the writes by verb and
// resource, when the last create was answered, and the latency counted
// from each create's response (the signer's share).
//
// CERTPLANE_BENCH_PROFILE=FILE saves 2 s CPU profiles of the run:
// certplane's (through up's --pprof-bind-address) in FILE, kube-apiserver's
// in FILE.kube-apiserver.
func BenchmarkPodCertificates(b *testing.B) {
	var runs []pcrRun
	for b.Loop() {
		runs = append(runs, runPodCertificates(b, 300))
	}
	b.StopTimer()
	med := func(f func(pcrRun) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	b.ReportMetric(med(func(r pcrRun) float64 { return r.issued }), "issued/s")
	b.ReportMetric(med(func(r pcrRun) float64 { return r.raw }), "raw-creates/s")
	b.ReportMetric(med(func(r pcrRun) float64 { return r.issued / r.raw }), "ratio")
	b.ReportMetric(med(func(r pcrRun) float64 { return float64(r.p50.Microseconds()) / 1000 }), "p50-ms")
	b.ReportMetric(med(func(r pcrRun) float64 { return float64(r.p99.Microseconds()) / 1000 }), "p99-ms")
	b.ReportMetric(med(func(r pcrRun) float64 { return r.writes }), "writes/req")
	b.ReportMetric(med(func(r pcrRun) float64 { return r.statusWrites }), "status-writes/req")
	b.ReportMetric(med(func(r pcrRun) float64 { return r.cpuMS }), "cpu-ms/req")
	b.ReportMetric(med(func(r pcrRun) float64 { return r.cpuBound }), "cpu-ratio")
	b.StartTimer() // b.Loop checks the timer runs
}

type pcrRun struct {
	raw, issued          float64 // per second
	p50, p99             time.Duration
	writes, statusWrites float64 // per request
	cpuMS                float64 // certplane's, per request
	cpuBound             float64 // CPU of a raw create over that of a request until Issued
}

// pcrStub is a PodCertificateRequest as kubelet makes one, with its own
// P-256 key and the stub PKCS#10 request that key signed.
func pcrStub(b *testing.B, name, signer string, i int) *certv1.PodCertificateRequest {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	stub, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		b.Fatal(err)
	}
	maxSeconds := int32(86400) // kubelet's default
	return &certv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certv1.PodCertificateRequestSpec{
			SignerName: signer,
			PodName:    fmt.Sprintf("web-%03d", i), PodUID: types.UID(fmt.Sprintf("uid-pod-%s", name)),
			ServiceAccountName: "web", ServiceAccountUID: "uid-sa-web",
			NodeName: "node-a", NodeUID: "uid-node-a",
			MaxExpirationSeconds: &maxSeconds,
			StubPKCS10Request:    stub,
		},
	}
}

func pcrIssued(p *certv1.PodCertificateRequest) (issued bool, other string) {
	for _, c := range p.Status.Conditions {
		if c.Status != metav1.ConditionTrue {
			continue
		}
		if c.Type == "Issued" {
			return true, ""
		}
		return false, fmt.Sprintf("%s %s: %s", c.Type, c.Reason, c.Message)
	}
	return false, ""
}

func runPodCertificates(b *testing.B, n int) pcrRun {
	b.StopTimer()
	const workers = 32
	data := b.TempDir()
	// Registered first, so that it runs after every other cleanup.
	b.Cleanup(func() { assertNoProcessesFor(b, data) })
	var extra []string
	pprofPort := 0
	if os.Getenv("CERTPLANE_BENCH_PROFILE") != "" {
		pprofPort = freePort(b)
		extra = append(extra, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort))
	}
	up := startUp(b, data, freePort(b), extra...)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(data, "admin.conf"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling: measure the server
	cfg.ContentType = runtime.ContentTypeProtobuf
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []string{"bench", "raw"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	pcrs := cs.CertificatesV1().PodCertificateRequests("bench")

	// Every key and stub before any clock starts.
	stubs := func(prefix, signer string) []*certv1.PodCertificateRequest {
		out := make([]*certv1.PodCertificateRequest, n)
		for i := range out {
			out[i] = pcrStub(b, fmt.Sprintf("%s-%03d", prefix, i), signer, i)
		}
		return out
	}
	reqs := stubs("pcr", "certplane.io/spiffe")
	rawBefore, rawAfter := stubs("before", "example.com/none"), stubs("after", "example.com/none")
	warm := pcrStub(b, "warm-up", "certplane.io/spiffe", n)
	index := map[string]int{}
	for i, r := range reqs {
		index[r.Name] = i
	}

	// The warm-up request, issued before anything is measured.
	list, err := pcrs.List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	lastRV := list.ResourceVersion
	w, err := pcrs.Watch(ctx, metav1.ListOptions{ResourceVersion: lastRV})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { w.Stop() }()
	if _, err := pcrs.Create(ctx, warm, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// next is the watch's next event, resuming where it stopped when the
	// apiserver ends it; it fails on an error from the creates.
	var errc chan error
	next := func(timeout <-chan time.Time, what string) *certv1.PodCertificateRequest {
		for {
			select {
			case err := <-errc:
				if err != nil {
					b.Fatal(err)
				}
				errc = nil
			case ev, open := <-w.ResultChan():
				if !open {
					if w, err = pcrs.Watch(ctx, metav1.ListOptions{ResourceVersion: lastRV}); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if ev.Type == watch.Error {
					b.Fatalf("watch: %v", ev.Object)
				}
				p, ok := ev.Object.(*certv1.PodCertificateRequest)
				if !ok {
					continue
				}
				lastRV = p.ResourceVersion
				return p
			case <-up.done:
				b.Fatalf("certplane up exited: %s", up.stderr.String())
			case <-timeout:
				b.Fatalf("%s", what)
			}
		}
	}
	warmTimeout := time.After(2 * time.Minute)
	for {
		p := next(warmTimeout, "the warm-up request not Issued within 2 minutes")
		issued, other := pcrIssued(p)
		if other != "" {
			b.Fatalf("warm-up request: %s", other)
		}
		if issued {
			break
		}
	}
	// up's kube-controller-manager keeps writing for a while after up
	// reports ready (ServiceAccounts, ConfigMaps, roles): let it finish.
	waitQuiet(b, cs)

	rawRate := func(objs []*certv1.PodCertificateRequest) float64 {
		start := time.Now()
		if err := parallelN(n, workers, func(i int) error {
			_, err := cs.CertificatesV1().PodCertificateRequests("raw").Create(ctx, objs[i], metav1.CreateOptions{})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		return float64(n) / time.Since(start).Seconds()
	}
	pids := append(processesFor(data), os.Getpid()) // up's pid among them
	cpuOf := func() map[int]time.Duration {
		m := map[int]time.Duration{}
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				m[pid] = processCPU(b, pid)
			}
		}
		return m
	}
	sum := func(from, to map[int]time.Duration) (d time.Duration) {
		for pid, v := range to {
			d += v - from[pid]
		}
		return d
	}
	cpuRawStart := cpuOf()
	before := rawRate(rawBefore)
	// The CPU all processes spend on a raw create: on saturated cores,
	// its quotient with that of a request until Issued bounds the ratio
	// whatever else runs on the machine.
	rawCPU := sum(cpuRawStart, cpuOf())

	writesBefore := apiWrites(b, cs)
	durationsBefore := pcrRequestDurations(b, cs)
	cpuBefore := cpuOf()
	profiles := startPCRProfiles(b, cs, pprofPort)

	sentAt, returnedAt := make([]atomic.Int64, n), make([]atomic.Int64, n) // UnixNano
	var lastReturned atomic.Int64
	errc = make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() {
		errc <- parallelN(n, workers, func(i int) error {
			sentAt[i].Store(time.Now().UnixNano())
			_, err := pcrs.Create(ctx, reqs[i], metav1.CreateOptions{})
			t := time.Now().UnixNano()
			returnedAt[i].Store(t)
			for {
				if l := lastReturned.Load(); l >= t || lastReturned.CompareAndSwap(l, t) {
					break
				}
			}
			return err
		})
	}()
	latencies := make([]time.Duration, 0, n)
	// After the create's response: the signer's share, not the
	// apiserver's queue for creates (zero when the watch was faster).
	signing := make([]time.Duration, 0, n)
	seen := make([]bool, n)
	timeout := time.After(3 * time.Minute)
	for len(latencies) < n {
		p := next(timeout, fmt.Sprintf("%d of %d Issued after 3 minutes", len(latencies), n))
		i, ok := index[p.Name]
		if !ok || seen[i] {
			continue
		}
		issued, other := pcrIssued(p)
		if other != "" {
			b.Fatalf("%s: %s", p.Name, other)
		}
		if issued {
			seen[i] = true
			now := time.Now().UnixNano()
			latencies = append(latencies, time.Duration(now-sentAt[i].Load()))
			// Zero when the watch saw it Issued before the create's response came.
			var afterResponse time.Duration
			if r := returnedAt[i].Load(); r != 0 && r < now {
				afterResponse = time.Duration(now - r)
			}
			signing = append(signing, afterResponse)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if errc != nil {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	createsDone := time.Duration(lastReturned.Load() - start.UnixNano())
	runCPU := sum(cpuBefore, cpuOf())
	var served []string
	durations := pcrRequestDurations(b, cs)
	for _, k := range []string{"POST podcertificaterequests/", "PUT podcertificaterequests/status"} {
		d, was := durations[k], durationsBefore[k]
		if c := d[1] - was[1]; c > 0 {
			served = append(served, fmt.Sprintf("%s %.0f, mean %.0f ms", k, c, (d[0]-was[0])/c*1000))
		}
	}

	var split []string
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			continue // a process of up's that ended
		}
		split = append(split, fmt.Sprintf("%s %.2fs", processName(pid), (processCPU(b, pid)-cpuBefore[pid]).Seconds()))
	}
	sort.Strings(split)
	cpu := processCPU(b, up.cmd.Process.Pid) - cpuBefore[up.cmd.Process.Pid]
	var total, status float64
	var lines []string
	for k, v := range apiWrites(b, cs) {
		d := v - writesBefore[k]
		if d == 0 {
			continue
		}
		if !strings.HasPrefix(k, "PUT leases/") { // renewals, not per request
			total += d
		}
		if k == "PUT podcertificaterequests/status" {
			status = d
		}
		lines = append(lines, fmt.Sprintf("%s %.0f", k, d))
	}
	sort.Strings(lines)
	profiles()
	after := rawRate(rawAfter)
	// An open watch holds kube-apiserver's shutdown up.
	w.Stop()

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	sort.Slice(signing, func(i, j int) bool { return signing[i] < signing[j] })
	r := pcrRun{
		raw: (before + after) / 2, issued: float64(n) / elapsed.Seconds(),
		p50: latencies[len(latencies)/2], p99: latencies[len(latencies)*99/100],
		writes: (total - float64(n)) / float64(n), statusWrites: status / float64(n),
		cpuMS:    float64(cpu.Microseconds()) / 1000 / float64(n),
		cpuBound: rawCPU.Seconds() / runCPU.Seconds(),
	}
	// Printed, not logged: the testing package keeps only the first lines
	// of a benchmark's log.
	fmt.Printf("raw creates %.0f/s before, %.0f/s after; issued %.0f/s (%d in %.2fs, the last create answered at %.2fs), ratio %.3f\n"+
		"    latency from the create sent: p50 %d ms, p99 %d ms, max %d ms; from its response: p50 %d ms, p99 %d ms, max %d ms\n"+
		"    kube-apiserver's own time per request: %s\n"+
		"    CPU of all processes: %.2f ms per raw create, %.2f ms per request until Issued (quotient %.3f)\n"+
		"    CPU in the run: %s\n    API writes in the run (the benchmark's %d creates included): %s\n",
		before, after, r.issued, n, elapsed.Seconds(), createsDone.Seconds(), r.issued/r.raw,
		r.p50.Milliseconds(), r.p99.Milliseconds(), latencies[n-1].Milliseconds(),
		signing[n/2].Milliseconds(), signing[n*99/100].Milliseconds(), signing[n-1].Milliseconds(), strings.Join(served, "; "),
		float64(rawCPU.Microseconds())/1000/float64(n), float64(runCPU.Microseconds())/1000/float64(n), r.cpuBound,
		strings.Join(split, ", "), n, strings.Join(lines, ", "))
	up.stop(b)
	b.StartTimer() // b.Loop checks the timer runs
	return r
}

// startPCRProfiles starts 2 s CPU profiles of kube-apiserver and certplane
// when CERTPLANE_BENCH_PROFILE is set, and returns a function that waits
// for them and saves them.
func startPCRProfiles(b *testing.B, cs kubernetes.Interface, pprofPort int) func() {
	out := os.Getenv("CERTPLANE_BENCH_PROFILE")
	if out == "" {
		return func() {}
	}
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		prof, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "2").DoRaw(context.Background())
		if err != nil {
			b.Logf("kube-apiserver profile: %v", err)
			return
		}
		_ = os.WriteFile(out+".kube-apiserver", prof, 0o600)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=2", pprofPort))
		if err != nil {
			b.Logf("certplane profile: %v", err)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		prof, _ := io.ReadAll(resp.Body)
		_ = os.WriteFile(out, prof, 0o600)
	}()
	return func() { <-done; <-done }
}

// pcrRequestDurations reads kube-apiserver's
// apiserver_request_duration_seconds for PodCertificateRequests: the sum
// and the count by verb, resource and subresource.
func pcrRequestDurations(b *testing.B, cs kubernetes.Interface) map[string][2]float64 {
	b.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	out := map[string][2]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		i := 0
		switch {
		case strings.HasPrefix(line, "apiserver_request_duration_seconds_sum{"):
		case strings.HasPrefix(line, "apiserver_request_duration_seconds_count{"):
			i = 1
		default:
			continue
		}
		if !strings.Contains(line, `resource="podcertificaterequests"`) {
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
		k := labels["verb"] + " " + labels["resource"] + "/" + labels["subresource"]
		d := out[k]
		d[i] += v
		out[k] = d
	}
	return out
}
