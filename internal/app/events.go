package app

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// protobufEvents is the manager the controllers get their Event recorders
// from: the same events.k8s.io/v1 recorders as controller-runtime's, but
// their Events are sent to kube-apiserver as protobuf rather than JSON.
// controller-runtime already speaks protobuf for the built-in types its
// client reads and writes (Secrets, CSRs, ...), but builds its Event
// client from the manager's rest.Config, where a protobuf content type
// would also apply to the custom resources, which only speak JSON.
type protobufEvents struct {
	ctrl.Manager
	broadcaster events.EventBroadcaster
	scheme      *runtime.Scheme
}

// withProtobufEvents wraps mgr so that GetEventRecorder sends Events as
// protobuf. The Events are sent from now until the manager stops.
func withProtobufEvents(mgr ctrl.Manager, cfg *rest.Config) (ctrl.Manager, error) {
	c := rest.CopyConfig(cfg)
	c.ContentType = runtime.ContentTypeProtobuf
	client, err := eventsv1client.NewForConfigAndClient(c, mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating the events client: %w", err)
	}
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: client})
	stop := make(chan struct{})
	if err := mgr.Add(eventsStopper{stop: stop, broadcaster: b}); err != nil {
		return nil, err
	}
	b.StartRecordingToSink(stop)
	return protobufEvents{Manager: mgr, broadcaster: b, scheme: mgr.GetScheme()}, nil
}

// GetEventRecorder returns a recorder whose Events name reportingController.
func (m protobufEvents) GetEventRecorder(reportingController string) recorder.EventRecorder {
	return eventRecorder{m.broadcaster.NewRecorder(m.scheme, reportingController)}
}

// eventRecorder adds AnnotatedEventf, which client-go's recorder has but
// its EventRecorderLogger interface does not name.
type eventRecorder struct {
	events.EventRecorderLogger
}

func (r eventRecorder) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	if a, ok := r.EventRecorderLogger.(events.AnnotatedEventRecorder); ok {
		a.AnnotatedEventf(regarding, related, annotations, eventtype, reason, action, note, args...)
		return
	}
	r.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

// eventsStopper stops sending Events when the manager stops, leader or
// not.
type eventsStopper struct {
	stop        chan struct{}
	broadcaster events.EventBroadcaster
}

func (s eventsStopper) Start(ctx context.Context) error {
	<-ctx.Done()
	close(s.stop)
	s.broadcaster.Shutdown()
	return nil
}

func (eventsStopper) NeedLeaderElection() bool { return false }
