package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/reference"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// Events: certplane sends its events.k8s.io/v1 Events itself rather than
// through client-go's events broadcaster, for two reasons.
//
//   - Memory. client-go's broadcaster keeps every Event it sent for 6 to
//     12 minutes, to find series of the same Event. certplane's Events are
//     one per issuance and object, so there are no series to find, and a
//     burst of 100,000 issuances held that many Events in memory.
//     client-go's recorder also starts a goroutine per Event. Here the
//     queue is bounded and the memory with it.
//   - Bytes. Events go to kube-apiserver as protobuf. controller-runtime
//     builds its Event client from the manager's rest.Config, where a
//     protobuf content type would also apply to the custom resources,
//     which only speak JSON.
//
// The Events are those client-go makes: the same name scheme, times,
// reportingController, reportingInstance, regarding and related objects.
// An Event that finds the queue full is dropped and counted in the log,
// as client-go drops Events its watchers cannot take.

const (
	// eventQueue bounds the Events waiting to be sent.
	eventQueue = 4096
	// eventSenders is how many Events are sent at once.
	eventSenders = 2
	// eventTries is how often an Event is tried when kube-apiserver is
	// unavailable or overloaded.
	eventTries = 6
	// maxNote is the length of note kube-apiserver accepts.
	maxNote = 1024
)

// eventCreator creates Events; the typed events.k8s.io/v1 client.
type eventCreator interface {
	Events(namespace string) eventsv1client.EventInterface
}

// eventSender sends the Events of every recorder it made, from a bounded
// queue, until the manager stops.
type eventSender struct {
	client   eventCreator
	scheme   *runtime.Scheme
	host     string
	now      func() time.Time
	queue    chan *eventsv1.Event
	retryMin time.Duration

	mu      sync.Mutex
	dropped int
}

// newEventSender returns a sender whose Events go to cfg's apiserver as
// protobuf.
func newEventSender(cfg *rest.Config, mgr ctrl.Manager) (*eventSender, error) {
	c := rest.CopyConfig(cfg)
	c.ContentType = runtime.ContentTypeProtobuf
	client, err := eventsv1client.NewForConfigAndClient(c, mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating the events client: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return &eventSender{
		client: client, scheme: mgr.GetScheme(), host: host, now: time.Now,
		queue: make(chan *eventsv1.Event, eventQueue), retryMin: time.Second,
	}, nil
}

// protobufEvents is the manager the controllers get their Event recorders
// from: recorders of an eventSender.
type protobufEvents struct {
	ctrl.Manager
	sender *eventSender
}

// withProtobufEvents wraps mgr so that GetEventRecorder's recorders send
// through one eventSender, from now until the manager stops.
func withProtobufEvents(mgr ctrl.Manager, cfg *rest.Config) (ctrl.Manager, error) {
	s, err := newEventSender(cfg, mgr)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(s); err != nil {
		return nil, err
	}
	return protobufEvents{Manager: mgr, sender: s}, nil
}

// GetEventRecorder returns a recorder whose Events name reportingController.
func (m protobufEvents) GetEventRecorder(reportingController string) recorder.EventRecorder {
	return m.sender.recorder(reportingController)
}

// recorder returns a recorder for reportingController.
func (s *eventSender) recorder(reportingController string) eventRecorder {
	return eventRecorder{sender: s, controller: reportingController, instance: reportingController + "-" + s.host}
}

// eventRecorder queues the Events of one reporting controller.
type eventRecorder struct {
	sender     *eventSender
	controller string
	instance   string
}

// Eventf queues an Event about regarding.
func (r eventRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.AnnotatedEventf(regarding, related, nil, eventtype, reason, action, note, args...)
}

// AnnotatedEventf queues an Event about regarding with annotations.
func (r eventRecorder) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	ev, err := r.sender.makeEvent(r.controller, r.instance, regarding, related, annotations, eventtype, reason, action, fmt.Sprintf(note, args...))
	if err != nil {
		ctrl.Log.WithName("events").Error(err, "not recording an Event", "controller", r.controller, "reason", reason)
		return
	}
	r.sender.enqueue(ev)
}

// makeEvent builds the Event client-go's recorder would.
func (s *eventSender) makeEvent(controller, instance string, regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string) (*eventsv1.Event, error) {
	if eventtype != corev1.EventTypeNormal && eventtype != corev1.EventTypeWarning {
		return nil, fmt.Errorf("event type %q is neither Normal nor Warning", eventtype)
	}
	ref, err := reference.GetReference(s.scheme, regarding)
	if err != nil {
		return nil, fmt.Errorf("referring to the object: %w", err)
	}
	var rel *corev1.ObjectReference
	if related != nil {
		if rel, err = reference.GetReference(s.scheme, related); err != nil {
			rel = nil
		}
	}
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	now := s.now()
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", ref.Name, now.UnixNano()), Namespace: ns, Annotations: annotations},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: controller,
		ReportingInstance:   instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Related:             rel,
		Note:                truncateNote(note),
		Type:                eventtype,
	}, nil
}

// truncateNote cuts note to what kube-apiserver accepts, on a rune
// boundary.
func truncateNote(note string) string {
	if len(note) <= maxNote {
		return note
	}
	n := maxNote
	for n > 0 && !utf8.RuneStart(note[n]) {
		n--
	}
	return note[:n]
}

// enqueue queues ev, or drops it when the queue is full.
func (s *eventSender) enqueue(ev *eventsv1.Event) {
	select {
	case s.queue <- ev:
	default:
		s.mu.Lock()
		s.dropped++
		n := s.dropped
		s.mu.Unlock()
		if n == 1 || n%1000 == 0 {
			ctrl.Log.WithName("events").Info("the Event queue is full: dropping Events", "dropped", n, "reason", ev.Reason)
		}
	}
}

// Start sends the queued Events until ctx ends, with eventSenders at once.
// Events still queued then are not sent.
func (s *eventSender) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range eventSenders {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-s.queue:
					s.send(ctx, ev)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// NeedLeaderElection is false: a standby's recorders send too.
func (*eventSender) NeedLeaderElection() bool { return false }

// send creates ev, trying again with backoff while kube-apiserver is
// unavailable or overloaded; an Event it refuses is dropped.
func (s *eventSender) send(ctx context.Context, ev *eventsv1.Event) {
	wait := s.retryMin
	for try := 1; ; try++ {
		_, err := s.client.Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) || ctx.Err() != nil {
			return
		}
		if !retryEvent(err) || try == eventTries {
			ctrl.Log.WithName("events").V(1).Info("Event not recorded", "namespace", ev.Namespace, "reason", ev.Reason, "error", err.Error())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// retryEvent reports whether an Event refused with err may be accepted
// later: kube-apiserver was unreachable, unavailable or overloaded.
func retryEvent(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err)
}
