package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	cmv1 "github.com/certplane/certplane/api/certmanager/v1"
	"github.com/certplane/certplane/internal/certpolicy"
	"github.com/certplane/certplane/pkg/pki"
)

// TestRenewalStormOnUp checks internal/certpolicy's TestRenewalStorm on a
// real `certplane up` (issue #15).
//
// First 300 Certificates of duration 2h and renewBefore 1h are created at
// once: the status.renewalTime the controller wrote for each is exactly
// certpolicy.RenewalTime of the certificate in its Secret with its UID and
// serial (what the simulation computes), up to 15 minutes before
// notAfter − 1h, and spread over those 15 minutes: no minute of the window
// holds more than twice its share.
//
// Then 100 Certificates of duration 1h and renewBefore 59m (a minute from
// issuance to the nominal renewal, so 15 s of jitter) renew for real: each
// is reissued no earlier than the renewalTime it had, and soon after it.
func TestRenewalStormOnUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts certplane up and waits for real renewals")
	}
	data := t.TempDir()
	startUp(t, data, freePort(t))
	admin := filepath.Join(data, "admin.conf")
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()

	setupCAIssuer(t, admin, "storm")

	create := func(prefix string, n int, duration, renewBefore string) {
		t.Helper()
		if err := parallelN(n, 32, func(i int) error {
			_, err := dyn.Resource(certificatesGVR).Namespace("storm").Create(ctx, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
				"metadata": map[string]any{"name": fmt.Sprintf("%s-%03d", prefix, i), "labels": map[string]any{"storm": prefix}},
				"spec": map[string]any{
					"secretName": fmt.Sprintf("%s-%03d-tls", prefix, i),
					"dnsNames":   []any{fmt.Sprintf("%s-%03d.storm.svc", prefix, i)},
					"duration":   duration, "renewBefore": renewBefore,
					"privateKey": map[string]any{"algorithm": "ECDSA"},
					"issuerRef":  map[string]any{"name": "ca"},
				},
			}}, metav1.CreateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// ready lists the Certificates labelled prefix once all n are Ready
	// at revision 1 at least, with the leaf in each one's Secret.
	ready := func(prefix string, n int) (crts []cmv1.Certificate, leaves map[string]*x509.Certificate) {
		t.Helper()
		pollEvery(t, time.Second, 3*time.Minute, fmt.Sprintf("%d Certificates %s-* Ready", n, prefix), func() bool {
			list, err := dyn.Resource(certificatesGVR).Namespace("storm").List(ctx, metav1.ListOptions{LabelSelector: "storm=" + prefix})
			if err != nil {
				t.Fatal(err)
			}
			crts = crts[:0]
			for _, u := range list.Items {
				var c cmv1.Certificate
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &c); err != nil {
					t.Fatal(err)
				}
				if c.Status.Revision == nil || c.Status.RenewalTime == nil || !certReady(&c) {
					return false
				}
				crts = append(crts, c)
			}
			return len(crts) == n
		})
		leaves = stormLeaves(t, cs, prefix)
		return crts, leaves
	}

	t.Run("status.renewalTime of 300 Certificates, duration 2h renewBefore 1h", func(t *testing.T) {
		const n, window = 300, 15 * time.Minute
		created := time.Now()
		create("long", n, "2h", "1h")
		crts, leaves := ready("long", n)
		var issued, renewals, noJitter []time.Time
		bins := make([]int, window/time.Minute)
		for i := range crts {
			c := &crts[i]
			leaf := leaves[c.Spec.SecretName]
			if leaf == nil {
				t.Fatalf("no certificate in Secret %s", c.Spec.SecretName)
			}
			want, ok := certpolicy.RenewalTime(leaf.NotBefore, leaf.NotAfter, &c.Spec, certpolicy.Seed(c, leaf))
			got := c.Status.RenewalTime.Time
			if !ok || !got.Equal(want) {
				t.Errorf("%s: status.renewalTime %s, certpolicy.RenewalTime %s", c.Name, got.UTC().Format(time.RFC3339), want.UTC().Format(time.RFC3339))
			}
			nominal := leaf.NotAfter.Add(-time.Hour)
			early := nominal.Sub(got)
			if early < 0 || early >= window {
				t.Errorf("%s: renews %s before notAfter − renewBefore, want within [0, %s)", c.Name, early, window)
				continue
			}
			bins[early/time.Minute]++
			issued = append(issued, leaf.NotBefore.Add(pki.DefaultBackdate))
			renewals = append(renewals, got)
			noJitter = append(noJitter, nominal)
		}
		first, last := slices.MinFunc(issued, time.Time.Compare), slices.MaxFunc(issued, time.Time.Compare)
		t.Logf("%d issued within %s (by NotBefore, whole seconds), %.1f s after the first create", n, last.Sub(first), last.Sub(created).Seconds())
		peak := slices.Max(bins)
		t.Logf("minutes early of notAfter − renewBefore, 0 to 14: %v; busiest %d, average %.1f, %.2f×", bins, peak, float64(n)/float64(len(bins)), float64(peak)*float64(len(bins))/float64(n))
		if float64(peak) > 2*float64(n)/float64(len(bins)) {
			t.Errorf("the busiest minute of the jitter window has %d of %d renewals, more than twice the average", peak, n)
		}
		if latest := slices.Max(bins[len(bins)-2:]); latest == 0 {
			t.Error("no renewal in the last two minutes of the window: the jitter does not use a quarter of the room")
		}
		count, from := wallMinutes(renewals, noJitter)
		t.Logf("renewals per wall-clock minute from %s: certplane %v, no jitter %v", from.UTC().Format("15:04"), count(renewals), count(noJitter))
	})

	t.Run("100 Certificates renew for real, duration 1h renewBefore 59m", func(t *testing.T) {
		const n, slack = 100, 30 * time.Second
		create("short", n, "1h", "59m")
		crts, leaves := ready("short", n)
		due := map[string]time.Time{}
		serial := map[string]string{}
		for i := range crts {
			c := &crts[i]
			leaf := leaves[c.Spec.SecretName]
			if leaf == nil || *c.Status.Revision != 1 {
				t.Fatalf("%s: revision %d before its first renewal (the 45 s to it are gone?)", c.Name, *c.Status.Revision)
			}
			due[c.Spec.SecretName] = c.Status.RenewalTime.Time
			serial[c.Spec.SecretName] = leaf.SerialNumber.Text(16)
		}
		// The first new certificate each Secret holds: the next renewal
		// comes 45 s later at the earliest, polls are a second apart.
		renewed := map[string]time.Time{}
		pollEvery(t, time.Second, 3*time.Minute, fmt.Sprintf("%d Certificates renewed", n), func() bool {
			for name, leaf := range stormLeaves(t, cs, "short") {
				if _, ok := renewed[name]; !ok && leaf.SerialNumber.Text(16) != serial[name] {
					renewed[name] = leaf.NotBefore.Add(pki.DefaultBackdate)
				}
			}
			return len(renewed) == n
		})
		var late []time.Duration
		for name, at := range renewed {
			d := at.Sub(due[name])
			late = append(late, d)
			if d < 0 || d > slack {
				t.Errorf("%s: reissued at %s, its renewalTime was %s: want within %s after", name, at.UTC().Format(time.RFC3339), due[name].UTC().Format(time.RFC3339), slack)
			}
		}
		slices.Sort(late)
		dues := make([]time.Time, 0, n)
		for _, at := range due {
			dues = append(dues, at)
		}
		first, last := slices.MinFunc(dues, time.Time.Compare), slices.MaxFunc(dues, time.Time.Compare)
		t.Logf("renewalTimes spread over %s; reissued after its renewalTime (whole seconds): min %s, median %s, max %s", last.Sub(first), late[0], late[len(late)/2], late[len(late)-1])
	})
}

