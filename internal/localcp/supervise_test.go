package localcp

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRestartPolicyNext(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s ...int) []time.Time {
		var ts []time.Time
		for _, n := range s {
			ts = append(ts, t0.Add(time.Duration(n)*time.Second))
		}
		return ts
	}
	tests := []struct {
		name      string
		policy    RestartPolicy
		exits     []time.Time
		now       time.Time
		wantExits []time.Time
		giveUp    bool
		attempt   int
		delay     time.Duration
	}{
		{"first exit: 1s", RestartPolicy{}, nil, t0, at(0), false, 1, time.Second},
		{"second: 2s", RestartPolicy{}, at(0), t0.Add(3 * time.Second), at(0, 3), false, 2, 2 * time.Second},
		{"fourth: 8s", RestartPolicy{}, at(0, 3, 7), t0.Add(20 * time.Second), at(0, 3, 7, 20), false, 4, 8 * time.Second},
		{"fifth within five minutes gives up", RestartPolicy{}, at(0, 3, 7, 20), t0.Add(40 * time.Second), at(0, 3, 7, 20, 40), true, 5, 0},
		{"old exits fall out of the window", RestartPolicy{}, at(0, 3, 7, 20), t0.Add(5*time.Minute + 10*time.Second), at(20, 310), false, 2, 2 * time.Second},
		{"exactly a window ago no longer counts", RestartPolicy{}, at(0), t0.Add(5 * time.Minute), at(300), false, 1, time.Second},
		{"a long run starts again from 1s", RestartPolicy{}, at(0, 3), t0.Add(time.Hour), at(3600), false, 1, time.Second},
		{"capped", RestartPolicy{MaxExits: 100, Backoff: time.Second, MaxBackoff: 30 * time.Second}, at(0, 1, 2, 3, 4, 5, 6), t0.Add(7 * time.Second), at(0, 1, 2, 3, 4, 5, 6, 7), false, 8, 30 * time.Second},
		{"capped without overflow", RestartPolicy{MaxExits: 1000, Window: time.Hour}, at(make([]int, 200)...), t0, at(make([]int, 201)...), false, 201, 30 * time.Second},
		{"MaxExits 1 ends at the first exit", RestartPolicy{MaxExits: 1}, nil, t0, at(0), true, 1, 0},
		{"own backoff and window", RestartPolicy{MaxExits: 3, Window: 10 * time.Second, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}, at(0), t0.Add(5 * time.Second), at(0, 5), false, 2, 200 * time.Millisecond},
		{"a clock that went back keeps the exit", RestartPolicy{}, at(10), t0, at(10, 0), false, 2, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Next(tt.exits, tt.now)
			if !slices.Equal(got.Exits, tt.wantExits) || got.GiveUp != tt.giveUp || got.Attempt != tt.attempt || got.Delay != tt.delay {
				t.Errorf("Next = %+v, want exits %v, give up %v, attempt %d, delay %s", got, tt.wantExits, tt.giveUp, tt.attempt, tt.delay)
			}
		})
	}
}

// lines collects what the supervisor logs.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, fmt.Sprintf(format, args...))
}

func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.l)
}

// supervised is a control plane of one shell "component" running script.
func supervised(t *testing.T, policy RestartPolicy, script string) (*ControlPlane, *lines) {
	t.Helper()
	p, err := startProcess("component", "/bin/sh", []string{"-c", script}, filepath.Join(t.TempDir(), "component.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := &lines{}
	cp := &ControlPlane{etcd: p, policy: policy, now: time.Now, logf: log.logf, stopping: make(chan struct{}), ended: make(chan struct{})}
	cp.wg.Add(1)
	go cp.supervise(&cp.etcd)
	t.Cleanup(func() { _ = cp.Stop() })
	return cp, log
}

func TestSuperviseRestartsThenGivesUp(t *testing.T) {
	cp, log := supervised(t, RestartPolicy{MaxExits: 3, Backoff: time.Millisecond}, "echo starting; exit 3")
	select {
	case <-cp.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor did not give up")
	}
	got := log.get()
	want := []string{
		"component exited (exit status 3); restarting it in 1ms, attempt 1 (3 exits within 5m0s end it)",
		"component exited (exit status 3); restarting it in 2ms, attempt 2 (3 exits within 5m0s end it)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	err := cp.ExitError()
	if err == nil || !strings.HasPrefix(err.Error(), "component exited 3 times within 5m0s, the last time with exit status 3: starting (log: ") {
		t.Errorf("ExitError = %v", err)
	}
}

func TestSuperviseFirstExitWithoutRestarts(t *testing.T) {
	cp, log := supervised(t, RestartPolicy{MaxExits: 1}, "echo bye; exit 1")
	select {
	case <-cp.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("not ended")
	}
	if err := cp.ExitError(); err == nil || !strings.HasPrefix(err.Error(), "component exited: bye (log: ") {
		t.Errorf("ExitError = %v", err)
	}
	if l := log.get(); len(l) != 0 {
		t.Errorf("logged %q", l)
	}
}

func TestSuperviseStopRestartsNothing(t *testing.T) {
	cp, log := supervised(t, RestartPolicy{}, "exec sleep 60")
	cp.mu.Lock()
	first := cp.etcd
	cp.mu.Unlock()
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.done:
	default:
		t.Fatal("Stop returned with the component running")
	}
	if l := log.get(); len(l) != 0 {
		t.Errorf("restarted after Stop: %q", l)
	}
	if err := cp.ExitError(); err != nil {
		t.Errorf("ExitError after Stop = %v, want nil", err)
	}
	if err := cp.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestSuperviseRestartsAKilledComponent(t *testing.T) {
	cp, log := supervised(t, RestartPolicy{Backoff: time.Millisecond}, "exec sleep 60")
	cp.mu.Lock()
	first := cp.etcd
	cp.mu.Unlock()
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp.mu.Lock()
		current := cp.etcd
		cp.mu.Unlock()
		if current != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not restarted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, want := log.get(), []string{"component exited (signal: killed); restarting it in 1ms, attempt 1 (5 exits within 5m0s end it)"}; !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if err := cp.ExitError(); err != nil {
		t.Errorf("ExitError while restarted = %v", err)
	}
}

func TestSuperviseUnstartable(t *testing.T) {
	p, err := startProcess("component", "/bin/sh", []string{"-c", "exit 0"}, filepath.Join(t.TempDir(), "component.log"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.path = filepath.Join(t.TempDir(), "missing")
	again := p.restart()
	<-again.done
	if !strings.Contains(again.exitStatus(), "starting component") {
		t.Errorf("exit status of an unstartable binary: %q", again.exitStatus())
	}
	if err := again.stop(time.Second); err != nil {
		t.Errorf("stop of an unstarted process: %v", err)
	}
}
