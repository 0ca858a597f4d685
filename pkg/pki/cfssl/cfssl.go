// Package cfssl reads the JSON certificate request cfssl takes
// ("cfssl genkey", "cfssl gencert"): CN, hosts, key, names and ca.
package cfssl

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/certplane/certplane/pkg/pki"
)

// Request is a parsed cfssl certificate request.
type Request struct {
	pki.Request
	// Key is the key to generate. If the request names none, ECDSA P-256,
	// cfssl's default.
	Key pki.KeySpec
	// CA holds the request's "ca" section, or nil.
	CA *CAConfig
}

// CAConfig is the "ca" section of a request, used with -initca.
type CAConfig struct {
	// Expiry is how long the CA is valid; zero if not given.
	Expiry time.Duration
	// MaxPathLen is the path length constraint; nil if none.
	MaxPathLen *int
}

type name struct {
	C  string `json:"C"`
	ST string `json:"ST"`
	L  string `json:"L"`
	O  string `json:"O"`
	OU string `json:"OU"`
}

type keyRequest struct {
	Algo string `json:"algo"`
	Size int    `json:"size"`
}

type caRequest struct {
	PathLen     *int   `json:"pathlen"`
	PathLenZero bool   `json:"pathlenzero"`
	Expiry      string `json:"expiry"`
}

type request struct {
	CN    string      `json:"CN"`
	Hosts []string    `json:"hosts"`
	Key   *keyRequest `json:"key"`
	Names []name      `json:"names"`
	CA    *caRequest  `json:"ca"`
}

// Parse reads one JSON request. Unknown fields are errors, so that a typo
// such as "host" does not silently drop the SANs.
func Parse(data []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in request
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("cfssl: empty request")
		}
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, errors.New("cfssl: the request holds more than one JSON value")
	}
	out := &Request{Key: pki.ECDSAP256}
	out.CommonName = in.CN
	for _, n := range in.Names {
		out.Country = appendNonEmpty(out.Country, n.C)
		out.Province = appendNonEmpty(out.Province, n.ST)
		out.Locality = appendNonEmpty(out.Locality, n.L)
		out.Organization = appendNonEmpty(out.Organization, n.O)
		out.OrganizationalUnit = appendNonEmpty(out.OrganizationalUnit, n.OU)
	}
	if err := out.AddHosts(in.Hosts...); err != nil {
		if ne, ok := errors.AsType[*pki.NameError](err); ok {
			return nil, fmt.Errorf("cfssl: hosts: %q is not %s: %s", ne.Name, ne.Want, ne.Reason)
		}
		return nil, fmt.Errorf("cfssl: hosts: %w", err)
	}
	if in.Key != nil {
		spec, err := keySpec(*in.Key)
		if err != nil {
			return nil, err
		}
		out.Key = spec
	}
	if in.CA != nil {
		ca, err := caConfig(*in.CA)
		if err != nil {
			return nil, err
		}
		out.CA = ca
	}
	if out.CommonName == "" && len(out.Organization) == 0 && len(in.Hosts) == 0 {
		return nil, errors.New("cfssl: request names no subject: give CN, names or hosts")
	}
	return out, nil
}

func keySpec(k keyRequest) (pki.KeySpec, error) {
	var spec pki.KeySpec
	switch k.Algo {
	case "", "ecdsa":
		spec = pki.KeySpec{Algorithm: pki.ECDSA, Size: cmp.Or(k.Size, 256)}
	case "rsa":
		spec = pki.KeySpec{Algorithm: pki.RSA, Size: cmp.Or(k.Size, 2048)}
	case "ed25519":
		spec = pki.Ed25519Key
	default:
		return pki.KeySpec{}, fmt.Errorf("cfssl: key algo %q: want rsa, ecdsa or ed25519", k.Algo)
	}
	if err := spec.Validate(); err != nil {
		return pki.KeySpec{}, fmt.Errorf("cfssl: key: %w", err)
	}
	return spec, nil
}

func caConfig(c caRequest) (*CAConfig, error) {
	out := &CAConfig{}
	if c.Expiry != "" {
		d, err := time.ParseDuration(c.Expiry)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("cfssl: ca expiry %q: want a positive duration such as 87600h", c.Expiry)
		}
		out.Expiry = d
	}
	switch {
	case c.PathLen != nil && *c.PathLen < 0:
		return nil, fmt.Errorf("cfssl: ca pathlen %d is negative", *c.PathLen)
	case c.PathLen != nil && (*c.PathLen > 0 || c.PathLenZero):
		out.MaxPathLen = c.PathLen
	case c.PathLenZero:
		zero := 0
		out.MaxPathLen = &zero
	}
	return out, nil
}

func appendNonEmpty(list []string, s string) []string {
	if s == "" {
		return list
	}
	return append(list, s)
}

// decodeError says what is wrong with a request's JSON in the request's
// own terms: fields by their JSON names, values by their JSON kinds, and
// no Go type names.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("cfssl: the request is not valid JSON: %s at byte %d", syntax.Error(), syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("cfssl: the request is not valid JSON: it ends too early")
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("cfssl: the request must be a JSON object, not %s", jsonKind(typ.Value))
	case errors.As(err, &typ):
		return fmt.Errorf("cfssl: %q must be %s, not %s", typ.Field, goKind(typ.Type), jsonKind(typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("cfssl: the request has an unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("cfssl: the request is not valid JSON: %w", err)
}

// jsonKind names the kind of a JSON value as encoding/json reports it
// ("string", "number", "number -1", "array", "object", "bool").
func jsonKind(v string) string {
	switch {
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "bool":
		return "true or false"
	default:
		return "a " + v
	}
}

// goKind names what a field of the request holds, in JSON's words.
func goKind(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(goKind(t.Elem()), "an "), "a ") + "s"
	case reflect.Pointer:
		return goKind(t.Elem())
	default:
		return "an object"
	}
}
