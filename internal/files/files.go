// Package files writes a set of files all or nothing, and never replaces a
// file that exists: a key on disk is never lost or overwritten.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secret is the mode of a file holding a private key.
const Secret fs.FileMode = 0o600

// Public is the mode of a file anyone may read.
const Public fs.FileMode = 0o644

// File is one file to write.
type File struct {
	Path string
	Data []byte
	// Mode is the file's permission bits. A Secret file's missing parent
	// directories are made 0700, other directories 0755.
	Mode fs.FileMode
}

// ErrExists means a file to write is already there.
var ErrExists = errors.New("file exists")

// WriteAll writes every file, or, when one cannot be written, none: files
// and directories it made are removed again. It refuses, before writing
// anything, when any of the files exists.
func WriteAll(files ...File) (err error) {
	for _, f := range files {
		if _, statErr := os.Lstat(f.Path); statErr == nil {
			return fmt.Errorf("refusing to overwrite %s: %w", f.Path, ErrExists)
		} else if !errors.Is(statErr, fs.ErrNotExist) {
			return fmt.Errorf("cannot write %s: %w", f.Path, bare(statErr))
		}
	}
	var made []string // files and directories to remove on failure, in creation order
	defer func() {
		if err != nil {
			for i := len(made) - 1; i >= 0; i-- {
				_ = os.Remove(made[i])
			}
		}
	}()
	// Make directories first, those of secret files before the others, so
	// that a directory that will hold a key is made 0700 whatever order the
	// files come in.
	for _, secret := range []bool{true, false} {
		for _, f := range files {
			if (f.Mode&0o077 == 0) != secret {
				continue
			}
			dirMode := fs.FileMode(0o755)
			if secret {
				dirMode = 0o700
			}
			dirs, err := mkdirAll(filepath.Dir(f.Path), dirMode)
			made = append(made, dirs...)
			if err != nil {
				return err
			}
		}
	}
	for _, f := range files {
		if err := writeNew(f); err != nil {
			return err
		}
		made = append(made, f.Path)
	}
	return nil
}

// mkdirAll makes dir and its missing parents, returning those it made,
// outermost first.
func mkdirAll(dir string, mode fs.FileMode) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot make directory %s: %w", d, bare(err))
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], mode); err != nil {
			return made, fmt.Errorf("cannot make directory %s: %w", missing[i], bare(err))
		}
		made = append(made, missing[i])
	}
	return made, nil
}

// writeNew writes f through a temporary file in the same directory and
// links it into place, which fails rather than replace a file that appeared
// in the meantime.
func writeNew(f File) error {
	tmp, err := writeTemp(f)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp) }()
	if err := os.Link(tmp, f.Path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("refusing to overwrite %s: %w", f.Path, ErrExists)
		}
		return fmt.Errorf("writing %s: %w", f.Path, bare(err))
	}
	return nil
}

// bare drops the operation and path an *fs.PathError repeats, since every
// message here names the file already.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReplaceAll writes files in place of existing ones, as renewal must, all
// or nothing. Each file that exists is first hard-linked into backupDir, at
// its path relative to baseDir, so that no key is lost; backupDir is made
// 0700. New contents are written to temporary files first and renamed into
// place, so a reader never sees a half-written file; if a rename fails, the
// files already replaced are restored from the backups.
func ReplaceAll(baseDir, backupDir string, files ...File) (err error) {
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Path] {
			return fmt.Errorf("%s is named twice", f.Path)
		}
		seen[f.Path] = true
	}
	temps := make([]string, 0, len(files))
	defer func() {
		for _, t := range temps {
			_ = os.Remove(t)
		}
	}()
	for _, f := range files {
		t, err := writeTemp(f)
		if err != nil {
			return err
		}
		temps = append(temps, t)
	}
	// Back up every existing file before replacing any.
	backups := make([]string, len(files)) // "" where there was no file
	for i, f := range files {
		if _, err := os.Lstat(f.Path); err != nil {
			continue
		}
		rel, err := filepath.Rel(baseDir, f.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("backing up %s: not under %s", f.Path, baseDir)
		}
		backup := filepath.Join(backupDir, rel)
		if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
			return fmt.Errorf("backing up %s: %w", f.Path, bare(err))
		}
		if err := os.Link(f.Path, backup); err != nil {
			return fmt.Errorf("backing up %s: %w", f.Path, bare(err))
		}
		backups[i] = backup
	}
	for i, f := range files {
		if err := renameFile(temps[i], f.Path); err != nil {
			restore(files[:i], backups[:i])
			return fmt.Errorf("writing %s: %w (the files replaced before it were restored)", f.Path, bare(err))
		}
	}
	temps = nil
	return nil
}

// renameFile is os.Rename; tests replace it to make a rename fail.
var renameFile = os.Rename

// restore puts the backed-up files back, and removes those that did not
// exist before.
func restore(files []File, backups []string) {
	for i, f := range files {
		if backups[i] == "" {
			_ = os.Remove(f.Path)
			continue
		}
		tmp := f.Path + ".certplane-restore"
		if os.Link(backups[i], tmp) == nil {
			_ = os.Rename(tmp, f.Path)
		}
	}
}

// writeTemp writes f's contents and mode to a new temporary file beside
// f.Path and returns its name.
func writeTemp(f File) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".certplane-*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", f.Path, bare(err))
	}
	name := tmp.Name()
	err = tmp.Chmod(f.Mode)
	if err == nil {
		_, err = tmp.Write(f.Data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", f.Path, bare(err))
	}
	return name, nil
}
