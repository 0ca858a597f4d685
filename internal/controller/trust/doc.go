// Package trust holds the reconciler of trust-manager's API group,
// trust.cert-manager.io: Bundles, whose certificates it writes to a
// ConfigMap or Secret in every selected namespace. It asks
// internal/bundlepolicy what to do and only reads and writes.
package trust

import "k8s.io/apimachinery/pkg/runtime"

// eventRecorder is what the reconciler needs of an events.k8s.io recorder.
type eventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}
