package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/localcp"
	"github.com/certplane/certplane/pkg/pki"
)

func newUpCommand(o Options) *cobra.Command {
	var (
		dataDir, binDir, keyAlg, nodeName string
		port                              int
	)
	cmd := &cobra.Command{
		Use:   "up [--data-dir .certplane] [--port 6443]",
		Short: "Run a local control plane: etcd and kube-apiserver on certplane's PKI",
		Long: `Run a real single-node control plane on 127.0.0.1: makes (or reuses) the PKI in
the data directory, starts etcd with client and peer mTLS on the etcd CA and
kube-apiserver with x509 client authentication and RBAC, waits until it is
ready, and binds admin.conf's group to cluster-admin. Runs until Ctrl-C or
SIGTERM, then stops everything in order. Started again on the same data
directory it brings back the same cluster with its data.

Logs: DATA/logs/etcd.log and DATA/logs/kube-apiserver.log. Binaries: --bin-dir,
else $CERTPLANE_ASSETS, $KUBEBUILDER_ASSETS, the project's bin/, then PATH.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := localcp.Options{DataDir: dataDir, Port: port, BinDir: binDir, NodeName: nodeName, Log: o.Out}
			if keyAlg != "" {
				spec, err := pki.ParseKeySpec(keyAlg)
				if err != nil {
					return err
				}
				opts.Key = spec
			}
			ctx := cmd.Context()
			cp, err := localcp.Start(ctx, opts)
			if err != nil {
				return err
			}
			admin, _ := filepath.Abs(cp.Kubeconfig("admin.conf"))
			fmt.Fprintf(o.Out, "certplane is up at %s. Next:\n  export KUBECONFIG=%s\n  kubectl get namespaces\nPress Ctrl-C to stop.\n", cp.URL, admin)
			<-ctx.Done()
			fmt.Fprintln(o.Out, "stopping kube-apiserver and etcd")
			if err := cp.Stop(); err != nil {
				return err
			}
			fmt.Fprintln(o.Out, "stopped")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", ".certplane", "data directory: PKI, kubeconfigs, etcd data and logs")
	fl.IntVar(&port, "port", 0, "apiserver port on 127.0.0.1 (default: the data directory's, else 6443)")
	fl.StringVar(&binDir, "bin-dir", "", "directory holding etcd and kube-apiserver")
	fl.StringVar(&keyAlg, "key-algorithm", "", "algorithm of a new PKI's keys (default rsa-2048)")
	fl.StringVar(&nodeName, "node-name", "", "node name in a new PKI (default: the host name)")
	return cmd
}
