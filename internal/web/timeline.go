package web

import (
	"fmt"
	"time"

	"github.com/certplane/certplane/internal/estate"
)

// The timeline's drawing, in SVG user units.
const (
	timelineWidth  = 1200
	timelineLabelW = 300 // the names, left of the bars
	timelineRight  = 20
	timelineTop    = 44 // the axis labels and "now", above the first bar
	timelineRowH   = 22
	timelineBarH   = 12
	// timelineReach bounds the axis: certificates that started long ago
	// or end far ahead (CAs of ten years) are cut, so that the months
	// around today, where expiries matter, keep their width.
	timelineReach = 400 * 24 * time.Hour
)

// timeline is the expiry timeline of some rows: one bar each from
// notBefore to notAfter, on one time axis, with the renewal time and today
// marked.
type timeline struct {
	Width, Height int
	// X0 and X1 are where the axis starts and ends.
	X0, X1 float64
	Ticks  []tick
	// Today is the x of now.
	Today float64
	Rows  []bar
	// Left is how many rows have no validity to draw.
	Left int
}

type tick struct {
	X     float64
	Label string
}

type bar struct {
	Row        estate.Row
	Y          int // top of the row
	BarY       int
	X, W       float64
	CutLeft    bool // began before the axis
	CutRight   bool // ends after the axis
	Renew      float64
	HasRenew   bool
	Class      string // expired, soon, ok, superseded
	Title      string
	TextY      int
	Link       string
	RenewTitle string
	// Label is the row's kind and name, cut to fit left of the axis.
	Label string
}

// layoutTimeline draws rows (in their order) at now; soon is how close an
// expiry must be to be drawn as soon.
func layoutTimeline(rows []estate.Row, now time.Time, soon time.Duration) *timeline {
	t := &timeline{Width: timelineWidth, X0: timelineLabelW, X1: timelineWidth - timelineRight}
	var drawn []estate.Row
	var from, to time.Time
	for _, r := range rows {
		if r.NotBefore == nil || r.NotAfter == nil {
			t.Left++
			continue
		}
		drawn = append(drawn, r)
		if from.IsZero() || r.NotBefore.Before(from) {
			from = *r.NotBefore
		}
		if to.IsZero() || r.NotAfter.After(to) {
			to = *r.NotAfter
		}
	}
	if len(drawn) == 0 {
		from, to = now.Add(-24*time.Hour), now.Add(30*24*time.Hour)
	}
	// Today is always on the axis, with a margin either side.
	if from.After(now) {
		from = now
	}
	if to.Before(now) {
		to = now
	}
	if earliest := now.Add(-timelineReach); from.Before(earliest) {
		from = earliest
	}
	if latest := now.Add(timelineReach); to.After(latest) {
		to = latest
	}
	margin := to.Sub(from) / 50
	from, to = from.Add(-margin), to.Add(margin)
	if !to.After(from) {
		to = from.Add(time.Hour)
	}
	x := func(at time.Time) float64 {
		f := float64(at.Sub(from)) / float64(to.Sub(from))
		return t.X0 + min(max(f, 0), 1)*(t.X1-t.X0)
	}
	t.Today = x(now)
	t.Ticks = ticks(from, to, x)
	for i, r := range drawn {
		y := timelineTop + i*timelineRowH
		b := bar{Row: r, Y: y, BarY: y + (timelineRowH-timelineBarH)/2, TextY: y + timelineRowH/2 + 4, Link: objectLink(r)}
		b.Label = shorten(r.Kind+" "+qualified(r), 44)
		b.X = x(*r.NotBefore)
		b.W = max(x(*r.NotAfter)-b.X, 1)
		b.CutLeft, b.CutRight = r.NotBefore.Before(from), r.NotAfter.After(to)
		switch left := r.NotAfter.Sub(now); {
		case r.State == estate.StateSuperseded:
			b.Class = "superseded"
		case left <= 0:
			b.Class = "expired"
		case left < soon:
			b.Class = "soon"
		default:
			b.Class = "ok"
		}
		b.Title = fmt.Sprintf("%s %s: %s → %s (%s)", r.Kind, qualified(r), r.NotBefore.UTC().Format(time.RFC3339), r.NotAfter.UTC().Format(time.RFC3339), r.TimeLeft)
		if rt := r.RenewalTime; rt != nil && !rt.Before(from) && !rt.After(to) {
			b.Renew, b.HasRenew = x(*rt), true
			b.RenewTitle = "renews at " + rt.UTC().Format(time.RFC3339)
		}
		t.Rows = append(t.Rows, b)
	}
	t.Height = timelineTop + max(len(drawn), 1)*timelineRowH + 10
	return t
}

// ticks are the axis labels: a step of a day, a week, a month, a quarter
// or a year, whichever gives at most about ten.
func ticks(from, to time.Time, x func(time.Time) float64) []tick {
	span := to.Sub(from)
	day := 24 * time.Hour
	type step struct {
		every  time.Duration
		months int
		layout string
	}
	steps := []step{{time.Hour * 6, 0, "Jan 2 15:04"}, {day, 0, "Jan 2"}, {7 * day, 0, "Jan 2"}, {0, 1, "Jan 2006"}, {0, 3, "Jan 2006"}, {0, 12, "2006"}}
	s := steps[len(steps)-1]
	for _, c := range steps {
		approx := c.every
		if c.months > 0 {
			approx = time.Duration(c.months) * 30 * day
		}
		if span/approx <= 10 {
			s = c
			break
		}
	}
	from = from.UTC()
	var at time.Time
	switch {
	case s.months > 0:
		at = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
		if s.months == 12 {
			at = time.Date(from.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		}
	case s.every >= day:
		at = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
		if s.every == 7*day { // Mondays
			at = at.AddDate(0, 0, (8-int(at.Weekday()))%7)
		}
	default:
		at = from.Truncate(s.every)
	}
	var out []tick
	for ; !at.After(to) && len(out) < 40; at = next(at, s.every, s.months) {
		if at.Before(from) {
			continue
		}
		out = append(out, tick{X: x(at), Label: at.Format(s.layout)})
	}
	return out
}

func next(at time.Time, every time.Duration, months int) time.Time {
	if months > 0 {
		return at.AddDate(0, months, 0)
	}
	return at.Add(every)
}

// qualified is a row's namespace/name, or name.
func qualified(r estate.Row) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}
