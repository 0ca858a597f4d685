package localcp

import (
	"fmt"
	"time"
)

// RestartPolicy decides whether a component that exited is started again,
// and after how long. Its zero value is the default: a component is
// restarted after 1s, 2s, 4s, ... (doubling with each of its exits inside
// the window, at most 30s), and its fifth exit within five minutes ends the
// control plane. A component that runs longer than the window between two
// exits starts again from 1s.
type RestartPolicy struct {
	// MaxExits is how many exits of one component within Window end the
	// control plane; 1 ends it at the first exit. If zero, 5.
	MaxExits int
	// Window is how far back exits count. If zero, 5 minutes.
	Window time.Duration
	// Backoff is the wait before the first restart within Window, doubled
	// for each further one. If zero, 1s.
	Backoff time.Duration
	// MaxBackoff caps the wait. If zero, 30s.
	MaxBackoff time.Duration
}

// Restart is the decision about a component that has just exited.
type Restart struct {
	// Exits are the component's exits within the window, this one last;
	// the next decision about the same component takes them.
	Exits []time.Time
	// GiveUp is true when the component has exited MaxExits times within
	// the window: it is not started again and the control plane ends.
	GiveUp bool
	// Attempt numbers this restart within the window, from 1.
	Attempt int
	// Delay is the wait before the restart.
	Delay time.Duration
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.MaxExits <= 0 {
		p.MaxExits = 5
	}
	if p.Window <= 0 {
		p.Window = 5 * time.Minute
	}
	if p.Backoff <= 0 {
		p.Backoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	return p
}

// Next decides about a component that exited at now, given its earlier
// exits (the Exits of the previous decision, or nil).
func (p RestartPolicy) Next(exits []time.Time, now time.Time) Restart {
	p = p.withDefaults()
	var recent []time.Time
	for _, e := range exits {
		if now.Sub(e) < p.Window {
			recent = append(recent, e)
		}
	}
	recent = append(recent, now)
	r := Restart{Exits: recent, Attempt: len(recent)}
	if len(recent) >= p.MaxExits {
		r.GiveUp = true
		return r
	}
	r.Delay = p.Backoff
	for range len(recent) - 1 {
		if r.Delay >= p.MaxBackoff {
			break
		}
		r.Delay *= 2
	}
	r.Delay = min(r.Delay, p.MaxBackoff)
	return r
}

// describe is the policy in words, for the restart lines.
func (p RestartPolicy) describe() string {
	p = p.withDefaults()
	return fmt.Sprintf("%d exits within %s end it", p.MaxExits, p.Window)
}

// supervise watches the component in *slot until Stop: each time it exits
// on its own, the policy says whether to start it again (the same binary
// and flags, so the same ports and data) or to end the control plane.
func (cp *ControlPlane) supervise(slot **process) {
	defer cp.wg.Done()
	var exits []time.Time
	for {
		cp.mu.Lock()
		p := *slot
		cp.mu.Unlock()
		select {
		case <-p.done:
		case <-cp.stopping:
			return
		}
		select {
		case <-cp.stopping: // Stop ended it
			return
		default:
		}
		r := cp.policy.Next(exits, cp.now())
		exits = r.Exits
		if r.GiveUp {
			if r.Attempt == 1 {
				cp.end(fmt.Errorf("%s exited: %s (log: %s)", p.name, p.lastLogLine(), p.logPath))
			} else {
				cp.end(fmt.Errorf("%s exited %d times within %s, the last time with %s: %s (log: %s)",
					p.name, r.Attempt, cp.policy.withDefaults().Window, p.exitStatus(), p.lastLogLine(), p.logPath))
			}
			return
		}
		cp.logf("%s exited (%s); restarting it in %s, attempt %d (%s)", p.name, p.exitStatus(), r.Delay, r.Attempt, cp.policy.describe())
		wait := time.NewTimer(r.Delay)
		select {
		case <-wait.C:
		case <-cp.stopping:
			wait.Stop()
			return
		}
		cp.mu.Lock()
		select {
		case <-cp.stopping:
			cp.mu.Unlock()
			return
		default:
		}
		*slot = p.restart()
		cp.mu.Unlock()
	}
}

// end ends the control plane once, with err saying why (nil for Stop).
func (cp *ControlPlane) end(err error) {
	cp.endOnce.Do(func() {
		cp.endErr = err
		close(cp.ended)
	})
}
