package vault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Auth is one way to get a Vault token: Token, AppRole, Kubernetes or
// Certificate.
type Auth interface {
	setup() (authSetup, error)
}

// authSetup is what the client needs of an Auth.
type authSetup struct {
	static string           // a Token's token; empty for the login methods
	path   string           // the login URL path, e.g. /v1/auth/approle/login
	cert   *tls.Certificate // Certificate auth's client certificate
	http   *http.Client     // set by New: the client that logs in
	// body returns the login body and the secret values in it.
	body func(ctx context.Context) (map[string]any, []string, error)
}

// Token is a static token: no login is made, and a token Vault refuses is
// not replaced. White space around it is dropped (as cert-manager does with
// the Secret's value).
type Token struct {
	Token string
}

func (a Token) setup() (authSetup, error) {
	t := strings.TrimSpace(a.Token)
	if t == "" {
		return authSetup{}, errors.New("vault: token auth: the token is empty")
	}
	return authSetup{static: t}, nil
}

// AppRole logs in with POST /v1/auth/<Path>/login {role_id, secret_id}.
// Path is the auth method's mount, as in cert-manager's appRole.path
// ("approle" when empty); slashes around it are dropped.
type AppRole struct {
	Path     string
	RoleID   string
	SecretID string
}

func (a AppRole) setup() (authSetup, error) {
	if a.RoleID == "" {
		return authSetup{}, errors.New("vault: approle auth: the role ID is empty")
	}
	if a.SecretID == "" {
		return authSetup{}, errors.New("vault: approle auth: the secret ID is empty")
	}
	path, err := appRoleLoginPath(a.Path)
	if err != nil {
		return authSetup{}, err
	}
	body := map[string]any{"role_id": a.RoleID, "secret_id": a.SecretID}
	return authSetup{
		path: path,
		body: func(context.Context) (map[string]any, []string, error) {
			return body, []string{a.SecretID}, nil
		},
	}, nil
}

// Kubernetes logs in with POST <Path>/login {role, jwt}. Path is
// cert-manager's kubernetes.mountPath: a URL path such as
// "/v1/auth/kubernetes" (the default when empty); "auth/kubernetes" with
// or without a leading "/" or "/v1/" means the same. JWT is called at
// each login for a service account token (cert-manager asks the
// TokenRequest API for one).
type Kubernetes struct {
	Path string
	Role string
	JWT  func(ctx context.Context) (string, error)
}

func (a Kubernetes) setup() (authSetup, error) {
	if a.Role == "" {
		return authSetup{}, errors.New("vault: kubernetes auth: the role is empty")
	}
	if a.JWT == nil {
		return authSetup{}, errors.New("vault: kubernetes auth: no service account token source")
	}
	path, err := mountLoginPath(a.Path, "/v1/auth/kubernetes")
	if err != nil {
		return authSetup{}, err
	}
	return authSetup{
		path: path,
		body: func(ctx context.Context) (map[string]any, []string, error) {
			jwt, err := a.JWT(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("vault: kubernetes auth: getting a service account token: %w", err)
			}
			if jwt == "" {
				return nil, nil, errors.New("vault: kubernetes auth: the service account token is empty")
			}
			return map[string]any{"role": a.Role, "jwt": jwt}, []string{jwt}, nil
		},
	}, nil
}

// Certificate logs in with POST <Path>/login {name} over a TLS connection
// that presents Cert. Path is cert-manager's clientCertificate.mountPath: a
// URL path such as "/v1/auth/cert" (the default when empty); "auth/cert"
// with or without a leading "/" or "/v1/" means the same. Name is the
// cert auth role; empty lets Vault try every role.
type Certificate struct {
	Path string
	Name string
	Cert tls.Certificate
}

func (a Certificate) setup() (authSetup, error) {
	if err := checkKeyPair(&a.Cert); err != nil {
		return authSetup{}, fmt.Errorf("vault: certificate auth: %w", err)
	}
	path, err := mountLoginPath(a.Path, "/v1/auth/cert")
	if err != nil {
		return authSetup{}, err
	}
	body := map[string]any{"name": a.Name}
	cert := a.Cert
	return authSetup{
		path: path,
		cert: &cert,
		body: func(context.Context) (map[string]any, []string, error) {
			return body, nil, nil
		},
	}, nil
}

// appRoleLoginPath returns the login URL path for an AppRole mount given as
// cert-manager's appRole.path: "approle" (the default when empty) gives
// /v1/auth/approle/login.
func appRoleLoginPath(mount string) (string, error) {
	m := strings.Trim(mount, "/")
	if m == "" {
		m = "approle"
	}
	if err := checkSegments(m); err != nil {
		return "", fmt.Errorf("vault: approle path %q: %w", mount, err)
	}
	return "/v1/auth/" + m + "/login", nil
}

// mountLoginPath returns the login URL path for a mount given as
// cert-manager's mountPath (kubernetes and clientCertificate auth): a URL
// path like "/v1/auth/kubernetes". The "/v1/" may be left out, and a
// trailing "/" is dropped; empty means def. "/login" is appended.
func mountLoginPath(mountPath, def string) (string, error) {
	p := strings.Trim(mountPath, "/")
	if p == "" {
		p = strings.Trim(def, "/")
	}
	p = strings.TrimPrefix(p, "v1/")
	if p == "" || p == "v1" {
		return "", fmt.Errorf("vault: mount path %q: no mount", mountPath)
	}
	if err := checkSegments(p); err != nil {
		return "", fmt.Errorf("vault: mount path %q: %w", mountPath, err)
	}
	return "/v1/" + p + "/login", nil
}

// apiPath returns the URL path for an API path given as cert-manager's
// vault.path, the part after /v1/ (e.g. "pki/sign/web" gives
// /v1/pki/sign/web). A leading "/" is dropped.
func apiPath(path string) (string, error) {
	p := strings.TrimLeft(path, "/")
	if p == "" {
		return "", errors.New("vault: empty API path")
	}
	if err := checkSegments(p); err != nil {
		return "", fmt.Errorf("vault: path %q: %w", path, err)
	}
	return "/v1/" + p, nil
}

// checkSegments refuses ".." segments (as cert-manager's webhook does) and
// characters that do not belong in a path.
func checkSegments(p string) error {
	for _, s := range strings.Split(p, "/") {
		if s == ".." {
			return errors.New(`must not contain ".." segments`)
		}
	}
	if strings.ContainsAny(p, "?#\\") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("holds a character that does not belong in a URL path")
	}
	return nil
}
