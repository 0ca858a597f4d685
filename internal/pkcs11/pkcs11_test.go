//go:build cgo && !nopkcs11

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/certplane/certplane/pkg/pki"
)

const (
	softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
	// The PINs are distinctive so that finding one in an error message
	// means it leaked (a PIN of "1234" could be part of a slot number).
	userPIN  = "s3cret-PIN-8841"
	wrongPIN = "wr0ng-PIN-3377"
	soPIN    = "so-PIN-5678"

	mainToken  = "certplane" // keys made by the tests
	toolsToken = "tools"     // keys made by pkcs11-tool and softhsm2-util

	childEnv = "CERTPLANE_PKCS11_TEST_CHILD" // the URI a re-executed test binary opens
)

var (
	// hsmSkip, if set, is why the tests that need SoftHSM2 skip.
	hsmSkip string
	// importedPub is the public key of the key softhsm2-util imported.
	importedPub crypto.PublicKey
	// tmpDir holds the SoftHSM2 configuration and tokens.
	tmpDir string
	// runs numbers labels that must be new in each run of a test.
	runs atomic.Int32
)

func TestMain(m *testing.M) {
	if uri := os.Getenv(childEnv); uri != "" {
		os.Exit(child(uri))
	}
	_ = os.Unsetenv(ModuleEnv)
	code := func() int {
		if _, err := os.Stat(softhsmModule); err != nil {
			hsmSkip = "SoftHSM2 is not installed: " + err.Error()
			return m.Run()
		}
		var err error
		if tmpDir, err = os.MkdirTemp("", "certplane-pkcs11-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = os.RemoveAll(tmpDir) }()
		if err := setupSoftHSM(tmpDir); err != nil {
			fmt.Fprintln(os.Stderr, "setting up SoftHSM2:", err)
			return 1
		}
		defer func() { _ = Close() }()
		return m.Run()
	}()
	os.Exit(code)
}

// setupSoftHSM gives this process (and the tools it runs) its own token
// directory, makes the tokens, and has the command-line tools make keys,
// all before the first C_Initialize.
func setupSoftHSM(dir string) error {
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return err
	}
	for _, label := range []string{mainToken, toolsToken} {
		if err := run("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", userPIN, "--so-pin", soPIN); err != nil {
			return err
		}
	}
	// An ECDSA key pair made by OpenSC's pkcs11-tool.
	if err := run("pkcs11-tool", "--module", softhsmModule, "--token-label", toolsToken, "--login", "--pin", userPIN,
		"--keypairgen", "--key-type", "EC:prime256v1", "--id", "0a0b", "--label", "tool-ec", "--usage-sign"); err != nil {
		return err
	}
	// A P-384 key made here, imported with softhsm2-util.
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "imported.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := run("softhsm2-util", "--import", keyFile, "--token", toolsToken, "--label", "imported-ca", "--id", "0c0d", "--pin", userPIN); err != nil {
		return err
	}
	importedPub = key.Public()
	// The same key again, without its public half.
	if err := run("softhsm2-util", "--import", keyFile, "--token", toolsToken, "--label", "lonely", "--id", "0e0f", "--pin", userPIN, "--no-public-key"); err != nil {
		return err
	}
	return os.Remove(keyFile)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// child is the re-executed test binary: a fresh process, never logged in.
// It opens the URI and prints the outcome.
func child(uri string) int {
	_, err := Open(uri)
	if err != nil {
		fmt.Println("error: " + err.Error())
	} else {
		fmt.Println("opened")
	}
	_ = Close()
	return 0
}

func needHSM(t testing.TB) {
	t.Helper()
	if hsmSkip != "" {
		t.Skip(hsmSkip)
	}
}

// keyURI names a key in a token of the test's SoftHSM2 with the user PIN.
func keyURI(token, path string) string {
	return "pkcs11:token=" + token + ";" + path + "?module-path=" + softhsmModule + "&pin-value=" + userPIN
}

// checkErr checks that err is the one line want (after "pkcs11: <uri>: "),
// wraps kind and shows no PIN.
func checkErr(t *testing.T, err error, uri string, kind error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	u, perr := ParseURI(uri)
	if perr != nil {
		t.Fatal(perr)
	}
	if full := "pkcs11: " + u.String() + ": " + want; err.Error() != full {
		t.Errorf("error = %q\nwant    %q", err, full)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %v does not wrap %v", err, kind)
	}
	checkNoPIN(t, err.Error())
}

