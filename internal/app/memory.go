package app

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// reconciles counts the reconciles of every controller (syncCounter).
var reconciles atomic.Uint64

// releasePolicy says when memory freed by a burst of reconciles goes back
// to the OS (releaseDue).
type releasePolicy struct {
	// Idle is how long the controllers must have been quiet: no more than
	// Slack reconciles between two looks (the ClusterTrustBundle publishers
	// check their bundles every 30 s, and renewals trickle in at any time
	// in a large cluster). Min is how many reconciles the burst must have
	// had since the last release.
	Idle  time.Duration
	Slack uint64
	Min   uint64
}

// defaultRelease looks every 10 s; quiet is at most 20 reconciles in
// those 10 s.
var (
	releaseEvery   = 10 * time.Second
	defaultRelease = releasePolicy{Idle: 30 * time.Second, Slack: 20, Min: 100}
)

// releaseState is what releaseDue remembers between looks.
type releaseState struct {
	// seen is the count of reconciles at the last look, busy when a look
	// last found more than Slack new ones, and burst whether one did since
	// the last release; released is the count at the last release.
	seen, released uint64
	busy           time.Time
	burst          bool
}

// releaseDue decides, at each look, whether to return the memory a burst
// of reconciles freed to the OS: once a burst (more than p.Slack between
// two looks) came since the last release, at least p.Min reconciles ran
// since then, and the controllers have been quiet for p.Idle. A burst
// (issuing, or the resync of every Certificate at start) leaves its
// garbage and the heap's headroom resident; Go gives back only what is
// above its heap goal, which is half again the live heap (GOGC=50), and
// nothing at all until a collection runs, which an idle process does only
// every two minutes. A trickle of reconciles never adds up to a full
// collection each.
func releaseDue(st releaseState, count uint64, now time.Time, p releasePolicy) (releaseState, bool) {
	if count-st.seen > p.Slack {
		st.seen, st.busy, st.burst = count, now, true
		return st, false
	}
	st.seen = count
	if st.burst && count-st.released >= p.Min && now.Sub(st.busy) >= p.Idle {
		st.released, st.burst = count, false
		return st, true
	}
	return st, false
}

// addMemoryReleaser adds to mgr what returns memory to the OS after bursts
// of reconciles (releaseDue). It runs on the leader only: a standby does
// no work.
func addMemoryReleaser(mgr ctrl.Manager) error {
	log := mgr.GetLogger().WithName("memory")
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		st := releaseState{busy: time.Now()}
		t := time.NewTicker(releaseEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				var due bool
				if st, due = releaseDue(st, reconciles.Load(), now, defaultRelease); due {
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					debug.FreeOSMemory()
					runtime.ReadMemStats(&after)
					log.Info("returned freed memory to the OS after a burst of reconciles",
						"liveHeapMB", after.HeapAlloc>>20, "returnedMB", int64(after.HeapReleased-before.HeapReleased)>>20)
				}
			}
		}
	}))
}
