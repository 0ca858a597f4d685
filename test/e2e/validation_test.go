package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// certificateYAML is a Certificate in namespace sandbox with spec (YAML
// lines indented by two spaces).
func certificateYAML(name, spec string) string {
	return "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: " + name + ", namespace: sandbox}\nspec:\n" + spec
}

// TestAdmissionValidation: what cert-manager's webhook refuses is refused
// by `kubectl apply` against `certplane up`, with a message naming the
// field; valid manifests, the seed bootstrap among them, still apply; and
// objects admitted before the rules (or without them) end Ready=False
// naming the field, never in reconcile errors.
func TestAdmissionValidation(t *testing.T) {
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	dir := t.TempDir()
	mustKubectl(t, admin, "create", "namespace", "sandbox")
	bootstrap, err := filepath.Abs(filepath.Join("..", "..", "api", "certmanager", "v1", "testdata", "bootstrap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if out := mustKubectl(t, admin, "apply", "-f", bootstrap); strings.Count(out, " created") != 6 {
		t.Errorf("bootstrap.yaml:\n%s", out)
	}

	const issuer = "  issuerRef: {name: selfsigned-issuer, kind: ClusterIssuer}\n"
	refused := []struct {
		name, kind, object, manifest string
		want                         []string
	}{
		{"duration under an hour", "certificate", "short",
			certificateYAML("short", "  secretName: short\n  commonName: short\n  duration: 30m\n"+issuer),
			[]string{`spec.duration: Invalid value: "30m": certificate duration must be greater than 1h0m0s`}},
		{"renewBefore not under duration", "certificate", "late",
			certificateYAML("late", "  secretName: late\n  commonName: late\n  duration: 2h\n  renewBefore: 2h\n"+issuer),
			[]string{"spec.renewBefore: Invalid value: certificate duration 2h must be greater than renewBefore 2h"}},
		{"renewBefore over the default duration", "certificate", "late2",
			certificateYAML("late2", "  secretName: late2\n  commonName: late2\n  renewBefore: 2200h\n"+issuer),
			[]string{"spec.renewBefore: Invalid value: certificate duration 2160h must be greater than renewBefore 2200h"}},
		{"renewBefore under 5m", "certificate", "tight",
			certificateYAML("tight", "  secretName: tight\n  commonName: tight\n  renewBefore: 1m\n"+issuer),
			[]string{`spec.renewBefore: Invalid value: "1m": certificate renewBefore must be greater than 5m0s`}},
		{"renewBefore and renewBeforePercentage", "certificate", "both",
			certificateYAML("both", "  secretName: both\n  commonName: both\n  renewBefore: 1h\n  renewBeforePercentage: 20\n"+issuer),
			[]string{"spec.renewBefore: Invalid value: renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"}},
		{"RSA 1024", "certificate", "rsa1024",
			certificateYAML("rsa1024", "  secretName: rsa1024\n  commonName: rsa\n  privateKey: {algorithm: RSA, size: 1024}\n"+issuer),
			[]string{"spec.privateKey.size: Invalid value: must be between 2048 and 8192 for rsa keyAlgorithm"}},
		{"RSA 16384", "certificate", "rsa16384",
			certificateYAML("rsa16384", "  secretName: rsa16384\n  commonName: rsa\n  privateKey: {size: 16384}\n"+issuer),
			[]string{"spec.privateKey.size: Invalid value: must be between 2048 and 8192 for rsa keyAlgorithm"}},
		{"ECDSA 123", "certificate", "ec123",
			certificateYAML("ec123", "  secretName: ec123\n  commonName: ec\n  privateKey: {algorithm: ECDSA, size: 123}\n"+issuer),
			[]string{"spec.privateKey.size: Invalid value: supported values for ECDSA: 256, 384, 521"}},
		{"signature algorithm of another key type", "certificate", "sigalg",
			certificateYAML("sigalg", "  secretName: sigalg\n  commonName: ec\n  privateKey: {algorithm: ECDSA}\n  signatureAlgorithm: SHA256WithRSA\n"+issuer),
			[]string{"spec.signatureAlgorithm: Invalid value: for key algorithm ECDSA the allowed signature algorithms are ECDSAWithSHA256, ECDSAWithSHA384, ECDSAWithSHA512"}},
		{"invalid IP address", "certificate", "badip",
			certificateYAML("badip", "  secretName: badip\n  ipAddresses: [10.0.0.1, 999.1.1.1]\n"+issuer),
			[]string{`spec.ipAddresses[1]: Invalid value: "999.1.1.1": invalid IP address`}},
		{"invalid DNS names", "certificate", "badnames",
			certificateYAML("badnames", "  secretName: badnames\n  dnsNames: [\"bad host!!\", \"-x-.com\", \"a..b\", \"*.example.com\", \"999.1.1.1\"]\n"+issuer),
			[]string{`spec.dnsNames[0]: Invalid value: "bad host!!": must be a valid DNS name`, `spec.dnsNames[1]: Invalid value: "-x-.com"`,
				`spec.dnsNames[2]: Invalid value: "a..b"`, `spec.dnsNames[4]: Invalid value: "999.1.1.1"`}},
		{"issuer kind without a group", "certificate", "fookind",
			certificateYAML("fookind", "  secretName: fookind\n  commonName: x\n  issuerRef: {name: x, kind: FooIssuer}\n"),
			[]string{"spec.issuerRef.kind: Invalid value: must be one of Issuer or ClusterIssuer (did you forget to set spec.issuerRef.group?)"}},
		{"unknown kind of cert-manager.io", "certificate", "fookind2",
			certificateYAML("fookind2", "  secretName: fookind2\n  commonName: x\n  issuerRef: {name: x, kind: FooIssuer, group: cert-manager.io}\n"),
			[]string{"spec.issuerRef.kind: Invalid value: must be one of Issuer or ClusterIssuer"}},
		{"no issuer name", "certificate", "noissuer",
			certificateYAML("noissuer", "  secretName: noissuer\n  commonName: x\n  issuerRef: {name: \"\"}\n"),
			[]string{`spec.issuerRef.name: Invalid value: "": must be specified`}},
		{"no names", "certificate", "nameless",
			certificateYAML("nameless", "  secretName: nameless\n"+issuer),
			[]string{"spec: Invalid value: at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailAddresses, ipAddresses, otherNames, or uris must be set"}},
		{"secretName that is no Secret name", "certificate", "badsecret",
			certificateYAML("badsecret", "  secretName: ../x\n  commonName: x\n"+issuer),
			[]string{`spec.secretName: Invalid value: "../x": a lowercase RFC 1123 subdomain`}},
		{"literalSubject with commonName", "certificate", "literal",
			certificateYAML("literal", "  secretName: literal\n  literalSubject: CN=a,O=b\n  commonName: a\n"+issuer),
			[]string{"spec.commonName: Invalid value: when providing a literalSubject no commonName may be provided"}},
		{"keystore without password", "certificate", "jks",
			certificateYAML("jks", "  secretName: jks\n  commonName: jks\n  keystores: {jks: {create: true}}\n"+issuer),
			[]string{"spec.keystores.jks: Invalid value: exactly one of passwordSecretRef and password must be provided for JKS keystores"}},
		{"name constraints on a leaf", "certificate", "nc",
			certificateYAML("nc", "  secretName: nc\n  commonName: nc\n  nameConstraints: {permitted: {dnsDomains: [example.com]}}\n"+issuer),
			[]string{"spec.nameConstraints: Invalid value: isCA should be true when nameConstraints is set"}},
		{"ca issuer with a path as secretName", "issuer", "bad-ca",
			"apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: bad-ca, namespace: sandbox}\nspec:\n  ca: {secretName: ../x}\n",
			[]string{`spec.ca.secretName: Invalid value: "../x": must be a valid Secret name`}},
		{"ca ClusterIssuer without secretName", "clusterissuer", "empty-ca",
			"apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: empty-ca}\nspec:\n  ca: {secretName: \"\"}\n",
			[]string{`spec.ca.secretName: Invalid value: "": must be specified`}},
		{"issuer of two kinds", "issuer", "two",
			"apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: two, namespace: sandbox}\nspec:\n  ca: {secretName: root-secret}\n  selfSigned: {}\n",
			[]string{"spec: Invalid value: may not specify more than one issuer type"}},
		{"issuer of no kind", "issuer", "none",
			"apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: none, namespace: sandbox}\nspec: {}\n",
			[]string{"spec: Invalid value: at least one issuer must be configured"}},
		{"CertificateRequest for an unknown kind", "certificaterequest", "foocr",
			"apiVersion: cert-manager.io/v1\nkind: CertificateRequest\nmetadata: {name: foocr, namespace: sandbox}\nspec:\n  request: Y2hlY2s=\n  issuerRef: {name: x, kind: FooIssuer}\n",
			[]string{"spec.issuerRef.kind: Invalid value: must be one of Issuer or ClusterIssuer (did you forget to set spec.issuerRef.group?)"}},
	}
	for _, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.object+".yaml")
			writeFile(t, file, tt.manifest)
			r := kubectl(t, admin, "apply", "-f", file)
			if r.code == 0 {
				t.Fatalf("kubectl apply accepted it: %s", r.stdout)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("kubectl apply said:\n%s\nwant it to say: %s", r.stderr, want)
				}
			}
			args := []string{"get", tt.kind, tt.object}
			if tt.kind != "clusterissuer" {
				args = append(args, "-n", "sandbox")
			}
			if r := kubectl(t, admin, args...); r.code == 0 {
				t.Errorf("%s %s exists after it was refused", tt.kind, tt.object)
			}
		})
	}

	// Valid manifests still apply: wildcards, names of either case, IPv6,
	// Ed25519 with a size (ignored, as in cert-manager), the minimum
	// duration and renewBefore, a literalSubject, an external issuer.
	writeFile(t, filepath.Join(dir, "good.yaml"), certificateYAML("wild",
		"  secretName: wild-tls\n  dnsNames: [\"*.example.com\", Web.Example.COM, service-a]\n  ipAddresses: [\"2001:db8::1\", 192.0.2.1]\n"+
			"  emailAddresses: [admin@example.com]\n  duration: 1h\n  renewBefore: 5m\n  privateKey: {algorithm: Ed25519, size: 256}\n"+issuer)+
		"---\n"+certificateYAML("literal", "  secretName: literal-tls\n  literalSubject: CN=literal,O=example\n  subject: {}\n  renewBeforePercentage: 25\n"+issuer)+
		"---\n"+certificateYAML("external", "  secretName: external-tls\n  commonName: external\n  issuerRef: {name: step, kind: StepClusterIssuer, group: certmanager.step.sm}\n"))
	mustKubectl(t, admin, "apply", "-f", filepath.Join(dir, "good.yaml"))
	waitCertificate(t, admin, "sandbox", "wild", 1)
	waitCertificate(t, admin, "sandbox", "literal", 1)
	if leaf := leafOf(t, admin, "sandbox", "wild-tls"); !slices.Equal(leaf.DNSNames, []string{"*.example.com", "Web.Example.COM", "service-a"}) {
		t.Errorf("wild-tls DNS names %v", leaf.DNSNames)
	}

	// Objects admitted without the rules (created by an older certplane, or
	// in a cluster whose CRDs lack them) end Ready=False, naming the field.
	dropRule := func(crd, path string) {
		t.Helper()
		mustKubectl(t, admin, "patch", "crd", crd, "--type=json",
			"-p", `[{"op":"remove","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/`+path+`/x-kubernetes-validations"}]`)
	}
	applyOnceAdmitted := func(name, manifest string) {
		t.Helper()
		file := filepath.Join(dir, name+".yaml")
		writeFile(t, file, manifest)
		var last result
		waitFor(t, 30*time.Second, name+" to be admitted without the rule", func() bool {
			last = kubectl(t, admin, "apply", "-f", file)
			return last.code == 0
		})
	}
	dropRule("issuers.cert-manager.io", "ca/properties/secretName")
	dropRule("certificates.cert-manager.io", "dnsNames/items")
	dropRule("certificates.cert-manager.io", "issuerRef")
	applyOnceAdmitted("bad-ca", "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: bad-ca, namespace: sandbox}\nspec:\n  ca: {secretName: ../x}\n")
	applyOnceAdmitted("badnames", certificateYAML("badnames", "  secretName: badnames\n  dnsNames: [ok.example, \"bad host!!\"]\n"+issuer))
	applyOnceAdmitted("fookind", certificateYAML("fookind", "  secretName: fookind\n  commonName: x\n  issuerRef: {name: x, kind: FooIssuer}\n"))
	applyOnceAdmitted("via-bad-ca", certificateYAML("via-bad-ca", "  secretName: via-bad-ca\n  commonName: x\n  issuerRef: {name: bad-ca}\n"))

	condition := func(kind, name string) string {
		r := kubectl(t, admin, "get", kind, name, "-n", "sandbox", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`)
		return r.stdout
	}
	for _, c := range []struct{ kind, name, want string }{
		{"issuer", "bad-ca", `False InvalidConfig: spec.ca.secretName: "../x" is not a valid Secret name: a lowercase RFC 1123 subdomain`},
		{"certificate", "badnames", `False InvalidSpec: spec.dnsNames[1]: "bad host!!" is not a valid DNS name: label "bad host!!" has ' ', which is not an ASCII letter, digit or '-'`},
		{"certificate", "fookind", `False InvalidSpec: spec.issuerRef.kind: "FooIssuer" must be one of Issuer or ClusterIssuer (did you forget to set spec.issuerRef.group?)`},
		{"certificate", "via-bad-ca", "False "},
	} {
		var got string
		waitFor(t, 60*time.Second, c.kind+" "+c.name+" to be "+c.want, func() bool { got = condition(c.kind, c.name); return strings.HasPrefix(got, c.want) })
	}
	if out := mustKubectl(t, admin, "get", "certificaterequests", "-n", "sandbox", "-o", "name"); strings.Contains(out, "fookind") || strings.Contains(out, "badnames") {
		t.Errorf("CertificateRequests were made for invalid Certificates:\n%s", out)
	}
	if secrets := mustKubectl(t, admin, "get", "secrets", "-n", "sandbox", "-o", "name"); strings.Contains(secrets, "secret/badnames") {
		t.Error("a certificate was issued for invalid DNS names")
	}
	logs, err := os.ReadFile(filepath.Join(data, "logs", "controllers.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, "Reconciler error") && (strings.Contains(line, "bad-ca") || strings.Contains(line, "badnames") || strings.Contains(line, "fookind")) {
			t.Errorf("controllers.log has a reconcile error for an invalid object: %s", line)
		}
	}
}
