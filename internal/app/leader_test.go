package app

import (
	"strings"
	"testing"
	"time"
)

func TestLeaderTimingValidate(t *testing.T) {
	s := time.Second
	tests := []struct {
		name   string
		timing LeaderTiming
		want   string // substring of the error; "" for none
	}{
		{"cert-manager's defaults", LeaderTiming{}, ""},
		{"short settings", LeaderTiming{LeaseDuration: 4 * s, RenewDeadline: 3 * s, RetryPeriod: s}, ""},
		{"only the lease, above the default deadline", LeaderTiming{LeaseDuration: 90 * s}, ""},
		{"deadline equal to the lease", LeaderTiming{LeaseDuration: 40 * s}, "--leader-election-renew-deadline (40s) must be shorter than --leader-election-lease-duration (40s)"},
		{"deadline over the lease", LeaderTiming{LeaseDuration: 4 * s, RenewDeadline: 5 * s, RetryPeriod: s}, "--leader-election-renew-deadline (5s) must be shorter than --leader-election-lease-duration (4s)"},
		{"retry equal to the deadline", LeaderTiming{LeaseDuration: 4 * s, RenewDeadline: 3 * s, RetryPeriod: 3 * s}, "--leader-election-retry-period (3s) must be shorter than --leader-election-renew-deadline (3s)"},
		{"retry within the jitter of the deadline", LeaderTiming{RetryPeriod: 35 * s}, "--leader-election-retry-period (35s) must be shorter than --leader-election-renew-deadline (40s)"},
		{"retry just outside the jitter", LeaderTiming{RetryPeriod: 33 * s}, ""},
		{"negative", LeaderTiming{RetryPeriod: -s}, "may not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.timing.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("Validate() = %q: more than one line", err)
			}
		})
	}
}

func TestLeaderIdentity(t *testing.T) {
	a := leaderIdentity("node-1", 4242, "0b6c2d6e-1")
	b := leaderIdentity("node-1", 4243, "0b6c2d6e-1")
	if a != "node-1_4242_0b6c2d6e-1" || a == b {
		t.Errorf("identities %q and %q: want host_pid_uuid, distinct per process", a, b)
	}
}
