package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUserAddWithoutApproval: a user who may not approve keeps the key of
// the request user add made, is told how to finish, and finishes with
// --key once someone approves; user add names --csr-name when the request
// exists, and says plainly when a group makes a cluster admin.
func TestUserAddWithoutApproval(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	bob := filepath.Join(dir, "bob.kubeconfig")
	must(t, "", "", "pki", "kubeconfig", "--dir", data, "--user", "bob", "--group", "requesters", "--out", bob, "--key-algorithm", "ecdsa-p256")
	// bob may create and read requests, but approve nothing.
	mustKubectl(t, admin, "create", "clusterrole", "csr-requester", "--verb=create,get,list,watch", "--resource=certificatesigningrequests")
	mustKubectl(t, admin, "create", "clusterrolebinding", "requesters", "--clusterrole=csr-requester", "--group=requesters")
	waitFor(t, 30*time.Second, "bob's RBAC", func() bool { return kubectl(t, bob, "get", "csr").code == 0 })

	carol := filepath.Join(dir, "carol.kubeconfig")
	key := filepath.Join(dir, "carol-key.pem")
	r := cp(t, dir, "", "user", "add", "carol", "--group", "qa", "--kubeconfig", bob, "--out", carol, "--timeout", "3s")
	if r.code == 0 {
		t.Fatalf("user add without an approver succeeded: %s", r.stdout)
	}
	for _, want := range []string{
		"waiting for approval", "kubectl certificate approve carol",
		"wrote " + key + " (mode 0600)",
		"certplane csr wait carol --kubeconfig " + bob,
		"certplane user add carol --group qa --kubeconfig " + bob + " --out " + carol + " --key " + key,
		"certplane csr fetch carol --out carol.crt",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "certificatesigningrequest carol was not issued within --timeout 3s") ||
		!strings.Contains(r.stderr, "the request stays and its key is in "+key) || !strings.Contains(r.stderr, "--key "+key) {
		t.Errorf("stderr = %q, want one line saying where the key is and how to finish", r.stderr)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key of the pending request: %v %v, want it kept with mode 0600", fi, err)
	}

	// Another user add under the same request name is told about
	// --csr-name, and leaves no key behind.
	r = cp(t, dir, "", "user", "add", "dan", "--csr-name", "carol", "--kubeconfig", bob, "--out", filepath.Join(dir, "dan.kubeconfig"))
	if r.code == 0 || !strings.Contains(r.stderr, "certificatesigningrequest carol already exists: name this one with --csr-name") {
		t.Errorf("user add onto an existing request: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "dan-key.pem")); !os.IsNotExist(err) {
		t.Error("a refused user add left its key behind")
	}

	// Approved later, the same command with --key finishes.
	mustKubectl(t, admin, "certificate", "approve", "carol")
	out := must(t, dir, "", "user", "add", "carol", "--group", "qa", "--kubeconfig", bob, "--out", carol, "--key", key)
	if !strings.Contains(out, "found certificatesigningrequest carol") || strings.Contains(out, "created certificatesigningrequest") {
		t.Errorf("user add --key did not pick up the request:\n%s", out)
	}
	if who := mustKubectl(t, carol, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"); who != `carol ["qa","system:authenticated"]` {
		t.Errorf("carol is %q", who)
	}

	// Groups that make a cluster admin are named as such.
	r = cp(t, dir, "", "user", "add", "root", "--group", "kubeadm:cluster-admins", "--kubeconfig", admin, "--out", filepath.Join(dir, "root.kubeconfig"))
	if r.code != 0 || !strings.Contains(r.stderr, "warning: group kubeadm:cluster-admins makes root a cluster admin") {
		t.Errorf("kubeadm:cluster-admins: exit %d, stderr %q", r.code, r.stderr)
	}
	r = cp(t, dir, "", "user", "add", "god", "--group", "system:masters", "--kubeconfig", admin, "--out", filepath.Join(dir, "god.kubeconfig"))
	if !strings.Contains(r.stderr, "warning: group system:masters makes god a cluster admin that no RBAC rule can limit") {
		t.Errorf("system:masters: exit %d, stderr %q", r.code, r.stderr)
	}
}
