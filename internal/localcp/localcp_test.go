package localcp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeBinary(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindBinaryOrder(t *testing.T) {
	flagDir, certplaneAssets, kubebuilderAssets := t.TempDir(), t.TempDir(), t.TempDir()
	inFlag := fakeBinary(t, flagDir, "etcd")
	inCertplane := fakeBinary(t, certplaneAssets, "etcd")
	inKubebuilder := fakeBinary(t, kubebuilderAssets, "etcd")
	t.Setenv("CERTPLANE_ASSETS", certplaneAssets)
	t.Setenv("KUBEBUILDER_ASSETS", kubebuilderAssets)

	if got, err := findBinary("etcd", flagDir); err != nil || got != inFlag {
		t.Errorf("with a flag: %q %v, want %q", got, err, inFlag)
	}
	if got, err := findBinary("etcd", ""); err != nil || got != inCertplane {
		t.Errorf("$CERTPLANE_ASSETS first: %q %v, want %q", got, err, inCertplane)
	}
	t.Setenv("CERTPLANE_ASSETS", t.TempDir())
	if got, err := findBinary("etcd", ""); err != nil || got != inKubebuilder {
		t.Errorf("$KUBEBUILDER_ASSETS next: %q %v, want %q", got, err, inKubebuilder)
	}
	if _, err := findBinary("etcd", t.TempDir()); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("missing in the flag's directory: %v, want an error saying to run make tools", err)
	}
	t.Setenv("KUBEBUILDER_ASSETS", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir()) // outside the project: no bin/ to fall back on
	_, err := findBinary("no-such-component", "")
	if err == nil || !strings.Contains(err.Error(), "$CERTPLANE_ASSETS=") || !strings.Contains(err.Error(), "PATH") {
		t.Errorf("missing everywhere: %v, want the places looked in", err)
	}
}

func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	st, err := loadState(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Port != DefaultPort || st.EtcdClientPort == 0 || st.EtcdPeerPort == 0 || st.EtcdClientPort == st.EtcdPeerPort {
		t.Errorf("new state %+v", st)
	}
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}
	again, err := loadState(dir, 0)
	if err != nil || again != st {
		t.Errorf("remembered state %+v %v, want %+v", again, err, st)
	}
	if _, err := loadState(dir, st.Port+1); err == nil || !strings.Contains(err.Error(), "was set up for port") {
		t.Errorf("another port: %v", err)
	}
}

func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"port":6443,"etcdClientPort":2379,"etcdPeerPort":2380}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "localcp.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(dir, 0)
		if err != nil {
			return
		}
		for _, p := range []int{st.Port, st.EtcdClientPort, st.EtcdPeerPort} {
			if p < 1 || p > 65535 {
				t.Fatalf("accepted port %d", p)
			}
		}
	})
}

func TestChoiceRange(t *testing.T) {
	for _, tt := range []struct {
		in     string
		lo, hi int
	}{
		{"32768\t60999\n", 20000, 32768},
		{"1024 65535", 0, 0},  // no room below the kernel's range
		{"20500 60999", 0, 0}, // fewer than minPorts below it
		{"21000 60999", 20000, 21000},
		{"", 0, 0}, // no file
		{"x 60999", 0, 0},
		{"32768", 0, 0},
		{"70000 80000", 0, 0},
	} {
		if lo, hi := choiceRange(tt.in); lo != tt.lo || hi != tt.hi {
			t.Errorf("choiceRange(%q) = %d, %d, want %d, %d", tt.in, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestFreePortsBelowOutgoingRange(t *testing.T) {
	data, err := os.ReadFile(portRangeFile)
	if err != nil {
		t.Skipf("no %s: %v", portRangeFile, err)
	}
	lo, hi := choiceRange(string(data))
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d handed out twice in %v", p, ports)
		}
		seen[p] = true
		if hi > lo && (p < lo || p >= hi) {
			t.Errorf("port %d outside [%d, %d), where outgoing connections cannot take it", p, lo, hi)
		}
		if err := checkPortFree(p); err != nil {
			t.Errorf("port %d is not free after freePorts returned: %v", p, err)
		}
	}
}
