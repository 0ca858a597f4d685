package certpolicy

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/pkg/pki"
)

// The jitter: renewal comes up to a quarter of the time from issuance to the
// nominal renewal early, at most an hour, and not at all with under twenty
// seconds of that time.
const (
	jitterShare   = 4
	maxJitter     = time.Hour
	minJitterRoom = 20 * time.Second
)

// RenewalTime is when a certificate valid from notBefore to notAfter is
// renewed: renewBefore ahead of expiry if it is shorter than the lifetime,
// else renewBeforePercentage of the lifetime ahead, else a third of the
// lifetime ahead, as cert-manager computes it. ok is false when
// spec.renewal.policy is Disabled.
//
// On top of that, seed (the Certificate's UID and the serial, say) moves the
// time earlier, never later, by whole seconds spread evenly over up to a
// quarter of the time from issuance to the nominal renewal, and at most an
// hour. renewBefore is the user's minimum margin, and it is always kept.
// Thousands of certificates issued together by one CA then do not all come
// back together (cert-manager#8402), while the same certificate always gets
// the same time. A quarter keeps 10,000 Certificates of duration 2h and
// renewBefore 1h, issued over anything up to ten minutes, within twice the
// average per minute at their busiest minute (TestRenewalStorm; with a
// tenth, issuance over five or six minutes went past it). The bound keeps renewal at three quarters of the
// way from issuance to the nominal time at the earliest, so that tight
// settings cannot renew in a loop, and with under twenty seconds of room
// (duration 1h, renewBefore 59m50s) there is no jitter at all.
func RenewalTime(notBefore, notAfter time.Time, spec *cmv1.CertificateSpec, seed []byte) (time.Time, bool) {
	if spec.Renewal != nil && spec.Renewal.Policy == "Disabled" {
		return time.Time{}, false
	}
	// certplane backdates NotBefore (pki.DefaultBackdate); the lifetime
	// counts from issuance, so that a renewBefore reaching back before it
	// falls back to the default instead of renewing at once, forever.
	start := notBefore
	if notAfter.Sub(notBefore) > 2*pki.DefaultBackdate {
		start = notBefore.Add(pki.DefaultBackdate)
	}
	lifetime := notAfter.Sub(start)
	before := lifetime / 3
	switch {
	case spec.RenewBefore != nil && spec.RenewBefore.Duration > 0 && spec.RenewBefore.Duration < lifetime:
		before = spec.RenewBefore.Duration
	case spec.RenewBeforePercentage != nil && *spec.RenewBeforePercentage > 0 && *spec.RenewBeforePercentage < 100:
		before = lifetime * time.Duration(*spec.RenewBeforePercentage) / 100
	}
	nominal := notAfter.Add(-before).Truncate(time.Second)
	if !nominal.After(start) {
		before = lifetime / 3
		nominal = notAfter.Add(-before).Truncate(time.Second)
	}
	room := nominal.Sub(start)
	if room < minJitterRoom || len(seed) == 0 {
		return nominal, true
	}
	spread := min(room/jitterShare, maxJitter)
	sum := sha256.Sum256(seed)
	offset := time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(spread/time.Second))
	return nominal.Add(-offset * time.Second), true
}

// Backoff is how long to wait after the n-th failed issuance in a row:
// minimum·2^(n−1), at most maximum (cert-manager's 1h and 32h by default).
func Backoff(n int, minimum, maximum time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := minimum
	for i := 1; i < n && d < maximum; i++ {
		d *= 2
	}
	return min(d, maximum)
}
