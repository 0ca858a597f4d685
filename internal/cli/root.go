// Package cli holds certplane's cobra commands, one file each. Commands
// return errors; main prints them and sets the exit code.
package cli

import (
	"context"
	"crypto/rand"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/pkcs11"
)

// Options are what every command needs from its environment. The zero
// value of Now and Rand means the real clock and crypto/rand.
type Options struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Rand is the entropy source for keys and serials. If nil, crypto/rand.
	Rand io.Reader
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// NewRootCommand builds the certplane command tree.
func NewRootCommand(o Options) *cobra.Command {
	o.defaults()
	root := &cobra.Command{
		Use:           "certplane",
		Short:         "certplane manages the X.509 certificates of a Kubernetes cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(o.In)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	root.AddCommand(
		newVersionCommand(o),
		newGenkeyCommand(o),
		newGencertCommand(o),
		newInspectCommand(o),
		newPKICommand(o),
		newUpCommand(o),
		newControllerCommand(o),
		newCSRCommand(o),
		newUserCommand(o),
		newStatusCommand(o),
		newRenewCommand(o),
		newDecideCRCommand(o, true),
		newDecideCRCommand(o, false),
		newCreateCommand(o),
		newCheckCommand(o),
	)
	return root
}

// Execute runs the command line args (without the program name).
func Execute(ctx context.Context, o Options, args []string) error {
	root := NewRootCommand(o)
	root.SetArgs(cfsslStyleFlags(root, args))
	// Log out of any PKCS#11 token a command opened.
	defer func() { _ = pkcs11.Close() }()
	return root.ExecuteContext(ctx)
}

// cfsslStyleFlags lets the cfssl spelling of long flags with one dash
// (-initca, -ca-key, -bare) work: "-name" and "-name=value" become
// "--name..." when name is a long flag of the command being run.
func cfsslStyleFlags(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && cmd.Flags().Lookup(name) != nil {
			out[i] = "-" + a
		}
	}
	return out
}
