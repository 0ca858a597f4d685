package estate

import (
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// RenewalGrace is how long after its renewal time a certificate that
// renews by itself may still hold the old certificate before it counts as
// not renewed: issuance takes seconds to minutes.
const RenewalGrace = 10 * time.Minute

// DefaultWarn is the warning window of `certplane status`, as that of
// `pki check-expiration` (and kubeadm's 30 days).
const DefaultWarn = 30 * 24 * time.Hour

// Filter selects rows. The zero value selects all.
type Filter struct {
	// Namespace keeps the rows of one namespace (cluster-scoped objects and
	// PKI files have none). If empty, every row.
	Namespace string
	// Selector keeps the rows whose object's labels match. If nil, every
	// row; PKI files have no labels.
	Selector labels.Selector
	// ExpiringWithin keeps the rows whose certificate expires within it of
	// the time given to Apply, the expired ones included. If zero, every
	// row.
	ExpiringWithin time.Duration
}

// Apply returns the rows f keeps, in their order.
func (f Filter) Apply(rows []Row, now time.Time) []Row {
	out := rows[:0:0]
	for _, r := range rows {
		if f.Namespace != "" && r.Namespace != f.Namespace {
			continue
		}
		if f.Selector != nil && !f.Selector.Empty() && !f.Selector.Matches(labels.Set(r.Labels)) {
			continue
		}
		if f.ExpiringWithin > 0 && (r.NotAfter == nil || r.NotAfter.Sub(now) >= f.ExpiringWithin) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Sort orders rows by time left, soonest first; rows without a certificate
// come last. Ties go by kind, namespace, name and subject.
func Sort(rows []Row) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		switch {
		case a.NotAfter != nil && b.NotAfter != nil && !a.NotAfter.Equal(*b.NotAfter):
			return a.NotAfter.Before(*b.NotAfter)
		case (a.NotAfter == nil) != (b.NotAfter == nil):
			return a.NotAfter != nil
		case a.Kind != b.Kind:
			return a.Kind < b.Kind
		case a.Namespace != b.Namespace:
			return a.Namespace < b.Namespace
		case a.Name != b.Name:
			return a.Name < b.Name
		}
		return a.Subject < b.Subject
	})
}

// NeedsAttention says whether r's certificate has expired, or expires
// within warn of now and nothing renews it before: it has no renewal time
// (nothing renews it by itself), its renewal time is past by more than
// RenewalGrace (renewal is stuck), or falls after its expiry. A
// PodCertificateRequest superseded by a newer one is no longer in use and
// never needs attention; a missing file of the cluster PKI always does, as
// pki check-expiration says.
func NeedsAttention(r *Row, now time.Time, warn time.Duration) bool {
	if r.Kind == KindPKI && r.State == StateMissing {
		return true
	}
	if r.NotAfter == nil || r.State == StateSuperseded {
		return false
	}
	left := r.NotAfter.Sub(now)
	switch {
	case left <= 0:
		return true
	case left >= warn:
		return false
	}
	if rt := r.RenewalTime; rt != nil && rt.Before(*r.NotAfter) && now.Before(rt.Add(RenewalGrace)) {
		return false
	}
	return true
}

// Options are those of NewReport.
type Options struct {
	Now time.Time
	// Warn is the warning window of NeedsAttention. If zero, DefaultWarn.
	Warn   time.Duration
	Filter Filter
}

// Report is what `certplane status` prints.
type Report struct {
	Time time.Time `json:"time"`
	Warn string    `json:"warn"`
	// Attention counts the items that need attention (see NeedsAttention).
	Attention int   `json:"attention"`
	Items     []Row `json:"items"`
	// Skipped names what could not be listed and why (forbidden, not
	// served), so that a partial listing says so.
	Skipped []string `json:"skipped,omitempty"`
}

// NewReport builds the rows of in, keeps those opts.Filter selects, marks
// those that need attention and sorts them by time left.
func NewReport(in *Input, opts Options) *Report {
	if opts.Warn == 0 {
		opts.Warn = DefaultWarn
	}
	rows := opts.Filter.Apply(Build(in, opts.Now), opts.Now)
	Sort(rows)
	if rows == nil {
		rows = []Row{}
	}
	r := &Report{Time: opts.Now.UTC(), Warn: opts.Warn.String(), Items: rows}
	for i := range rows {
		if rows[i].Attention = NeedsAttention(&rows[i], opts.Now, opts.Warn); rows[i].Attention {
			r.Attention++
		}
	}
	return r
}
