package dns01

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEHops bounds CNAME following.
const maxCNAMEHops = 16

// ednsSize is the EDNS0 UDP payload size of queries (DNS flag day 2020).
const ednsSize = 1232

// resolver sends single queries; a truncated UDP answer is retried over TCP.
type resolver struct {
	timeout time.Duration
}

func newResolver(timeout time.Duration) resolver {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return resolver{timeout: timeout}
}

// exchange asks server one question. recurse sets the RD bit.
func (r resolver) exchange(ctx context.Context, server, name string, qtype uint16, recurse bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = recurse
	m.SetEdns0(ednsSize, false)
	c := &dns.Client{Net: "udp", Timeout: r.timeout}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

// query asks the recursive servers in order until one gives a usable answer
// (NOERROR or NXDOMAIN). The error names every server's failure.
func (r resolver) query(ctx context.Context, servers []string, name string, qtype uint16) (*dns.Msg, error) {
	if len(servers) == 0 {
		return nil, errors.New("no nameservers configured")
	}
	var fails []string
	for _, s := range servers {
		in, err := r.exchange(ctx, s, name, qtype, true)
		switch {
		case err != nil:
			fails = append(fails, fmt.Sprintf("%s: %v", s, err))
		case in.Rcode == dns.RcodeSuccess || in.Rcode == dns.RcodeNameError:
			return in, nil
		default:
			fails = append(fails, fmt.Sprintf("%s: %s", s, rcodeName(in.Rcode)))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%s query for %q failed: %s", dns.TypeToString[qtype], name, strings.Join(fails, "; "))
}

// FindZone returns the zone that contains fqdn: it asks the nameservers
// ("host:port", recursive) for the SOA of fqdn and then of each parent,
// and returns the first name that has its own SOA. An answer other than
// NOERROR or NXDOMAIN from all servers stops the walk with an error.
func FindZone(ctx context.Context, fqdn string, nameservers []string) (string, error) {
	return findZone(ctx, newResolver(0), fqdn, nameservers)
}

func findZone(ctx context.Context, r resolver, fqdn string, nameservers []string) (string, error) {
	name, err := checkName("name", fqdn)
	if err != nil {
		return "", err
	}
	for _, i := range dns.Split(name) {
		candidate := name[i:]
		in, err := r.query(ctx, nameservers, candidate, dns.TypeSOA)
		if err != nil {
			return "", fmt.Errorf("dns01: finding the zone of %q: %w", name, err)
		}
		for _, rr := range in.Answer {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, candidate) {
				return candidate, nil
			}
		}
	}
	return "", fmt.Errorf("dns01: no zone found for %q: no SOA record at it or any parent", name)
}

// FollowCNAME follows the CNAME chain that starts at fqdn, asking the
// nameservers ("host:port", recursive), and returns the last name of the
// chain (fqdn itself, fully qualified, when it has no CNAME). It is what
// cnameStrategy Follow uses to find the name to update. Chains longer than
// 16 and loops are errors.
func FollowCNAME(ctx context.Context, fqdn string, nameservers []string) (string, error) {
	return followCNAME(ctx, newResolver(0), fqdn, nameservers)
}

func followCNAME(ctx context.Context, r resolver, fqdn string, nameservers []string) (string, error) {
	name, err := checkName("name", fqdn)
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	chain := []string{name}
	for {
		key := dns.CanonicalName(name)
		if seen[key] {
			return "", fmt.Errorf("dns01: CNAME loop: %s", strings.Join(chain, " -> "))
		}
		seen[key] = true
		if len(chain) > maxCNAMEHops+1 {
			return "", fmt.Errorf("dns01: more than %d CNAMEs from %q", maxCNAMEHops, fqdn)
		}
		in, err := r.query(ctx, nameservers, name, dns.TypeCNAME)
		if err != nil {
			return "", fmt.Errorf("dns01: following CNAMEs of %q: %w", chain[0], err)
		}
		target := ""
		for _, rr := range in.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				target = c.Target
				break
			}
		}
		if target == "" {
			return name, nil
		}
		name = target
		chain = append(chain, name)
	}
}
