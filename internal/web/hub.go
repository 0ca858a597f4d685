package web

import (
	"slices"
	"sync"
	"sync/atomic"
)

// hub fans the informers' events out to the open event streams. A stream
// learns which kinds changed since it last looked, not what changed: the
// page fetches its view again, through the same authorization as any
// other request.
type hub struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
	// changes counts the notifications, so that a page can tell whether
	// it missed one before its stream opened.
	changes atomic.Uint64
}

type subscription struct {
	// signal has room for one wake-up: changes coalesce while the stream
	// is busy.
	signal  chan struct{}
	mu      sync.Mutex
	pending map[string]bool
}

func newHub() *hub { return &hub{subs: map[*subscription]struct{}{}} }

// subscribe opens a subscription; cancel closes it.
func (h *hub) subscribe() (s *subscription, cancel func()) {
	s = &subscription{signal: make(chan struct{}, 1), pending: map[string]bool{}}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}
}

// notify tells every subscription that an object of kind changed. It never
// blocks.
func (h *hub) notify(kind string) {
	h.changes.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		s.pending[kind] = true
		s.mu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

// generation returns the count of notifications so far.
func (h *hub) generation() uint64 { return h.changes.Load() }

// take returns the kinds changed since the last take, sorted.
func (s *subscription) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	kinds := make([]string, 0, len(s.pending))
	for k := range s.pending {
		kinds = append(kinds, k)
	}
	clear(s.pending)
	slices.Sort(kinds)
	return kinds
}