func checkNoPIN(t *testing.T, s string) {
	t.Helper()
	for _, pin := range []string{userPIN, wrongPIN, soPIN} {
		if strings.Contains(s, pin) {
			t.Errorf("%q shows a PIN", s)
		}
	}
	if strings.ContainsAny(s, "\r\n") {
		t.Errorf("%q is not one line", s)
	}
}

// issueWith makes a self-signed CA with key through pkg/pki, issues a leaf
// from it and checks both.
func issueWith(t *testing.T, key crypto.Signer, sigAlg x509.SignatureAlgorithm) {
	t.Helper()
	now := time.Now()
	caCert, err := pki.SelfSign(rand.Reader, now, &pki.Template{
		Subject: pkix.Name{CommonName: "certplane HSM test CA"}, IsCA: true, Duration: time.Hour, SignatureAlgorithm: sigAlg,
	}, key)
	if err != nil {
		t.Fatalf("SelfSign: %v", err)
	}
	if err := caCert.CheckSignatureFrom(caCert); err != nil {
		t.Fatalf("CA signature: %v", err)
	}
	if sigAlg != x509.UnknownSignatureAlgorithm && caCert.SignatureAlgorithm != sigAlg {
		t.Errorf("CA signed with %v, want %v", caCert.SignatureAlgorithm, sigAlg)
	}
	ca, err := pki.NewCA(caCert, key)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	leafKey, err := pki.GenerateKey(rand.Reader, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(rand.Reader, now, &pki.Template{
		Subject:            pkix.Name{CommonName: "leaf"},
		DNSNames:           []string{"leaf.example"},
		Usages:             []pki.Usage{pki.UsageDigitalSignature, pki.UsageServerAuth},
		Duration:           time.Hour,
		SignatureAlgorithm: sigAlg,
	}, leafKey.Public())
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "leaf.example", CurrentTime: now}); err != nil {
		t.Fatalf("verifying leaf: %v", err)
	}
}

func TestGenerateAndOpen(t *testing.T) {
	needHSM(t)
	for _, tt := range []struct {
		spec    pki.KeySpec
		sigAlgs []x509.SignatureAlgorithm
	}{
		{pki.ECDSAP256, []x509.SignatureAlgorithm{x509.ECDSAWithSHA256}},
		{pki.ECDSAP384, []x509.SignatureAlgorithm{x509.ECDSAWithSHA384}},
		{pki.ECDSAP521, []x509.SignatureAlgorithm{x509.ECDSAWithSHA512}},
		{pki.RSA2048, []x509.SignatureAlgorithm{x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS}},
	} {
		t.Run(tt.spec.String(), func(t *testing.T) {
			// A new label each run: -count reuses the tokens.
			label := fmt.Sprintf("gen-%s-%d", tt.spec, runs.Add(1))
			uri := keyURI(mainToken, "object="+label)
			made, err := Generate(uri, tt.spec)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if alg, bits := pki.KeyDescription(made.Public()); alg != map[pki.KeyAlgorithm]string{pki.RSA: "RSA", pki.ECDSA: "ECDSA"}[tt.spec.Algorithm] || bits != tt.spec.Size {
				t.Errorf("generated %s-%d, want %s", alg, bits, tt.spec)
			}
			opened, err := Open(uri)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !pki.KeyMatches(made.Public(), opened) {
				t.Fatal("Open found another key than Generate made")
			}
			// By the id Generate made from the label, too.
			sum := sha256.Sum256([]byte(label))
			byID, err := Open(keyURI(mainToken, "id="+escapeAll(sum[:8])))
			if err != nil {
				t.Fatalf("Open by id: %v", err)
			}
			if !pki.KeyMatches(made.Public(), byID) {
				t.Fatal("Open by id found another key")
			}
			for _, alg := range tt.sigAlgs {
				t.Run(alg.String(), func(t *testing.T) { issueWith(t, opened, alg) })
			}
			if tt.spec.Algorithm == pki.RSA {
				// PSS with the salt length crypto/rsa signs with by default.
				digest := sha256.Sum256([]byte("certplane"))
				opts := &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto}
				sig, err := opened.Sign(rand.Reader, digest[:], opts)
				if err != nil {
					t.Fatalf("Sign PSS auto: %v", err)
				}
				if err := rsa.VerifyPSS(opened.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig, opts); err != nil {
					t.Fatalf("VerifyPSS: %v", err)
				}
			}
		})
	}
}

