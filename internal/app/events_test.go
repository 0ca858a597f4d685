package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
