package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

const (
	trustBundleLabel = "trust.cert-manager.io/bundle"
	trustHashKey     = "trust.cert-manager.io/hash"
)

// trustClient is a client-go clientset for admin.conf.
func trustClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// applyManifest applies YAML with kubectl and returns its result.
func applyManifest(t *testing.T, kubeconfig, yaml string) result {
	t.Helper()
	// kubectl -f splits on commas, which subtest names (and so their
	// temporary directories) may hold.
	dir, err := os.MkdirTemp("", "manifest")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	f := filepath.Join(dir, "manifest.yaml")
	writeFile(t, f, yaml)
	return kubectl(t, kubeconfig, "apply", "-f", f)
}

func mustApply(t *testing.T, kubeconfig, yaml string) {
	t.Helper()
	if r := applyManifest(t, kubeconfig, yaml); r.code != 0 {
		t.Fatalf("kubectl apply: %s%s\n%s", r.stdout, r.stderr, yaml)
	}
}

// synced is a Bundle's Synced condition as "status reason: message".
func synced(t *testing.T, kubeconfig, name string) string {
	t.Helper()
	return mustKubectl(t, kubeconfig, "get", "bundle", name, "-o",
		`jsonpath={.status.conditions[?(@.type=="Synced")].status} {.status.conditions[?(@.type=="Synced")].reason}: {.status.conditions[?(@.type=="Synced")].message}`)
}

// waitSynced waits until a Bundle's Synced condition starts with prefix.
func waitSynced(t *testing.T, kubeconfig, name, prefix string) string {
	t.Helper()
	var got string
	waitFor(t, 30*time.Second, fmt.Sprintf("Bundle %s to be %q", name, prefix), func() bool {
		got = synced(t, kubeconfig, name)
		return strings.HasPrefix(got, prefix)
	})
	return got
}

// indent prefixes every line of PEM text for a YAML block scalar.
func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n"+prefix)
}

// pemText is certificates as PEM text.
func pemText(certs ...*x509.Certificate) string { return string(pki.EncodeCertificatesPEM(certs...)) }

// certSet names certificates by the hex SHA-256 of their DER.
func certSet(certs []*x509.Certificate) []string {
	out := make([]string, 0, len(certs))
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	return out
}

// sortedSet is certSet without duplicates, sorted: what a target holds.
func sortedSet(certs ...[]*x509.Certificate) []string {
	var all []string
	for _, c := range certs {
		all = append(all, certSet(c)...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// targetCerts reads the certificates of a target's key, in their order;
// ok is false while the target does not exist.
func targetCerts(t *testing.T, cs kubernetes.Interface, kind, ns, name, key string) (certs []string, obj metav1.Object, ok bool) {
	t.Helper()
	var (
		data []byte
		err  error
	)
	ctx := context.Background()
	switch kind {
	case "Secret":
		var s *corev1.Secret
		if s, err = cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data, obj = s.Data[key], s
		}
	default:
		var c *corev1.ConfigMap
		if c, err = cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data, obj = []byte(c.Data[key]), c
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, obj, true // not PEM (yet): edited by hand
	}
	return certSet(parsed), obj, true
}

// waitTarget waits until a target holds exactly want, in that order, and
// returns it.
func waitTarget(t *testing.T, cs kubernetes.Interface, kind, ns, name, key string, want []string) metav1.Object {
	t.Helper()
	var (
		got []string
		obj metav1.Object
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		if got, obj, ok = targetCerts(t, cs, kind, ns, name, key); ok && slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s %s/%s to hold %d certificates: it holds %d (%d of them wanted)",
				kind, ns, name, len(want), len(got), len(slices.DeleteFunc(slices.Clone(got), func(h string) bool { return !slices.Contains(want, h) })))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return obj
}

// waitNoTarget waits until a target is gone.
func waitNoTarget(t *testing.T, cs kubernetes.Interface, kind, ns, name string) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%s %s/%s to be removed", kind, ns, name), func() bool {
		_, _, ok := targetCerts(t, cs, kind, ns, name, "")
		return !ok
	})
}

