package kubeconfig_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/certplane/certplane/internal/kubeconfig"
)

const embedded = `apiVersion: v1
kind: Config
current-context: jane@kubernetes
clusters:
- name: kubernetes
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0E=
contexts:
- name: jane@kubernetes
  context:
    cluster: kubernetes
    user: jane
users:
- name: jane
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: robot
  user:
    token: abc
`

func TestParseEmbedded(t *testing.T) {
	cfg, err := kubeconfig.Parse([]byte(embedded), "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "jane@kubernetes" || cfg.CurrentUser != "jane" {
		t.Errorf("current context %q user %q", cfg.CurrentContext, cfg.CurrentUser)
	}
	if len(cfg.Users) != 2 || cfg.Users[0].Name != "jane" || string(cfg.Users[0].Certificate) != "CERT" ||
		string(cfg.Users[0].Key) != "KEY" || !cfg.Users[1].Token {
		t.Errorf("users = %+v", cfg.Users)
	}
	if len(cfg.Clusters) != 1 || cfg.Clusters[0].Server != "https://127.0.0.1:6443" || string(cfg.Clusters[0].CA) != "CA" {
		t.Errorf("clusters = %+v", cfg.Clusters)
	}
}

func TestParseFileReferences(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"ca.crt": "CA", "jane.crt": "CERT", "jane.key": "KEY"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kc := `apiVersion: v1
kind: Config
clusters:
- name: k
  cluster: {server: "https://k", certificate-authority: ca.crt}
users:
- name: jane
  user: {client-certificate: jane.crt, client-key: ` + filepath.Join(dir, "jane.key") + `}
`
	cfg, err := kubeconfig.Parse([]byte(kc), dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.Users[0].Certificate) != "CERT" || string(cfg.Users[0].Key) != "KEY" || string(cfg.Clusters[0].CA) != "CA" {
		t.Errorf("relative and absolute references not resolved: %+v %+v", cfg.Users, cfg.Clusters)
	}
	if _, err := kubeconfig.Parse([]byte(kc), t.TempDir()); err == nil {
		t.Error("missing referenced file: no error")
	}
}

func TestParseRejects(t *testing.T) {
	for name, data := range map[string]string{
		"not yaml":     "{{{",
		"empty object": "{}",
		"other kind":   "apiVersion: v1\nkind: Pod\n",
		"bad base64":   "apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    client-certificate-data: '!!!'\n",
	} {
		if _, err := kubeconfig.Parse([]byte(data), "."); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := kubeconfig.Parse([]byte("{}"), "."); !errors.Is(err, kubeconfig.ErrNotKubeconfig) {
		t.Errorf("empty kubeconfig: error = %v, want ErrNotKubeconfig", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(embedded))
	f.Add([]byte("apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    client-certificate-data: " + base64.StdEncoding.EncodeToString([]byte("x")) + "\n"))
	f.Add([]byte("{}"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := kubeconfig.Parse(data, dir)
		if err != nil {
			return
		}
		if len(cfg.Users)+len(cfg.Clusters) == 0 {
			t.Fatal("accepted a kubeconfig with no users or clusters")
		}
	})
}
