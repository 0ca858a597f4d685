package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// clusterTrustBundle is what the tests read of a ClusterTrustBundle.
type clusterTrustBundle struct {
	Metadata struct {
		Name            string            `json:"name"`
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		SignerName  string `json:"signerName"`
		TrustBundle string `json:"trustBundle"`
	} `json:"spec"`
}

// managedBundles lists the ClusterTrustBundles certplane manages for signer,
// selected by the apiserver's spec.signerName field selector.
func managedBundles(t *testing.T, kubeconfig, signer string) []clusterTrustBundle {
	t.Helper()
	var list struct{ Items []clusterTrustBundle }
	out := mustKubectl(t, kubeconfig, "get", "clustertrustbundles.v1.certificates.k8s.io", "--field-selector", "spec.signerName="+signer,
		"-l", "app.kubernetes.io/managed-by=certplane", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("kubectl get clustertrustbundles: %v", err)
	}
	return list.Items
}

// sameCertificates reports whether two PEM bundles hold the same set of
// certificates.
func sameCertificates(a, b []byte) bool {
	ca, err1 := pki.ParseCertificatesPEM(a)
	cb, err2 := pki.ParseCertificatesPEM(b)
	if err1 != nil || err2 != nil || len(ca) != len(cb) {
		return false
	}
	for _, c := range ca {
		if !slices.ContainsFunc(cb, func(d *x509.Certificate) bool { return bytes.Equal(c.Raw, d.Raw) }) {
			return false
		}
	}
	return true
}

var bundleHash = regexp.MustCompile(`^[0-9a-f]{24}$`)

// waitBundle waits until signer has exactly one certplane bundle and it
// holds the certificates of wantPEM, checks its name (the signer with "/"
// as ":", then 24 hex characters of the content's hash), writes it to
// DIR/<file> and returns it.
func waitBundle(t *testing.T, kubeconfig, signer string, wantPEM []byte, timeout time.Duration, file string) clusterTrustBundle {
	t.Helper()
	var got []clusterTrustBundle
	waitFor(t, timeout, "the ClusterTrustBundle of "+signer, func() bool {
		got = managedBundles(t, kubeconfig, signer)
		return len(got) == 1 && sameCertificates([]byte(got[0].Spec.TrustBundle), wantPEM)
	})
	b := got[0]
	prefix := strings.ReplaceAll(signer, "/", ":") + ":"
	if hash, ok := strings.CutPrefix(b.Metadata.Name, prefix); !ok || !bundleHash.MatchString(hash) {
		t.Errorf("bundle name %q, want %s and 24 hex characters", b.Metadata.Name, prefix)
	}
	if b.Spec.SignerName != signer {
		t.Errorf("bundle %s: signerName %q", b.Metadata.Name, b.Spec.SignerName)
	}
	writeFile(t, file, b.Spec.TrustBundle)
	return b
}

// opensslFingerprint is the SHA-256 fingerprint openssl reads in a PEM
// file's first certificate.
func opensslFingerprint(t *testing.T, file string) string {
	t.Helper()
	return strings.TrimSpace(openssl(t, filepath.Dir(file), "x509", "-in", file, "-noout", "-fingerprint", "-sha256"))
}

// requireTrustBundlePublishers fails unless `certplane up` names the
// ClusterTrustBundle publishers among its controllers.
func requireTrustBundlePublishers(t *testing.T) {
	t.Helper()
	help := must(t, "", "", "up", "--help")
	for _, name := range []string{" clustertrustbundles", " issuer-clustertrustbundles"} {
		if !strings.Contains(help, name) {
			t.Fatal("certplane up --help names no" + name + " controller")
		}
	}
}

