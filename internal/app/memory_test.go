package app

import (
	"testing"
	"time"
)

func TestReleaseDue(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type look struct {
		count uint64
		sec   int
		want  bool
	}
	for _, tc := range []struct {
		name  string
		looks []look
	}{
		{"a burst, then idle", []look{{500, 10, false}, {1000, 20, false}, {1000, 30, false}, {1000, 49, false}, {1000, 50, true}, {1000, 60, false}, {1000, 600, false}}},
		{"a burst, then a trickle", []look{{1000, 10, false}, {1010, 20, false}, {1030, 30, false}, {1035, 40, true}, {1055, 50, false}, {1075, 120, false}}},
		{"a trickle is not a burst", []look{{20, 10, false}, {40, 20, false}, {60, 30, false}, {80, 40, false}, {100, 50, false}, {300, 600, false}}},
		{"a small burst", []look{{50, 10, false}, {50, 40, false}, {50, 100, false}}},
		{"busy all along", []look{{100, 10, false}, {200, 20, false}, {300, 30, false}, {400, 40, false}, {500, 50, false}, {600, 60, false}}},
		{"too few reconciles, then enough", []look{{99, 10, false}, {99, 40, false}, {99, 100, false}, {150, 110, false}, {150, 139, false}, {150, 140, true}}},
		{"again after the next burst only", []look{{200, 10, false}, {200, 40, true}, {250, 50, false}, {250, 90, false}, {400, 100, false}, {400, 129, false}, {400, 130, true}}},
		{"idle from the start", []look{{0, 10, false}, {0, 100, false}}},
	} {
		st := releaseState{busy: t0}
		for i, l := range tc.looks {
			var got bool
			st, got = releaseDue(st, l.count, at(l.sec), releasePolicy{Idle: 30 * time.Second, Slack: 20, Min: 100})
			if got != l.want {
				t.Errorf("%s: look %d (%d reconciles at %ds): release %v, want %v", tc.name, i, l.count, l.sec, got, l.want)
			}
		}
	}
}