func TestOpenToolKeys(t *testing.T) {
	needHSM(t)
	t.Run("pkcs11-tool keypairgen", func(t *testing.T) {
		for _, path := range []string{"object=tool-ec", "id=%0a%0b", "object=tool-ec;id=%0A%0B;type=private"} {
			key, err := Open(keyURI(toolsToken, path))
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			if alg, bits := pki.KeyDescription(key.Public()); alg != "ECDSA" || bits != 256 {
				t.Fatalf("key is %s-%d", alg, bits)
			}
			issueWith(t, key, x509.UnknownSignatureAlgorithm)
		}
	})
	t.Run("softhsm2-util import", func(t *testing.T) {
		key, err := Open(keyURI(toolsToken, "object=imported-ca"))
		if err != nil {
			t.Fatal(err)
		}
		if !pki.KeyMatches(importedPub, key) {
			t.Fatal("the key found is not the one imported")
		}
		issueWith(t, key, x509.ECDSAWithSHA384)
	})
}

func TestTokenSelection(t *testing.T) {
	needHSM(t)
	s := openSigner(t, keyURI(mainToken, "object=select"), pki.ECDSAP256)
	var info p11.TokenInfo
	if err := withModule(s.e.key.module, func(m *p11.Ctx) error {
		var err error
		info, err = m.GetTokenInfo(s.e.slot)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slot := fmt.Sprint(s.e.slot)
	enc := func(v string) string { return escape(v, "") }
	for _, uri := range []string{
		"pkcs11:serial=" + info.SerialNumber + ";object=select?module-path=" + softhsmModule + "&pin-value=" + userPIN,
		"pkcs11:slot-id=" + slot + ";object=select?module-path=" + softhsmModule + "&pin-value=" + userPIN,
		"pkcs11:model=" + enc(info.Model) + ";manufacturer=" + enc(info.ManufacturerID) + ";serial=" + info.SerialNumber +
			";token=" + mainToken + ";library-version=9.9;object=select;type=private?module-path=" + softhsmModule + "&pin-value=" + userPIN,
		// The real file behind the symbolic link: the same module, loaded once.
		"pkcs11:token=" + mainToken + ";object=select?module-path=" + s.e.key.module + "&pin-value=" + userPIN,
		// smallstep's form.
		"pkcs11:module-path=" + softhsmModule + ";token=" + mainToken + ";object=select?pin-value=" + userPIN,
	} {
		k, err := Open(uri)
		if err != nil {
			t.Fatalf("Open(%s): %v", uri, err)
		}
		if k.(*signer).e != s.e {
			t.Errorf("Open(%s) logged in again instead of sharing the context", uri)
		}
	}
	t.Setenv(ModuleEnv, softhsmModule)
	if _, err := Open("pkcs11:token=" + mainToken + ";object=select?pin-value=" + userPIN); err != nil {
		t.Errorf("Open with $%s: %v", ModuleEnv, err)
	}

	// A token attribute that does not match.
	for _, tt := range []struct{ uri, want string }{
		{"pkcs11:token=" + mainToken + ";serial=0000000000000000;object=select?module-path=" + softhsmModule + "&pin-value=" + userPIN,
			`no token labelled "certplane" with serial "0000000000000000"`},
		{"pkcs11:token=" + mainToken + ";model=HSM%209000;object=select?module-path=" + softhsmModule + "&pin-value=" + userPIN,
			`no token labelled "certplane" of model "HSM 9000"`},
		{"pkcs11:token=" + toolsToken + ";slot-id=" + slot + ";object=select?module-path=" + softhsmModule + "&pin-value=" + userPIN,
			`no token labelled "tools" in slot ` + slot},
	} {
		_, err := Open(tt.uri)
		checkErr(t, err, tt.uri, ErrNoToken, tt.want)
	}
}

// openSigner opens the key, generating it first if the token lacks it.
func openSigner(t testing.TB, uri string, spec pki.KeySpec) *signer {
	t.Helper()
	k, err := Open(uri)
	if errors.Is(err, ErrNoKey) {
		k, err = Generate(uri, spec)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k.(*signer)
}

func TestNonExtractable(t *testing.T) {
	needHSM(t)
	for _, spec := range []pki.KeySpec{pki.ECDSAP256, pki.RSA2048} {
		t.Run(spec.String(), func(t *testing.T) {
			label := "secret-" + spec.String()
			s := openSigner(t, keyURI(mainToken, "object="+label), spec)
			b := s.bound.Load()
			attrs, err := b.gen.ctx.GetAttributes(b.key, []crypto11.AttributeType{
				crypto11.CkaExtractable, crypto11.CkaSensitive, crypto11.CkaNeverExtractable, crypto11.CkaAlwaysSensitive,
				crypto11.CkaSign, crypto11.CkaDecrypt, crypto11.CkaToken,
			})
			if err != nil {
				t.Fatal(err)
			}
			for typ, want := range map[crypto11.AttributeType]bool{
				crypto11.CkaExtractable: false, crypto11.CkaSensitive: true, crypto11.CkaNeverExtractable: true,
				crypto11.CkaAlwaysSensitive: true, crypto11.CkaSign: true, crypto11.CkaDecrypt: false, crypto11.CkaToken: true,
			} {
				a := attrs[typ]
				if a == nil || len(a.Value) != 1 || (a.Value[0] != 0) != want {
					t.Errorf("attribute 0x%x = %v, want %v", typ, a, want)
				}
			}
			// The token refuses to give out the private value.
			secret := uint(p11.CKA_VALUE)
			if spec.Algorithm == pki.RSA {
				secret = p11.CKA_PRIVATE_EXPONENT
			}
			err = withModule(s.e.key.module, func(m *p11.Ctx) error {
				sh, err := m.OpenSession(s.e.slot, p11.CKF_SERIAL_SESSION)
				if err != nil {
					return err
				}
				defer func() { _ = m.CloseSession(sh) }()
				if err := m.FindObjectsInit(sh, []*p11.Attribute{
					p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_LABEL, label),
				}); err != nil {
					return err
				}
				found, _, err := m.FindObjects(sh, 2)
				_ = m.FindObjectsFinal(sh)
				if err != nil {
					return fmt.Errorf("finding the private key: %w", err)
				}
				if len(found) != 1 {
					return fmt.Errorf("%d private keys with label %q, want 1", len(found), label)
				}
				_, err = m.GetAttributeValue(sh, found[0], []*p11.Attribute{p11.NewAttribute(secret, nil)})
				if e, ok := ckr(err); !ok || e != p11.CKR_ATTRIBUTE_SENSITIVE {
					return fmt.Errorf("reading the private value: %w, want CKR_ATTRIBUTE_SENSITIVE", err)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			// And OpenSC sees the same flags from another process.
			out, err := exec.Command("pkcs11-tool", "--module", softhsmModule, "--token-label", mainToken, "--login", "--pin", userPIN,
				"--list-objects", "--type", "privkey", "--label", label).CombinedOutput()
			if err != nil {
				t.Fatalf("pkcs11-tool --list-objects: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "never extractable") || !strings.Contains(string(out), "always sensitive") {
				t.Errorf("pkcs11-tool does not list the key as sensitive and never extractable:\n%s", out)
			}
		})
	}
}

func TestGenerateRefuses(t *testing.T) {
	needHSM(t)
	uri := keyURI(mainToken, "object=unique")
	first := openSigner(t, uri, pki.ECDSAP256)

	_, err := Generate(uri, pki.ECDSAP384)
	checkErr(t, err, uri, ErrKeyExists, `a key with label "unique" exists; generate never replaces a key`)

	// Another label with the id the key already has (made from its label).
	sum := sha256.Sum256([]byte("unique"))
	sameID := keyURI(mainToken, "object=unique-2;id="+escapeAll(sum[:8]))
	_, err = Generate(sameID, pki.ECDSAP256)
	if !errors.Is(err, ErrKeyExists) || !strings.Contains(err.Error(), "a key with id ") {
		t.Errorf("Generate with a taken id: %v", err)
	}
	checkNoPIN(t, err.Error())

	// The token still holds one key pair with the label: the first.
	again, err := Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	if !pki.KeyMatches(first.Public(), again) {
		t.Error("the key with the label changed")
	}

	ed := keyURI(mainToken, "object=ed")
	_, err = Generate(ed, pki.Ed25519Key)
	checkErr(t, err, ed, pki.ErrUnsupportedKey,
		"cannot generate an ed25519 key in a token: crypto11 v1.6.2 has no EdDSA (use ecdsa-p256, ecdsa-p384 or rsa-3072)")

	weak := keyURI(mainToken, "object=weak")
	_, err = Generate(weak, pki.KeySpec{Algorithm: pki.RSA, Size: 1024})
	checkErr(t, err, weak, pki.ErrWeakKey, "cannot generate rsa-1024: pki: RSA key too short: 1024 bits, need at least 2048")

	noLabel := keyURI(mainToken, "id=%99")
	_, err = Generate(noLabel, pki.ECDSAP256)
	checkErr(t, err, noLabel, ErrInvalidURI, "generating a key needs object= (its label)")
}

func TestErrors(t *testing.T) {
	needHSM(t)
	openSigner(t, keyURI(mainToken, "object=present"), pki.ECDSAP256)
	notModule := filepath.Join(t.TempDir(), "not-a-module.so")
	if err := os.WriteFile(notModule, []byte("not ELF"), 0o600); err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(t.TempDir(), "pin")
	for _, tt := range []struct {
		name, uri string
		kind      error
		want      string
	}{
		{"missing token", keyURI("nope", "object=present"), ErrNoToken, `no token labelled "nope"`},
		{"missing token by serial",
			"pkcs11:serial=feedfacefeedface;object=present?module-path=" + softhsmModule + "&pin-value=" + userPIN,
			ErrNoToken, `no token with serial "feedfacefeedface"`},
		{"missing object", keyURI(mainToken, "object=nope"), ErrNoKey, `no key pair with label "nope"`},
		{"missing id", keyURI(mainToken, "object=present;id=%00%01"), ErrNoKey, `no key pair with label "present" and id 0001`},
		{"private key only", keyURI(toolsToken, "object=lonely"), ErrNoKey,
			`no key pair with label "lonely" (a private key matches, but no public key or certificate has its CKA_ID)`},
		{"missing module",
			"pkcs11:token=certplane;object=present?module-path=/nonexistent/libpkcs11.so&pin-value=" + userPIN,
			ErrModule, "cannot load module /nonexistent/libpkcs11.so: no such file or directory"},
		{"not a module",
			"pkcs11:token=certplane;object=present?module-path=" + notModule + "&pin-value=" + userPIN,
			ErrModule, "cannot load module " + notModule + ": not a PKCS#11 module (dlopen or C_GetFunctionList failed)"},
		{"no module-path",
			"pkcs11:token=certplane;object=present?pin-value=" + userPIN,
			ErrModule, "module-path is required (in the URI, or set $CERTPLANE_PKCS11_MODULE)"},
		{"no PIN",
			"pkcs11:token=certplane;object=present?module-path=" + softhsmModule,
			ErrPIN, "no PIN (set pin-value or pin-source)"},
		{"missing PIN file",
			"pkcs11:token=certplane;object=present?module-path=" + softhsmModule + "&pin-source=" + pinFile,
			ErrPIN, "reading pin-source: open " + pinFile + ": no such file or directory"},
		{"bad URI", "pkcs11:token=certplane;object=present?pin-value=" + userPIN + "&color=red", ErrInvalidURI, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.uri)
			if tt.want == "" {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("Open: %v, want %v", err, tt.kind)
				}
				checkNoPIN(t, err.Error())
				return
			}
			checkErr(t, err, tt.uri, tt.kind, tt.want)
			if !strings.Contains(err.Error(), "pin-value=REDACTED") && strings.Contains(tt.uri, "pin-value=") {
				t.Errorf("error %q does not show the redacted URI", err)
			}
		})
	}
}

// TestWrongPIN checks the wrong-PIN error in a fresh process, and what
// happens in a process already logged in to the token.
func TestWrongPIN(t *testing.T) {
	needHSM(t)
	right := keyURI(mainToken, "object=pin-test")
	openSigner(t, right, pki.ECDSAP256)
	wrong := strings.Replace(right, userPIN, wrongPIN, 1)
	const want = "login refused: wrong PIN (CKR_PIN_INCORRECT)"

	t.Run("fresh process", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+wrong)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		got := strings.TrimSpace(string(out))
		u, _ := ParseURI(wrong)
		if full := "error: pkcs11: " + u.String() + ": " + want; got != full {
			t.Errorf("child says %q\nwant        %q", got, full)
		}
		checkNoPIN(t, got)

		// The right PIN works in a fresh process too.
		cmd = exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+right)
		if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "opened" {
			t.Errorf("child with the right PIN: %v\n%s", err, out)
		}
	})

	t.Run("logged in already", func(t *testing.T) {
		// The token would answer CKR_USER_ALREADY_LOGGED_IN whatever the PIN,
		// so Open refuses the PIN it cannot check.
		_, err := Open(wrong)
		checkErr(t, err, wrong, ErrPIN,
			"login refused: this process is logged in to the token with another PIN and cannot check this one (CKR_USER_ALREADY_LOGGED_IN)")
	})

	t.Run("after Close", func(t *testing.T) {
		if err := Close(); err != nil {
			t.Fatal(err)
		}
		_, err := Open(wrong)
		checkErr(t, err, wrong, ErrPIN, want)
		if _, err := Open(right); err != nil {
			t.Fatalf("Open with the right PIN after a wrong one: %v", err)
		}
	})
}

