package app

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderElectionID names the Lease the replicas of `certplane controller`
// elect their leader through.
const LeaderElectionID = "certplane-controller"

// cert-manager's leader election timing (its controller's flags).
const (
	defaultLeaseDuration = 60 * time.Second
	defaultRenewDeadline = 40 * time.Second
	defaultRetryPeriod   = 15 * time.Second
)

// jitterFactor is client-go's leaderelection.JitterFactor: a replica waits
// between one and 2.2 retry periods between tries, and client-go refuses a
// renew deadline that is not longer than 1.2 retry periods.
const jitterFactor = 1.2

// LeaderTiming is the leader election's timing, as cert-manager's
// --leader-election-lease-duration, --leader-election-renew-deadline and
// --leader-election-retry-period set it.
type LeaderTiming struct {
	// LeaseDuration is how long a standby waits, from the last renewal it
	// saw, before it takes the Lease over. If zero, 60s.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps trying to renew before it
	// gives up leading (and the process ends). If zero, 40s.
	RenewDeadline time.Duration
	// RetryPeriod is the wait between tries to acquire or renew. If zero,
	// 15s.
	RetryPeriod time.Duration
}

// withDefaults fills in cert-manager's defaults.
func (l LeaderTiming) withDefaults() LeaderTiming {
	if l.LeaseDuration == 0 {
		l.LeaseDuration = defaultLeaseDuration
	}
	if l.RenewDeadline == 0 {
		l.RenewDeadline = defaultRenewDeadline
	}
	if l.RetryPeriod == 0 {
		l.RetryPeriod = defaultRetryPeriod
	}
	return l
}

// Validate checks the timing, defaults filled in, as client-go's leader
// election will: renew deadline shorter than the lease duration, retry
// period short enough for the renew deadline. Its errors are one line
// naming the flags.
func (l LeaderTiming) Validate() error {
	l = l.withDefaults()
	switch {
	case l.LeaseDuration < 0 || l.RenewDeadline < 0 || l.RetryPeriod < 0:
		return errors.New("--leader-election-lease-duration, --leader-election-renew-deadline and --leader-election-retry-period may not be negative")
	case l.RenewDeadline >= l.LeaseDuration:
		return fmt.Errorf("--leader-election-renew-deadline (%s) must be shorter than --leader-election-lease-duration (%s)", l.RenewDeadline, l.LeaseDuration)
	case float64(l.RenewDeadline) <= jitterFactor*float64(l.RetryPeriod):
		return fmt.Errorf("--leader-election-retry-period (%s) must be shorter than --leader-election-renew-deadline (%s), by more than client-go's jitter (the deadline must exceed 1.2 retry periods)", l.RetryPeriod, l.RenewDeadline)
	}
	return nil
}

// leaderIdentity names one replica in the Lease's holderIdentity: the host
// (a Pod's name in a cluster), the process id, so that replicas on one
// machine can be told apart, and a random UUID, unique across restarts
// and containers (where every process may be pid 1).
func leaderIdentity(host string, pid int, id string) string {
	return fmt.Sprintf("%s_%d_%s", host, pid, id)
}

// inClusterNamespace is where a Pod's namespace is mounted.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// leaderLock is the Lease namespace/LeaderElectionID, held under
// leaderIdentity. Its client times out after half the renew deadline (at
// least a second), as controller-runtime's does, so that one hung request
// cannot cost the leadership. events receives the Lease's events.
func leaderLock(cfg *rest.Config, namespace string, renewDeadline time.Duration, events resourcelock.EventRecorder) (resourcelock.Interface, error) {
	if namespace == "" {
		data, err := os.ReadFile(inClusterNamespace)
		if err != nil {
			return nil, fmt.Errorf("no leader election namespace given and not in a cluster: %w", err)
		}
		namespace = strings.TrimSpace(string(data))
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	cfg.Timeout = max(renewDeadline/2, time.Second)
	client, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &resourcelock.LeaseLock{
		LeaseMeta: metav1.ObjectMeta{Namespace: namespace, Name: LeaderElectionID},
		Client:    client,
		LockConfig: resourcelock.ResourceLockConfig{
			Identity:      leaderIdentity(host, os.Getpid(), string(uuid.NewUUID())),
			EventRecorder: events,
		},
	}, nil
}

// leaderEvents records the Lease's events (became leader, stopped leading)
// through the manager's events.k8s.io recorder, which exists only after the
// lock has been made; until then, and if it never is, they are dropped.
type leaderEvents struct {
	rec interface {
		Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
	} // set before the manager starts, never after
}

// Eventf implements resourcelock.EventRecorder.
func (e *leaderEvents) Eventf(obj runtime.Object, eventType, reason, message string, args ...any) {
	if e.rec != nil {
		e.rec.Eventf(obj, nil, eventType, reason, "LeaderElection", message, args...)
	}
}
