package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