// trustAPIRequests counts the requests of one verb on one resource (and
// subresource) kube-apiserver has answered (apiserver_request_total).
// certplane writes its targets with server-side apply (APPLY), and nothing
// else in `up` applies ConfigMaps.
func trustAPIRequests(t *testing.T, kubeconfig, verb, resource, subresource string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(mustKubectl(t, kubeconfig, "get", "--raw", "/metrics"), "\n") {
		if strings.HasPrefix(line, "apiserver_request_total{") && strings.Contains(line, `resource="`+resource+`"`) &&
			strings.Contains(line, `subresource="`+subresource+`"`) && strings.Contains(line, `verb="`+verb+`"`) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkTargetMetadata checks trust-manager's label and hash annotation and
// the controller owner reference to the Bundle.
func checkTargetMetadata(t *testing.T, kubeconfig string, obj metav1.Object, bundle string) {
	t.Helper()
	uid := mustKubectl(t, kubeconfig, "get", "bundle", bundle, "-o", "jsonpath={.metadata.uid}")
	if obj.GetLabels()[trustBundleLabel] != bundle {
		t.Errorf("%s/%s: label %s=%q", obj.GetNamespace(), obj.GetName(), trustBundleLabel, obj.GetLabels()[trustBundleLabel])
	}
	if h := obj.GetAnnotations()[trustHashKey]; !hexSHA256.MatchString(h) {
		t.Errorf("%s/%s: annotation %s=%q, want a hex SHA-256", obj.GetNamespace(), obj.GetName(), trustHashKey, h)
	}
	refs := obj.GetOwnerReferences()
	if len(refs) != 1 || refs[0].APIVersion != "trust.cert-manager.io/v1alpha1" || refs[0].Kind != "Bundle" || refs[0].Name != bundle ||
		string(refs[0].UID) != uid || refs[0].Controller == nil || !*refs[0].Controller || refs[0].BlockOwnerDeletion == nil || !*refs[0].BlockOwnerDeletion {
		t.Errorf("%s/%s: owner references %+v, want the Bundle %s (%s) as controller", obj.GetNamespace(), obj.GetName(), refs, bundle, uid)
	}
}

// defaultCAs is the machine's Debian CA bundle less its expired
// certificates, and the version certplane should report for it, read here
// with dpkg-query.
func defaultCAs(t *testing.T) ([]*x509.Certificate, string) {
	t.Helper()
	const file = "/etc/ssl/certs/ca-certificates.crt"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Skipf("no Debian CA bundle on this machine: %v", err)
	}
	all, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	// The tests run with --filter-expired-certificates.
	certs := slices.DeleteFunc(all, func(c *x509.Certificate) bool { return time.Now().After(c.NotAfter) })
	version := "unknown"
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "ca-certificates").Output(); err == nil {
		version = string(out)
	}
	sum := sha256.Sum256(data)
	return certs, "ca-certificates-" + version + "-" + hex.EncodeToString(sum[:8])
}