// TestClusterTrustBundles: `certplane up` publishes a signer-linked
// ClusterTrustBundle (certificates.k8s.io/v1) for every signer it runs,
// holding exactly that signer's CA, checked with kubectl and openssl: the
// four kubernetes.io signers (the cluster CA), certplane.io/spiffe (the pod
// certificates' chain verifies against it), every ready CA Issuer and
// ClusterIssuer (the root of its Secret, against which its certificates
// verify) and no selfSigned issuer. The controller identity may attest for
// exactly these signers. A rotated issuer CA or SPIFFE CA file replaces the
// bundle under a new name, with the old CA beside the new one until its
// certificate (web's, the pod certificate) is renewed or gone; a deleted
// bundle is put back; a deleted Issuer's bundle goes.
func TestClusterTrustBundles(t *testing.T) {
	requireTrustBundlePublishers(t)
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	pkiDir := filepath.Join(data, "pki")
	dir := t.TempDir()
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("the kubernetes.io signers and certplane.io/spiffe", func(t *testing.T) {
		clusterCA := filepath.Join(pkiDir, "ca.crt")
		for _, signer := range []string{
			"kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
			"kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown",
		} {
			file := filepath.Join(dir, strings.ReplaceAll(signer, "/", "_")+".pem")
			waitBundle(t, admin, signer, read(clusterCA), 60*time.Second, file)
			if got, want := opensslFingerprint(t, file), opensslFingerprint(t, clusterCA); got != want {
				t.Errorf("%s: openssl reads %s in the bundle, the cluster CA is %s", signer, got, want)
			}
		}
		// A client certificate of the cluster CA verifies against the
		// kube-apiserver-client bundle.
		if out := openssl(t, dir, "verify", "-CAfile", "kubernetes.io_kube-apiserver-client.pem", filepath.Join(pkiDir, "apiserver-kubelet-client.crt")); !strings.HasSuffix(strings.TrimSpace(out), ": OK") {
			t.Errorf("openssl verify against the bundle: %s", out)
		}

		spiffeCA := filepath.Join(pkiDir, "spiffe-ca.crt")
		spiffeBundle := filepath.Join(dir, "spiffe.pem")
		waitBundle(t, admin, "certplane.io/spiffe", read(spiffeCA), 60*time.Second, spiffeBundle)
		if got, want := opensslFingerprint(t, spiffeBundle), opensslFingerprint(t, spiffeCA); got != want {
			t.Errorf("certplane.io/spiffe: openssl reads %s in the bundle, the CA is %s", got, want)
		}
		mustKubectl(t, admin, "create", "namespace", "ctb")
		r := newPodCertRequest(t, "svid", "ctb", "certplane.io/spiffe")
		r.create(t, admin)
		if got := waitPCRCondition(t, admin, "ctb", "svid"); !strings.HasPrefix(got, "Issued") {
			t.Fatalf("condition %q, want Issued", got)
		}
		checkIssuedPodCertificate(t, admin, r, spiffeBundle) // openssl verify -CAfile the bundle

		// kubectl shows the bundles by signer, as a pod's clusterTrustBundle
		// volume selects them.
		names := mustKubectl(t, admin, "get", "clustertrustbundles", "--field-selector", "spec.signerName=certplane.io/spiffe", "-o", "name")
		if lines := strings.Fields(names); len(lines) != 1 || !strings.HasPrefix(lines[0], "clustertrustbundle.certificates.k8s.io/certplane.io:spiffe:") {
			t.Errorf("kubectl get clustertrustbundles for certplane.io/spiffe: %q", names)
		}
	})

	t.Run("the controller identity attests for exactly its signers", func(t *testing.T) {
		for signer, want := range map[string]string{
			"certplane.io/spiffe": "true", "kubernetes.io/kubelet-serving": "true", "kubernetes.io/legacy-unknown": "true",
			// The ClusterTrustBundleAttest admission plugin asks for the
			// signer name, then for "<domain>/*"; RBAC matches names exactly.
			"issuers.cert-manager.io/*": "true", "clusterissuers.cert-manager.io/*": "true",
			"kubernetes.io/kube-apiserver-serving": "false", "kubernetes.io/*": "false", "example.com/other": "false",
		} {
			// kubectl auth can-i cannot name the virtual signers resource.
			sar := filepath.Join(t.TempDir(), "sar.yaml")
			writeFile(t, sar, `apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  user: certplane:controller
  resourceAttributes: {group: certificates.k8s.io, resource: signers, verb: attest, name: "`+signer+`"}
`)
			got := mustKubectl(t, admin, "create", "-f", sar, "-o", "jsonpath={.status.allowed}")
			if got == "" {
				got = "false"
			}
			if got != want {
				t.Errorf("may certplane:controller attest for %s: %s, want %s", signer, got, want)
			}
		}
	})

	t.Run("CA Issuers and ClusterIssuers", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "issuers.yaml"), `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: cert-manager}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: team-ca, namespace: team}
spec: {isCA: true, commonName: team-ca, secretName: team-ca, privateKey: {algorithm: ECDSA}, issuerRef: {name: selfsigned, kind: ClusterIssuer}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: team}
spec: {ca: {secretName: team-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: cluster-ca, namespace: cert-manager}
spec: {isCA: true, commonName: cluster-ca, secretName: cluster-ca, privateKey: {algorithm: ECDSA}, issuerRef: {name: selfsigned, kind: ClusterIssuer}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: root}
spec: {ca: {secretName: cluster-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: team}
spec: {secretName: web-tls, dnsNames: [web.team.svc], privateKey: {algorithm: ECDSA}, issuerRef: {name: ca}}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
		mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team", "issuer/ca", "certificate/web")
		mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "clusterissuer/root")

		teamBundle := filepath.Join(dir, "team-ca.pem")
		first := waitBundle(t, admin, "issuers.cert-manager.io/team.ca", secretData(t, admin, "team", "team-ca", "ca.crt"), 60*time.Second, teamBundle)
		writeFile(t, filepath.Join(dir, "web.crt"), string(secretData(t, admin, "team", "web-tls", "tls.crt")))
		if out := openssl(t, dir, "verify", "-CAfile", teamBundle, "web.crt"); !strings.Contains(out, "web.crt: OK") {
			t.Errorf("the Issuer's certificate against its bundle: %s", out)
		}
		waitBundle(t, admin, "clusterissuers.cert-manager.io/root", secretData(t, admin, "cert-manager", "cluster-ca", "ca.crt"), 60*time.Second, filepath.Join(dir, "root.pem"))
		if got := managedBundles(t, admin, "clusterissuers.cert-manager.io/selfsigned"); len(got) != 0 {
			t.Errorf("a selfSigned ClusterIssuer has bundles: %+v", got)
		}

		// The Issuer pointed at another CA: both CAs under a new name while
		// web's certificate of the old one is valid; once web is renewed
		// by the new CA, the new CA alone, the earlier bundles gone.
		writeFile(t, filepath.Join(dir, "rotate.yaml"), `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: team-ca-2, namespace: team}
