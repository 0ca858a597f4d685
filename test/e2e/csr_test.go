package e2e

import (
	"bufio"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/internal/localcp"
)

// waitFor polls cond every 100ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func csrCondition(t *testing.T, kubeconfig, name string) string {
	t.Helper()
	return strings.TrimSpace(mustKubectl(t, kubeconfig, "get", "csr", name, "--no-headers", "-o", "custom-columns=C:.status.conditions[*].type,CERT:.status.certificate"))
}

func waitIssued(t *testing.T, kubeconfig, name string) {
	t.Helper()
	waitFor(t, 60*time.Second, "csr "+name+" to be issued", func() bool {
		out := mustKubectl(t, kubeconfig, "get", "csr", name, "--no-headers")
		return strings.Contains(out, "Approved,Issued")
	})
}

func csrYAML(name, signer string, request []byte, usages ...string) string {
	y := "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: " + name + "\nspec:\n" +
		"  request: " + base64.StdEncoding.EncodeToString(request) + "\n  signerName: " + signer + "\n  usages:\n"
	for _, u := range usages {
		y += "  - " + u + "\n"
	}
	return y
}

// TestCSRWorkflows runs the flows of seeds 001 and 004, and the rules
// around them, against `certplane up` with real kubectl and openssl.
func TestCSRWorkflows(t *testing.T) {
	data := t.TempDir()
	port, err := localcp.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	startUp(t, data, port, "--approve-kubelet-serving")
	admin := filepath.Join(data, "admin.conf")
	ca := filepath.Join(data, "pki", "ca.crt")

	t.Run("seed 001: jane", func(t *testing.T) {
		dir := t.TempDir()
		openssl(t, dir, "genrsa", "-out", "jane.key", "2048")
		openssl(t, dir, "req", "-new", "-key", "jane.key", "-subj", "/CN=jane", "-out", "jane.csr")
		// cat jane.csr | base64 | tr -d "\n", into the seed's YAML.
		request := runIn(t, dir, "", "sh", "-c", `cat jane.csr | base64 | tr -d "\n"`).stdout
		yaml := "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: jane\nspec:\n  groups:\n  - system:authenticated\n" +
			"  request: " + request + "\n  signerName: kubernetes.io/kube-apiserver-client\n  usages:\n  - digital signature\n  - key encipherment\n  - client auth\n"
		writeFile(t, filepath.Join(dir, "jane.yaml"), yaml)
		r := runIn(t, dir, "", tool(t, "kubectl"), "--kubeconfig", admin, "create", "-f", "jane.yaml")
		if r.code != 0 {
			t.Fatalf("kubectl create -f jane.yaml: %s", r.stderr)
		}
		if out := mustKubectl(t, admin, "get", "csr", "jane"); !strings.Contains(out, "Pending") {
			t.Errorf("before approval:\n%s", out)
		}
		mustKubectl(t, admin, "certificate", "approve", "jane")
		waitIssued(t, admin, "jane")
		cert := mustKubectl(t, admin, "get", "csr", "jane", "-o", "jsonpath={.status.certificate}")
		r = runIn(t, dir, cert, "sh", "-c", "base64 --decode > jane.crt")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		if out := openssl(t, dir, "verify", "-CAfile", ca, "jane.crt"); !strings.Contains(out, "jane.crt: OK") {
			t.Errorf("openssl verify: %s", out)
		}
		// jane's kubeconfig, as seed 003 builds it.
		kc := filepath.Join(dir, "kubeconfig")
		adminData, _ := os.ReadFile(admin)
		writeFile(t, kc, string(adminData))
		for _, args := range [][]string{
			{"config", "set-credentials", "x509", "--client-certificate=" + filepath.Join(dir, "jane.crt"), "--client-key=" + filepath.Join(dir, "jane.key")},
			{"config", "set-context", "kubernetes-admin@kubernetes", "--user=x509"},
		} {
			mustKubectl(t, kc, args...)
		}
		if who := mustKubectl(t, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who != "jane" {
			t.Errorf("jane's kubeconfig authenticates as %q", who)
		}
		desc := must(t, "", "", "csr", "describe", "jane", "--kubeconfig", admin)
		for _, want := range []string{"Requesting User:", "kubernetes-admin", "Signer:", "kubernetes.io/kube-apiserver-client", "Approved,Issued", "Common Name:", "jane", "digital signature, key encipherment, client auth", "Issued:", "RSA 2048"} {
			if !strings.Contains(desc, want) {
				t.Errorf("csr describe lacks %q:\n%s", want, desc)
			}
		}
	})

	t.Run("seed 004: kubelet serving", func(t *testing.T) {
		dir := t.TempDir()
		must(t, dir, kubeletServingRequest, "genkey", "-", "-bare", "server")
		request, _ := os.ReadFile(filepath.Join(dir, "server.csr"))
		writeFile(t, filepath.Join(dir, "csr.yaml"), csrYAML("my-svc.my-namespace", "kubernetes.io/kubelet-serving", request, "digital signature", "key encipherment", "server auth"))
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "csr.yaml"))
		mustKubectl(t, admin, "certificate", "approve", "my-svc.my-namespace")
		waitIssued(t, admin, "my-svc.my-namespace")
		cert := mustKubectl(t, admin, "get", "csr", "my-svc.my-namespace", "-o", "jsonpath={.status.certificate}")
		pem, _ := base64.StdEncoding.DecodeString(cert)
		writeFile(t, filepath.Join(dir, "server.crt"), string(pem))
		text := openssl(t, dir, "x509", "-in", "server.crt", "-noout", "-text")
		for _, want := range []string{
			"DNS:my-svc.my-namespace.svc.cluster.local, DNS:my-pod.my-namespace.pod.cluster.local, IP Address:192.0.2.24, IP Address:10.0.34.2",
			"Digital Signature, Key Encipherment", "TLS Web Server Authentication", "CN = system:node:my-pod.my-namespace.pod.cluster.local", "O = system:nodes",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("issued certificate lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "Client Authentication") || strings.Contains(text, "URI:") {
			t.Errorf("issued certificate has more than was asked:\n%s", text)
		}
		if out := openssl(t, dir, "verify", "-CAfile", ca, "server.crt"); !strings.Contains(out, "OK") {
			t.Error(out)
		}

		for _, bad := range []struct{ name, request, rule string }{
			{"uri-san", strings.Replace(kubeletServingRequest, `"10.0.34.2"`, `"10.0.34.2", "spiffe://cluster.local/ns/x"`, 1), "URI subject alternative names are not allowed"},
			{"wrong-o", strings.Replace(kubeletServingRequest, `"system:nodes"`, `"system:masters"`, 1), `organization must be exactly ["system:nodes"]`},
		} {
			bdir := t.TempDir()
			must(t, bdir, bad.request, "genkey", "-", "-bare", bad.name)
			req, _ := os.ReadFile(filepath.Join(bdir, bad.name+".csr"))
			writeFile(t, filepath.Join(bdir, "csr.yaml"), csrYAML(bad.name, "kubernetes.io/kubelet-serving", req, "digital signature", "key encipherment", "server auth"))
			mustKubectl(t, admin, "apply", "-f", filepath.Join(bdir, "csr.yaml"))
			mustKubectl(t, admin, "certificate", "approve", bad.name)
			waitFor(t, 60*time.Second, bad.name+" to fail", func() bool { return strings.Contains(csrCondition(t, admin, bad.name), "Failed") })
			reason := mustKubectl(t, admin, "get", "csr", bad.name, "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}`)
			if !strings.HasPrefix(reason, "SignerValidationFailure: ") || !strings.Contains(reason, bad.rule) {
				t.Errorf("%s: Failed condition %q, want SignerValidationFailure naming %q", bad.name, reason, bad.rule)
			}
			if c := mustKubectl(t, admin, "get", "csr", bad.name, "-o", "jsonpath={.status.certificate}"); c != "" {
				t.Errorf("%s: a failed request got a certificate", bad.name)
			}
		}
	})

	t.Run("denied is never signed", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "r.json"), `{"CN":"mallory"}`)
		must(t, dir, "", "csr", "create", "denied", "--genkey", "r.json", "--signer", "kubernetes.io/kube-apiserver-client", "--usages", "digital signature,client auth", "--kubeconfig", admin)
		must(t, dir, "", "csr", "deny", "denied", "--reason", "NotTrusted", "--message", "mallory is not one of us", "--kubeconfig", admin)
		if r := cp(t, dir, "", "csr", "approve", "denied", "--kubeconfig", admin); r.code == 0 {
			t.Error("approving a denied request succeeded")
		}
		// A request approved after the denial is issued: the signer has
		// seen both by then.
		writeFile(t, filepath.Join(dir, "ok.json"), `{"CN":"trudy"}`)
		must(t, dir, "", "csr", "create", "after-denied", "--genkey", "ok.json", "--signer", "kubernetes.io/kube-apiserver-client", "--usages", "digital signature,client auth", "--kubeconfig", admin)
		must(t, dir, "", "csr", "approve", "after-denied", "--kubeconfig", admin)
		if out := must(t, dir, "", "csr", "wait", "after-denied", "--kubeconfig", admin); !strings.Contains(out, "issued") {
			t.Errorf("csr wait: %s", out)
		}
		if got := csrCondition(t, admin, "denied"); got != "Denied   <none>" {
			t.Errorf("denied request: %q", got)
		}
		r := cp(t, dir, "", "csr", "wait", "denied", "--kubeconfig", admin, "--timeout", "10s")
		if r.code == 0 || !strings.Contains(r.stderr, "Denied: NotTrusted: mallory is not one of us") {
			t.Errorf("csr wait on a denied request: exit %d %q", r.code, r.stderr)
		}
		r = cp(t, dir, "", "csr", "fetch", "denied", "--out", "denied.crt", "--kubeconfig", admin)
		if r.code == 0 || !strings.Contains(r.stderr, "has no certificate yet (Denied)") {
			t.Errorf("csr fetch of a denied request: exit %d %q", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "denied.crt")); !os.IsNotExist(err) {
			t.Error("csr fetch wrote a file for a request without a certificate")
		}
		must(t, dir, "", "csr", "fetch", "after-denied", "--out", "after.crt", "--kubeconfig", admin)
		if out := openssl(t, dir, "verify", "-CAfile", ca, "after.crt"); !strings.Contains(out, "after.crt: OK") {
			t.Errorf("fetched certificate: %s", out)
		}
		if fi, err := os.Stat(filepath.Join(dir, "denied-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("--genkey key file: %v %v", fi, err)
		}
	})

	t.Run("system:masters is refused at creation", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "r.json"), `{"CN":"root","names":[{"O":"system:masters"}]}`)
		r := cp(t, dir, "", "csr", "create", "masters", "--genkey", "r.json", "--signer", "kubernetes.io/kube-apiserver-client", "--usages", "client auth", "--kubeconfig", admin)
		if r.code == 0 || !strings.Contains(r.stderr, "system:masters") {
			t.Errorf("exit %d %q", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "masters-key.pem")); !os.IsNotExist(err) {
			t.Error("the key of a refused request was left behind")
		}
	})

	t.Run("approval needs approve on the signer; user add waits for it", func(t *testing.T) {
		dir := t.TempDir()
		bob := filepath.Join(dir, "bob.kubeconfig")
		must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", "bob", "--group", "requesters", "--out", bob, "--key-algorithm", "ecdsa-p256")
		// bob may create and read requests and update /approval, but has no
		// approve on any signer.
		mustKubectl(t, admin, "create", "clusterrole", "csr-requester", "--verb=create,get,list,watch", "--resource=certificatesigningrequests")
		mustKubectl(t, admin, "create", "clusterrole", "csr-approval-update", "--verb=update", "--resource=certificatesigningrequests/approval")
		mustKubectl(t, admin, "create", "clusterrolebinding", "requesters", "--clusterrole=csr-requester", "--group=requesters")
		mustKubectl(t, admin, "create", "clusterrolebinding", "requesters-approval", "--clusterrole=csr-approval-update", "--group=requesters")
		waitFor(t, 30*time.Second, "bob's RBAC", func() bool { return kubectl(t, bob, "get", "csr").code == 0 })

		cmd := exec.Command(certplane, "user", "add", "carol", "--group", "qa", "--kubeconfig", bob, "--out", filepath.Join(dir, "carol.kubeconfig"), "--timeout", "2m")
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill() }()
		lines := bufio.NewScanner(stdout)
		waiting := false
		for lines.Scan() {
			if strings.Contains(lines.Text(), "waiting for approval") && strings.Contains(lines.Text(), "kubectl certificate approve carol") {
				waiting = true
				break
			}
		}
		if !waiting {
			t.Fatalf("user add did not say it waits for approval: %s", stderr.String())
		}
		if got := csrCondition(t, admin, "carol"); got != "<none>   <none>" {
			t.Errorf("carol's request before approval: %q", got)
		}
		r := kubectl(t, bob, "certificate", "approve", "carol")
		if r.code == 0 || !strings.Contains(r.stderr, "Forbidden") || !strings.Contains(r.stderr, "approve") {
			t.Errorf("bob approved his own request: exit %d %s", r.code, r.stderr)
		}
		mustKubectl(t, admin, "certificate", "approve", "carol")
		for lines.Scan() { // read to the end before Wait, as os/exec requires
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("user add: %v: %s", err, stderr.String())
		}
		carol := filepath.Join(dir, "carol.kubeconfig")
		if fi, err := os.Stat(carol); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("carol.kubeconfig: %v %v", fi, err)
		}
		if who := mustKubectl(t, carol, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"); who != `carol ["qa","system:authenticated"]` {
			t.Errorf("carol is %q", who)
		}
	})

	t.Run("user add by an approver is one command", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "dave.kubeconfig")
		o := must(t, "", "", "user", "add", "dave", "--group", "dev", "--expiration", "24h", "--kubeconfig", admin, "--out", out)
		if !strings.Contains(o, "approved") || strings.Contains(o, "waiting") {
			t.Errorf("user add:\n%s", o)
		}
		if who := mustKubectl(t, out, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who != "dave" {
			t.Errorf("dave is %q", who)
		}
		again := cp(t, "", "", "user", "add", "dave", "--csr-name", "dave-again", "--kubeconfig", admin, "--out", out)
		if again.code == 0 || !strings.Contains(again.stderr, "refusing to overwrite") {
			t.Errorf("user add onto an existing kubeconfig: exit %d %q", again.code, again.stderr)
		}
		if r := kubectl(t, admin, "get", "csr", "dave-again"); r.code == 0 {
			t.Error("user add created a request although it could not write its kubeconfig")
		}
		var report struct {
			Users []struct {
				Certificate struct{ SecondsLeft int64 } `json:"certificate"`
			} `json:"users"`
		}
		if err := jsonUnmarshal(must(t, "", "", "inspect", "-o", "json", out), &report); err != nil {
			t.Fatal(err)
		}
		if left := time.Duration(report.Users[0].Certificate.SecondsLeft) * time.Second; left > 24*time.Hour || left < 23*time.Hour {
			t.Errorf("dave's certificate is valid %s more, want the requested 24h", left)
		}
	})

	t.Run("bad requests get clear answers", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "garbage.yaml"), csrYAML("garbage", "kubernetes.io/kube-apiserver-client", []byte("garbage"), "client auth"))
		if r := kubectl(t, admin, "create", "-f", filepath.Join(dir, "garbage.yaml")); r.code == 0 || !strings.Contains(r.stderr, "spec.request") {
			t.Errorf("garbage request: exit %d %s", r.code, r.stderr)
		}
		r := cp(t, dir, "", "csr", "create", "x", "--genkey", "nope.json", "--signer", "kubernetes.io/kube-apiserver-client", "--usages", "client auth,serverauth", "--kubeconfig", admin)
		if r.code == 0 || !strings.Contains(r.stderr, `unknown key usage "serverauth"`) {
			t.Errorf("unknown usage: exit %d %q", r.code, r.stderr)
		}
		r = cp(t, dir, "", "controller", "--kubeconfig", admin, "--enable-kubernetes-signers", "--cluster-signing-cert-file", filepath.Join(dir, "missing.crt"),
			"--cluster-signing-key-file", filepath.Join(dir, "missing.key"), "--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=")
		if r.code == 0 || !strings.Contains(r.stderr, "missing.crt: no such file") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("missing CA files: exit %d %q", r.code, r.stderr)
		}
		r = cp(t, dir, "", "controller", "--kubeconfig", admin, "--enable-kubernetes-signers", "--cluster-signing-cert-file", ca,
			"--leader-elect=false", "--metrics-bind-address=0")
		if r.code == 0 || !strings.Contains(r.stderr, "go together") {
			t.Errorf("cert without key: exit %d %q", r.code, r.stderr)
		}
	})

	t.Run("kubelet requests are approved automatically by rule", func(t *testing.T) {
		dir := t.TempDir()
		node := filepath.Join(dir, "node.kubeconfig")
		must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", "system:node:n1", "--group", "system:nodes", "--out", node, "--key-algorithm", "ecdsa-p256")
		// What kubeadm binds: nodes may renew their own client certificates,
		// and create requests.
		mustKubectl(t, admin, "create", "clusterrolebinding", "node-autoapprove-rotation", "--clusterrole=system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "--group=system:nodes")
		mustKubectl(t, admin, "create", "clusterrolebinding", "node-csr", "--clusterrole=system:node-bootstrapper", "--group=system:nodes")
		waitFor(t, 30*time.Second, "the node's RBAC", func() bool { return kubectl(t, node, "get", "csr").code == 0 })

		// The kubelet's client certificate rotation: approved after a
		// SubjectAccessReview, then issued.
		writeFile(t, filepath.Join(dir, "client.json"), `{"CN":"system:node:n1","names":[{"O":"system:nodes"}]}`)
		must(t, dir, "", "csr", "create", "n1-client", "--genkey", "client.json", "--signer", "kubernetes.io/kube-apiserver-client-kubelet",
			"--usages", "digital signature,client auth", "--kubeconfig", node)
		waitIssued(t, admin, "n1-client")
		msg := mustKubectl(t, admin, "get", "csr", "n1-client", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].reason}: {.status.conditions[?(@.type=="Approved")].message}`)
		if msg != "AutoApproved: Auto approving self kubelet client certificate after SubjectAccessReview." {
			t.Errorf("approval: %q", msg)
		}

		// Serving: approved only when the Node exists and owns every SAN.
		writeFile(t, filepath.Join(dir, "node.yaml"), "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n")
		mustKubectl(t, admin, "create", "-f", filepath.Join(dir, "node.yaml"))
		mustKubectl(t, admin, "patch", "node", "n1", "--subresource=status", "--type=merge", "-p",
			`{"status":{"addresses":[{"type":"Hostname","address":"n1.example"},{"type":"InternalIP","address":"192.0.2.24"}]}}`)
		writeFile(t, filepath.Join(dir, "serving.json"), `{"CN":"system:node:n1","hosts":["n1.example","192.0.2.24"],"names":[{"O":"system:nodes"}]}`)
		writeFile(t, filepath.Join(dir, "foreign.json"), `{"CN":"system:node:n1","hosts":["n1.example","api.bank.example"],"names":[{"O":"system:nodes"}]}`)
		must(t, dir, "", "csr", "create", "n1-foreign", "--genkey", "foreign.json", "--signer", "kubernetes.io/kubelet-serving",
			"--usages", "digital signature,server auth", "--kubeconfig", node)
		must(t, dir, "", "csr", "create", "n1-serving", "--genkey", "serving.json", "--signer", "kubernetes.io/kubelet-serving",
			"--usages", "digital signature,server auth", "--kubeconfig", node)
		waitIssued(t, admin, "n1-serving")
		if msg := mustKubectl(t, admin, "get", "csr", "n1-serving", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].message}`); !strings.Contains(msg, `node "n1" exists and every SAN is one of its addresses`) {
			t.Errorf("serving approval message %q", msg)
		}
		// The approver handled n1-foreign before n1-serving and left it.
		if got := csrCondition(t, admin, "n1-foreign"); got != "<none>   <none>" {
			t.Errorf("request with a SAN the node does not own: %q, want it left pending", got)
		}
	})

	t.Run("config/default is accepted by the apiserver", func(t *testing.T) {
		// A server-side dry run cannot put namespaced objects into a
		// namespace that does not exist yet, so the namespace comes first.
		mustKubectl(t, admin, "create", "namespace", "certplane-system")
		out := mustKubectl(t, admin, "apply", "--dry-run=server", "-k", filepath.Join("..", "..", "config", "default"))
		for _, want := range []string{"namespace/certplane-system", "clusterrole.rbac.authorization.k8s.io/certplane-controller", "deployment.apps/certplane-controller", "serviceaccount/certplane-controller"} {
			if !strings.Contains(out, want) {
				t.Errorf("dry run lacks %q:\n%s", want, out)
			}
		}
	})
}
