package cli

import (
	"crypto"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certplane/certplane/internal/files"
	"github.com/certplane/certplane/pkg/pki"
	"github.com/certplane/certplane/pkg/pki/cfssl"
)

func newGenkeyCommand(o Options) *cobra.Command {
	var bare, keyURI string
	cmd := &cobra.Command{
		Use:   "genkey REQUEST.json|-",
		Short: "Generate a private key and a certificate request from a cfssl JSON request",
		Long: `Generate a private key and a PKCS#10 certificate request from a cfssl JSON
request (CN, hosts, key, names), as "cfssl genkey - | cfssljson -bare PREFIX"
does. Writes PREFIX-key.pem (mode 0600) and PREFIX.csr. hosts become DNS, IP,
URI or email SANs; the default key is ECDSA P-256. Existing files are never
overwritten.

With --key-uri the key is made inside a hardware token instead, named by its
PKCS#11 URI (object= is its label; docs/hsm.md): it cannot be extracted, only
PREFIX.csr is written, and a key with that label or id is never replaced.
Tokens make ECDSA P-256 and P-384 and RSA 2048, 3072 and 4096 keys.`,
		Example: `  cat <<EOF | certplane genkey - --bare server
  {"CN": "system:node:my-pod", "hosts": ["my-pod.example", "192.0.2.24"],
   "key": {"algo": "ecdsa", "size": 256}, "names": [{"O": "system:nodes"}]}
  EOF`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, err := barePrefix(bare, args[0])
			if err != nil {
				return err
			}
			req, err := readRequest(o, args[0])
			if err != nil {
				return err
			}
			if keyURI != "" {
				return tokenKeyAndCSR(o, req, keyURI, prefix)
			}
			_, keyPEM, csrPEM, err := keyAndCSR(o, req)
			if err != nil {
				return err
			}
			out := []files.File{
				{Path: prefix + "-key.pem", Data: keyPEM, Mode: files.Secret},
				{Path: prefix + ".csr", Data: csrPEM, Mode: files.Public},
			}
			if err := files.WriteAll(out...); err != nil {
				return err
			}
			return wrote(o, out)
		},
	}
	cmd.Flags().StringVar(&bare, "bare", "", "prefix of the output files (default: the request file's name without -csr.json)")
	cmd.Flags().StringVar(&keyURI, "key-uri", "", "make the key in a hardware token, named by this PKCS#11 URI, instead of in PREFIX-key.pem")
	return cmd
}

func readRequest(o Options, name string) (*cfssl.Request, error) {
	data, err := readInput(o, name)
	if err != nil {
		return nil, err
	}
	req, err := cfssl.Parse(data)
	if err != nil {
		return nil, inputError(name, err)
	}
	return req, nil
}

// keyAndCSR generates the request's key and a CSR signed with it.
func keyAndCSR(o Options, req *cfssl.Request) (crypto.Signer, []byte, []byte, error) {
	key, err := pki.GenerateKey(o.Rand, req.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err := pki.MarshalPrivateKeyPEM(key, pki.FormatDefault)
	if err != nil {
		return nil, nil, nil, err
	}
	csrPEM, err := pki.CreateCSR(o.Rand, &req.Request, key)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, keyPEM, csrPEM, nil
}

// wrote reports the files a command wrote, one line.
func wrote(o Options, out []files.File) error {
	line := "wrote"
	for i, f := range out {
		if i > 0 {
			line += ","
		}
		line += " " + f.Path
	}
	_, err := fmt.Fprintln(o.Out, line)
	return err
}
