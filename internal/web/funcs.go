package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/certplane/certplane/internal/estate"
	"github.com/certplane/certplane/pkg/pki"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when":  when,
	"whenp": whenPtr,
	"day": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"link":      objectLink,
	"qualified": qualified,
	"f1":        func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"join":      strings.Join,
	"lower":     strings.ToLower,
	"state":     stateClass,
	"duration":  shortDuration,
	"intp": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return shortDuration(max(now.Sub(t), 0)) + " ago"
	},
	"usages": func(us []pki.Usage) string {
		s := make([]string, len(us))
		for i, u := range us {
			s[i] = string(u)
		}
		return strings.Join(s, ", ")
	},
	"rowClass": func(r estate.Row) string {
		c := stateClass(r.State)
		if r.Attention {
			c += " attention"
		}
		return c
	},
}

// when formats a time in UTC to the minute, "" for zero.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return when(*t)
}

// stateClass is the CSS class of a state: good, busy, bad or off.
func stateClass(state string) string {
	switch state {
	case estate.StateReady, estate.StateIssued, estate.StateValid:
		return "good"
	case estate.StateIssuing, estate.StatePending, estate.StateApproved, estate.StateNotYetValid:
		return "busy"
	case estate.StateSuperseded:
		return "off"
	}
	return "bad"
}

// shortDuration says d in its largest two units, as `certplane status`.
func shortDuration(d time.Duration) string {
	day := 24 * time.Hour
	two := func(a, b int64, ua, ub string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, ua)
		}
		return fmt.Sprintf("%d%s %d%s", a, ua, b, ub)
	}
	switch {
	case d >= day:
		return two(int64(d/day), int64(d%day/time.Hour), "d", "h")
	case d >= time.Hour:
		return two(int64(d/time.Hour), int64(d%time.Hour/time.Minute), "h", "m")
	case d >= time.Minute:
		return two(int64(d/time.Minute), int64(d%time.Minute/time.Second), "m", "s")
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}
