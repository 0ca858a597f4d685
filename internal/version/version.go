// Package version holds certplane's build identity, set by the Makefile
// through -ldflags "-X".
package version

import (
	"fmt"
	"runtime"
)

// Set at build time.
var (
	// Version is the release, such as v0.1.0, or a git describe string.
	Version = "v0.0.0-dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
)

// String is the one-line version report of `certplane version`.
func String() string {
	return fmt.Sprintf("certplane %s (commit %s, %s %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
