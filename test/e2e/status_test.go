package e2e

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// statusRow is what the tests read of a row of `status -o json`.
type statusRow struct {
	Kind        string     `json:"kind"`
	Namespace   string     `json:"namespace"`
	Name        string     `json:"name"`
	Subject     string     `json:"subject"`
	Names       []string   `json:"names"`
	Issuer      string     `json:"issuer"`
	NotAfter    *time.Time `json:"notAfter"`
	SecondsLeft *int64     `json:"secondsLeft"`
	RenewalTime *time.Time `json:"renewalTime"`
	State       string     `json:"state"`
	Owner       string     `json:"owner"`
	Secret      string     `json:"secret"`
	IssuerRef   string     `json:"issuerRef"`
	UsedBy      []string   `json:"usedBy"`
	Attention   bool       `json:"attention"`
}

type statusReport struct {
	Attention int         `json:"attention"`
	Items     []statusRow `json:"items"`
	Skipped   []string    `json:"skipped"`
}

func (r *statusReport) row(t *testing.T, kind, ns, name string) statusRow {
	t.Helper()
	for _, it := range r.Items {
		if it.Kind == kind && it.Namespace == ns && it.Name == name {
			return it
		}
	}
	t.Fatalf("no %s %s/%s among %d rows", kind, ns, name, len(r.Items))
	return statusRow{}
}

func (r *statusReport) has(kind, ns, name string) bool {
	for _, it := range r.Items {
		if it.Kind == kind && it.Namespace == ns && it.Name == name {
			return true
		}
	}
	return false
}

// tlsSecretYAML is a kubernetes.io/tls Secret holding a new certificate
// for cn from ca, valid from notBefore for d.
func tlsSecretYAML(t *testing.T, ca *pki.CA, ns, name, cn string, notBefore time.Time, d time.Duration) string {
	t.Helper()
	key := pkitest.Key(t)
	c, err := ca.Issue(rand.Reader, notBefore, &pki.Template{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}, Duration: d, Backdate: -1}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatPKCS8)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns + "}\ntype: kubernetes.io/tls\ndata:\n" +
		"  tls.crt: " + b64(pki.EncodeCertificatesPEM(c)) + "\n  tls.key: " + b64(keyPEM) + "\n"
}

