package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkUp measures a fresh `certplane up` as a user runs it, from the
// command to its "certplane is up" line: the PKI, etcd, kube-apiserver,
// kube-controller-manager, the CRDs and policies, and certplane's
// controllers with their caches synced. It reports each process's resident
// memory once up (MB).
func BenchmarkUp(b *testing.B) {
	rss := map[string]float64{}
	n := 0
	for b.Loop() {
		b.StopTimer()
		data := b.TempDir()
		port := freePort(b)
		b.StartTimer()
		u := startUp(b, data, port)
		b.StopTimer()
		n++
		for name, kb := range componentRSS(b, data, u.cmd.Process.Pid) {
			rss[name] += kb / 1024
		}
		u.stop(b)
		assertNoProcessesFor(b, data)
		b.StartTimer()
	}
	for name, mb := range rss {
		b.ReportMetric(mb/float64(n), name+"-RSS-MB")
	}
}

// componentRSS is the resident memory (kB) of certplane up (pid) and of
// each component it started for data.
func componentRSS(b *testing.B, data string, pid int) map[string]float64 {
	out := map[string]float64{"certplane": float64(residentBytes(b, pid)) / 1024}
	for _, p := range processesFor(data) {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
		name := filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])
		if name == "certplane" {
			continue
		}
		out[name] += float64(residentBytes(b, p)) / 1024
	}
	return out
}
