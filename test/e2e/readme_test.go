package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README marks each shell example with an HTML comment on the line
// before its fence, which GitHub does not show:
//
//	<!-- readme-test: run -->      runs as written, in order, in one empty directory
//	<!-- readme-test: cluster -->  runs after those, against certplane up
//	<!-- readme-test: skip, WHY --> is not run, for the reason given
//
// A shell block without a marker fails the test, so that no example can
// leave the test's sight.

// readmeBlock is one shell example of the README.
type readmeBlock struct {
	line int    // of the opening fence, 1-based
	kind string // run, cluster or skip
	text string
}

var (
	readmeMarker = regexp.MustCompile(`^<!-- readme-test: (run|cluster|skip)(,.*)? -->$`)
	readmeFence  = regexp.MustCompile("^```(sh|bash|shell|console)\\s*$")
	// readmeOutputs are the files a "# → a.pem (0600), b.csr" comment says a
	// command writes.
	readmeOutputs = regexp.MustCompile(`([\w.-]+\.(?:pem|csr|crt|kubeconfig))( \(0600\))?`)
)

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var (
		blocks  []readmeBlock
		marker  string // of the line just before
		current *readmeBlock
		n       int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case current != nil && line == "```":
			blocks = append(blocks, *current)
			current = nil
		case current != nil:
			current.text += line + "\n"
		case readmeFence.MatchString(line):
			if marker == "" {
				t.Errorf("README.md:%d: a shell example without a readme-test marker on the line before it", n)
			}
			current = &readmeBlock{line: n, kind: marker}
		}
		marker = ""
		if m := readmeMarker.FindStringSubmatch(line); m != nil {
			if m[1] == "skip" && strings.TrimSpace(strings.TrimPrefix(m[2], ",")) == "" {
				t.Errorf("README.md:%d: readme-test: skip without a reason", n)
			}
			marker = m[1]
		} else if strings.Contains(line, "<!-- readme-test") {
			t.Errorf("README.md:%d: malformed marker %q: want <!-- readme-test: run|cluster|skip, WHY -->", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if current != nil {
		t.Fatalf("README.md:%d: unterminated code block", current.line)
	}
	return blocks
}

// readmeEnv is an environment with certplane (and extra directories) first
// on PATH, HOME in dir, and no KUBECONFIG unless given.
func readmeEnv(t *testing.T, dir string, extra ...string) []string {
	t.Helper()
	bin := t.TempDir()
	abs, err := filepath.Abs(certplane)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(bin, "certplane")); err != nil {
		t.Fatal(err)
	}
	path := strings.Join(append([]string{bin}, extra...), string(os.PathListSeparator)) + string(os.PathListSeparator) + os.Getenv("PATH")
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "PATH" && k != "HOME" && k != "KUBECONFIG" {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+path, "HOME="+dir)
}

// runReadmeBlocks runs the blocks of kind in dir, in order, each as one
// bash script that stops at the first failing command, and checks the
// files their "→" comments promise.
func runReadmeBlocks(t *testing.T, dir string, env []string, blocks []readmeBlock, kind string) {
	t.Helper()
	for _, b := range blocks {
		if b.kind != kind {
			continue
		}
		cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+b.text)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README.md:%d: the example fails (%v):\n%s\noutput:\n%s", b.line, err, b.text, out)
		}
		for _, line := range strings.Split(b.text, "\n") {
			_, promise, ok := strings.Cut(line, "→")
			if !ok {
				continue
			}
			for _, m := range readmeOutputs.FindAllStringSubmatch(promise, -1) {
				fi, err := os.Stat(filepath.Join(dir, m[1]))
				switch {
				case err != nil:
					t.Errorf("README.md:%d: %s promised by %q was not written", b.line, m[1], strings.TrimSpace(line))
				case m[2] != "" && fi.Mode().Perm() != 0o600:
					t.Errorf("README.md:%d: %s has mode %v, the README says 0600", b.line, m[1], fi.Mode().Perm())
				}
			}
		}
	}
}

// TestREADMEExamples runs the README's examples that need no cluster, as
// written, in an empty directory, so that the README cannot rot.
func TestREADMEExamples(t *testing.T) {
	blocks := readmeBlocks(t)
	var run string
	for _, b := range blocks {
		if b.kind == "run" {
			run += b.text
		}
	}
	// The cfssl-style flow is there and runs.
	for _, want := range []string{"certplane genkey", "certplane gencert -initca", "-profile server", "certplane inspect", "certplane pki init"} {
		if !strings.Contains(run, want) {
			t.Errorf("no README example marked readme-test: run holds %q", want)
		}
	}
	dir := t.TempDir()
	runReadmeBlocks(t, dir, readmeEnv(t, dir), blocks, "run")
}

// TestREADMEClusterExamples runs the README's cluster examples against
// certplane up, started as the README starts it (but on a free port), after
// the examples that make the files they use.
func TestREADMEClusterExamples(t *testing.T) {
	blocks := readmeBlocks(t)
	dir := t.TempDir()
	env := readmeEnv(t, dir, filepath.Dir(tool(t, "kubectl")))
	runReadmeBlocks(t, dir, env, blocks, "run")
	startUp(t, filepath.Join(dir, ".certplane"), freePort(t), "--approve-kubelet-serving")
	runReadmeBlocks(t, dir, env, blocks, "cluster")
	if _, err := os.Stat(filepath.Join(dir, "dave.kubeconfig")); err != nil {
		t.Error(fmt.Errorf("user add wrote no kubeconfig: %w", err))
	}
}