spec: {isCA: true, commonName: team-ca-2, secretName: team-ca-2, privateKey: {algorithm: ECDSA}, issuerRef: {name: selfsigned, kind: ClusterIssuer}}
`)
		mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "rotate.yaml"))
		mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "team", "certificate/team-ca-2")
		mustKubectl(t, admin, "patch", "issuer", "ca", "-n", "team", "--type=merge", "-p", `{"spec":{"ca":{"secretName":"team-ca-2"}}}`)
		oldCA, newCA := secretData(t, admin, "team", "team-ca", "ca.crt"), secretData(t, admin, "team", "team-ca-2", "ca.crt")
		overlap := waitBundle(t, admin, "issuers.cert-manager.io/team.ca", append(slices.Clone(oldCA), newCA...), 60*time.Second, teamBundle)
		if out := openssl(t, dir, "verify", "-CAfile", teamBundle, "web.crt"); !strings.Contains(out, "web.crt: OK") {
			t.Errorf("the old CA's certificate against the overlap bundle: %s", out)
		}
		renewAndWait(t, admin, "team", "web", "web-tls")
		rotated := waitBundle(t, admin, "issuers.cert-manager.io/team.ca", newCA, 90*time.Second, teamBundle)
		for _, old := range []clusterTrustBundle{first, overlap} {
			if rotated.Metadata.Name == old.Metadata.Name {
				t.Errorf("the rotated CA kept the bundle name %s", old.Metadata.Name)
			}
			if r := kubectl(t, admin, "get", "clustertrustbundle", old.Metadata.Name); r.code == 0 {
				t.Errorf("the old bundle %s is still there", old.Metadata.Name)
			}
		}

		// A bundle deleted by hand is put back; a deleted Issuer's goes.
		mustKubectl(t, admin, "delete", "clustertrustbundle", rotated.Metadata.Name)
		if back := waitBundle(t, admin, "issuers.cert-manager.io/team.ca", secretData(t, admin, "team", "team-ca-2", "ca.crt"), 30*time.Second, teamBundle); back.Metadata.Name != rotated.Metadata.Name {
			t.Errorf("put back as %s, want %s", back.Metadata.Name, rotated.Metadata.Name)
		}
		mustKubectl(t, admin, "delete", "issuer", "ca", "-n", "team")
		waitFor(t, 30*time.Second, "the deleted Issuer's bundle to go", func() bool {
			return len(managedBundles(t, admin, "issuers.cert-manager.io/team.ca")) == 0
		})
	})

	t.Run("a rotated SPIFFE CA file", func(t *testing.T) {
		oldCA := read(filepath.Join(pkiDir, "spiffe-ca.crt"))
		ca := pkitest.CA(t, "rotated spiffe ca")
		keyPEM, err := pki.MarshalPrivateKeyPEM(ca.Key, pki.FormatPKCS8)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pki.EncodeCertificatesPEM(ca.Certificate)
		// Key first, then the certificate, each replaced by a rename.
		for _, f := range []struct {
			path string
			data []byte
		}{{filepath.Join(pkiDir, "spiffe-ca.key"), keyPEM}, {filepath.Join(pkiDir, "spiffe-ca.crt"), certPEM}} {
			if err := os.WriteFile(f.path+".new", f.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f.path+".new", f.path); err != nil {
				t.Fatal(err)
			}
		}
		// The publisher checks every 30 seconds. The pod certificate the
		// old CA issued keeps it in the bundle beside the new one; once
		// that request is gone, the old CA goes.
		waitBundle(t, admin, "certplane.io/spiffe", append(slices.Clone(oldCA), certPEM...), 90*time.Second, filepath.Join(dir, "spiffe-overlap.pem"))
		mustKubectl(t, admin, "delete", "podcertificaterequest", "svid", "-n", "ctb")
		waitBundle(t, admin, "certplane.io/spiffe", certPEM, 90*time.Second, filepath.Join(dir, "spiffe-rotated.pem"))
	})
}

// renewAndWait marks the Certificate ns/name for renewal with `certplane
// renew` (as cmctl renew) and waits until its Secret holds a new
// certificate.
func renewAndWait(t *testing.T, kubeconfig, ns, name, secret string) {
	t.Helper()
	before := secretData(t, kubeconfig, ns, secret, "tls.crt")
	must(t, "", "", "renew", "--kubeconfig", kubeconfig, "-n", ns, name)
	waitFor(t, 90*time.Second, "Secret "+ns+"/"+secret+" renewed", func() bool {
		return !bytes.Equal(secretData(t, kubeconfig, ns, secret, "tls.crt"), before)
	})
}

