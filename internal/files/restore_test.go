package files

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceAllRestoresOnFailure makes the third rename fail: the two
// files replaced before it must hold their old contents again, and a file
// that did not exist before must be gone.
func TestReplaceAllRestoresOnFailure(t *testing.T) {
	base := t.TempDir()
	crt, key, fresh, third := filepath.Join(base, "a.crt"), filepath.Join(base, "a.key"), filepath.Join(base, "new.pem"), filepath.Join(base, "b.crt")
	if err := WriteAll(File{Path: crt, Data: []byte("old crt"), Mode: Public}, File{Path: key, Data: []byte("old key"), Mode: Secret},
		File{Path: third, Data: []byte("old b"), Mode: Public}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	renameFile = func(from, to string) error {
		if calls++; calls == 4 {
			return errors.New("disk full")
		}
		return os.Rename(from, to)
	}
	defer func() { renameFile = os.Rename }()
	err := ReplaceAll(base, filepath.Join(base, "backup"),
		File{Path: crt, Data: []byte("new crt"), Mode: Public},
		File{Path: key, Data: []byte("new key"), Mode: Secret},
		File{Path: fresh, Data: []byte("new file"), Mode: Public},
		File{Path: third, Data: []byte("new b"), Mode: Public},
	)
	if err == nil {
		t.Fatal("no error")
	}
	for path, want := range map[string]string{crt: "old crt", key: "old key", third: "old b"} {
		if data, _ := os.ReadFile(path); string(data) != want {
			t.Errorf("%s holds %q after a failed replacement, want %q", filepath.Base(path), data, want)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored key: %v %v", fi, err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Error("a file new to the failed set is still there")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(base, ".certplane-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