// certReady: the Certificate's Ready condition is True.
func certReady(c *cmv1.Certificate) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == "Ready" {
			return cond.Status == cmv1.ConditionTrue
		}
	}
	return false
}

// stormLeaves is the leaf of each Secret in namespace storm whose name
// starts with prefix, by Secret name.
func stormLeaves(t *testing.T, cs kubernetes.Interface, prefix string) map[string]*x509.Certificate {
	t.Helper()
	list, err := cs.CoreV1().Secrets("storm").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*x509.Certificate{}
	for i := range list.Items {
		s := &list.Items[i]
		if s.Type != corev1.SecretTypeTLS || len(s.Name) <= len(prefix) || s.Name[:len(prefix)+1] != prefix+"-" {
			continue
		}
		chain, err := pki.ParseCertificatesPEM(s.Data["tls.crt"])
		if err != nil {
			t.Fatalf("secret %s: %v", s.Name, err)
		}
		out[s.Name] = chain[0]
	}
	return out
}

// wallMinutes returns a counter of times per wall-clock minute over the
// minutes that all the sets span, and the first of those minutes.
func wallMinutes(sets ...[]time.Time) (func([]time.Time) []int, time.Time) {
	var all []time.Time
	for _, s := range sets {
		all = append(all, s...)
	}
	from := slices.MinFunc(all, time.Time.Compare).Truncate(time.Minute)
	n := int(slices.MaxFunc(all, time.Time.Compare).Sub(from)/time.Minute) + 1
	return func(ts []time.Time) []int {
		counts := make([]int, n)
		for _, at := range ts {
			counts[int(at.Sub(from)/time.Minute)]++
		}
		return counts
	}, from
}

// pollEvery checks cond every interval until it holds, failing the test
// after timeout.
func pollEvery(t *testing.T, interval, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
