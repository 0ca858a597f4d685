// Package http01 is the HTTP-01 part of certplane's ACME issuer (RFC 8555
// section 8.3).
//
// cert-manager starts one solver Pod, Service and Ingress per challenge.
// certplane instead serves every pending token from a single listener inside
// the controller process (the --acme-http01-solver-address flag): a [Server]
// answers GET /.well-known/acme-challenge/<token> with the key authorization
// when the request's Host and token belong to a pending challenge, which it
// finds through a [KeyLookup]. The controller backs KeyLookup with an
// informer index over Challenge objects; [Tokens] is an in-memory KeyLookup
// for tests and the command line.
//
// [SelfCheck] is the check the controller runs before it tells the ACME
// server that a challenge is ready: one GET of
// http://<dnsName>/.well-known/acme-challenge/<token>, resolved through
// optional nameservers, as cert-manager's --acme-http01-solver-nameservers
// does. It makes a single attempt; the caller requeues.
//
// The package imports no Kubernetes code.
package http01
