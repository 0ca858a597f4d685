// Package e2e runs the certplane binary the way a user does, next to the
// real openssl, and checks what a user would check.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// certplane is the path of the binary under test: $CERTPLANE_BIN, or one
// built for this run.
var certplane string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if certplane = os.Getenv("CERTPLANE_BIN"); certplane != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "certplane-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	certplane = filepath.Join(dir, "certplane")
	build := exec.Command("go", "build", "-o", certplane, "github.com/certplane/certplane/cmd/certplane")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building certplane:", err)
		return 1
	}
	return m.Run()
}

type result struct {
	stdout, stderr string
	code           int
}

// cp runs certplane in dir with stdin.
func cp(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	return runIn(t, dir, stdin, certplane, args...)
}

func runIn(t testing.TB, dir, stdin, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
	return result{out.String(), errOut.String(), code}
}

// must runs certplane and fails the test unless it succeeds.
func must(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	r := cp(t, dir, stdin, args...)
	if r.code != 0 {
		t.Fatalf("certplane %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// openssl runs openssl in dir and fails the test unless it succeeds.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is required: apt-get install openssl")
	}
	r := runIn(t, dir, "", "openssl", args...)
	if r.code != 0 {
		t.Fatalf("openssl %s: exit %d: %s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout + r.stderr
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listDir names the files in dir, to show that a failed command wrote nothing.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