func TestConcurrentSign(t *testing.T) {
	needHSM(t)
	uri := keyURI(mainToken, "object=concurrent")
	first := openSigner(t, uri, pki.ECDSAP256)
	pub := first.Public().(*ecdsa.PublicKey)
	const goroutines, each = 32, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half share one Signer, half open their own.
			var key crypto.Signer = first
			if g%2 == 1 {
				k, err := Open(uri)
				if err != nil {
					errs <- err
					return
				}
				key = k
			}
			for i := range each {
				digest := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
				sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					errs <- fmt.Errorf("goroutine %d: signature %d does not verify", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One login for all of them.
	store.mu.Lock()
	defer store.mu.Unlock()
	var n int
	for k, e := range store.entries {
		if k.token == tokenKey(first.u) && k.pin == userPIN {
			n++
			if e != first.e {
				t.Error("a second context was opened for the same token and PIN")
			}
		}
	}
	if n != 1 {
		t.Errorf("%d contexts for the token, want 1", n)
	}
}

// TestReopen breaks the context's sessions and login behind its back, as a
// removed and re-inserted token or a reset HSM would, and checks that
// signing recovers by re-opening once.
func TestReopen(t *testing.T) {
	needHSM(t)
	uri := keyURI(mainToken, "object=reopen")
	s := openSigner(t, uri, pki.ECDSAP256)
	pub := s.Public().(*ecdsa.PublicKey)
	sign := func() error {
		digest := sha256.Sum256([]byte("reopen"))
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return err
		}
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return errors.New("signature does not verify")
		}
		return nil
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		breakIt func(m *p11.Ctx) error
	}{
		{"sessions closed (CKR_SESSION_HANDLE_INVALID)", func(m *p11.Ctx) error { return m.CloseAllSessions(s.e.slot) }},
		{"logged out", func(m *p11.Ctx) error {
			sh, err := m.OpenSession(s.e.slot, p11.CKF_SERIAL_SESSION)
			if err != nil {
				return err
			}
			defer func() { _ = m.CloseSession(sh) }()
			return m.Logout(sh)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.e.reopens.Load()
			if err := withModule(s.e.key.module, tt.breakIt); err != nil {
				t.Fatal(err)
			}
			// Many goroutines hit the broken context at once; one re-opens.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Go(func() {
					if err := sign(); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("signing after the break: %v", err)
			}
			if n := s.e.reopens.Load() - before; n != 1 {
				t.Errorf("re-opened %d times, want 1", n)
			}
			if err := sign(); err != nil {
				t.Errorf("signing once more: %v", err)
			}
		})
	}

	// A non-token error is returned as it is, without a re-open.
	before := s.e.reopens.Load()
	rsaKey := openSigner(t, keyURI(mainToken, "object=reopen-rsa"), pki.RSA2048)
	_, err := rsaKey.Sign(rand.Reader, []byte("short"), &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 9999})
	if err == nil {
		t.Fatal("signing with an impossible salt length succeeded")
	}
	checkNoPIN(t, err.Error())
	if !strings.HasPrefix(err.Error(), "pkcs11: "+rsaKey.u.String()+": signing: ") {
		t.Errorf("error = %q", err)
	}
	if s.e.reopens.Load() != before {
		t.Error("a bad argument made the context re-open")
	}
}

func TestClosed(t *testing.T) {
	needHSM(t)
	uri := keyURI(mainToken, "object=closed")
	s := openSigner(t, uri, pki.ECDSAP256)
	if err := Close(); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("closed"))
	_, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	checkErr(t, err, uri, ErrClosed, "closed (pkcs11.Close was called)")
	// A new Open logs in again.
	k, err := Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}
