package dns01

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// CheckOptions configures CheckTXT.
type CheckOptions struct {
	// RecursiveNameservers are "host:port" recursive servers (see
	// ParseNameservers). They follow CNAMEs and find the zone's
	// nameservers, or with RecursiveOnly they are the servers checked.
	// Required.
	RecursiveNameservers []string

	// RecursiveOnly checks the record at RecursiveNameservers instead of
	// at the zone's authoritative nameservers
	// (--dns01-recursive-nameservers-only, or a solver's nameservers).
	RecursiveOnly bool

	// AuthoritativePort is the port of the authoritative nameservers.
	// Zero means 53, which cert-manager always uses.
	AuthoritativePort int

	// Timeout bounds each DNS exchange. Zero means DefaultTimeout.
	Timeout time.Duration
}

// CheckTXT reports whether the TXT record value is visible at fqdn: at
// every authoritative nameserver of fqdn's zone, or, with RecursiveOnly, at
// every recursive nameserver. CNAMEs at fqdn are followed first. It runs
// one round of queries and never sleeps; the caller retries later when ok
// is false.
//
// detail tells what each server answered, for example
// `_acme-challenge.x.example.test. TXT at 127.0.0.1:53 (ns.example.test.): no record`.
// A server that cannot be reached or answers with an error makes ok false
// and is described in detail. err is set only when the check cannot be made:
// bad arguments, or no zone or nameservers found.
func CheckTXT(ctx context.Context, fqdn, value string, opts CheckOptions) (ok bool, detail string, err error) {
	name, err := checkName("record name", fqdn)
	if err != nil {
		return false, "", err
	}
	if err := checkValue(value); err != nil {
		return false, "", err
	}
	if len(opts.RecursiveNameservers) == 0 {
		return false, "", errors.New("dns01: no recursive nameservers configured")
	}
	port := opts.AuthoritativePort
	if port == 0 {
		port = DefaultPort
	}
	if port < 0 || port > 65535 {
		return false, "", fmt.Errorf("dns01: authoritative port %d is not from 1 to 65535", port)
	}
	r := newResolver(opts.Timeout)

	target, err := followCNAME(ctx, r, name, opts.RecursiveNameservers)
	if err != nil {
		return false, "", err
	}
	var notes []string
	if !strings.EqualFold(target, name) {
		notes = append(notes, fmt.Sprintf("%s is a CNAME to %s", name, target))
	}

	var servers []checkServer
	if opts.RecursiveOnly {
		for _, s := range opts.RecursiveNameservers {
			servers = append(servers, checkServer{addrs: []string{s}, recurse: true})
		}
	} else {
		servers, err = authoritativeServers(ctx, r, target, opts.RecursiveNameservers, port)
		if err != nil {
			return false, "", err
		}
	}

	ok = true
	for _, s := range servers {
		good, note := s.check(ctx, r, target, value)
		ok = ok && good
		notes = append(notes, note)
	}
	return ok, strings.Join(notes, "; "), nil
}

// checkServer is one nameserver to check: its addresses ("host:port", tried
// in order until one answers) and, for an authoritative server, its name.
type checkServer struct {
	host    string
	addrs   []string
	recurse bool
}

func (s checkServer) check(ctx context.Context, r resolver, name, value string) (bool, string) {
	where := func(addr string) string {
		w := fmt.Sprintf("%s TXT at %s", name, addr)
		if s.host != "" {
			w += " (" + s.host + ")"
		}
		return w
	}
	if len(s.addrs) == 0 {
		return false, fmt.Sprintf("%s TXT at %s: no A or AAAA address for the nameserver", name, s.host)
	}
	var failed []string
	for _, addr := range s.addrs {
		in, err := r.exchange(ctx, addr, name, dns.TypeTXT, s.recurse)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: query failed: %v", where(addr), err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		return txtResult(in, name, value, where(addr))
	}
	return false, strings.Join(failed, "; ")
}

// txtResult judges one answer to a TXT query.
func txtResult(in *dns.Msg, name, value, where string) (bool, string) {
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return false, where + ": no record (NXDOMAIN)"
	default:
		return false, where + ": " + rcodeName(in.Rcode)
	}
	var others []string
	for _, rr := range in.Answer {
		txt, ok := rr.(*dns.TXT)
		if !ok || !strings.EqualFold(txt.Hdr.Name, name) {
			continue
		}
		v := strings.Join(txt.Txt, "")
		if v == value {
			return true, where + ": found"
		}
		others = append(others, v)
	}
	if len(others) == 0 {
		return false, where + ": no record"
	}
	const shown = 3
	quoted := make([]string, 0, shown)
	for i, v := range others {
		if i == shown {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(others)-shown))
			break
		}
		if len(v) > 64 {
			v = v[:64] + "..."
		}
		quoted = append(quoted, strconv.Quote(v))
	}
	return false, fmt.Sprintf("%s: other values only: %s", where, strings.Join(quoted, ", "))
}

// authoritativeServers finds the zone of name and the addresses of its
// nameservers through the recursive servers.
func authoritativeServers(ctx context.Context, r resolver, name string, recursive []string, port int) ([]checkServer, error) {
	zone, err := findZone(ctx, r, name, recursive)
	if err != nil {
		return nil, err
	}
	in, err := r.query(ctx, recursive, zone, dns.TypeNS)
	if err != nil {
		return nil, fmt.Errorf("dns01: finding the nameservers of zone %q: %w", zone, err)
	}
	var hosts []string
	seen := map[string]bool{}
	for _, rr := range in.Answer {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
			key := dns.CanonicalName(ns.Ns)
			if !seen[key] {
				seen[key] = true
				hosts = append(hosts, ns.Ns)
			}
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("dns01: zone %q has no NS records", zone)
	}
	p := strconv.Itoa(port)
	var servers []checkServer
	for _, h := range hosts {
		addrs, err := lookupAddrs(ctx, r, h, recursive)
		if err != nil {
			return nil, fmt.Errorf("dns01: finding the address of nameserver %q of zone %q: %w", h, zone, err)
		}
		s := checkServer{host: h}
		for _, a := range addrs {
			s.addrs = append(s.addrs, net.JoinHostPort(a, p))
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// lookupAddrs returns the IPv4 and then the IPv6 addresses of host.
func lookupAddrs(ctx context.Context, r resolver, host string, recursive []string) ([]string, error) {
	var out []string
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		in, err := r.query(ctx, recursive, host, qtype)
		if err != nil {
			return nil, err
		}
		for _, rr := range in.Answer {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, a.A.String())
			case *dns.AAAA:
				out = append(out, a.AAAA.String())
			}
		}
	}
	return out, nil
}
