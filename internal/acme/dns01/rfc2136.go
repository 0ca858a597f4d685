package dns01

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultTimeout bounds one DNS exchange when no timeout is configured
// (cert-manager uses 10 s).
const DefaultTimeout = 10 * time.Second

// challengeTTL is the TTL of the challenge TXT record, as in cert-manager.
const challengeTTL = 60

// tsigFudge is the TSIG time window in seconds (RFC 8945's recommendation).
const tsigFudge = 300

// RFC2136 presents and cleans up DNS-01 TXT records with RFC 2136 dynamic
// updates, signed with TSIG when TSIGKeyName and TSIGSecret are both set.
// It mirrors cert-manager's rfc2136 solver. The zero value of every optional
// field is a usable default. Values are safe to print: String and GoString
// hide the secret.
type RFC2136 struct {
	// Nameserver is the server that takes the updates: host[:port], with
	// IPv6 addresses in brackets when a port is given. The port defaults
	// to 53. Required.
	Nameserver string

	// TSIGKeyName is the name of the TSIG key, as in the server's key
	// statement. Updates are unsigned when it or TSIGSecret is empty.
	TSIGKeyName string

	// TSIGAlgorithm is one of cert-manager's values, case-insensitive:
	// HMACMD5 (the default when empty), HMACSHA1, HMACSHA256, HMACSHA512.
	TSIGAlgorithm string

	// TSIGSecret is the base64 secret text as written in a BIND key file.
	// It never appears in errors.
	TSIGSecret string

	// Protocol is "UDP" (the default when empty) or "TCP", case-insensitive.
	Protocol string

	// Timeout bounds one update exchange. Zero means DefaultTimeout.
	Timeout time.Duration

	// Now gives the TSIG signing time. Nil means time.Now.
	Now func() time.Time
}

// rfc2136Settings is a validated RFC2136.
type rfc2136Settings struct {
	server  string
	network string
	timeout time.Duration
	key     *tsigKey // nil: unsigned
	now     func() time.Time
}

// Validate checks the configuration without sending anything.
func (p *RFC2136) Validate() error {
	_, err := p.settings()
	return err
}

func (p *RFC2136) settings() (*rfc2136Settings, error) {
	if strings.TrimSpace(p.Nameserver) == "" {
		return nil, errors.New("dns01: rfc2136: the nameserver is required")
	}
	server, err := parseNameserver(p.Nameserver)
	if err != nil {
		return nil, err
	}
	s := &rfc2136Settings{server: server, timeout: p.Timeout, now: p.Now}
	switch strings.ToUpper(p.Protocol) {
	case "", "UDP":
		s.network = "udp"
	case "TCP":
		s.network = "tcp"
	default:
		return nil, fmt.Errorf("dns01: rfc2136: unsupported protocol %q: use UDP or TCP", p.Protocol)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	alg, err := ParseTSIGAlgorithm(p.TSIGAlgorithm)
	if err != nil {
		return nil, err
	}
	if p.TSIGKeyName == "" || p.TSIGSecret == "" {
		return s, nil
	}
	keyName, err := checkName("TSIG key name", p.TSIGKeyName)
	if err != nil {
		return nil, err
	}
	if s.key, err = newTSIGKey(keyName, alg, p.TSIGSecret); err != nil {
		return nil, err
	}
	return s, nil
}

// String describes the provider without its secret.
func (p RFC2136) String() string {
	secret := ""
	if p.TSIGSecret != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("RFC2136{Nameserver:%q TSIGKeyName:%q TSIGAlgorithm:%q TSIGSecret:%s Protocol:%q Timeout:%s}",
		p.Nameserver, p.TSIGKeyName, p.TSIGAlgorithm, secret, p.Protocol, p.Timeout)
}

// GoString is String, so that %#v hides the secret too.
func (p RFC2136) GoString() string { return p.String() }

// Present adds the record `<fqdn> 60 IN TXT "<value>"` to zone (an RFC 2136
// INSERT). fqdn must be inside zone; both may omit the final dot.
func (p *RFC2136) Present(ctx context.Context, fqdn, zone, value string) error {
	return p.update(ctx, opInsert, fqdn, zone, value)
}

// CleanUp removes exactly the record that Present added (an RFC 2136
// delete of one RR); other TXT values at fqdn stay. Removing a record that
// is not there succeeds.
func (p *RFC2136) CleanUp(ctx context.Context, fqdn, zone, value string) error {
	return p.update(ctx, opRemove, fqdn, zone, value)
}

const (
	opInsert = "update"
	opRemove = "removal"
)

func (p *RFC2136) update(ctx context.Context, op, fqdn, zone, value string) error {
	s, err := p.settings()
	if err != nil {
		return err
	}
	name, err := checkName("record name", fqdn)
	if err != nil {
		return err
	}
	zoneName, err := checkName("zone", zone)
	if err != nil {
		return err
	}
	if !dns.IsSubDomain(zoneName, name) {
		return fmt.Errorf("dns01: %q is not inside zone %q", name, zoneName)
	}
	txt, err := txtStrings(value)
	if err != nil {
		return err
	}

	rr := &dns.TXT{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: challengeTTL},
		Txt: txt,
	}
	m := new(dns.Msg)
	m.SetUpdate(zoneName)
	if op == opInsert {
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr})
	}
	c := &dns.Client{Net: s.network, Timeout: s.timeout}
	if s.key != nil {
		m.SetTsig(s.key.name, s.key.algorithm, tsigFudge, s.now().Unix())
		c.TsigProvider = s.key
	}

	in, _, err := c.ExchangeContext(ctx, m, s.server)
	if in != nil && in.Rcode != dns.RcodeSuccess {
		ue := &UpdateError{Op: op, FQDN: name, Zone: zoneName, Server: s.server, Rcode: in.Rcode}
		if t := in.IsTsig(); t != nil {
			ue.TSIGError = int(t.Error)
		}
		if s.key != nil {
			ue.keyName, ue.algorithm = s.key.name, s.key.algorithm
		}
		return ue
	}
	if err != nil {
		if in != nil && s.key != nil {
			return fmt.Errorf("dns01: %s of %q at %s: the server's answer failed TSIG verification: %w", op, name, s.server, err)
		}
		return fmt.Errorf("dns01: %s of %q at %s failed: %w", op, name, s.server, err)
	}
	if s.key != nil && in.IsTsig() == nil {
		return fmt.Errorf("dns01: %s of %q at %s: the server's answer is not signed", op, name, s.server)
	}
	return nil
}

