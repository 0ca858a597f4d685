package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/certplane/certplane/pkg/pki"
)

// maxInput bounds what a command reads from one file or standard input.
const maxInput = 16 << 20

// readInput reads a file, or standard input for "-".
func readInput(o Options, name string) ([]byte, error) {
	var (
		r   io.Reader
		err error
	)
	if name == "-" {
		if o.In == nil {
			return nil, errors.New("no standard input")
		}
		r = o.In
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", displayName(name), err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("%s is larger than %d MiB", displayName(name), maxInput>>20)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, fmt.Errorf("%s is empty", displayName(name))
	}
	return data, nil
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// barePrefix is the output prefix for an input file, as cfssljson -bare
// takes it: the file's path without its extension and a "-csr" suffix
// (server-csr.json → server). Standard input has no name, so --bare must be
// given.
func barePrefix(bare, input string) (string, error) {
	if bare != "" {
		return bare, nil
	}
	if input == "-" || input == "" {
		return "", errors.New("name the output files with --bare PREFIX when the input is standard input")
	}
	p := strings.TrimSuffix(input, filepath.Ext(input))
	return strings.TrimSuffix(p, "-csr"), nil
}

// messageError is an error with a message of its own that still wraps the
// error it explains, for errors.Is and errors.As.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }

// inputError says err is about the named input, as one sentence: "NAME:
// message", without the package prefixes ("pki: ", "cfssl: ") of the
// libraries the message comes from.
func inputError(name string, err error) error {
	return &messageError{msg: displayName(name) + ": " + plainMessage(err), err: err}
}

// libraryPrefix is a package prefix at the start of a message or after a
// colon: "pki: ", "cfssl: ", "x509: ", "json: ".
var libraryPrefix = regexp.MustCompile(`(^|: )(pki|cfssl|x509|json): `)

// plainMessage is err's message without the package prefixes of the
// libraries it comes from, so that they do not stack up behind the name
// of the input.
func plainMessage(err error) string {
	return libraryPrefix.ReplaceAllString(err.Error(), "$1")
}

// pemError explains why the named input is not the PEM object wanted
// ("certificate", "certificate request", "private key"): what it holds
// instead, that it holds no PEM or a damaged block, or that its DER does
// not parse, without the parser's internals.
func pemError(name, want string, data []byte, err error) error {
	n := displayName(name)
	say := func(format string, args ...any) error {
		return &messageError{msg: fmt.Sprintf(format, args...), err: err}
	}
	switch {
	case errors.Is(err, pki.ErrNoPEM):
		if held := pki.DescribePEM(data); held != "" {
			return say("%s holds %s, not %s", n, held, withArticle(want))
		}
		if bytes.Contains(data, []byte("-----BEGIN ")) {
			return say("%s holds a damaged or truncated PEM block, not a readable %s", n, want)
		}
		return say("%s holds no PEM data: want %s", n, withArticle(want))
	case errors.Is(err, pki.ErrBadSignature):
		return say("%s: the request's signature does not verify, so it was not made with the key it carries", n)
	case errors.Is(err, pki.ErrEncryptedKey):
		return say("%s holds an encrypted private key: decrypt it first (openssl pkey -in %s -out PLAIN.pem)", n, n)
	case strings.HasPrefix(err.Error(), "pki: parsing "):
		what, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "pki: parsing "), ":")
		return say("%s: the %s is malformed: its DER does not parse", n, what)
	}
	return inputError(name, err)
}

func withArticle(noun string) string {
	if noun == "" {
		return noun
	}
	switch noun[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + noun
	}
	return "a " + noun
}