// logTrustBundleLines logs, when the test failed, what the controllers
// logged about ClusterTrustBundles.
func logTrustBundleLines(t *testing.T, data string) {
	if !t.Failed() {
		return
	}
	logs, err := os.ReadFile(filepath.Join(data, "logs", "controllers.log"))
	if err != nil {
		t.Log(err)
		return
	}
	for line := range strings.Lines(string(logs)) {
		if strings.Contains(line, "clustertrustbundle") || strings.Contains(line, "ClusterTrustBundle") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// holds reports whether the PEM bundle holds the certificate of certPEM.
func holds(bundlePEM, certPEM []byte) bool {
	bundle, err1 := pki.ParseCertificatesPEM(bundlePEM)
	cert, err2 := pki.ParseCertificatesPEM(certPEM)
	if err1 != nil || err2 != nil || len(cert) == 0 {
		return false
	}
	return slices.ContainsFunc(bundle, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, cert[0].Raw) })
}

// TestClusterTrustBundleRotation: a CA Issuer's CA is rotated in place (its
// CA Certificate, rotationPolicy Always, renewed as cmctl renew does: the
// same Secret, a new key pair). The signer's bundle then holds both CAs,
// and at no moment lacks the old one; the certificate the old CA issued
// still verifies against the bundle with openssl. Once no unexpired
// certificate of the old CA is left (the leaf renewed by the new CA), the
// old CA leaves the bundle: the new leaf verifies, the old one no longer.
func TestClusterTrustBundleRotation(t *testing.T) {
	requireTrustBundlePublishers(t)
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	const signer = "issuers.cert-manager.io/rot.ca"
	t.Cleanup(func() { logTrustBundleLines(t, data) })
	bundleFile := filepath.Join(dir, "bundle.pem")

	writeFile(t, filepath.Join(dir, "issuers.yaml"), `apiVersion: v1
kind: Namespace
metadata: {name: rot}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: rot}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: rot-ca, namespace: rot}
spec: {isCA: true, commonName: rot-ca, secretName: rot-ca, privateKey: {algorithm: ECDSA, rotationPolicy: Always}, issuerRef: {name: selfsigned}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: rot}
spec: {ca: {secretName: rot-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: rot}
spec: {secretName: web-tls, dnsNames: [web.rot.svc], privateKey: {algorithm: ECDSA, rotationPolicy: Always}, issuerRef: {name: ca}}
`)
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "issuers.yaml"))
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "rot", "issuer/ca", "certificate/web")

	oldCA := secretData(t, admin, "rot", "rot-ca", "ca.crt")
	first := waitBundle(t, admin, signer, oldCA, 60*time.Second, bundleFile)
	writeFile(t, filepath.Join(dir, "web-old.crt"), string(secretData(t, admin, "rot", "web-tls", "tls.crt")))
	if out := openssl(t, dir, "verify", "-CAfile", bundleFile, "web-old.crt"); !strings.Contains(out, "web-old.crt: OK") {
		t.Fatalf("the leaf against the first bundle: %s", out)
	}

	// Rotate the CA: same Secret, new key pair.
	must(t, "", "", "renew", "--kubeconfig", admin, "-n", "rot", "rot-ca")
	var newCA []byte
	waitFor(t, 90*time.Second, "the CA Secret to hold a new CA", func() bool {
		newCA = secretData(t, admin, "rot", "rot-ca", "ca.crt")
		return !sameCertificates(newCA, oldCA)
	})
	oldCert, err := pki.ParseCertificatesPEM(oldCA)
	if err != nil {
		t.Fatal(err)
	}
	newCert, err := pki.ParseCertificatesPEM(newCA)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(oldCert[0].RawSubjectPublicKeyInfo, newCert[0].RawSubjectPublicKeyInfo) {
		t.Fatal("the renewed CA kept its key; rotationPolicy Always should give a new one")
	}
	// Until the overlap bundle is there, the old CA is never missing. The
	// CA Secret is read again each time, in case the CA was issued again.
	var overlap clusterTrustBundle
	waitFor(t, 60*time.Second, "the bundle of both CAs", func() bool {
		got := managedBundles(t, admin, signer)
		if !slices.ContainsFunc(got, func(b clusterTrustBundle) bool { return holds([]byte(b.Spec.TrustBundle), oldCA) }) {
			t.Fatalf("during the rotation no bundle of %s holds the old CA: %d bundles", signer, len(got))
		}
		if ca := secretData(t, admin, "rot", "rot-ca", "ca.crt"); !sameCertificates(ca, newCA) {
			t.Logf("the CA was issued once more")
			newCA = ca
		}
		if len(got) == 1 && sameCertificates([]byte(got[0].Spec.TrustBundle), append(slices.Clone(oldCA), newCA...)) {
			overlap = got[0]
			return true
		}
		return false
	})
	if overlap.Metadata.Name == first.Metadata.Name {
		t.Errorf("the overlap bundle kept the name %s", first.Metadata.Name)
	}
	writeFile(t, bundleFile, overlap.Spec.TrustBundle)
	if out := openssl(t, dir, "verify", "-CAfile", bundleFile, "web-old.crt"); !strings.Contains(out, "web-old.crt: OK") {
		t.Errorf("the old CA's leaf against the overlap bundle: %s", out)
	}
	// The bundle stays as it is while the old leaf is valid: the publisher
	// checks every 30 s, and the Issuer's readiness changes nothing.
	mustKubectl(t, admin, "wait", "--for=condition=Ready", "--timeout=90s", "-n", "rot", "issuer/ca")
	if got := managedBundles(t, admin, signer); len(got) != 1 || got[0].Metadata.Name != overlap.Metadata.Name {
		t.Errorf("after the Issuer is ready again: %d bundles, want %s", len(got), overlap.Metadata.Name)
	}

	// The old CA's last certificate renewed by the new CA: the old CA goes.
	renewAndWait(t, admin, "rot", "web", "web-tls")
	writeFile(t, filepath.Join(dir, "web-new.crt"), string(secretData(t, admin, "rot", "web-tls", "tls.crt")))
	waitBundle(t, admin, signer, secretData(t, admin, "rot", "rot-ca", "ca.crt"), 90*time.Second, bundleFile)
	if out := openssl(t, dir, "verify", "-CAfile", bundleFile, "web-new.crt"); !strings.Contains(out, "web-new.crt: OK") {
		t.Errorf("the new leaf against the new bundle: %s", out)
	}
	if r := runIn(t, dir, "", "openssl", "verify", "-CAfile", bundleFile, "web-old.crt"); r.code == 0 {
		t.Errorf("the old CA's leaf still verifies against the bundle without the old CA: %s", r.stdout)
	}
	for _, old := range []clusterTrustBundle{first, overlap} {
		if r := kubectl(t, admin, "get", "clustertrustbundle", old.Metadata.Name); r.code == 0 {
			t.Errorf("the bundle %s is still there", old.Metadata.Name)
		}
	}
}