// UpdateError is a dynamic update that the server answered with an error
// code. Its message names the record, the server and the answer.
type UpdateError struct {
	Op        string // "update" (Present) or "removal" (CleanUp)
	FQDN      string // the record name
	Zone      string // the zone updated
	Server    string // host:port of the server
	Rcode     int    // the answer's response code
	TSIGError int    // the error in the answer's TSIG record, 0 if none

	keyName, algorithm string
}

// Error implements error.
func (e *UpdateError) Error() string {
	msg := fmt.Sprintf("dns01: %s of %q refused by %s: %s", e.Op, e.FQDN, e.Server, rcodeName(e.Rcode))
	if e.TSIGError != dns.RcodeSuccess {
		msg += ", TSIG error " + rcodeName(e.TSIGError)
	}
	if hint := e.hint(); hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

func (e *UpdateError) hint() string {
	switch e.TSIGError {
	case dns.RcodeBadSig:
		return fmt.Sprintf("the server rejected the signature of key %q: check the TSIG secret and algorithm", e.keyName)
	case dns.RcodeBadKey:
		return fmt.Sprintf("the server does not know key %q with algorithm %s: check the TSIG key name and algorithm", e.keyName, strings.TrimSuffix(e.algorithm, "."))
	case dns.RcodeBadTime:
		return "the clocks of this host and the server differ by more than 5 minutes"
	}
	switch e.Rcode {
	case dns.RcodeRefused:
		if e.keyName == "" {
			return "the update was not signed: set a TSIG key, or allow unsigned updates to zone " + e.Zone
		}
		return fmt.Sprintf("key %q may not update TXT records at this name in zone %s", e.keyName, e.Zone)
	case dns.RcodeNotAuth:
		return "the server is not authoritative for zone " + e.Zone
	case dns.RcodeNotZone:
		return fmt.Sprintf("%s is not in zone %s", e.FQDN, e.Zone)
	}
	return ""
}

// txtStrings checks a challenge value and splits it into TXT strings of at
// most 255 bytes. Values are printable ASCII without quotes or backslashes
// (ACME values are base64url), so that they need no escaping.
func txtStrings(value string) ([]string, error) {
	if err := checkValue(value); err != nil {
		return nil, err
	}
	var out []string
	for len(value) > 255 {
		out = append(out, value[:255])
		value = value[255:]
	}
	return append(out, value), nil
}

func checkValue(value string) error {
	if value == "" {
		return errors.New("dns01: empty TXT value")
	}
	if len(value) > 4096 {
		return errors.New("dns01: TXT value longer than 4096 bytes")
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("dns01: TXT value has a character that is not allowed at byte %d", i)
		}
	}
	return nil
}
