package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// policyBenchNamespaces is how many namespaces the policy benchmark's
// cluster has, bench included, each with one CertificateRequestPolicy.
const policyBenchNamespaces = 100

// BenchmarkPolicyCertificates is issue #17's benchmark: issue #5's
// scenario (BenchmarkCertificates: 1000 ECDSA P-256 Certificates behind a
// CA Issuer in namespace bench, until all are Ready) on a cluster of 100
// namespaces, without policies and with one CertificateRequestPolicy per
// namespace. Each policy selects its namespace and the Issuer ca, allows
// the namespace's service names (values and a CEL validation), the
// default usages, at most 90 days and ECDSA keys, and is bound to the
// namespace's users with verb use; the Certificates are created as
// admin.conf's kubernetes-admin, whom cluster-admin allows everything. The
// in-process path asks the policies before signing each Certificate; the
// figures to compare are certs/s and writes/cert of the two cases. Both
// start from the same cluster (namespaces, Roles, RoleBindings), settled:
// only the policies differ.
func BenchmarkPolicyCertificates(b *testing.B) {
	for _, policies := range []bool{false, true} {
		name := "policies=0"
		if policies {
			name = fmt.Sprintf("policies=%d-one-per-namespace", policyBenchNamespaces)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				runCertificateScenario(b, 1000, 0, func(b *testing.B, admin string) {
					setupPolicyBench(b, admin, policies)
				})
			}
		})
	}
}

// setupPolicyBench adds namespaces team-01 … team-99 beside bench, in each
// a Role and RoleBinding that let the namespace's users use its policy,
// and, with policies, the policies themselves; it checks that the bench
// namespace's policy refuses what it does not allow, then waits until the
// apiserver is quiet.
func setupPolicyBench(b *testing.B, admin string, policies bool) {
	b.Helper()
	var manifest strings.Builder
	namespaces := []string{"bench"}
	for i := 1; i < policyBenchNamespaces; i++ {
		namespaces = append(namespaces, fmt.Sprintf("team-%02d", i))
	}
	for _, ns := range namespaces {
		if ns != "bench" {
			fmt.Fprintf(&manifest, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
		}
		fmt.Fprintf(&manifest, `---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: use-svc-leaves, namespace: %[1]s}
rules:
- apiGroups: [policy.cert-manager.io]
  resources: [certificaterequestpolicies]
  verbs: [use]
  resourceNames: [%[1]s-svc-leaves]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: use-svc-leaves, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: use-svc-leaves}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:serviceaccounts:%[1]s"}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "kubeadm:cluster-admins"}
`, ns)
		if !policies {
			continue
		}
		fmt.Fprintf(&manifest, `---
apiVersion: policy.cert-manager.io/v1alpha1
kind: CertificateRequestPolicy
metadata: {name: %[1]s-svc-leaves}
spec:
  allowed:
    dnsNames:
      values: ["*.%[1]s.svc", "*.%[1]s.svc.cluster.local"]
      required: true
      validations:
      - rule: "self.endsWith('.' + cr.namespace + '.svc') || self.endsWith('.' + cr.namespace + '.svc.cluster.local')"
        message: only the namespace's own services
    usages: ["digital signature", "key encipherment", "server auth", "client auth"]
  constraints:
    maxDuration: 2160h
    privateKey: {algorithm: ECDSA, minSize: 256, maxSize: 384}
  selector:
    issuerRef: {name: ca, kind: Issuer, group: cert-manager.io}
    namespace: {matchNames: [%[1]s]}
`, ns)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "policies.yaml")
	writeFile(b, file, manifest.String())
	mustKubectl(b, admin, "apply", "-f", file)

	if policies {
		mustKubectl(b, admin, "wait", "--for=condition=Ready", "--timeout=120s", "certificaterequestpolicies", "--all")
		// The bench namespace's policy decides: a name it does not allow
		// is Denied before anything is signed.
		probe := filepath.Join(dir, "probe.yaml")
		writeFile(b, probe, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: policy-probe, namespace: bench}
spec:
  secretName: policy-probe-tls
  dnsNames: [www.google.com]
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: ca, kind: Issuer}
`)
		mustKubectl(b, admin, "apply", "-f", probe)
		mustKubectl(b, admin, "wait", "-n", "bench", "--timeout=60s",
			`--for=jsonpath={.status.conditions[?(@.type=="Ready")].reason}=Denied`, "certificate/policy-probe")
		msg := mustKubectl(b, admin, "get", "certificate", "policy-probe", "-n", "bench",
			"-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`)
		if !strings.Contains(msg, "bench-svc-leaves") || !strings.Contains(msg, "www.google.com") {
			b.Fatalf("the probe's denial does not name the policy and the name: %s", msg)
		}
		mustKubectl(b, admin, "delete", "certificate", "policy-probe", "-n", "bench", "--wait")
	}

	// The new namespaces' ServiceAccounts and root CA ConfigMaps, and the
	// policies' status, are written before the clock starts.
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		b.Fatal(err)
	}
	waitQuiet(b, kubernetes.NewForConfigOrDie(cfg))
}
