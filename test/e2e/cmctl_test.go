package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// background runs certplane in dir without waiting; the result arrives on
// the channel once it exits.
func background(t *testing.T, dir string, args ...string) <-chan result {
	t.Helper()
	cmd := exec.Command(certplane, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		done <- result{out.String(), errOut.String(), code}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return done
}

// squash collapses runs of spaces, so that checks do not depend on how a
// table is aligned.
func squash(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

func waitResult(t *testing.T, ch <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(90 * time.Second):
		t.Fatalf("%s did not end within 90s", what)
	}
	return result{}
}

const appCertificate = `# the Certificate the request is made from
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: app
  namespace: sandbox
  labels: {team: payments}
  annotations: {example.com/ticket: "42"}
spec:
  secretName: app-tls
  commonName: app.sandbox.svc
  dnsNames: [app.sandbox.svc]
  duration: 24h
  usages: [server auth, digital signature]
  privateKey: {algorithm: ECDSA, size: 384}
  issuerRef: {name: ca}
`

// TestCmctlVerbs: cmctl's verbs in certplane, on `certplane up` with its
// built-in approver off, so that approval is left to them: check api,
// create certificaterequest (with and without --fetch-certificate),
// approve and deny, renew (whose request is then approved), status
// certificate and inspect secret, with their exit codes, one-line errors
// and -o json.
func TestCmctlVerbs(t *testing.T) {
	admin, dir := crCluster(t, "--disable-certificaterequest-approver")
	kc := []string{"--kubeconfig", admin}
	run := func(t *testing.T, args ...string) result {
		t.Helper()
		return cp(t, dir, "", append(args, kc...)...)
	}
	oneLineError := func(t *testing.T, r result, want string) {
		t.Helper()
		if r.code == 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want a one-line error containing %q", r.code, r.stderr, want)
		}
	}

	t.Run("check api", func(t *testing.T) {
		r := run(t, "check", "api", "--wait", "30s", "--interval", "1s")
		if r.code != 0 || r.stdout != "The cert-manager API is ready\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if got := mustKubectl(t, admin, "get", "certificaterequests", "-A", "-o", "name"); strings.Contains(got, "check-api") {
			t.Errorf("check api left a CertificateRequest: %s", got)
		}
	})

	writeFile(t, filepath.Join(dir, "app.yaml"), appCertificate)

	t.Run("create certificaterequest and approve it", func(t *testing.T) {
		done := background(t, dir, append([]string{"create", "certificaterequest", "app-1", "--from-certificate-file", "app.yaml", "--fetch-certificate", "--timeout", "80s"}, kc...)...)
		waitFor(t, 60*time.Second, "CertificateRequest app-1", func() bool {
			return kubectl(t, admin, "get", "certificaterequest", "app-1", "-n", "sandbox").code == 0
		})
		for field, want := range map[string]string{
			"{.spec.issuerRef.name}": "ca", "{.spec.duration}": "24h0m0s", "{.spec.usages}": `["server auth","digital signature"]`,
			"{.metadata.labels.team}": "payments", `{.metadata.annotations.example\.com/ticket}`: "42", "{.spec.username}": "kubernetes-admin",
		} {
			if got := crField(t, admin, "app-1", field); got != want {
				t.Errorf("app-1 %s = %q, want %q", field, got, want)
			}
		}
		if got := crCondition(t, admin, "app-1", "Approved"); got != " : " {
			t.Fatalf("app-1 approved before certplane approve: %q", got)
		}
		r := run(t, "approve", "app-1", "-n", "sandbox", "--reason", "PKIReview", "--message", "checked by the PKI team")
		if r.code != 0 || r.stdout != "Approved CertificateRequest 'sandbox/app-1'\n" {
			t.Fatalf("approve: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if got := crCondition(t, admin, "app-1", "Approved"); got != "True PKIReview: checked by the PKI team" {
			t.Errorf("Approved = %q", got)
		}
		cr := waitResult(t, done, "create certificaterequest --fetch-certificate")
		if cr.code != 0 || cr.stdout != "" || !strings.Contains(cr.stderr, "Private key written to file app-1.key") ||
			!strings.Contains(cr.stderr, "CertificateRequest app-1 has been created in namespace sandbox") || !strings.Contains(cr.stderr, "Certificate written to file app-1.crt") {
			t.Fatalf("create certificaterequest: exit %d, stdout %q, stderr %q", cr.code, cr.stdout, cr.stderr)
		}
		st, err := os.Stat(filepath.Join(dir, "app-1.key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("app-1.key: %v %v", st, err)
		}
		certPEM, _ := os.ReadFile(filepath.Join(dir, "app-1.crt"))
		keyPEM, _ := os.ReadFile(filepath.Join(dir, "app-1.key"))
		certs, err := pki.ParseCertificatesPEM(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		key, err := pki.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		if alg, bits := pki.KeyDescription(key.Public()); !pki.KeyMatches(certs[0].PublicKey, key) || alg != "ECDSA" || bits != 384 {
			t.Errorf("the key (%s %d) does not match the certificate or the spec", alg, bits)
		}
		if c := certs[0]; c.Subject.CommonName != "app.sandbox.svc" || c.Issuer.CommonName != "sandbox-root" || c.NotAfter.Sub(c.NotBefore) > 24*time.Hour+10*time.Minute {
			t.Errorf("issued %s by %s for %s", c.Subject, c.Issuer, c.NotAfter.Sub(c.NotBefore))
		}
		oneLineError(t, run(t, "approve", "app-1", "-n", "sandbox"), "CertificateRequest sandbox/app-1 is already approved")
		oneLineError(t, run(t, "deny", "app-1", "-n", "sandbox"), "CertificateRequest sandbox/app-1 is already approved")
	})

	t.Run("deny ends a waiting create at once", func(t *testing.T) {
		done := background(t, dir, append([]string{"create", "cr", "app-2", "--from-certificate-file", "app.yaml", "--fetch-certificate", "--output-key-file", "two.key", "--output-certificate-file", "two.crt"}, kc...)...)
		waitFor(t, 60*time.Second, "CertificateRequest app-2", func() bool {
			return kubectl(t, admin, "get", "certificaterequest", "app-2", "-n", "sandbox").code == 0
		})
		r := run(t, "deny", "app-2", "-n", "sandbox")
		if r.code != 0 || r.stdout != "Denied CertificateRequest 'sandbox/app-2'\n" {
			t.Fatalf("deny: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if got := crCondition(t, admin, "app-2", "Denied"); got != `True CertplaneDeny: manually denied by "certplane"` {
			t.Errorf("Denied = %q", got)
		}
		cr := waitResult(t, done, "create certificaterequest of a denied request")
		if cr.code == 0 || !strings.Contains(cr.stderr, "certplane: CertificateRequest sandbox/app-2 will not be signed: Denied") {
			t.Errorf("create of a denied request: exit %d, stderr %q", cr.code, cr.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "two.key")); err != nil {
			t.Errorf("the key of a created request is kept: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "two.crt")); err == nil {
			t.Error("a certificate file was written for a denied request")
		}
		oneLineError(t, run(t, "approve", "app-2", "-n", "sandbox"), "already denied")
	})

	t.Run("create certificaterequest refuses", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "two.yaml"), appCertificate+"---\n"+appCertificate)
		writeFile(t, filepath.Join(dir, "issuer.yaml"), "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: x}\nspec: {selfSigned: {}}\n")
		writeFile(t, filepath.Join(dir, "bad.yaml"), strings.Replace(appCertificate, "duration: 24h", "duration: 10m", 1))
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"create", "cr", "x"}, "--from-certificate-file"},
			{[]string{"create", "cr", "x", "--from-certificate-file", "two.yaml"}, "two.yaml: holds 2 objects: want one Certificate"},
			{[]string{"create", "cr", "x", "--from-certificate-file", "issuer.yaml"}, "issuer.yaml: holds cert-manager.io/v1 Issuer: want a Certificate"},
			{[]string{"create", "cr", "x", "--from-certificate-file", "bad.yaml"}, "bad.yaml: spec.duration: 10m0s is shorter than the minimum of 1h0m0s"},
			{[]string{"create", "cr", "x", "--from-certificate-file", "app.yaml", "--output-certificate-file", "x.crt"}, "needs --fetch-certificate"},
			{[]string{"create", "cr", "x", "--from-certificate-file", "app.yaml", "-n", "default"}, "app.yaml is in namespace sandbox, and --namespace says default"},
			{[]string{"create", "cr", "app-1", "--from-certificate-file", "app.yaml", "--output-key-file", "again.key"}, "certificaterequest app-1 already exists in namespace sandbox"},
			{[]string{"approve", "nope", "-n", "sandbox"}, "certificaterequest nope not found in namespace sandbox"},
			{[]string{"approve"}, "the name of the CertificateRequest has to be provided"},
			{[]string{"deny", "app-1", "--reason", ""}, "--reason is empty"},
		} {
			oneLineError(t, run(t, tt.args...), tt.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "again.key")); err == nil {
			t.Error("the key of a request that was refused (it exists) was kept")
		}
		if _, err := os.Stat(filepath.Join(dir, "x.key")); err == nil {
			t.Error("a key was written for a request that was never made")
		}
	})

	t.Run("renew, status certificate and approving the renewal", func(t *testing.T) {
		before := leafOf(t, admin, "sandbox", "root-secret")
		rev, _ := strconv.Atoi(certField(t, admin, "sandbox", "root", "{.status.revision}"))
		r := run(t, "renew", "root", "-n", "sandbox")
		if r.code != 0 || r.stdout != "Manually triggered issuance of Certificate sandbox/root\n" {
			t.Fatalf("renew: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		next := "root-" + strconv.Itoa(rev+1)
		waitFor(t, 60*time.Second, "CertificateRequest "+next, func() bool {
			return kubectl(t, admin, "get", "certificaterequest", next, "-n", "sandbox").code == 0
		})
		// While the renewal waits for approval, status certificate shows why.
		r = run(t, "status", "certificate", "root", "-n", "sandbox")
		for _, want := range []string{
			"Name: root\nNamespace: sandbox\n", "Issuing: True, Reason: ManuallyTriggered, Message: ",
			"Issuer:\n  Name: selfsigned\n  Kind: ClusterIssuer\n  Conditions:\n    Ready: True", "Secret:\n  Name: root-secret\n",
			"Issuer Common Name: sandbox-root", "Renewal Time: ", "CertificateRequest:\n  Name: " + next + "\n  Namespace: sandbox\n",
			"Events:\n", "Issuing",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status certificate lacks %q:\n%s", want, r.stdout)
			}
		}
		if r.code != 0 {
			t.Errorf("status certificate: exit %d, %s", r.code, r.stderr)
		}
		r = run(t, "status", "certificate", "root", "-n", "sandbox", "-o", "json")
		var st struct {
			Name       string `json:"name"`
			Conditions []struct{ Type, Status, Reason string }
			Issuer     struct{ Name, Kind string }
			Secret     struct {
				Name             string `json:"name"`
				IssuerCommonName string `json:"issuerCommonName"`
			}
			CertificateRequest struct {
				Name       string `json:"name"`
				Conditions []struct{ Type, Status string }
			} `json:"certificateRequest"`
			Events []struct{ Reason string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
			t.Fatalf("status certificate -o json: exit %d, %v: %s", r.code, err, r.stdout)
		}
		issuing := false
		for _, c := range st.Conditions {
			issuing = issuing || c.Type == "Issuing" && c.Status == "True" && c.Reason == "ManuallyTriggered"
		}
		if st.Name != "root" || !issuing || st.Issuer.Kind != "ClusterIssuer" || st.Issuer.Name != "selfsigned" || st.Secret.Name != "root-secret" ||
			st.Secret.IssuerCommonName != "sandbox-root" || st.CertificateRequest.Name != next || len(st.Events) == 0 {
			t.Errorf("status certificate -o json: %+v", st)
		}

		r = run(t, "approve", next, "-n", "sandbox")
		if r.code != 0 {
			t.Fatalf("approve %s: exit %d, %s", next, r.code, r.stderr)
		}
		waitCertificate(t, admin, "sandbox", "root", rev+1)
		if after := leafOf(t, admin, "sandbox", "root-secret"); after.SerialNumber.Cmp(before.SerialNumber) == 0 {
			t.Error("the renewal did not issue a new certificate")
		}
		r = run(t, "status", "certificate", "root", "-n", "sandbox")
		if !strings.Contains(r.stdout, "No CertificateRequest found for this Certificate") || strings.Contains(r.stdout, "Issuing: True") {
			t.Errorf("status certificate after the renewal:\n%s", r.stdout)
		}
		oneLineError(t, run(t, "status", "certificate", "nope", "-n", "sandbox"), "certificate nope not found in namespace sandbox")
	})

	t.Run("renew by selector and across namespaces", func(t *testing.T) {
		mustKubectl(t, admin, "label", "certificate", "root", "-n", "sandbox", "tier=ca")
		r := run(t, "renew", "-A", "-l", "tier=ca")
		if r.code != 0 || r.stdout != "Manually triggered issuance of Certificate sandbox/root\n" {
			t.Errorf("renew -A -l tier=ca: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = run(t, "renew", "--all", "-n", "default")
		if r.code != 0 || r.stdout != "" || r.stderr != "No Certificates found in default namespace.\n" {
			t.Errorf("renew --all in an empty namespace: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"renew"}, "give one or more Certificate names, a label selector (-l), or --all"},
			{[]string{"renew", "root", "--all"}, "cannot give the Certificate names"},
			{[]string{"renew", "--all", "-l", "a=b"}, "cannot give --all together with a label selector"},
			{[]string{"renew", "root", "-A"}, "cannot give Certificate names with --all-namespaces"},
			{[]string{"renew", "nope", "-n", "sandbox"}, "certificate nope not found in namespace sandbox"},
		} {
			oneLineError(t, run(t, tt.args...), tt.want)
		}
	})

	t.Run("inspect secret", func(t *testing.T) {
		r := run(t, "inspect", "secret", "root-secret", "-n", "sandbox")
		for _, want := range []string{
			"Valid for:\n", "Validity period:\n", "Issued By:\n Common Name: sandbox-root", "Issued For:\n",
			"Is a CA certificate: true", "Fingerprints: SHA-256 ", "Trusted by ca.crt: yes, up to CN=sandbox-root",
			"Private key (tls.key): ECDSA 256, matches the certificate",
		} {
			if !strings.Contains(squash(r.stdout), want) {
				t.Errorf("inspect secret lacks %q:\n%s", want, r.stdout)
			}
		}
		if r.code != 0 {
			t.Errorf("inspect secret: exit %d, %s", r.code, r.stderr)
		}
		r = run(t, "inspect", "secret", "root-secret", "-n", "sandbox", "-o", "json")
		var rep struct {
			Certificates []struct {
				CommonName        string `json:"commonName"`
				SHA256Fingerprint string `json:"sha256Fingerprint"`
				IsCA              bool   `json:"isCA"`
			} `json:"certificates"`
			Chain      *struct{ Valid bool }
			KeyMatches *bool `json:"keyMatches"`
			Problems   []string
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
			t.Fatalf("inspect secret -o json: exit %d, %v: %s", r.code, err, r.stdout)
		}
		leaf := leafOf(t, admin, "sandbox", "root-secret")
		if len(rep.Certificates) != 1 || rep.Certificates[0].SHA256Fingerprint != pki.Fingerprint(leaf) || !rep.Certificates[0].IsCA ||
			rep.Chain == nil || !rep.Chain.Valid || rep.KeyMatches == nil || !*rep.KeyMatches || len(rep.Problems) != 0 {
			t.Errorf("inspect secret -o json: %s", r.stdout)
		}
		if strings.Contains(r.stdout, "PRIVATE KEY") || strings.Contains(run(t, "inspect", "secret", "root-secret", "-n", "sandbox").stdout, "PRIVATE KEY") {
			t.Error("inspect secret printed key material")
		}

		// A Secret whose tls.crt does not verify against its ca.crt, and
		// whose tls.key is another key.
		other := pkitest.CA(t, "other-ca")
		crt := secretData(t, admin, "sandbox", "root-secret", "tls.crt")
		writeFile(t, filepath.Join(dir, "crt.pem"), string(crt))
		writeFile(t, filepath.Join(dir, "ca.pem"), string(pki.EncodeCertificatesPEM(other.Certificate)))
		keyPEM, err := pki.MarshalPrivateKeyPEM(pkitest.Key(t), pki.FormatPKCS8)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "key.pem"), string(keyPEM))
		mustKubectl(t, admin, "create", "secret", "generic", "broken", "-n", "sandbox", "--type=kubernetes.io/tls",
			"--from-file=tls.crt="+filepath.Join(dir, "crt.pem"), "--from-file=ca.crt="+filepath.Join(dir, "ca.pem"), "--from-file=tls.key="+filepath.Join(dir, "key.pem"))
		r = run(t, "inspect", "secret", "broken", "-n", "sandbox")
		if r.code == 0 || !strings.Contains(squash(r.stdout), "Trusted by ca.crt: NO: no certificate in it was signed by the given root") ||
			!strings.Contains(r.stdout, "DOES NOT match the certificate") || strings.Count(r.stderr, "\n") != 1 ||
			!strings.Contains(r.stderr, "secret sandbox/broken: the chain does not verify against the given root") {
			t.Errorf("inspect secret of a broken Secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		oneLineError(t, run(t, "inspect", "secret", "nope", "-n", "sandbox"), "secret nope not found in namespace sandbox")
		// inspect FILE still works beside inspect secret.
		if r := cp(t, dir, "", "inspect", "crt.pem"); r.code != 0 || !strings.Contains(r.stdout, "CN=sandbox-root") {
			t.Errorf("inspect FILE: exit %d, %s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestCheckAPINotInstalled: check api on a cluster without the
// cert-manager CRDs fails, once or after --wait, naming why.
func TestCheckAPINotInstalled(t *testing.T) {
	plane := startControlPlane(t)
	admin := plane.Kubeconfig("admin.conf")
	r := cp(t, "", "", "check", "api", "--kubeconfig", admin)
	if r.code == 0 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "the cert-manager CRDs are not installed") {
		t.Errorf("check api: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	start := time.Now()
	r = cp(t, "", "", "check", "api", "--kubeconfig", admin, "--wait", "2s", "--interval", "500ms")
	if r.code == 0 || !strings.Contains(r.stderr, "not ready after 2s: the cert-manager CRDs are not installed") || time.Since(start) < 1500*time.Millisecond {
		t.Errorf("check api --wait 2s: exit %d after %s, stderr %q", r.code, time.Since(start), r.stderr)
	}
	// status skips what the cluster does not serve, and says so.
	r = cp(t, "", "", "status", "--kubeconfig", admin)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: not listed: certificates.cert-manager.io: not served by this cluster") {
		t.Errorf("status without the CRDs: exit %d, stderr %q", r.code, r.stderr)
	}
}
