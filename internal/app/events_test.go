package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// eventsManager is a manager with a scheme and an HTTP client that records
// what is added to it.
type eventsManager struct {
	addRecorder
	scheme *runtime.Scheme
}

func (m *eventsManager) GetScheme() *runtime.Scheme  { return m.scheme }
func (m *eventsManager) GetHTTPClient() *http.Client { return http.DefaultClient }

// TestProtobufEvents checks that the recorders of the wrapped manager send
// their Events to events.k8s.io/v1 as protobuf, and stop when the manager
// does.
func TestProtobufEvents(t *testing.T) {
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			got <- r.URL.Path + " " + r.Header.Get("Content-Type")
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	inner := &eventsManager{scheme: clientgoscheme.Scheme}
	mgr, err := withProtobufEvents(inner, &rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(inner.added) != 1 {
		t.Fatalf("want one runnable added to stop the Events, got %d", len(inner.added))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inner.added[0].Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"}}
	mgr.GetEventRecorder("test").Eventf(pod, nil, corev1.EventTypeNormal, "Tested", "Test", "note %d", 1)
	select {
	case req := <-got:
		if want := "/apis/events.k8s.io/v1/namespaces/ns/events " + runtime.ContentTypeProtobuf; req != want {
			t.Errorf("request %q, want %q", req, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no Event was sent within 30s")
	}
}

// TestMakeEvent checks that an Event carries what client-go's recorder
// puts in it, and that a long note is cut to what kube-apiserver takes.
func TestMakeEvent(t *testing.T) {
	at := time.Date(2026, 12, 3, 1, 2, 3, 4, time.UTC)
	s := &eventSender{scheme: clientgoscheme.Scheme, host: "node-1", now: func() time.Time { return at }}
	r := s.recorder("certplane-certificates")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "v"}}
	ev, err := s.makeEvent(r.controller, r.instance, pod, secret, map[string]string{"a": "b"}, corev1.EventTypeNormal, "Issuing", "Issue", "issued x")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("p.%x", at.UnixNano()); ev.Name != want || ev.Namespace != "ns" {
		t.Errorf("event %s/%s, want ns/%s", ev.Namespace, ev.Name, want)
	}
	if ev.ReportingController != "certplane-certificates" || ev.ReportingInstance != "certplane-certificates-node-1" {
		t.Errorf("reporting %q %q", ev.ReportingController, ev.ReportingInstance)
	}
	if ev.Regarding.Kind != "Pod" || ev.Regarding.UID != "u" || ev.Related == nil || ev.Related.Name != "s" {
		t.Errorf("regarding %+v related %+v", ev.Regarding, ev.Related)
	}
	if ev.Note != "issued x" || ev.Reason != "Issuing" || ev.Action != "Issue" || ev.Type != corev1.EventTypeNormal || !ev.EventTime.Time.Equal(at) || ev.Annotations["a"] != "b" {
		t.Errorf("event %+v", ev)
	}
	if _, err := s.makeEvent(r.controller, r.instance, pod, nil, nil, "Odd", "R", "A", "n"); err == nil {
		t.Error("an event type other than Normal and Warning was accepted")
	}
	long := strings.Repeat("é", 600) // 1200 bytes
	if got := truncateNote(long); len(got) > maxNote || !utf8.ValidString(got) || len(got) < maxNote-1 {
		t.Errorf("truncated to %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}

// TestEventQueueBounded checks that Events beyond the queue are dropped
// rather than held.
func TestEventQueueBounded(t *testing.T) {
	s := &eventSender{scheme: clientgoscheme.Scheme, host: "h", now: time.Now, queue: make(chan *eventsv1.Event, 3)}
	r := s.recorder("c")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	for range 10 {
		r.Eventf(pod, nil, corev1.EventTypeNormal, "R", "A", "n")
	}
	if len(s.queue) != 3 || s.dropped != 7 {
		t.Errorf("queued %d, dropped %d; want 3 and 7", len(s.queue), s.dropped)
	}
}

func TestRetryEvent(t *testing.T) {
	gr := schema.GroupResource{Group: "events.k8s.io", Resource: "events"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", errors.New("dial tcp: connection refused"), true},
		{"unavailable", apierrors.NewServiceUnavailable("x"), true},
		{"too many requests", apierrors.NewTooManyRequests("x", 1), true},
		{"internal", apierrors.NewInternalError(errors.New("x")), true},
		{"timeout", apierrors.NewServerTimeout(gr, "create", 1), true},
		{"forbidden (namespace terminating)", apierrors.NewForbidden(gr, "e", errors.New("terminating")), false},
		{"invalid", apierrors.NewBadRequest("x"), false},
	} {
		if got := retryEvent(tc.err); got != tc.want {
			t.Errorf("%s: retry %v, want %v", tc.name, got, tc.want)
		}
	}
}