// TestBundles: trust-manager's Bundle (trust.cert-manager.io/v1alpha1)
// against `certplane up`, with trust-manager's flags --trust-namespace and
// --filter-expired-certificates: every kind of source, ConfigMap and
// Secret targets with JKS and PKCS#12 truststores opened by openssl,
// keytool and keystore-go, namespace selectors, source changes, garbage
// PEM, deleted sources and Bundles, hand edits, and no write when nothing
// changed.
func TestBundles(t *testing.T) {
	data, port := t.TempDir(), freePort(t)
	flags := []string{"--trust-namespace", "trust", "--filter-expired-certificates"}
	up := startUp(t, data, port, flags...)
	admin := filepath.Join(data, "admin.conf")
	cs := trustClient(t, admin)
	for _, ns := range []string{"trust", "cert-manager", "team-a", "team-b"} {
		mustKubectl(t, admin, "create", "namespace", ns)
	}
	mustKubectl(t, admin, "label", "namespace", "team-a", "trust=yes", "team=a")
	ca := func(cn string) *x509.Certificate { return pkitest.CA(t, cn).Certificate }
	r1, b, c, d, e, f := ca("R1"), ca("B"), ca("C"), ca("D"), ca("E"), ca("F")
	expired := pkitest.CAAt(t, "expired", time.Now().Add(-48*time.Hour), 24*time.Hour).Certificate
	dir := t.TempDir()

	t.Run("every source kind, ConfigMap and Secret targets with JKS and PKCS#12", func(t *testing.T) {
		defaults, version := defaultCAs(t)
		mustApply(t, admin, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: root, namespace: trust}
data:
  ca.crt: |
%s
---
apiVersion: v1
kind: ConfigMap
metadata: {name: picked-1, namespace: trust, labels: {trust-source: "yes"}}
data:
  b.pem: |
%s
binaryData:
  c.pem: %s
---
apiVersion: v1
kind: Secret
metadata: {name: issuer-ca, namespace: trust}
type: kubernetes.io/tls
stringData:
  ca.crt: |
%s
  tls.crt: ""
  tls.key: "never distributed"
---
apiVersion: v1
kind: Secret
metadata: {name: picked-2, namespace: trust, labels: {trust-source: "yes"}}
stringData:
  e.pem: |
%s
---
apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: everything}
spec:
  sources:
  - configMap: {name: root, key: ca.crt}
  - configMap: {selector: {matchLabels: {trust-source: "yes"}}, includeAllKeys: true}
  - secret: {name: issuer-ca, key: ca.crt}
  - secret: {selector: {matchLabels: {trust-source: "yes"}}, includeAllKeys: true}
  - inLine: |
%s
  - useDefaultCAs: true
  target:
    configMap: {key: ca-bundle.crt}
    secret: {key: ca.crt}
    additionalFormats:
      jks: {key: bundle.jks}
      pkcs12: {key: bundle.p12}
`, indent(pemText(r1), "    "), indent(pemText(b), "    "), base64.StdEncoding.EncodeToString(pki.EncodeCertificatesPEM(c)), indent(pemText(d), "    "),
			indent(pemText(e), "    "), indent(pemText(f, r1, expired), "      ")))
		// The expired certificate is dropped, r1 is written once, and the
		// order is the SHA-256 of the DER.
		want := sortedSet([]*x509.Certificate{r1, b, c, d, e, f}, defaults)
		if got := waitSynced(t, admin, "everything", "True"); got != "True Synced: Bundle synced to all namespaces" {
			t.Errorf("Synced: %q", got)
		}
		if v := mustKubectl(t, admin, "get", "bundle", "everything", "-o", "jsonpath={.status.defaultCAVersion}"); v != version {
			t.Errorf("status.defaultCAVersion %q, want %q", v, version)
		}
		for _, ns := range []string{"team-a", "team-b", "default", "trust"} {
			checkTargetMetadata(t, admin, waitTarget(t, cs, "ConfigMap", ns, "everything", "ca-bundle.crt", want), "everything")
			checkTargetMetadata(t, admin, waitTarget(t, cs, "Secret", ns, "everything", "ca.crt", want), "everything")
		}
		if cols := mustKubectl(t, admin, "get", "bundle", "everything"); !regexp.MustCompile(`everything\s+ca-bundle.crt\s+ca.crt\s+True\s+Synced`).MatchString(cols) {
			t.Errorf("kubectl get bundle:\n%s", cols)
		}

		cm, err := cs.CoreV1().ConfigMaps("team-a").Get(context.Background(), "everything", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cs.CoreV1().Secrets("team-a").Get(context.Background(), "everything", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cm.Data["ca-bundle.crt"], "never distributed") {
			t.Error("the TLS Secret's key reached the target")
		}
		for name, stores := range map[string]map[string][]byte{"ConfigMap": cm.BinaryData, "Secret": s.Data} {
			writeFile(t, filepath.Join(dir, "bundle.p12"), string(stores["bundle.p12"]))
			writeFile(t, filepath.Join(dir, "bundle.jks"), string(stores["bundle.jks"]))
			// A PKCS#12 truststore without a password: no MAC, no encryption.
			out := openssl(t, dir, "pkcs12", "-in", "bundle.p12", "-nokeys", "-passin", "pass:")
			if n := strings.Count(out, "-----BEGIN CERTIFICATE-----"); n != len(want) {
				t.Errorf("%s: openssl reads %d certificates in the PKCS#12 truststore, want %d", name, n, len(want))
			}
			ks := keystore.New()
			if err := ks.Load(bytes.NewReader(stores["bundle.jks"]), []byte("changeit")); err != nil {
				t.Fatalf("%s: keystore-go opens the JKS truststore with changeit: %v", name, err)
			}
			var jks []*x509.Certificate
			for _, alias := range ks.Aliases() {
				entry, err := ks.GetTrustedCertificateEntry(alias)
				if err != nil {
					t.Fatalf("%s: JKS entry %s: %v", name, alias, err)
				}
				cert, err := x509.ParseCertificate(entry.Certificate.Content)
				if err != nil {
					t.Fatal(err)
				}
				jks = append(jks, cert)
			}
			if got := sortedSet(jks); !slices.Equal(got, want) {
				t.Errorf("%s: the JKS truststore holds %d certificates, want %d", name, len(got), len(want))
			}
			if keytool, err := exec.LookPath("keytool"); err == nil {
				for _, args := range [][]string{{"-keystore", "bundle.jks", "-storepass", "changeit"}, {"-keystore", "bundle.p12", "-storetype", "PKCS12", "-storepass", ""}} {
					r := runIn(t, dir, "", keytool, append([]string{"-list"}, args...)...)
					if wantLine := fmt.Sprintf("Your keystore contains %d entries", len(want)); r.code != 0 || !strings.Contains(r.stdout, wantLine) {
						t.Errorf("%s: keytool -list %v: exit %d, want %q:\n%s%s", name, args, r.code, wantLine, r.stdout, r.stderr)
					}
				}
			}
		}
	})

	t.Run("a PKCS#12 truststore with a password and a profile, a JKS password", func(t *testing.T) {
		mustApply(t, admin, fmt.Sprintf(`apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: java}
spec:
  sources:
  - inLine: |
%s
  target:
    namespaceSelector: {matchLabels: {team: a}}
    secret: {key: ca.crt}
    additionalFormats:
      jks: {key: truststore.jks, password: jks-s3cret}
      pkcs12: {key: truststore.p12, password: p12-s3cret, profile: Modern2023}
`, indent(pemText(b, c), "      ")))
		waitSynced(t, admin, "java", "True")
		s := waitTarget(t, cs, "Secret", "team-a", "java", "ca.crt", sortedSet([]*x509.Certificate{b, c})).(*corev1.Secret)
		writeFile(t, filepath.Join(dir, "java.p12"), string(s.Data["truststore.p12"]))
		writeFile(t, filepath.Join(dir, "java.jks"), string(s.Data["truststore.jks"]))
		out := openssl(t, dir, "pkcs12", "-in", "java.p12", "-nokeys", "-passin", "pass:p12-s3cret", "-info")
		if strings.Count(out, "-----BEGIN CERTIFICATE-----") != 2 || !strings.Contains(out, "AES-256-CBC") {
			t.Errorf("openssl pkcs12 -info: want 2 certificates encrypted with AES-256-CBC (Modern2023):\n%s", out)
		}
		if r := runIn(t, dir, "", "openssl", "pkcs12", "-in", "java.p12", "-nokeys", "-passin", "pass:wrong"); r.code == 0 {
			t.Error("the PKCS#12 truststore opens with a wrong password")
		}
		if err := keystore.New().Load(bytes.NewReader(s.Data["truststore.jks"]), []byte("jks-s3cret")); err != nil {
			t.Errorf("keystore-go opens the JKS truststore with its password: %v", err)
		}
		if keytool, err := exec.LookPath("keytool"); err == nil {
			if r := runIn(t, dir, "", keytool, "-list", "-keystore", "java.p12", "-storetype", "PKCS12", "-storepass", "p12-s3cret"); r.code != 0 || !strings.Contains(r.stdout, "Your keystore contains 2 entries") {
				t.Errorf("keytool -list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		}
		if _, _, ok := targetCerts(t, cs, "Secret", "team-b", "java", "ca.crt"); ok {
			t.Error("team-b, not selected, has the target")
		}
	})

	t.Run("with --filter-expired-certificates a certificate leaves when it expires", func(t *testing.T) {
		soon := pkitest.CAAt(t, "soon", time.Now().Add(-time.Hour), time.Hour+8*time.Second).Certificate
		mustApply(t, admin, fmt.Sprintf(`apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: expiring}
