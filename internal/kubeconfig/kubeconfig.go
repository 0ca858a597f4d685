// Package kubeconfig reads the credentials out of kubeconfig files.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/client-go/tools/clientcmd"
)

// Config is what certplane needs of a kubeconfig: its users' client
// certificates and its clusters' CAs, with file references resolved.
type Config struct {
	CurrentContext string
	// CurrentUser is the user of the current context, if any.
	CurrentUser string
	Users       []User
	Clusters    []Cluster
}

// User is a kubeconfig user entry.
type User struct {
	Name string
	// Certificate and Key are the PEM client certificate and key, from
	// the *-data fields or the files they name; empty if the user has none.
	Certificate []byte
	Key         []byte
	// Token is true when the user authenticates with a bearer token.
	Token bool
}

// Cluster is a kubeconfig cluster entry.
type Cluster struct {
	Name   string
	Server string
	// CA is the PEM certificate authority bundle; empty if none is given.
	CA []byte
}

// ErrNotKubeconfig means the input parsed but holds no users or clusters.
var ErrNotKubeconfig = errors.New("kubeconfig: no users or clusters")

// Parse reads a kubeconfig. Relative file references are resolved against
// baseDir, as kubectl resolves them against the kubeconfig's directory.
func Parse(data []byte, baseDir string) (*Config, error) {
	raw, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if len(raw.AuthInfos) == 0 && len(raw.Clusters) == 0 {
		return nil, ErrNotKubeconfig
	}
	cfg := &Config{CurrentContext: raw.CurrentContext}
	if ctx, ok := raw.Contexts[raw.CurrentContext]; ok && ctx != nil {
		cfg.CurrentUser = ctx.AuthInfo
	}
	for _, name := range sortedKeys(raw.AuthInfos) {
		a := raw.AuthInfos[name]
		if a == nil {
			continue
		}
		u := User{Name: name, Token: a.Token != "" || a.TokenFile != ""}
		if u.Certificate, err = dataOrFile(a.ClientCertificateData, a.ClientCertificate, baseDir); err != nil {
			return nil, fmt.Errorf("kubeconfig: user %q: client certificate: %w", name, err)
		}
		if u.Key, err = dataOrFile(a.ClientKeyData, a.ClientKey, baseDir); err != nil {
			return nil, fmt.Errorf("kubeconfig: user %q: client key: %w", name, err)
		}
		cfg.Users = append(cfg.Users, u)
	}
	for _, name := range sortedKeys(raw.Clusters) {
		c := raw.Clusters[name]
		if c == nil {
			continue
		}
		cl := Cluster{Name: name, Server: c.Server}
		if cl.CA, err = dataOrFile(c.CertificateAuthorityData, c.CertificateAuthority, baseDir); err != nil {
			return nil, fmt.Errorf("kubeconfig: cluster %q: certificate authority: %w", name, err)
		}
		cfg.Clusters = append(cfg.Clusters, cl)
	}
	return cfg, nil
}

func dataOrFile(data []byte, path, baseDir string) ([]byte, error) {
	if len(data) > 0 || path == "" {
		return data, nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
