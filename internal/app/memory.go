package app

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// reconciles counts the reconciles of every controller (syncCounter).
var reconciles atomic.Uint64

// Returning memory to the OS after a burst of work: how often to look, how
// long the controllers must have been idle, and how many reconciles the
// burst must have had.
const (
	releaseEvery = 10 * time.Second
	releaseIdle  = 30 * time.Second
	releaseMin   = 100
)

// releaseState is what releaseDue remembers between looks.
type releaseState struct {
	// seen is the count of reconciles at the last look, changed when it
	// last changed; released is the count at the last release.
	seen, released uint64
	changed        time.Time
}

// releaseDue decides, at each look, whether to return the memory a burst
// of reconciles freed to the OS: once at least min reconciles ran since
// the last release, and none for idle. A burst (issuing, or the resync of
// every Certificate at start) leaves its garbage and the heap's headroom
// resident; Go gives back only what is above its heap goal, which is half
// again the live heap (GOGC=50), and nothing at all until a collection
// runs, which an idle process does only every two minutes. Single
// renewals, which come at any time in a large cluster, never add up to a
// full collection each.
func releaseDue(st releaseState, count uint64, now time.Time, idle time.Duration, minimum uint64) (releaseState, bool) {
	if count != st.seen {
		st.seen, st.changed = count, now
		return st, false
	}
	if count-st.released >= minimum && now.Sub(st.changed) >= idle {
		st.released = count
		return st, true
	}
	return st, false
}

// addMemoryReleaser adds to mgr what returns memory to the OS after bursts
// of reconciles (releaseDue). It runs on the leader only: a standby does
// no work.
func addMemoryReleaser(mgr ctrl.Manager) error {
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		st := releaseState{changed: time.Now()}
		t := time.NewTicker(releaseEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				var due bool
				if st, due = releaseDue(st, reconciles.Load(), now, releaseIdle, releaseMin); due {
					debug.FreeOSMemory()
				}
			}
		}
	}))
}
