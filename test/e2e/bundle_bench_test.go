package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// BenchmarkBundleTargets is issue #11's scale scenario: on a fresh
// `certplane up`, 1000 labelled namespaces, then one Bundle (the machine's
// default CAs, about 145 certificates and 220 kB, plus a CA from a
// ConfigMap) targeting them with a ConfigMap each. It measures the time
// from the Bundle's creation until all 1000 targets exist, the API writes
// that took, and certplane's peak resident memory over its memory before
// the namespaces existed; then, after one change of the source ConfigMap,
// the time until all 1000 targets hold the new bundle and the writes (the
// goal: exactly 1000, no write of an unchanged target).
func BenchmarkBundleTargets(b *testing.B) {
	for b.Loop() {
		runBundleScenario(b, 1000)
	}
}

var bundleTargetsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func runBundleScenario(b *testing.B, n int) {
	b.StopTimer()
	data := b.TempDir()
	// CERTPLANE_BENCH_HEAP=FILE saves certplane's heap profiles once the
	// targets are written (FILE.written) and once they are updated
	// (FILE.updated).
	var extra []string
	heapFile, pprofPort := os.Getenv("CERTPLANE_BENCH_HEAP"), 0
	if heapFile != "" {
		pprofPort = freePort(b)
		extra = append(extra, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort))
	}
	saveHeap := func(suffix string) {
		if heapFile == "" {
			return
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", pprofPort))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		p, err := io.ReadAll(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(heapFile+"."+suffix, p, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	up := startUp(b, data, freePort(b), extra...)
	admin := filepath.Join(data, "admin.conf")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(cfg)
	md := metadata.NewForConfigOrDie(cfg)
	ctx := context.Background()
	pid := up.cmd.Process.Pid

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cert-manager"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	source := func(cn string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "company-ca", Namespace: "cert-manager"},
			Data: map[string]string{"ca.crt": pemText(pkitest.CA(b, cn).Certificate)}}
	}
	if _, err := cs.CoreV1().ConfigMaps("cert-manager").Create(ctx, source("company CA 1"), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// Memory before the namespaces exist.
	baseline := residentBytes(b, pid)
	resetPeakRSS(b, pid)

	start := time.Now()
	if err := parallelN(n, 32, func(i int) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("bench-%04d", i), Labels: map[string]string{"bench": "yes"}}}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	// kube-controller-manager gives each new namespace a ServiceAccount
	// and the kube-root-ca.crt ConfigMap: wait for that to end, so that it
	// is not measured with the targets.
	settled := func(gvr schema.GroupVersionResource, name string) func() bool {
		return func() bool {
			l, err := md.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
			if err != nil {
				b.Fatal(err)
			}
			c := 0
			for _, o := range l.Items {
				if strings.HasPrefix(o.Namespace, "bench-") {
					c++
				}
			}
			return c == n
		}
	}
	waitFor(b, 5*time.Minute, "kube-controller-manager's ServiceAccounts and kube-root-ca.crt in the new namespaces", func() bool {
		return settled(bundleTargetsGVR, "kube-root-ca.crt")() && settled(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "default")()
	})
	b.Logf("%d namespaces created in %.1fs, set up by kube-controller-manager", n, time.Since(start).Seconds())

	// Targets are watched as metadata: name, namespace, hash.
	w, err := md.Resource(bundleTargetsGVR).Namespace("").Watch(ctx, metav1.ListOptions{LabelSelector: trustBundleLabel + "=bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	hashes := map[string]string{}
	var firstSeen time.Time // the first target event of a phase
	// pump applies the watch's events to hashes until cond holds.
	pump := func(what string, cond func() bool) {
		b.Helper()
		timeout := time.After(10 * time.Minute)
		for !cond() {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatal("the watch of targets ended")
				}
				if ev.Type == watch.Error {
					b.Fatalf("watch: %v", ev.Object)
				}
				m := ev.Object.(*metav1.PartialObjectMetadata)
				if firstSeen.IsZero() {
					firstSeen = time.Now()
				}
				if ev.Type == watch.Deleted {
					delete(hashes, m.Namespace)
				} else {
					hashes[m.Namespace] = m.Annotations[trustHashKey]
				}
			case <-timeout:
				b.Fatalf("%s: not after 10 minutes (%d targets)", what, len(hashes))
			}
		}
	}
	// waitTargets waits until the n targets are current.
	waitTargets := func(what string, current func(hash string) bool) {
		b.Helper()
		pump(what, func() bool {
			c := 0
			for ns, h := range hashes {
				if strings.HasPrefix(ns, "bench-") && current(h) {
					c++
				}
			}
			return c == n
		})
	}
	bundle := `apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: bench}
spec:
  sources:
  - useDefaultCAs: true
  - configMap: {name: company-ca, key: ca.crt}
  target:
    namespaceSelector: {matchLabels: {bench: "yes"}}
    configMap: {key: ca-certificates.crt}
`
	f := filepath.Join(b.TempDir(), "bundle.yaml")
	writeFile(b, f, bundle)
	writesBefore := apiWrites(b, cs)
	cpuBefore := cpuOf(b, data)

	b.StartTimer()
	start, firstSeen = time.Now(), time.Time{}
	mustKubectl(b, admin, "apply", "-f", f)
	waitTargets("all written", func(h string) bool { return h != "" })
	written := time.Since(start)
	b.StopTimer()
	b.Logf("first target %.2fs after the Bundle's creation, all %d after %.2fs", firstSeen.Sub(start).Seconds(), n, written.Seconds())
	peak := peakRSS(b, pid)
	cpuWrite := cpuSince(b, data, cpuBefore)
	first := ""
	for _, h := range hashes {
		if first == "" {
			first = h
		} else if h != first {
			b.Fatalf("the targets hold different bundles: %s and %s", first, h)
		}
	}
	// A barrier: a target for one more namespace is written only after
	// the reconciles queued before it, so the writes counted then are all
	// there are. The namespace is then unlabelled and its target removed
	// (a delete, not an apply), so that it is no target later.
	barrier := func(name string) {
		b.Helper()
		ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: name, Labels: map[string]string{"bench": "yes"}}}, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pump("barrier "+name, func() bool { return hashes[name] != "" })
		ns.Labels = nil
		if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		pump("barrier "+name+" removed", func() bool { _, ok := hashes[name]; return !ok })
	}
	barrier("barrier-1")
	saveHeap("written")
	writesWrite := writesSince(apiWrites(b, cs), writesBefore)
	applies1 := writesWrite["APPLY configmaps/"] - 1 // less the barrier's

	// One source change.
	writesBefore = apiWrites(b, cs)
	cpuBefore = cpuOf(b, data)
	b.StartTimer()
	start, firstSeen = time.Now(), time.Time{}
	if _, err := cs.CoreV1().ConfigMaps("cert-manager").Update(ctx, source("company CA 2"), metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitTargets("all updated", func(h string) bool { return h != first })
	updated := time.Since(start)
	b.StopTimer()
	b.Logf("first target updated %.2fs after the source change, all %d after %.2fs", firstSeen.Sub(start).Seconds(), n, updated.Seconds())
	cpuUpdate := cpuSince(b, data, cpuBefore)
	barrier("barrier-2")
	saveHeap("updated")
	writesUpdate := writesSince(apiWrites(b, cs), writesBefore)
	applies2 := writesUpdate["APPLY configmaps/"] - 1
	peakAll := peakRSS(b, pid)

	// The apiserver's rate for raw creates of ConfigMaps of the same size,
	// 16 at a time as the controller writes, in this run.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "raw"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	target, err := cs.CoreV1().ConfigMaps("bench-0000").Get(ctx, "bench", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cpuBefore = cpuOf(b, data)
	start = time.Now()
	if err := parallelN(n, 16, func(i int) error {
		_, err := cs.CoreV1().ConfigMaps("raw").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("raw-%04d", i)},
			Data: target.Data}, metav1.CreateOptions{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	raw := time.Since(start)
	cpuRaw := cpuSince(b, data, cpuBefore)

	b.Logf("bundle of %d bytes; raw creates of ConfigMaps that size, 16 at a time: %d in %.2fs", len(target.Data["ca-certificates.crt"]), n, raw.Seconds())
	b.Logf("writes while writing the targets (a barrier namespace's target included):\n  %s", formatWriteCounts(writesWrite))
	b.Logf("writes after the source change (a barrier namespace's target included):\n  %s", formatWriteCounts(writesUpdate))
	b.Logf("certplane RSS: %.1f MB before the namespaces, peak %.1f MB while writing, %.1f MB overall",
		mebibytes(baseline), mebibytes(peak), mebibytes(peakAll))
	b.Logf("CPU while writing the targets: %s", cpuWrite)
	b.Logf("CPU after the source change: %s", cpuUpdate)
	b.Logf("CPU during the raw creates: %s", cpuRaw)
	if applies2 != float64(n) {
		b.Errorf("%.0f target writes after one source change, want %d (one per target)", applies2, n)
	}
	b.ReportMetric(written.Seconds(), "write-s")
	b.ReportMetric(applies1, "target-writes")
	b.ReportMetric(mebibytes(peak-baseline), "peak-RSS-delta-MB")
	b.ReportMetric(updated.Seconds(), "update-s")
	b.ReportMetric(applies2, "update-writes")
	b.ReportMetric(mebibytes(peakAll-baseline), "peak-RSS-delta-all-MB")
	b.ReportMetric(written.Seconds()/raw.Seconds(), "write/raw")
	b.StartTimer()
}

func mebibytes(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// writesSince is after less before, the entries that changed.
func writesSince(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func formatWriteCounts(w map[string]float64) string {
	lines := make([]string, 0, len(w))
	for k, v := range w {
		lines = append(lines, fmt.Sprintf("%s %.0f", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n  ")
}

// cpuOf is the CPU time of each process of an `up` (certplane, etcd,
// kube-apiserver, kube-controller-manager), by command name.
func cpuOf(b *testing.B, data string) map[string]time.Duration {
	b.Helper()
	out := map[string]time.Duration{}
	for _, pid := range processesFor(data) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		out[strings.TrimSpace(string(comm))] += processCPU(b, pid)
	}
	return out
}

// cpuSince formats the CPU each process used since before.
func cpuSince(b *testing.B, data string, before map[string]time.Duration) string {
	b.Helper()
	var parts []string
	for name, d := range cpuOf(b, data) {
		parts = append(parts, fmt.Sprintf("%s %.2fs", name, (d-before[name]).Seconds()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// resetPeakRSS sets a process's high-water mark (VmHWM) back to its
// current resident set (Linux: "5" to /proc/PID/clear_refs).
func resetPeakRSS(b *testing.B, pid int) {
	b.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Fatalf("resetting the peak RSS: %v", err)
	}
}
