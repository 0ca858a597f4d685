package vault

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/pkitest"
)

// testPKI is a root, an intermediate it signed, a leaf the intermediate
// signed, and an unrelated root.
type testPKI struct {
	root, inter, leaf, other *x509.Certificate
	interCA                  *pki.CA
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	root := pkitest.CA(t, "test root")
	interKey := pkitest.Key(t)
	inter, err := root.Issue(rand.Reader, time.Now(), &pki.Template{
		Subject:  pkix.Name{CommonName: "test intermediate"},
		IsCA:     true,
		Duration: 24 * time.Hour,
	}, interKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	interCA, err := pki.NewCA(inter, interKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := pkitest.Leaf(t, interCA, "web.example.com", []pki.Usage{pki.UsageServerAuth}, "web.example.com")
	return &testPKI{
		root:    root.Certificate,
		inter:   inter,
		leaf:    leaf,
		other:   pkitest.CA(t, "other root").Certificate,
		interCA: interCA,
	}
}

func pemOf(certs ...*x509.Certificate) string {
	return string(pki.EncodeCertificatesPEM(certs...))
}

func TestParseIssued(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name      string
		cert, ica string
		chain     []string
		wantChain []*x509.Certificate
		wantCA    *x509.Certificate
		wantErr   string
	}{{
		name:      "leaf only: no CA",
		cert:      pemOf(p.leaf),
		wantChain: []*x509.Certificate{p.leaf},
	}, {
		name:      "leaf and its intermediate: the intermediate is the CA and stays in the chain",
		cert:      pemOf(p.leaf),
		ica:       pemOf(p.inter),
		wantChain: []*x509.Certificate{p.leaf, p.inter},
		wantCA:    p.inter,
	}, {
		name:      "Vault's answer from an intermediate mount: duplicates dropped, root is the CA, not in the chain",
		cert:      pemOf(p.leaf),
		ica:       pemOf(p.inter),
		chain:     []string{pemOf(p.inter), pemOf(p.root)},
		wantChain: []*x509.Certificate{p.leaf, p.inter},
		wantCA:    p.root,
	}, {
		name:      "chain given root first, in one string",
		cert:      pemOf(p.leaf),
		chain:     []string{pemOf(p.root, p.inter)},
		wantChain: []*x509.Certificate{p.leaf, p.inter},
		wantCA:    p.root,
	}, {
		name:      "certificate field as a bundle with the chain",
		cert:      pemOf(p.leaf, p.inter, p.root),
		wantChain: []*x509.Certificate{p.leaf, p.inter},
		wantCA:    p.root,
	}, {
		name:      "text between blocks and blank entries are ignored",
		cert:      "leaf:\n" + pemOf(p.leaf) + "\ntrailing words",
		ica:       "  \n",
		chain:     []string{"", pemOf(p.inter)},
		wantChain: []*x509.Certificate{p.leaf, p.inter},
		wantCA:    p.inter,
	}, {
		name:      "a lone self-signed CA is both chain and CA",
		cert:      pemOf(p.root),
		ica:       pemOf(p.root),
		wantChain: []*x509.Certificate{p.root},
		wantCA:    p.root,
	}, {
		name:      "intermediate signed by a root: root dropped from the chain",
		cert:      pemOf(p.inter),
		ica:       pemOf(p.root),
		wantChain: []*x509.Certificate{p.inter},
		wantCA:    p.root,
	}, {
		name:    "broken chain: the issuer is unrelated",
		cert:    pemOf(p.leaf),
		ica:     pemOf(p.other),
		wantErr: "do not form a chain",
	}, {
		name:    "gap: leaf and root without the intermediate",
		cert:    pemOf(p.leaf),
		chain:   []string{pemOf(p.root)},
		wantErr: "do not form a chain",
	}, {
		name:    "the certificate field is not the leaf",
		cert:    pemOf(p.inter),
		chain:   []string{pemOf(p.leaf)},
		wantErr: "not the leaf",
	}, {
		name:    "empty certificate",
		cert:    "",
		ica:     pemOf(p.root),
		wantErr: "no certificate",
	}, {
		name:    "garbage certificate",
		cert:    "not PEM at all",
		wantErr: "no PEM data",
	}, {
		name:    "garbage issuing_ca",
		cert:    pemOf(p.leaf),
		ica:     "oops",
		wantErr: "issuing_ca",
	}, {
		name:    "garbage in ca_chain",
		cert:    pemOf(p.leaf),
		chain:   []string{pemOf(p.inter), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		wantErr: "ca_chain[1]",
	}, {
		name:    "a private key block is not a certificate",
		cert:    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})),
		wantErr: "no PEM data",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIssued(tt.cert, tt.ica, tt.chain)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "vault: ") {
					t.Errorf("err = %q, want the package prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Chain) != len(tt.wantChain) {
				t.Fatalf("chain = %s, want %s", names(got.Chain), names(tt.wantChain))
			}
			for i := range got.Chain {
				if !got.Chain[i].Equal(tt.wantChain[i]) {
					t.Fatalf("chain = %s, want %s", names(got.Chain), names(tt.wantChain))
				}
			}
			switch {
			case tt.wantCA == nil && got.CA != nil:
				t.Errorf("CA = %s, want none", got.CA.Subject.CommonName)
			case tt.wantCA != nil && (got.CA == nil || !got.CA.Equal(tt.wantCA)):
				t.Errorf("CA = %v, want %s", got.CA, tt.wantCA.Subject.CommonName)
			}
			if got.Serial != serialString(tt.wantChain[0]) || got.Serial == "" {
				t.Errorf("Serial = %q", got.Serial)
			}
		})
	}
}

func names(cs []*x509.Certificate) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Subject.CommonName)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func TestParseIssuedChainError(t *testing.T) {
	p := newTestPKI(t)
	_, err := ParseIssued(pemOf(p.leaf), pemOf(p.other), nil)
	if !errors.Is(err, pki.ErrChain) {
		t.Fatalf("err = %v, want pki.ErrChain", err)
	}
}

func TestSerialString(t *testing.T) {
	c := &x509.Certificate{SerialNumber: new(big.Int).SetBytes([]byte{0x0a, 0xbc, 0x01})}
	if got, want := serialString(c), "0a:bc:01"; got != want {
		t.Errorf("serialString = %q, want %q", got, want)
	}
}

func BenchmarkParseIssued(b *testing.B) {
	p := newTestPKI(b)
	leaf, inter, root := pemOf(p.leaf), pemOf(p.inter), pemOf(p.root)
	for b.Loop() {
		if _, err := ParseIssued(leaf, inter, []string{inter, root}); err != nil {
			b.Fatal(err)
		}
	}
}
