package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUpRunsKubeControllerManager: `certplane up` runs
// kube-controller-manager's core controllers, as a kubeadm cluster does:
// namespaces get their default ServiceAccount and kube-root-ca.crt and can
// be deleted, ClusterRoles aggregate (cert-manager's into view, edit and
// admin), and the garbage collector deletes what a Certificate owned. The
// certificates.k8s.io controllers stay certplane's.
func TestUpRunsKubeControllerManager(t *testing.T) {
	data := t.TempDir()
	u := startUp(t, data, freePort(t), "--enable-certificate-owner-ref")
	admin := filepath.Join(data, "admin.conf")

	if _, err := os.Stat(filepath.Join(data, "logs", "kube-controller-manager.log")); err != nil {
		t.Errorf("kube-controller-manager's log: %v", err)
	}
	// controllers.log is for people: RFC 3339 times, not JSON with epochs.
	// Its first line may come a moment after up said it is up.
	var first string
	waitFor(t, 30*time.Second, "a first line in controllers.log", func() bool {
		logData, err := os.ReadFile(filepath.Join(data, "logs", "controllers.log"))
		if err != nil {
			t.Fatal(err)
		}
		var complete bool
		first, _, complete = strings.Cut(string(logData), "\n")
		return complete
	})
	stamp, _, _ := strings.Cut(first, "\t")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || strings.HasPrefix(first, "{") {
		t.Errorf("controllers.log does not start with an RFC 3339 time: %q", first)
	}
	cmdline := ""
	for _, pid := range processesFor(data) {
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); strings.Contains(string(b), "kube-controller-manager") {
			cmdline = strings.ReplaceAll(string(b), "\x00", " ")
		}
	}
	for _, want := range []string{"--kubeconfig=" + filepath.Join(data, "controller-manager.conf"), "--use-service-account-credentials=true",
		"--service-account-private-key-file=" + filepath.Join(data, "pki", "sa.key"), "--root-ca-file=" + filepath.Join(data, "pki", "ca.crt"),
		"--bind-address=127.0.0.1", "-certificatesigningrequest-signing-controller", "-certificatesigningrequest-approving-controller",
		"-certificatesigningrequest-cleaner-controller"} {
		if !strings.Contains(cmdline, want) {
			t.Errorf("kube-controller-manager runs without %s: %q", want, cmdline)
		}
	}

	t.Run("a new namespace gets its ServiceAccount and kube-root-ca.crt, and can be deleted", func(t *testing.T) {
		mustKubectl(t, admin, "create", "namespace", "x")
		waitFor(t, 60*time.Second, "ServiceAccount x/default and ConfigMap x/kube-root-ca.crt", func() bool {
			return kubectl(t, admin, "get", "serviceaccount", "default", "-n", "x").code == 0 &&
				kubectl(t, admin, "get", "configmap", "kube-root-ca.crt", "-n", "x").code == 0
		})
		ca, err := os.ReadFile(filepath.Join(data, "pki", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		if got := mustKubectl(t, admin, "get", "configmap", "kube-root-ca.crt", "-n", "x", "-o", `jsonpath={.data.ca\.crt}`); strings.TrimSpace(got) != strings.TrimSpace(string(ca)) {
			t.Errorf("kube-root-ca.crt does not hold the cluster CA:\n%s", got)
		}
		mustKubectl(t, admin, "delete", "namespace", "x", "--wait=false")
		waitFor(t, 90*time.Second, "namespace x to be gone", func() bool {
			r := kubectl(t, admin, "get", "namespace", "x")
			return r.code != 0 && strings.Contains(r.stderr, "NotFound")
		})
	})

	t.Run("view, edit and admin include cert-manager.io", func(t *testing.T) {
		mustKubectl(t, admin, "create", "namespace", "team")
		mustKubectl(t, admin, "create", "rolebinding", "dev-edit", "--clusterrole=edit", "--user=dev", "-n", "team")
		mustKubectl(t, admin, "create", "rolebinding", "auditor-view", "--clusterrole=view", "--user=auditor", "-n", "team")
		can := func(user, verb, resource string) string {
			r := kubectl(t, admin, "auth", "can-i", verb, resource, "-n", "team", "--as", user)
			return strings.TrimSpace(r.stdout)
		}
		waitFor(t, 60*time.Second, "the edit role to aggregate cert-manager-edit", func() bool {
			return can("dev", "create", "certificates.cert-manager.io") == "yes"
		})
		for _, c := range []struct{ user, verb, resource, want string }{
			{"dev", "delete", "issuers.cert-manager.io", "yes"},
			{"dev", "update", "certificates.cert-manager.io/status", "yes"},
			{"dev", "create", "clusterissuers.cert-manager.io", "no"},
			{"auditor", "list", "certificaterequests.cert-manager.io", "yes"},
			{"auditor", "create", "certificates.cert-manager.io", "no"},
		} {
			if got := can(c.user, c.verb, c.resource); got != c.want {
				t.Errorf("%s can-i %s %s = %q, want %q", c.user, c.verb, c.resource, got, c.want)
			}
		}
		if got := mustKubectl(t, admin, "get", "clusterrole", "view", "-o", "jsonpath={.rules[*].apiGroups}"); !strings.Contains(got, "cert-manager.io") {
			t.Errorf("view's rules name no cert-manager.io: %s", got)
		}
	})

	t.Run("a deleted Certificate's Secret is garbage-collected with --enable-certificate-owner-ref", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "gc.yaml"), `apiVersion: v1
kind: Namespace
metadata: {name: gc}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: self, namespace: gc}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: gc}
spec:
  secretName: web-tls
  dnsNames: [web.gc.svc]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: self}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "gc.yaml"))
		waitCertificate(t, admin, "gc", "web", 1)
		owner := mustKubectl(t, admin, "get", "secret", "web-tls", "-n", "gc", "-o", `jsonpath={.metadata.ownerReferences[?(@.controller==true)].kind}/{.metadata.ownerReferences[?(@.controller==true)].name}`)
		if owner != "Certificate/web" {
			t.Fatalf("web-tls's controller owner = %q, want Certificate/web", owner)
		}
		mustKubectl(t, admin, "delete", "certificate", "web", "-n", "gc")
		waitFor(t, 60*time.Second, "Secret gc/web-tls to be garbage-collected", func() bool {
			r := kubectl(t, admin, "get", "secret", "web-tls", "-n", "gc")
			return r.code != 0 && strings.Contains(r.stderr, "NotFound")
		})
	})

	t.Run("a deleted Certificate's CertificateRequest and next-key Secret are garbage-collected", func(t *testing.T) {
		dir := t.TempDir()
		// An external issuer nobody serves: the request stays pending and
		// the next private key waits in a Secret of its own.
		writeFile(t, filepath.Join(dir, "pending.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: pending, namespace: gc}
spec:
  secretName: pending-tls
  dnsNames: [pending.gc.svc]
  issuerRef: {name: nobody, kind: ExternalIssuer, group: example.com}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "pending.yaml"))
		nextKey := func() string {
			return strings.TrimSpace(mustKubectl(t, admin, "get", "secret", "-n", "gc", "-l", "cert-manager.io/next-private-key=true", "-o", "name"))
		}
		waitFor(t, 60*time.Second, "CertificateRequest pending-1 and its next-key Secret", func() bool {
			return kubectl(t, admin, "get", "certificaterequest", "pending-1", "-n", "gc").code == 0 && nextKey() != ""
		})
		mustKubectl(t, admin, "delete", "certificate", "pending", "-n", "gc")
		waitFor(t, 60*time.Second, "CertificateRequest pending-1 and the next-key Secret to be garbage-collected", func() bool {
			return kubectl(t, admin, "get", "certificaterequest", "pending-1", "-n", "gc").code != 0 && nextKey() == ""
		})
	})

	u.stop(t)
	assertNoProcessesFor(t, data)
}

// TestUpControllersFlag: --controllers chooses certplane's in-process
// controllers with kube-controller-manager's syntax, names them in its
// help, and refuses an unknown name before starting anything.
func TestUpControllersFlag(t *testing.T) {
	help := must(t, "", "", "up", "--help")
	for _, name := range []string{"csrsigning", "csrapproving", "csrcleaner", "issuers", "certificates", "certificaterequests-approver"} {
		if !strings.Contains(help, name) {
			t.Errorf("up --help does not name controller %s", name)
		}
	}
	data := t.TempDir()
	r := cp(t, "", "", "up", "--data-dir", data, "--port", strconv.Itoa(freePort(t)), "--controllers=*,-nope", "--bin-dir", filepath.Dir(tool(t, "kube-apiserver")))
	if r.code == 0 || !strings.Contains(r.stderr, `unknown controller "-nope"`) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unknown controller: exit %d, stderr %q", r.code, r.stderr)
	}
	assertNoProcessesFor(t, data)

	for _, c := range []struct{ flag, want string }{
		{"--controllers=", "controllers: none running"},
		{"--controllers=*,-csrsigning", "controllers: csrapproving, csrcleaner, issuers, clusterissuers, certificates, certificaterequests-approver, certificaterequests-issuer, certificatesigningrequests-issuer, certificaterequests-issuer-acme, orders, challenges, certificaterequestpolicies, podcertificaterequests, bundles, clustertrustbundles, issuer-clustertrustbundles running"},
	} {
		data := t.TempDir()
		u := startUp(t, data, freePort(t), c.flag, "--log-format", "json")
		if !strings.Contains(u.output.String(), c.want) {
			t.Errorf("up %s does not say %q:\n%s", c.flag, c.want, u.output.String())
		}
		u.stop(t)
		assertNoProcessesFor(t, data)
		logData, err := os.ReadFile(filepath.Join(data, "logs", "controllers.log"))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(logData), "\n")
		var entry struct {
			TS  string `json:"ts"`
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(first), &entry); err != nil || entry.Msg == "" {
			t.Errorf("--log-format json: first line %q is not a JSON entry: %v", first, err)
		} else if _, err := time.Parse(time.RFC3339Nano, entry.TS); err != nil {
			t.Errorf("--log-format json: ts %q is not RFC 3339", entry.TS)
		}
	}
}
