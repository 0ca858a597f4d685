// Package acme holds the reconcilers of the acme.cert-manager.io API group:
// Orders (order_controller.go) and Challenges (challenge_controller.go),
// with the ACME accounts of Issuers and ClusterIssuers they share with the
// issuer reconciler (accounts.go). The protocol is internal/acme, the
// decisions are internal/acmepolicy; HTTP-01 tokens are served by
// internal/acme/http01 from the Challenges in the cache (tokens.go), DNS-01
// records are written by internal/acme/dns01.
package acme

import "k8s.io/apimachinery/pkg/runtime"

// eventRecorder is what the reconcilers need of an events.k8s.io recorder.
type eventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}
