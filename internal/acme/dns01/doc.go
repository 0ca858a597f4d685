// Package dns01 is the DNS side of certplane's ACME DNS-01 solver, the part
// that cert-manager keeps in pkg/issuer/acme/dns: it owns
//
//   - the RFC 2136 provider (RFC2136): signed dynamic updates that insert and
//     remove the challenge TXT record, with TSIG HMAC-MD5 (cert-manager's
//     default, implemented here because miekg/dns dropped it), HMAC-SHA1,
//     HMAC-SHA256 and HMAC-SHA512;
//   - name resolution for the solver: the challenge name (ChallengeFQDN),
//     the zone of a name by an SOA walk (FindZone) and CNAME following for
//     cnameStrategy Follow (FollowCNAME);
//   - the propagation self-check (CheckTXT), asking either the zone's
//     authoritative nameservers or only the configured recursive ones;
//   - parsing of --dns01-recursive-nameservers style values
//     (ParseNameservers) and of TSIG algorithm names (ParseTSIGAlgorithm).
//
// The package has no Kubernetes imports and keeps no state: callers pass
// secrets in, and each check is a single round of queries with no sleeps
// (the caller requeues). Errors are meant for Challenge status.reason: they
// name the server and its answer, and never contain the TSIG secret.
package dns01
