// Package acmepolicy holds the decisions of certplane's ACME issuer as pure
// functions, following cert-manager's acme issuer: which solver answers an
// authorization, what Order a CertificateRequest becomes and how Orders and
// Challenges are named, when an ACME account needs no re-verification, which
// chain to keep, and the objects that route an HTTP-01 challenge to
// certplane's solver listener.
//
// Nothing here talks to the API server or the network or reads the clock;
// the controllers fetch what is needed, call these functions and write the
// results.
//
// Challenge types come in two spellings. The ACME server's are lower case
// ("http-01", "dns-01"; [TypeHTTP01], [TypeDNS01]) and are what
// [PickSolver] takes and returns, so that the caller can find the offered
// challenge. The Challenge resource's are upper case
// (acmev1.ACMEChallengeTypeHTTP01, acmev1.ACMEChallengeTypeDNS01);
// [ChallengeSpec] converts.
//
// HTTP-01 in certplane: one listener in certplane's namespace serves every
// token. For each challenge the controller creates, in the challenge's
// namespace, a Service of type ExternalName ([SolverService]) pointing at
// that listener's Service, and an Ingress ([SolverIngress], or
// [AddIngressPath] on an existing one) or a Gateway API HTTPRoute
// ([SolverHTTPRoute]) that sends the token's path to it. The objects have
// deterministic names ([SolverObjectName]), so a retried create never leaves
// a duplicate behind.
package acmepolicy
