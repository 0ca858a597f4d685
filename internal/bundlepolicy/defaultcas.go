package bundlepolicy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// DefaultCAs is the public CA bundle of the controller's machine or image,
// the source of useDefaultCAs.
type DefaultCAs struct {
	// PEM is the bundle, e.g. /etc/ssl/certs/ca-certificates.crt.
	PEM []byte
	// Version is what status.defaultCAVersion reports (DefaultCAVersion).
	Version string
}

// DefaultCAsPackage is the Debian package that makes
// /etc/ssl/certs/ca-certificates.crt.
const DefaultCAsPackage = "ca-certificates"

// DefaultCAVersion names a default CA bundle as trust-manager's
// status.defaultCAVersion does: the package's name and version and the
// first 8 bytes of the bundle's SHA-256 in hex, so that two bundles report
// the same value only when they hold the same text. An unknown version is
// "unknown".
func DefaultCAVersion(pkg, version string, bundle []byte) string {
	if version == "" {
		version = "unknown"
	}
	sum := sha256.Sum256(bundle)
	return fmt.Sprintf("%s-%s-%s", pkg, version, hex.EncodeToString(sum[:8]))
}

// DebianPackageVersion reads the version of an installed package from
// dpkg's status file (/var/lib/dpkg/status); "" when the package is not
// installed or the file does not say.
func DebianPackageVersion(status []byte, pkg string) string {
	var name, version, state string
	flush := func() string {
		defer func() { name, version, state = "", "", "" }()
		if name == pkg && strings.HasSuffix(state, " installed") {
			return version
		}
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if v := flush(); v != "" {
				return v
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation of a multi-line field
		}
		field, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch field {
		case "Package":
			name = value
		case "Version":
			version = value
		case "Status":
			state = value
		}
	}
	return flush()
}

// DefaultCAsInput is the data of a useDefaultCAs source; without a default
// CA bundle it is SourceNotFound, as in trust-manager.
func DefaultCAsInput(d *DefaultCAs) (Input, error) {
	if d == nil || len(d.PEM) == 0 {
		return Input{}, notFound("useDefaultCAs: this controller has no default CA bundle (Debian's ca-certificates, /etc/ssl/certs/ca-certificates.crt, is not installed or could not be read: see its log)")
	}
	return Input{Source: "the default CAs (" + d.Version + ")", Data: d.PEM}, nil
}
