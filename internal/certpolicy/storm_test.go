package certpolicy

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

var writeChart = flag.Bool("write-chart", false, "TestRenewalStorm writes docs/renewal-storm.svg")

const (
	// stormN is issue #15's storm: 10,000 Certificates.
	stormN = 10000
	// stormRate is certplane's measured issuance rate for Certificates from
	// a CA Issuer: 127.6 and 119.3 Ready per second in the two runs of
	// BenchmarkCertificates in docs/performance.md, whose mean issues
	// 10,000 in 81 seconds.
	stormRate = (127.6 + 119.3) / 2
)

// stormSpread is how long certplane takes to issue stormN Certificates at
// stormRate: 81 s.
func stormSpread() time.Duration {
	return time.Duration(math.Round(stormN / stormRate * float64(time.Second)))
}

// stormSpec is the issue's Certificate: duration 2h, renewBefore 1h.
func stormSpec() cmv1.CertificateSpec {
	return cmv1.CertificateSpec{
		SecretName: "storm", DNSNames: []string{"storm.example"}, IssuerRef: cmv1.ObjectReference{Name: "ca"},
		Duration: dur(2 * time.Hour), RenewBefore: dur(time.Hour),
	}
}

// stormIssue issues n Certificates of stormSpec from one CA at now, as the
// Certificate reconciler does: NewRequest's template, CA.Issue, a UID. UIDs
// and serials come from a fixed seed, so that every run draws the same.
func stormIssue(t testing.TB, n int, now time.Time) ([]*cmv1.Certificate, []*x509.Certificate) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{15})
	caKey, err := pki.GenerateKey(rng, pki.Ed25519Key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := pki.SelfSign(rng, now.Add(-time.Hour), &pki.Template{Subject: pkix.Name{CommonName: "storm CA"}, IsCA: true, Duration: 24 * time.Hour}, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey(rng, pki.Ed25519Key)
	if err != nil {
		t.Fatal(err)
	}
	spec := stormSpec()
	req, err := NewRequest(&spec)
	if err != nil {
		t.Fatal(err)
	}
	crts, leaves := make([]*cmv1.Certificate, n), make([]*x509.Certificate, n)
	for i := range n {
		if leaves[i], err = ca.Issue(rng, now, req.Template, key.Public()); err != nil {
			t.Fatal(err)
		}
		crts[i] = &cmv1.Certificate{Spec: spec}
		crts[i].UID = types.UID(uuid(rng))
	}
	return crts, leaves
}

// stormRenewals is when each certificate is due for renewal if the i-th
// was issued i·spread/n after the others were: at certplane's RenewalTime
// with the reconciler's Seed (what it writes to status.renewalTime and
// requeues at), and by cert-manager's rule, notAfter − renewBefore with no
// jitter. A certificate issued k whole seconds later differs only in its
// NotBefore and NotAfter, both k later (X.509 keeps whole seconds), so each
// one's validity moves by its offset, rounded down to whole seconds.
func stormRenewals(t testing.TB, crts []*cmv1.Certificate, leaves []*x509.Certificate, spread time.Duration) (certplane, noJitter []time.Time) {
	t.Helper()
	n := len(leaves)
	certplane, noJitter = make([]time.Time, n), make([]time.Time, n)
	for i, leaf := range leaves {
		k := (time.Duration(i) * spread / time.Duration(n)).Truncate(time.Second)
		notBefore, notAfter := leaf.NotBefore.Add(k), leaf.NotAfter.Add(k)
		at, ok := RenewalTime(notBefore, notAfter, &crts[i].Spec, Seed(crts[i], leaf))
		if !ok {
			t.Fatal("renewal disabled")
		}
		certplane[i] = at
		noJitter[i] = notAfter.Add(-crts[i].Spec.RenewBefore.Duration)
		checkStormLeaf(t, notBefore.Add(pki.DefaultBackdate), notAfter, at)
	}
	return certplane, noJitter
}

// checkStormLeaf: renewal never comes later than renewBefore allows, nor
// earlier than three quarters of the way from issuance to it.
func checkStormLeaf(t testing.TB, issued, notAfter, at time.Time) {
	t.Helper()
	latest := notAfter.Add(-time.Hour)
	if at.After(latest) || at.Before(issued.Add(latest.Sub(issued)*(jitterShare-1)/jitterShare)) {
		t.Fatalf("issued at %s, renews at %s: want within the last quarter before %s", issued, at, latest)
	}
}

func uuid(r *rand.ChaCha8) string {
	var b [16]byte
	_, _ = r.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// perMinute counts the times that fall in each wall-clock minute from the
// minute of from to the minute of to.
func perMinute(times []time.Time, from, to time.Time) []int {
	from = from.Truncate(time.Minute)
	counts := make([]int, int(to.Truncate(time.Minute).Sub(from)/time.Minute)+1)
	for _, at := range times {
		counts[int(at.Sub(from)/time.Minute)]++
	}
	return counts
}

// span is the earliest and the latest of some sets of times.
func span(sets ...[]time.Time) (first, last time.Time) {
	first, last = sets[0][0], sets[0][0]
	for _, s := range sets {
		for _, at := range s {
			if at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
	}
	return first, last
}

// peakAverage is the busiest minute and the mean over all the minutes.
func peakAverage(counts []int) (peak int, avg float64) {
	total := 0
	for _, c := range counts {
		peak = max(peak, c)
		total += c
	}
	return peak, float64(total) / float64(len(counts))
}

// stormMinutes is a storm bucketed per wall-clock minute over its window:
// the minutes from the first renewal to the last, of either rule.
type stormMinutes struct {
	from                time.Time // the window's first minute
	certplane, noJitter []int
}

func bucketStorm(certplane, noJitter []time.Time, shift time.Duration) stormMinutes {
	moved := func(ts []time.Time) []time.Time {
		out := make([]time.Time, len(ts))
		for i, at := range ts {
			out[i] = at.Add(shift)
		}
		return out
	}
	cp, nj := moved(certplane), moved(noJitter)
	first, last := span(cp, nj)
	return stormMinutes{from: first.Truncate(time.Minute), certplane: perMinute(cp, first, last), noJitter: perMinute(nj, first, last)}
}

// ratios are the busiest minute over the average per minute of the window,
// for certplane and for no jitter, and for no jitter over only the minutes
// from its own first renewal to its last.
func (m stormMinutes) ratios() (certplane, noJitter, noJitterOwn float64) {
	p, a := peakAverage(m.certplane)
	pn, an := peakAverage(m.noJitter)
	lo, hi := 0, len(m.noJitter)-1
	for m.noJitter[lo] == 0 {
		lo++
	}
	for m.noJitter[hi] == 0 {
		hi--
	}
	pn2, an2 := peakAverage(m.noJitter[lo : hi+1])
	return float64(p) / a, float64(pn) / an, float64(pn2) / an2
}

// TestRenewalStorm is issue #15's renewal storm: 10,000 Certificates of
// duration 2h and renewBefore 1h, issued in a burst, come due again an hour
// later. Per minute of the renewal window, certplane's busiest minute must
// stay within twice the average; without jitter (cert-manager's rule) the
// renewals replay the issuance burst. Each Certificate is issued by pki.CA
// from NewRequest's template and its renewal is RenewalTime with Seed, as the
// Certificate reconciler computes status.renewalTime and its requeue.
//
// Renewal times depend only on the certificate (its whole-second NotBefore
// and NotAfter, its UID and serial), so moving every issuance by whole
// seconds moves every renewal by as much: each storm is issued once and
// bucketed at every phase against the wall-clock minute, 0 to 55 s in steps
// of 5 s, and the worst phase must hold.
//
// -write-chart writes docs/renewal-storm.svg from the storm at certplane's
// measured rate (phase 0); without it, the test fails if that file is not
// what it would write.
func TestRenewalStorm(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	crts, leaves := stormIssue(t, stormN, start)
	check := func(t *testing.T, spread time.Duration, bound float64) (cp, nj []time.Time) {
		cp, nj = stormRenewals(t, crts, leaves, spread)
		var worst, worstNJ, worstOwn float64
		var worstPhase time.Duration
		var busiest, busiestNJ, minutes int
		for phase := time.Duration(0); phase < time.Minute; phase += 5 * time.Second {
			m := bucketStorm(cp, nj, phase)
			r, rn, rnOwn := m.ratios()
			if r > worst {
				worst, worstPhase = r, phase
			}
			worstNJ, worstOwn = max(worstNJ, rn), max(worstOwn, rnOwn)
			p, _ := peakAverage(m.certplane)
			pn, _ := peakAverage(m.noJitter)
			busiest, busiestNJ, minutes = max(busiest, p), max(busiestNJ, pn), max(minutes, len(m.certplane))
			if r > bound {
				p, a := peakAverage(m.certplane)
				t.Errorf("issued over %s, phase %s: busiest minute %d renewals, average %.0f over %d minutes: %.2f times, want at most %.2f", spread, phase, p, a, len(m.certplane), r, bound)
			}
		}
		t.Logf("issued over %s, worst of the phases: certplane busiest minute %d, peak/average %.2f (phase %s); no jitter busiest minute %d, peak/average %.2f (%.2f over its own minutes); window up to %d minutes",
			spread.Round(time.Second), busiest, worst, worstPhase, busiestNJ, worstNJ, worstOwn, minutes)
		return cp, nj
	}

	t.Run("measured rate", func(t *testing.T) {
		cp, nj := check(t, stormSpread(), 2)
		m := bucketStorm(cp, nj, 0)
		p, a := peakAverage(m.certplane)
		pn, _ := peakAverage(m.noJitter)
		r, rn, rnOwn := m.ratios()
		t.Logf("10,000 issued over %s from %s, phase 0: %d minutes from the first renewal to the last", stormSpread().Round(time.Second), start.Format("15:04:05"), len(m.certplane))
		t.Logf("certplane: busiest minute %d, average %.0f, peak/average %.2f", p, a, r)
		t.Logf("no jitter: busiest minute %d, average %.0f, peak/average %.2f (%.2f over only its own minutes)", pn, a, rn, rnOwn)
		for i := range m.certplane {
			t.Logf("  minute %d (%s): certplane %5d  no jitter %5d", int(m.from.Sub(start)/time.Minute)+i, m.from.Add(time.Duration(i)*time.Minute).Format("15:04"), m.certplane[i], m.noJitter[i])
		}
		if rn <= 2 {
			t.Errorf("without jitter the peak is only %.2f times the average: the storm does not show", rn)
		}
		svg := stormChart(m, start)
		path := filepath.Join("..", "..", "docs", "renewal-storm.svg")
		if *writeChart {
			if err := os.WriteFile(path, svg, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", path)
			return
		}
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, svg) {
			t.Errorf("%s is not what this storm draws (%v): go test -run TestRenewalStorm ./internal/certpolicy/ -args -write-chart", path, err)
		}
	})

	// "Issued within a few minutes": up to ten, within twice the average.
	// With a tenth in place of a quarter, issuance over five and six
	// minutes failed (2.003, 2.06). Issuance spread as wide as the jitter
	// (15 minutes here) makes the two even spreads a triangle, whose peak
	// is twice its mean: there the bound is 2 and a minute's share, and
	// the issuance itself has already spread the renewals.
	for _, c := range []struct {
		spread time.Duration
		bound  float64
	}{{0, 2}, {3 * time.Minute, 2}, {5 * time.Minute, 2}, {6 * time.Minute, 2}, {8 * time.Minute, 2}, {10 * time.Minute, 2}, {12 * time.Minute, 2.25}, {15 * time.Minute, 2.25}, {20 * time.Minute, 2.25}} {
		t.Run(fmt.Sprintf("issued over %s", c.spread), func(t *testing.T) {
			check(t, c.spread, c.bound)
		})
	}
}

// stormChart draws renewals per minute, certplane's beside no jitter's, as
// an SVG bar chart with the minutes since start along x.
func stormChart(m stormMinutes, start time.Time) []byte {
	const (
		width, height            = 800, 440
		left, right, top, bottom = 78, 24, 64, 64
		plotW, plotH             = width - left - right, height - top - bottom
		blue, orange             = "#2b6cb0", "#dd6b20"
	)
	p, a := peakAverage(m.certplane)
	pn, _ := peakAverage(m.noJitter)
	r, rn, _ := m.ratios()
	yMax := (max(p, pn)/1000 + 1) * 1000
	y := func(v float64) float64 { return top + plotH - v*plotH/float64(yMax) }
	n := len(m.certplane)
	slot := float64(plotW) / float64(n)
	first := int(m.from.Sub(start) / time.Minute)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Renewals per minute: %s Certificates (duration 2h, renewBefore 1h) issued in %d s</text>`+"\n", left, thousands(stormN), int(stormSpread().Round(time.Second)/time.Second))
	fmt.Fprintf(&b, `<text x="%d" y="40" fill="#444">at certplane's measured %.0f per second; each bucket is one wall-clock minute</text>`+"\n", left, stormRate)
	for v := 0; v <= yMax; v += 1000 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+plotW, y(float64(v)), y(float64(v)))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(float64(v))+4, thousands(v))
	}
	for i := range n {
		x := float64(left) + float64(i)*slot
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x+0.1*slot, y(float64(m.certplane[i])), 0.4*slot, float64(plotH)-(y(float64(m.certplane[i]))-top), blue)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x+0.5*slot, y(float64(m.noJitter[i])), 0.4*slot, float64(plotH)-(y(float64(m.noJitter[i]))-top), orange)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x+slot/2, top+plotH+16, first+i)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4"/>`+"\n", left, left+plotW, y(2*a), y(2*a), blue)
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s">twice certplane's average (%s per minute)</text>`+"\n", left+6, y(2*a)-5, blue, thousands(int(math.Round(2*a))))
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>`+"\n", left, left+plotW, top+plotH, top+plotH)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>`+"\n", left, left, top, top+plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">minutes after the first certificate was issued</text>`+"\n", left+plotW/2, height-20)
	fmt.Fprintf(&b, `<text transform="translate(20 %d) rotate(-90)" text-anchor="middle">renewals per minute</text>`+"\n", top+plotH/2)
	lx, ly := left+16, top+14
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", lx, ly-10, blue)
	fmt.Fprintf(&b, `<text x="%d" y="%d">certplane: busiest minute %s, average %s, %.2f×</text>`+"\n", lx+18, ly, thousands(p), thousands(int(math.Round(a))), r)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", lx, ly+8, orange)
	fmt.Fprintf(&b, `<text x="%d" y="%d">no jitter (cert-manager): busiest minute %s, %.2f× the same average</text>`+"\n", lx+18, ly+18, thousands(pn), rn)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
