package localcp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/certplane/certplane/internal/localcp"
	"github.com/certplane/certplane/pkg/pki"
)

// binDir is the project's bin/, where `make tools` puts etcd and
// kube-apiserver.
func binDir(b *testing.B) string {
	d, err := filepath.Abs(filepath.Join("..", "..", "bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err != nil {
		b.Skip("bin/kube-apiserver missing: run make tools")
	}
	return d
}

func start(b *testing.B, dir string, port int) *localcp.ControlPlane {
	cp, err := localcp.Start(context.Background(), localcp.Options{
		DataDir: dir, Port: port, BinDir: binDir(b), Key: pki.ECDSAP256, NodeName: "bench", ControllerManager: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := cp.WaitControllerManager(context.Background()); err != nil {
		b.Fatal(err)
	}
	return cp
}

// BenchmarkStartFresh measures `certplane up`'s launcher on a new data
// directory: the PKI, etcd's first start, kube-apiserver until /readyz, the
// RBAC binding and kube-controller-manager until /healthz. Stopping is not
// timed.
func BenchmarkStartFresh(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		port, err := localcp.FreePort()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cp := start(b, dir, port)
		b.StopTimer()
		if err := cp.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkStartExisting measures a restart on a data directory that
// already holds the PKI and etcd's data: the everyday `certplane up`.
func BenchmarkStartExisting(b *testing.B) {
	dir := b.TempDir()
	port, err := localcp.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	if err := start(b, dir, port).Stop(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cp := start(b, dir, port)
		b.StopTimer()
		if err := cp.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
