// Package acme is certplane's side of the ACME protocol (RFC 8555) that
// needs no Kubernetes: an ACME client for an issuer's settings (the
// server's CA bundle, the account key and URL, retries of bad nonces and
// server errors), account registration, the account key's format, the
// directory's profiles, and one-line descriptions of the server's problem
// documents. It builds on golang.org/x/crypto/acme. Its subpackages solve
// challenges: http01 serves tokens, dns01 updates DNS with RFC 2136.
package acme