// TestStatus: `certplane status` on a cluster holding a bootstrapped CA
// Issuer and a Certificate, unmanaged TLS Secrets (one expiring in 10
// days, one expired), an Ingress naming one of them and a Secret that does
// not exist, and an issued CSR: every row, its state and owner, the order
// by time left, the filters, the outputs, the PKI files with --dir, and the
// exit code of the warning window.
func TestStatus(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	now := time.Now()
	ca := pkitest.CAAt(t, "legacy-ca", now.Add(-72*time.Hour), 3650*24*time.Hour)
	manifests := crIssuers + `---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
  namespace: sandbox
  labels: {app: web}
spec:
  secretName: web-tls
  duration: 1h
  dnsNames: [web.sandbox.svc]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: ca}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Namespace
metadata: {name: old}
---
` + tlsSecretYAML(t, ca, "legacy", "legacy-tls", "legacy.example", now, 10*24*time.Hour) + `---
` + tlsSecretYAML(t, ca, "old", "old-tls", "old.example", now.Add(-48*time.Hour), 24*time.Hour) + `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: legacy}
spec:
  tls:
  - secretName: legacy-tls
  - secretName: gone-tls
  defaultBackend:
    service: {name: shop, port: {number: 80}}
`
	writeFile(t, filepath.Join(dir, "estate.yaml"), manifests)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "estate.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "sandbox", "certificate/root", "certificate/web", "issuer/ca")
	writeFile(t, filepath.Join(dir, "jane.json"), `{"CN": "jane", "key": {"algo": "ecdsa", "size": 256}}`)
	must(t, dir, "", "csr", "create", "jane", "--genkey", "jane.json", "--signer", "kubernetes.io/kube-apiserver-client", "--usages", "digital signature,client auth", "--expiration", "48h", "--kubeconfig", admin)
	must(t, dir, "", "csr", "approve", "jane", "--kubeconfig", admin)
	must(t, dir, "", "csr", "wait", "jane", "--timeout", "60s", "--kubeconfig", admin)
	// Two pod certificates for one pod: the second supersedes the first.
	mustKubectl(t, admin, "create", "namespace", "shop")
	for _, name := range []string{"svid-1", "svid-2"} {
		r := newPodCertRequest(t, name, "shop", "certplane.io/spiffe")
		r.podUID = "uid-pod-web-0"
		r.create(t, admin)
		if got := waitPCRCondition(t, admin, "shop", name); !strings.HasPrefix(got, "Issued ") {
			t.Fatalf("PodCertificateRequest %s: %q", name, got)
		}
	}

	status := func(t *testing.T, args ...string) (result, *statusReport) {
		t.Helper()
		r := cp(t, dir, "", append([]string{"status", "--kubeconfig", admin, "-o", "json"}, args...)...)
		rep := &statusReport{}
		if err := json.Unmarshal([]byte(r.stdout), rep); err != nil {
			t.Fatalf("status %v: exit %d, stdout is not JSON (%v): %q %s", args, r.code, err, r.stdout, r.stderr)
		}
		return r, rep
	}

	t.Run("the whole estate, sorted, with what needs attention", func(t *testing.T) {
		r, rep := status(t)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "3 certificates need attention") ||
			!strings.Contains(r.stderr, "Secret old/old-tls") || !strings.Contains(r.stderr, "Secret legacy/legacy-tls") || !strings.Contains(r.stderr, "CertificateSigningRequest jane") {
			t.Errorf("exit %d, stderr %q: want exit 1 naming old/old-tls, jane and legacy/legacy-tls", r.code, r.stderr)
		}
		if rep.Attention != 3 || len(rep.Skipped) != 0 {
			t.Errorf("attention %d, skipped %v", rep.Attention, rep.Skipped)
		}
		web := rep.row(t, "Certificate", "sandbox", "web")
		if web.State != "Ready" || web.Secret != "web-tls" || web.IssuerRef != "Issuer/ca" || web.Issuer != "CN=sandbox-root" ||
			web.RenewalTime == nil || web.NotAfter == nil || web.Attention || len(web.Names) != 1 || web.Names[0] != "web.sandbox.svc" {
			t.Errorf("Certificate web (1h, renews by itself, so no attention though within --warn): %+v", web)
		}
		if caCrt := rep.row(t, "Certificate", "sandbox", "root"); strings.Join(caCrt.UsedBy, ",") != "Issuer/ca" {
			t.Errorf("the CA Certificate is used by %v", caCrt.UsedBy)
		}
		iss := rep.row(t, "Issuer", "sandbox", "ca")
		if iss.State != "Ready" || iss.Subject != "CN=sandbox-root" || iss.Secret != "root-secret" || iss.RenewalTime == nil {
			t.Errorf("Issuer: %+v", iss)
		}
		legacy := rep.row(t, "Secret", "legacy", "legacy-tls")
		if legacy.State != "Valid" || !legacy.Attention || strings.Join(legacy.UsedBy, ",") != "Ingress/shop" || legacy.Issuer != "CN=legacy-ca" || legacy.RenewalTime != nil {
			t.Errorf("unmanaged Secret named by an Ingress: %+v", legacy)
		}
		if gone := rep.row(t, "Secret", "legacy", "gone-tls"); gone.State != "Missing" || gone.Attention {
			t.Errorf("Ingress Secret that does not exist: %+v", gone)
		}
		if old := rep.row(t, "Secret", "old", "old-tls"); old.State != "Expired" || !old.Attention || *old.SecondsLeft >= 0 {
			t.Errorf("expired Secret: %+v", old)
		}
		if csr := rep.row(t, "CertificateSigningRequest", "", "jane"); csr.State != "Issued" || !csr.Attention || csr.Owner != "kubernetes-admin" || csr.IssuerRef != "kubernetes.io/kube-apiserver-client" || csr.Subject != "CN=jane" {
			t.Errorf("CSR: %+v", csr)
		}
		svid := rep.row(t, "PodCertificateRequest", "shop", "svid-2")
		if svid.State != "Issued" || svid.Owner != "Pod/web-0" || svid.IssuerRef != "certplane.io/spiffe" || svid.RenewalTime == nil || svid.NotAfter == nil || svid.Attention {
			t.Errorf("pod certificate in use (1h, refreshed by the kubelet, so no attention): %+v", svid)
		}
		if old := rep.row(t, "PodCertificateRequest", "shop", "svid-1"); old.State != "Superseded" || old.Attention {
			t.Errorf("pod certificate superseded by a newer one: %+v", old)
		}
		for _, name := range []string{"root-secret", "web-tls"} {
			if rep.has("Secret", "sandbox", name) {
				t.Errorf("a Certificate's Secret %s has a row of its own", name)
			}
		}
		bundles := 0
		for _, it := range rep.Items {
			if it.Kind == "ClusterTrustBundle" {
				bundles++
			}
		}
		if bundles == 0 {
			t.Error("no ClusterTrustBundle rows: up publishes the cluster's signers' CAs")
		}
		var last int64 = -1 << 62
		for i, it := range rep.Items {
			if it.SecondsLeft == nil {
				for _, rest := range rep.Items[i:] {
					if rest.SecondsLeft != nil {
						t.Errorf("a row without a certificate before %s %s", rest.Kind, rest.Name)
					}
				}
				break
			}
			if *it.SecondsLeft < last {
				t.Errorf("%s %s/%s (%ds left) after a row with %ds left: not sorted by time left", it.Kind, it.Namespace, it.Name, *it.SecondsLeft, last)
			}
			last = *it.SecondsLeft
		}
		if rep.Items[0].Name != "old-tls" {
			t.Errorf("first row %s, want the expired old-tls", rep.Items[0].Name)
		}
	})

	t.Run("warning window", func(t *testing.T) {
		if r, rep := status(t, "-n", "legacy", "--warn", "241h"); r.code != 1 || rep.Attention != 1 {
			t.Errorf("10 days left, --warn 241h: exit %d attention %d, stderr %q", r.code, rep.Attention, r.stderr)
		}
		if r, rep := status(t, "-n", "legacy", "--warn", "239h"); r.code != 0 || rep.Attention != 0 || r.stderr != "" {
			t.Errorf("10 days left, --warn 239h: exit %d attention %d, stderr %q", r.code, rep.Attention, r.stderr)
		}
		if r, _ := status(t, "-n", "old", "--warn", "1s"); r.code != 1 || !strings.Contains(r.stderr, "expired") {
			t.Errorf("expired, whatever --warn: exit %d, stderr %q", r.code, r.stderr)
		}
		// web expires within the hour and within --warn, but renews before.
		if r, _ := status(t, "-n", "sandbox", "--warn", "87600h"); r.code != 0 {
			t.Errorf("sandbox, which renews by itself, with a ten-year window: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("filters", func(t *testing.T) {
		_, rep := status(t, "-n", "sandbox")
		for _, it := range rep.Items {
			if it.Namespace != "sandbox" {
				t.Errorf("-n sandbox listed %s %s/%s", it.Kind, it.Namespace, it.Name)
			}
		}
		if len(rep.Items) != 3 { // two Certificates and the Issuer
			t.Errorf("-n sandbox: %d rows", len(rep.Items))
		}
		if _, rep := status(t, "-A", "-n", "sandbox"); !rep.has("Secret", "old", "old-tls") {
			t.Error("-A does not win over -n")
		}
		if _, rep := status(t, "-l", "app=web"); len(rep.Items) != 1 || rep.Items[0].Name != "web" {
			t.Errorf("-l app=web: %+v", rep.Items)
		}
		_, rep = status(t, "--expiring-within", "239h", "--warn", "1h")
		var got []string
		for _, it := range rep.Items {
			got = append(got, it.Kind+":"+it.Name)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != "Certificate:web CertificateSigningRequest:jane PodCertificateRequest:svid-1 PodCertificateRequest:svid-2 Secret:old-tls" {
			t.Errorf("--expiring-within 239h: %v", got)
		}
		_, rep = status(t, "--expiring-within", "241h", "-n", "legacy")
		if len(rep.Items) != 1 || rep.Items[0].Name != "legacy-tls" {
			t.Errorf("--expiring-within 241h -n legacy: %+v", rep.Items)
		}
	})

	t.Run("table, wide and yaml", func(t *testing.T) {
		r := cp(t, dir, "", "status", "--kubeconfig", admin, "-n", "sandbox")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "KIND") || !strings.Contains(lines[0], "TIME LEFT") ||
			!strings.Contains(lines[0], "RENEWAL") || !strings.Contains(lines[0], "OWNER") || !strings.HasPrefix(lines[1], "Certificate  sandbox    web") {
			t.Errorf("table: exit %d\n%s", r.code, r.stdout)
		}
		r = cp(t, dir, "", "status", "--kubeconfig", admin, "-n", "legacy", "-o", "wide")
		if r.code != 1 || !strings.Contains(r.stdout, "Ingress/shop") || !strings.Contains(r.stdout, "Valid (!)") || !strings.Contains(r.stdout, "Missing") {
			t.Errorf("wide: exit %d\n%s", r.code, r.stdout)
		}
		r = cp(t, dir, "", "status", "--kubeconfig", admin, "-n", "sandbox", "-o", "yaml")
		var rep statusReport
		if err := yaml.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || len(rep.Items) != 3 {
			t.Errorf("yaml: exit %d, %v, %d rows", r.code, err, len(rep.Items))
		}
	})

	t.Run("the cluster PKI with --dir", func(t *testing.T) {
		_, rep := status(t, "--dir", data)
		for _, name := range []string{"apiserver", "ca", "admin.conf", "etcd-server"} {
			if r := rep.row(t, "PKI", "", name); r.State != "Valid" || r.NotAfter == nil {
				t.Errorf("PKI %s: %+v", name, r)
			}
		}
		if _, rep := status(t, "--dir", data, "-n", "sandbox"); rep.has("PKI", "", "apiserver") {
			t.Error("-n lists PKI files, which have no namespace")
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"-o", "xml"}, {"-l", "a in ("}, {"--warn", "0s"}, {"--dir", filepath.Join(dir, "nowhere")}, {"extra-argument"},
		} {
			r := cp(t, dir, "", append([]string{"status", "--kubeconfig", admin}, args...)...)
			if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("status %v: exit %d, stdout %q, stderr %q; want one line of error", args, r.code, r.stdout, r.stderr)
			}
		}
		conf, err := os.ReadFile(admin)
		if err != nil {
			t.Fatal(err)
		}
		down := regexp.MustCompile(`server: https://127\.0\.0\.1:\d+`).ReplaceAllString(string(conf), "server: https://127.0.0.1:"+strconv.Itoa(freePort(t)))
		writeFile(t, filepath.Join(dir, "down.conf"), down)
		r := cp(t, dir, "", "status", "--kubeconfig", filepath.Join(dir, "down.conf"))
		if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "more kinds could not be listed") {
			t.Errorf("cluster down: exit %d, %q; want one line", r.code, r.stderr)
		}
		r = cp(t, dir, "", "status", "--kubeconfig", filepath.Join(dir, "missing.conf"))
		if r.code == 0 || !strings.Contains(r.stderr, "missing.conf") {
			t.Errorf("missing kubeconfig: exit %d, %q", r.code, r.stderr)
		}
	})
}
