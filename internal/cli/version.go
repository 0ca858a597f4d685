package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/version"
)

func newVersionCommand(o Options) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print certplane's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(o.Out, version.String())
			return err
		},
	}
}