spec:
  sources:
  - inLine: |
%s
  target:
    namespaceSelector: {matchLabels: {team: a}}
    configMap: {key: ca.crt}
`, indent(pemText(b, soon), "      ")))
		waitTarget(t, cs, "ConfigMap", "team-a", "expiring", "ca.crt", sortedSet([]*x509.Certificate{b, soon}))
		// Nothing else changes: the controller looks again at the expiry.
		waitTarget(t, cs, "ConfigMap", "team-a", "expiring", "ca.crt", certSet([]*x509.Certificate{b}))
	})

	t.Run("a source change reaches every target", func(t *testing.T) {
		defaults, _ := defaultCAs(t)
		r2 := ca("R2")
		mustApply(t, admin, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: root, namespace: trust}
data:
  ca.crt: |
%s
`, indent(pemText(r2), "    ")))
		// r1 stays: the inLine source holds it too.
		want := sortedSet([]*x509.Certificate{r1, r2, b, c, d, e, f}, defaults)
		for _, ns := range []string{"team-a", "team-b", "kube-system"} {
			waitTarget(t, cs, "ConfigMap", ns, "everything", "ca-bundle.crt", want)
			waitTarget(t, cs, "Secret", ns, "everything", "ca.crt", want)
		}
	})

	t.Run("namespaces labelled, unlabelled, created and deleted", func(t *testing.T) {
		mustApply(t, admin, fmt.Sprintf(`apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: selected}
spec:
  sources:
  - inLine: |
%s
  target:
    namespaceSelector: {matchLabels: {trust: "yes"}}
    configMap:
      key: ca.crt
      metadata: {labels: {app: web}, annotations: {example.com/owner: platform}}
`, indent(pemText(f), "      ")))
		want := certSet([]*x509.Certificate{f})
		cm := waitTarget(t, cs, "ConfigMap", "team-a", "selected", "ca.crt", want)
		if cm.GetLabels()["app"] != "web" || cm.GetAnnotations()["example.com/owner"] != "platform" {
			t.Errorf("target metadata: labels %v, annotations %v", cm.GetLabels(), cm.GetAnnotations())
		}
		if _, _, ok := targetCerts(t, cs, "ConfigMap", "team-b", "selected", "ca.crt"); ok {
			t.Error("team-b, not labelled, has the target")
		}
		if got := synced(t, admin, "selected"); got != "True Synced: Bundle synced to the namespaces matching trust=yes" {
			t.Errorf("Synced: %q", got)
		}
		mustKubectl(t, admin, "label", "namespace", "team-b", "trust=yes")
		waitTarget(t, cs, "ConfigMap", "team-b", "selected", "ca.crt", want)
		mustKubectl(t, admin, "label", "namespace", "team-a", "trust-")
		waitNoTarget(t, cs, "ConfigMap", "team-a", "selected")
		mustKubectl(t, admin, "create", "namespace", "team-c")
		mustKubectl(t, admin, "label", "namespace", "team-c", "trust=yes")
		waitTarget(t, cs, "ConfigMap", "team-c", "selected", "ca.crt", want)
		mustKubectl(t, admin, "delete", "namespace", "team-c", "--wait=true", "--timeout=60s")
		waitNoTarget(t, cs, "ConfigMap", "team-c", "selected")
		if got := waitSynced(t, admin, "selected", "True"); got != "True Synced: Bundle synced to the namespaces matching trust=yes" {
			t.Errorf("after the namespace went: %q", got)
		}
		// The everything Bundle selects all namespaces: a new one gets it.
		mustKubectl(t, admin, "create", "namespace", "team-d")
		if current, _, ok := targetCerts(t, cs, "ConfigMap", "team-b", "everything", "ca-bundle.crt"); ok {
			waitTarget(t, cs, "ConfigMap", "team-d", "everything", "ca-bundle.crt", current)
		}
	})

	t.Run("no write when nothing changed; hand edits are undone", func(t *testing.T) {
		rv := func(ns string) string {
			_, obj, ok := targetCerts(t, cs, "ConfigMap", ns, "selected", "ca.crt")
			if !ok {
				t.Fatalf("no target in %s", ns)
			}
			return obj.GetResourceVersion()
		}
		before := rv("team-b")
		applies, statuses := trustAPIRequests(t, admin, "APPLY", "configmaps", ""), trustAPIRequests(t, admin, "PATCH", "bundles", "status")
		// Force a reconcile (an unrelated annotation), then make one that
		// must write: once the new namespace has its target, every other
		// target has been looked at again.
		mustKubectl(t, admin, "annotate", "bundle", "selected", "example.com/touched=1")
		mustKubectl(t, admin, "create", "namespace", "team-e")
		mustKubectl(t, admin, "label", "namespace", "team-e", "trust=yes")
		waitTarget(t, cs, "ConfigMap", "team-e", "selected", "ca.crt", certSet([]*x509.Certificate{f}))
		waitFor(t, 30*time.Second, "the everything Bundle's ConfigMap in team-e", func() bool {
			_, _, ok := targetCerts(t, cs, "ConfigMap", "team-e", "everything", "ca-bundle.crt")
			return ok
		})
		if after := rv("team-b"); after != before {
			t.Errorf("team-b's target was written again (resourceVersion %s → %s) though nothing changed", before, after)
		}
		// An apply that changes nothing keeps the resourceVersion: count
		// the requests. Only team-e's ConfigMaps were written, this
		// Bundle's and the everything Bundle's (all namespaces).
		if n := trustAPIRequests(t, admin, "APPLY", "configmaps", "") - applies; n != 2 {
			t.Errorf("%d ConfigMap applies for one new namespace, want 2", n)
		}
		if n := trustAPIRequests(t, admin, "PATCH", "bundles", "status") - statuses; n != 0 {
			t.Errorf("%d Bundle status writes, want none: the conditions did not change", n)
		}
		if got := synced(t, admin, "selected"); !strings.HasPrefix(got, "True Synced") {
			t.Errorf("Synced: %q", got)
		}

		mustKubectl(t, admin, "patch", "configmap", "selected", "-n", "team-b", "--type=merge", "-p", `{"data":{"ca.crt":"tampered"}}`)
		waitTarget(t, cs, "ConfigMap", "team-b", "selected", "ca.crt", certSet([]*x509.Certificate{f}))
		mustKubectl(t, admin, "delete", "configmap", "selected", "-n", "team-b")
		waitTarget(t, cs, "ConfigMap", "team-b", "selected", "ca.crt", certSet([]*x509.Certificate{f}))
	})

	t.Run("garbage PEM in a source: Synced=False naming it, targets keep their content", func(t *testing.T) {
		feed := func(text string) {
			mustApply(t, admin, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: feed, namespace: trust}
data:
  ca.crt: |
%s
`, indent(text, "    ")))
		}
		feed(pemText(b))
		mustApply(t, admin, `apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: fed}
spec:
  sources:
  - configMap: {name: feed, key: ca.crt}
  target:
    namespaceSelector: {matchLabels: {trust: "yes"}}
    configMap: {key: ca.crt}
`)
		good := waitTarget(t, cs, "ConfigMap", "team-b", "fed", "ca.crt", certSet([]*x509.Certificate{b}))
		feed("this is not a certificate")
		if got := waitSynced(t, admin, "fed", "False"); !strings.HasPrefix(got, `False SourceBuildError: ConfigMap trust/feed key "ca.crt" holds invalid PEM`) {
			t.Errorf("Synced: %q", got)
		}
		key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
		feed(pemText(c) + string(key))
		if got := waitSynced(t, admin, "fed", `False SourceBuildError: ConfigMap trust/feed key "ca.crt" holds invalid PEM: block 2 is a "EC PRIVATE KEY"`); got == "" {
			t.Error("no condition")
		}
		if _, obj, _ := targetCerts(t, cs, "ConfigMap", "team-b", "fed", "ca.crt"); obj.GetResourceVersion() != good.GetResourceVersion() {
			t.Error("the target was written while the source was invalid")
		}
		waitTarget(t, cs, "ConfigMap", "team-b", "fed", "ca.crt", certSet([]*x509.Certificate{b}))
		feed(pemText(c))
		waitSynced(t, admin, "fed", "True Synced")
		waitTarget(t, cs, "ConfigMap", "team-b", "fed", "ca.crt", certSet([]*x509.Certificate{c}))
	})

	t.Run("sources are read only from the trust namespace", func(t *testing.T) {
		mustApply(t, admin, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: elsewhere, namespace: cert-manager}
data:
  ca.crt: |
%s
---
apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: outside}
spec:
  sources:
  - configMap: {name: elsewhere, key: ca.crt}
  target:
    configMap: {key: ca.crt}
`, indent(pemText(b), "    ")))
		if got := waitSynced(t, admin, "outside", "False"); got != "False SourceNotFound: ConfigMap trust/elsewhere not found" {
			t.Errorf("Synced: %q", got)
		}
		if _, _, ok := targetCerts(t, cs, "ConfigMap", "team-a", "outside", "ca.crt"); ok {
			t.Error("a target was written without a source")
		}
	})

	t.Run("deleting a source, then the Bundle", func(t *testing.T) {
		mustKubectl(t, admin, "delete", "configmap", "feed", "-n", "trust")
		if got := waitSynced(t, admin, "fed", "False"); got != "False SourceNotFound: ConfigMap trust/feed not found" {
			t.Errorf("Synced: %q", got)
		}
		waitTarget(t, cs, "ConfigMap", "team-b", "fed", "ca.crt", certSet([]*x509.Certificate{c}))
		mustKubectl(t, admin, "delete", "bundle", "fed")
		// kube-controller-manager's garbage collector follows the owner
		// references.
		waitNoTarget(t, cs, "ConfigMap", "team-b", "fed")
		waitNoTarget(t, cs, "ConfigMap", "team-e", "fed")
	})

	t.Run("the apiserver refuses what trust-manager's webhook refuses", func(t *testing.T) {
		for _, c := range []struct{ spec, want string }{
			{"sources: [{inLine: x, useDefaultCAs: true}]\n  target: {configMap: {key: k}}", "must define exactly one source type"},
			{"sources: [{useDefaultCAs: false}]\n  target: {configMap: {key: k}}", "must define at least one source"},
			{"sources: [{configMap: {name: a}}]\n  target: {configMap: {key: k}}", "must define exactly one of key and includeAllKeys: true"},
			{"sources: [{configMap: {name: a, key: k, selector: {}}}]\n  target: {configMap: {key: k}}", "must define exactly one of name and selector"},
			{"sources: [{configMap: {name: bad, key: k}}]\n  target: {configMap: {key: k}}", "a configMap source may not be the target"},
			{"sources: [{inLine: x}]\n  target: {configMap: {key: k}, additionalFormats: {jks: {key: k}}}", "additionalFormats.jks.key: must differ from every target key"},
			{"sources: [{inLine: x}]\n  target: {configMap: {key: k, metadata: {labels: {trust.cert-manager.io/bundle: x}}}}", "trust.cert-manager.io/ and trust-manager.io/ keys are reserved"},
			{"sources: [{inLine: x}]\n  target: {configMap: {key: k}, additionalFormats: {pkcs12: {key: p, profile: Modern2026}}}", "Unsupported value: \"Modern2026\""},
		} {
			r := applyManifest(t, admin, "apiVersion: trust.cert-manager.io/v1alpha1\nkind: Bundle\nmetadata: {name: bad}\nspec:\n  "+c.spec+"\n")
			if r.code == 0 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s: exit %d, want %q in:\n%s", c.spec, r.code, c.want, r.stderr)
			}
		}
	})

	t.Run("a restart writes nothing", func(t *testing.T) {
		// Every target is current: its metadata (hash, owner, managed
		// fields) says so, without reading its data.
		up.stop(t)
		up = startUp(t, data, port, flags...)
		mustKubectl(t, admin, "create", "namespace", "team-f")
		mustKubectl(t, admin, "label", "namespace", "team-f", "trust=yes")
		waitTarget(t, cs, "ConfigMap", "team-f", "selected", "ca.crt", certSet([]*x509.Certificate{f}))
		waitFor(t, 30*time.Second, "the everything Bundle's targets in team-f", func() bool {
			_, _, cm := targetCerts(t, cs, "ConfigMap", "team-f", "everything", "ca-bundle.crt")
			_, _, s := targetCerts(t, cs, "Secret", "team-f", "everything", "ca.crt")
			return cm && s
		})
		// kube-apiserver restarted too: its counters start at zero.
		if n := trustAPIRequests(t, admin, "APPLY", "configmaps", ""); n != 2 {
			t.Errorf("%d ConfigMap applies after the restart, want 2 (team-f's)", n)
		}
		if n := trustAPIRequests(t, admin, "APPLY", "secrets", ""); n != 1 {
			t.Errorf("%d Secret applies after the restart, want 1 (team-f's)", n)
		}
		if n := trustAPIRequests(t, admin, "PATCH", "bundles", "status"); n != 0 {
			t.Errorf("%d Bundle status writes after the restart, want none", n)
		}
	})
}
