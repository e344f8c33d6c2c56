package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"
)

// Server-sent events (GET /api/events). Each event is
//
//	id: N
//	event: NAME
//	data: JSON
//
// with NAME one of: status (the whole Status, first on every connection),
// phase (PhaseEvent), receiver (one Receiver that changed), receivers
// (the whole list, when receivers came or went), upload (Upload), images
// (the Firmware Images List) and counters (Counters). Comment lines
// (": keep-alive") keep an idle connection open.

// PhaseEvent is the data of a phase event.
type PhaseEvent struct {
	Phase        string        `json:"phase"`
	PhaseCode    int           `json:"phase_code"`
	Running      bool          `json:"running"`
	Distribution *Distribution `json:"distribution,omitempty"`
}

// event is one encoded server-sent event.
type event struct {
	id   uint64
	name string
	data []byte
}

func (e event) write(w http.ResponseWriter) error {
	_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.id, e.name, e.data)
	return err
}

// subBuffer is how many events a listener may lag behind before it is
// dropped (it reconnects and gets a fresh status).
const subBuffer = 256

// hub polls the backend, computes what changed and fans events out to the
// listeners.
type hub struct {
	backend Backend
	log     *slog.Logger
	timeout time.Duration

	refreshMu sync.Mutex // one refresh at a time; orders subscriptions
	mu        sync.Mutex
	subs      map[chan event]struct{}
	last      *Status
	seq       uint64
}

func newHub(b Backend, log *slog.Logger, timeout time.Duration) *hub {
	return &hub{backend: b, log: log, timeout: timeout, subs: map[chan event]struct{}{}}
}

func (h *hub) listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// publish sends an event to every listener.
func (h *hub) publish(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		h.log.Error("web: event", "name", name, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e := event{id: h.seq, name: name, data: data}
	for c := range h.subs {
		select {
		case c <- e:
		default: // too slow: drop it, it will reconnect
			delete(h.subs, c)
			close(c)
		}
	}
}

// poke asks for a refresh soon (after an API call changed something).
func (h *hub) poke() {
	if h.listeners() == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
		defer cancel()
		h.refresh(ctx)
	}()
}

// refresh reads the backend and publishes what changed since the last
// refresh.
func (h *hub) refresh(ctx context.Context) {
	h.refreshMu.Lock()
	defer h.refreshMu.Unlock()
	h.refreshLocked(ctx)
}

func (h *hub) refreshLocked(ctx context.Context) *Status {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	snap, err := h.backend.Snapshot(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("web: events: status", "err", err)
		}
		return nil
	}
	st := NewStatus(snap)
	h.diff(h.last, st)
	h.last = st
	return st
}

// diff publishes the events that take old to new.
func (h *hub) diff(old, st *Status) {
	if old == nil {
		return
	}
	if old.Phase != st.Phase || old.Running != st.Running || !reflect.DeepEqual(old.Distribution, st.Distribution) {
		h.publish("phase", PhaseEvent{Phase: st.Phase, PhaseCode: st.PhaseCode, Running: st.Running, Distribution: st.Distribution})
	}
	if !sameAddresses(old.Receivers, st.Receivers) {
		h.publish("receivers", st.Receivers)
	} else {
		for i, r := range st.Receivers {
			if r != old.Receivers[i] {
				h.publish("receiver", r)
			}
		}
	}
	if old.Upload != st.Upload {
		h.publish("upload", st.Upload)
	}
	if !reflect.DeepEqual(old.Images, st.Images) {
		h.publish("images", st.Images)
	}
	if old.Counters != st.Counters {
		h.publish("counters", st.Counters)
	}
}

func sameAddresses(a, b []Receiver) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Address != b[i].Address {
			return false
		}
	}
	return true
}

// subscribe registers a listener and returns the current status, which the
// listener sends first: every event on the channel comes after it.
func (h *hub) subscribe(ctx context.Context) (chan event, *Status) {
	h.refreshMu.Lock()
	defer h.refreshMu.Unlock()
	st := h.refreshLocked(ctx)
	if st == nil {
		return nil, nil
	}
	c := make(chan event, subBuffer)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, st
}

func (h *hub) unsubscribe(c chan event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[c]; ok {
		delete(h.subs, c)
		close(c)
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		delete(h.subs, c)
		close(c)
	}
}

// events serves the event stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	c, st := s.hub.subscribe(r.Context())
	if c == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("the distributor does not answer; try again"))
		return
	}
	defer s.hub.unsubscribe(c)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	data, _ := json.Marshal(st)
	if err := (event{name: "status", data: data}).write(w); err != nil {
		return
	}
	_ = rc.Flush()
	keep := time.NewTicker(s.cfg.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-c:
			if !ok {
				return
			}
			if err := e.write(w); err != nil {
				return
			}
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
