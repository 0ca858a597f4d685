package localcp

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// findBinary finds a component's binary: in dir when one is given (and
// only there); else in $CERTPLANE_ASSETS, $KUBEBUILDER_ASSETS (envtest's
// convention), the project's bin/, and PATH, in that order.
func findBinary(name, dir string) (string, error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s not found in %s: run \"make tools\" or give the directory that holds it", name, dir)
	}
	var looked []string
	for _, env := range []string{"CERTPLANE_ASSETS", "KUBEBUILDER_ASSETS"} {
		if d := os.Getenv(env); d != "" {
			if p := filepath.Join(d, name); isExecutable(p) {
				return p, nil
			}
			looked = append(looked, "$"+env+"="+d)
		}
	}
	for _, d := range projectBinDirs() {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
		looked = append(looked, d)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	looked = append(looked, "PATH")
	return "", fmt.Errorf("%s not found (looked in %s): run \"make tools\"", name, strings.Join(looked, ", "))
}

// projectBinDirs are the bin/ directories of the certplane project: the one
// holding the running executable, when it is bin/certplane, and the bin/
// beside the go.mod of the project that holds the working directory.
func projectBinDirs() []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if d := filepath.Dir(exe); filepath.Base(d) == "bin" {
			dirs = append(dirs, d)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return dirs
	}
	for d := wd; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/certplane/certplane\n") {
			if b := filepath.Join(d, "bin"); len(dirs) == 0 || dirs[0] != b {
				dirs = append(dirs, b)
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return dirs
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
