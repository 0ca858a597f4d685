package app

import (
	"fmt"
	"net"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/internal/web"
)

// WebOptions configure the web view (internal/web).
type WebOptions struct {
	// Address serves the view, as host:port; "" serves none.
	Address string
	// Anonymous serves it without authentication: whoever reaches Address
	// sees what the controllers read. Only for `up` on a loopback address.
	// Otherwise every request needs a bearer token the apiserver accepts
	// (TokenReview), and shows only what its user may list
	// (SubjectAccessReview).
	Anonymous bool
	// TLSCertFile and TLSKeyFile, if set, serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// Listener, if set, is where the view is served, already listening on
	// Address (up listens first, to serve none when its default port is
	// taken).
	Listener net.Listener
}

// setupWeb adds the web view to mgr when o.Web.Address is set. It listens
// at once, so that an address in use fails here rather than after start.
func setupWeb(mgr ctrl.Manager, o Options) error {
	if o.Web.Address == "" {
		return nil
	}
	var auth web.Auth
	if !o.Web.Anonymous {
		auth = &web.APIServerAuth{Client: mgr.GetClient()}
	}
	ln := o.Web.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", o.Web.Address); err != nil {
			return fmt.Errorf("--web-address: %w", err)
		}
	}
	ns := o.ClusterResourceNamespace
	if ns == "" {
		ns = "cert-manager"
	}
	srv, err := web.New(web.Options{
		Listener: ln, Cache: mgr.GetCache(), Live: mgr.GetAPIReader(), SecretLabels: map[string]string{certpolicy.LabelCached: "true"},
		Auth: auth, ClusterResourceNamespace: ns,
		TLSCertFile: o.Web.TLSCertFile, TLSKeyFile: o.Web.TLSKeyFile,
	})
	if err == nil {
		err = mgr.Add(srv)
	}
	if err != nil {
		_ = ln.Close()
		return err
	}
	return nil
}

// IsLoopback reports whether a host:port address listens on loopback only
// (127.0.0.0/8, ::1 or localhost), where `up` serves the web view without
// authentication.
func IsLoopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
