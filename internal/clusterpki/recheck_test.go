package clusterpki_test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/certplane/certplane/internal/clusterpki"
)

// TestInitCountsEveryFile: a second run over a whole tree checks every file
// the first one created, keys and sa.pub included.
func TestInitCountsEveryFile(t *testing.T) {
	dir := t.TempDir()
	first, err := clusterpki.Init(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	second, err := clusterpki.Init(options(dir))
	if err != nil {
		t.Fatal(err)
	}
	created, checked := slices.Sorted(slices.Values(first.Created)), slices.Sorted(slices.Values(second.Checked))
	if len(second.Created) != 0 || !slices.Equal(created, checked) {
		t.Errorf("second run created %v and checked %d files %v, want the %d the first created", second.Created, len(checked), checked, len(created))
	}
}

// TestInitChecksRequestedSANs: run again with other SANs or another node
// name, init refuses as kubeadm does, naming the file and the SAN it lacks,
// and writes nothing. Fewer SANs than the certificate has are fine.
func TestInitChecksRequestedSANs(t *testing.T) {
	good := t.TempDir()
	if _, err := clusterpki.Init(options(good)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(o *clusterpki.Options)
		want   []string
	}{
		{"another DNS SAN", func(o *clusterpki.Options) { o.CertSANs = append(o.CertSANs, "api2.example.com") },
			[]string{"pki/apiserver.crt lacks the requested SAN api2.example.com", "api.example.com", "move pki/apiserver.crt and pki/apiserver.key away"}},
		{"another IP SAN", func(o *clusterpki.Options) { o.CertSANs = []string{"api.example.com", "203.0.113.8"} },
			[]string{"pki/apiserver.crt lacks the requested SAN 203.0.113.8"}},
		{"another advertise address", func(o *clusterpki.Options) { o.AdvertiseAddress = net.ParseIP("192.168.10.6") },
			[]string{"pki/apiserver.crt lacks the requested SAN 192.168.10.6"}},
		{"another node name", func(o *clusterpki.Options) { o.NodeName = "node-b" },
			[]string{"pki/apiserver.crt lacks the requested SAN node-b"}},
		{"another DNS domain", func(o *clusterpki.Options) { o.DNSDomain = "corp.local" },
			[]string{"lacks the requested SAN kubernetes.default.svc.corp.local"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			_ = os.Remove(filepath.Join(dir, "scheduler.conf")) // something to (not) create
			o := options(dir)
			tt.change(&o)
			_, err := clusterpki.Init(o)
			if err == nil {
				t.Fatal("init kept the old SANs without a word")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "scheduler.conf")); !os.IsNotExist(err) {
				t.Error("a refused init wrote scheduler.conf")
			}
		})
	}

	t.Run("etcd certificates of another node", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		// The apiserver pair made anew for node-b: etcd's still name node-a.
		_ = os.Remove(filepath.Join(dir, "pki", "apiserver.crt"))
		_ = os.Remove(filepath.Join(dir, "pki", "apiserver.key"))
		o := options(dir)
		o.NodeName = "node-b"
		_, err := clusterpki.Init(o)
		if err == nil || !strings.Contains(err.Error(), "pki/etcd/server.crt lacks the requested SAN node-b") {
			t.Fatalf("error = %v, want etcd/server.crt named", err)
		}
	})

	t.Run("kubelet.conf of another node", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"apiserver", "etcd/server", "etcd/peer"} {
			_ = os.Remove(filepath.Join(dir, "pki", f+".crt"))
			_ = os.Remove(filepath.Join(dir, "pki", f+".key"))
		}
		o := options(dir)
		o.NodeName = "node-b"
		_, err := clusterpki.Init(o)
		if err == nil || !strings.Contains(err.Error(), `kubelet.conf is for "system:node:node-a" in system:nodes, not "system:node:node-b" in system:nodes`) {
			t.Fatalf("error = %v, want kubelet.conf named", err)
		}
	})

	t.Run("fewer SANs are fine", func(t *testing.T) {
		o := options(good)
		o.CertSANs = nil
		if _, err := clusterpki.Init(o); err != nil {
			t.Errorf("init with fewer SANs: %v", err)
		}
	})
}

// TestRenewTwiceInOneSecond: each renewal keeps its old files in a backup
// directory of its own, even within the same second.
func TestRenewTwiceInOneSecond(t *testing.T) {
	dir := t.TempDir()
	o := options(dir)
	if _, err := clusterpki.Init(o); err != nil {
		t.Fatal(err)
	}
	first, err := clusterpki.Renew(o, []string{"apiserver"})
	if err != nil {
		t.Fatal(err)
	}
	keyAfterFirst, _ := os.ReadFile(filepath.Join(dir, "pki", "apiserver.key"))
	second, err := clusterpki.Renew(o, []string{"apiserver"})
	if err != nil {
		t.Fatalf("second renewal in the same second: %v", err)
	}
	if first.BackupDir == second.BackupDir || second.BackupDir != first.BackupDir+"-2" {
		t.Errorf("backups in %s and %s, want the second with -2", first.BackupDir, second.BackupDir)
	}
	if kept, _ := os.ReadFile(filepath.Join(second.BackupDir, "pki", "apiserver.key")); string(kept) != string(keyAfterFirst) {
		t.Error("the second backup does not hold the key the first renewal made")
	}
	if fi, err := os.Stat(second.BackupDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v %v, want mode 0700", fi, err)
	}
}
