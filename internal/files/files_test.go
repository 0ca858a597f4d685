package files_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certplane/certplane/internal/files"
)

func TestWriteAllModes(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "pki", "etcd", "ca.key")
	crt := filepath.Join(dir, "pki", "etcd", "ca.crt")
	if err := files.WriteAll(
		files.File{Path: crt, Data: []byte("c"), Mode: files.Public},
		files.File{Path: key, Data: []byte("k"), Mode: files.Secret},
	); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		key: 0o600, crt: 0o644, filepath.Join(dir, "pki"): 0o700 | os.ModeDir, filepath.Join(dir, "pki", "etcd"): 0o700 | os.ModeDir,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if data, _ := os.ReadFile(key); string(data) != "k" {
		t.Errorf("key holds %q", data)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "pki", "etcd", ".certplane-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestWriteAllNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "a-key.pem")
	if err := os.WriteFile(key, []byte("original"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "a.pem")
	err := files.WriteAll(files.File{Path: other, Data: []byte("x"), Mode: files.Public}, files.File{Path: key, Data: []byte("new"), Mode: files.Secret})
	if !errors.Is(err, files.ErrExists) {
		t.Fatalf("error = %v, want ErrExists", err)
	}
	if data, _ := os.ReadFile(key); string(data) != "original" {
		t.Errorf("existing key replaced: %q", data)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("%s written although the set failed", other)
	}
}

func TestWriteAllRollsBack(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "new", "first.pem")
	err := files.WriteAll(
		files.File{Path: first, Data: []byte("1"), Mode: files.Public},
		files.File{Path: filepath.Join(blocker, "second.pem"), Data: []byte("2"), Mode: files.Public},
	)
	if err == nil {
		t.Fatal("writing under a regular file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !os.IsNotExist(err) {
		t.Errorf("directory made for the failed set is still there: %v", err)
	}
}

func TestReplaceAllKeepsBackups(t *testing.T) {
	base := t.TempDir()
	key := filepath.Join(base, "pki", "etcd", "server.key")
	if err := files.WriteAll(files.File{Path: key, Data: []byte("old"), Mode: files.Secret}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(base, "backup", "1")
	if err := files.ReplaceAll(base, backup, files.File{Path: key, Data: []byte("new"), Mode: files.Secret}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(key); string(data) != "new" {
		t.Errorf("key holds %q, want new", data)
	}
	old := filepath.Join(backup, "pki", "etcd", "server.key")
	if data, _ := os.ReadFile(old); string(data) != "old" {
		t.Errorf("backup holds %q, want old", data)
	}
	if fi, err := os.Stat(filepath.Join(backup, "pki")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v %v, want 0700", fi, err)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced key mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReplaceAllRejectsDuplicates(t *testing.T) {
	base := t.TempDir()
	crt := filepath.Join(base, "a.crt")
	err := files.ReplaceAll(base, filepath.Join(base, "backup"),
		files.File{Path: crt, Data: []byte("x"), Mode: files.Public}, files.File{Path: crt, Data: []byte("y"), Mode: files.Public})
	if err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("duplicate path: %v", err)
	}
	if _, err := os.Stat(crt); !os.IsNotExist(err) {
		t.Error("a refused replacement wrote a file")
	}
}
