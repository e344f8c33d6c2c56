package request

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

// msg is a request or status of one opcode and one index.
type msg struct {
	op  access.Opcode
	idx byte
}

func (m *msg) Opcode() access.Opcode                 { return m.op }
func (m *msg) AppendBinary(b []byte) ([]byte, error) { return append(b, m.idx), nil }
func (m *msg) Unmarshal(p []byte) error              { m.idx = p[0]; return nil }

const (
	opGet    access.Opcode = 0x8201
	opStatus access.Opcode = 0x8202
	srv                    = mesh.Address(0x0042)
)

var (
	errTimeout = errors.New("timeout")
	errRadio   = errors.New("radio busy")
)

// harness is an Engine with a fixed wait, an air booking the test sets,
// and a transport that records each send and keeps its report.
type harness struct {
	clk     *faketime.Clock
	e       *Engine
	air     time.Duration // ReserveAir's answer
	sendErr error         // Send's answer
	sends   []time.Duration
	reports []func(error)
}

const wait = 2 * time.Second

func newHarness() *harness {
	h := &harness{clk: faketime.New()}
	h.e = New(Config{
		Clock: h.clk, Name: "test",
		OpName:     func(op access.Opcode) string { return fmt.Sprintf("op %#x", uint32(op)) },
		ErrTimeout: errTimeout,
		Send: func(r *Request, done func(error)) error {
			if h.sendErr != nil {
				return h.sendErr
			}
			h.sends = append(h.sends, h.clk.Now().Sub(faketime.Epoch))
			h.reports = append(h.reports, done)
			return nil
		},
		Wait:       func(*Request) time.Duration { return wait },
		AnswerWait: func(*Request) time.Duration { return wait / 2 },
		ReserveAir: func(*Request) time.Duration { return h.air },
	})
	return h
}

// outcome records a request's callbacks.
type outcome struct {
	calls int
	m     access.Message
	err   error
}

func (o *outcome) cb(m access.Message, err error) { o.calls++; o.m, o.err = m, err }

func (h *harness) start(t *testing.T, idx byte, left int, segmented bool, o *outcome) *Request {
	t.Helper()
	r := &Request{Dst: srv, Msg: &msg{opGet, idx}, Want: opStatus, Cb: o.cb, Left: left, Segmented: segmented,
		Match: func(m access.Message) bool { return m.(*msg).idx == idx }}
	if err := h.e.Start(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A request without a status is sent 1 + Left times, one wait apart,
// then ends once with ErrTimeout naming the transport's last failure.
func TestEngine_RetriesThenTimeout(t *testing.T) {
	h := newHarness()
	var o outcome
	h.start(t, 1, 2, true, &o)
	h.reports[0](errRadio)   // the transport gave up on the first copy
	h.clk.Advance(10 * wait) // one resend, then its copy stays in the transport
	if len(h.sends) != 2 || o.calls != 0 {
		t.Fatalf("%d sends, %d callbacks while the second copy is in the transport", len(h.sends), o.calls)
	}
	h.reports[1](nil)
	h.clk.Advance(10 * wait)
	h.reports[2](nil)
	h.clk.Advance(10 * wait)
	if len(h.sends) != 3 || o.calls != 1 || !errors.Is(o.err, errTimeout) || !errors.Is(o.err, errRadio) {
		t.Fatalf("%d sends (want 3), %d callbacks, err %v", len(h.sends), o.calls, o.err)
	}
	if st := h.e.Stats(); st.Sends != 3 || st.Resends != 2 || st.TransportFailures != 1 || h.e.Pending() != 0 {
		t.Fatalf("stats %+v, %d pending", st, h.e.Pending())
	}
}

// Over relays a request waits for the air booked before each send.
func TestEngine_WaitsForAir(t *testing.T) {
	h := newHarness()
	h.air = 3 * time.Second
	var o outcome
	h.start(t, 1, 1, false, &o)
	if len(h.sends) != 0 || h.e.Pending() != 1 {
		t.Fatalf("%d sends, %d pending before the air is free", len(h.sends), h.e.Pending())
	}
	h.clk.Advance(3 * time.Second)
	h.air = time.Second
	h.clk.Advance(wait)
	h.clk.Advance(time.Second)
	want := []time.Duration{3 * time.Second, 3*time.Second + wait + time.Second}
	if len(h.sends) != 2 || h.sends[0] != want[0] || h.sends[1] != want[1] {
		t.Fatalf("sends at %v, want %v", h.sends, want)
	}
}

// A status that matches ends its request once; the round trip counts
// only for a request sent once; a send error at Start leaves nothing
// pending.
func TestEngine_FindFinishRoundTrip(t *testing.T) {
	h := newHarness()
	var o1, o2 outcome
	r1 := h.start(t, 1, 3, false, &o1)
	h.clk.Advance(wait / 4)
	r2 := h.start(t, 2, 3, false, &o2)
	if p := h.e.Busy(srv, opStatus); p != r1 {
		t.Fatalf("Busy: %v, want the first request", p)
	}
	if h.e.Find(srv, opStatus, &msg{opStatus, 3}) != nil || h.e.Find(srv+1, opStatus, &msg{opStatus, 2}) != nil {
		t.Fatal("a status of another index or server matched")
	}
	h.clk.Advance(wait / 2)
	if r := h.e.Find(srv, opStatus, &msg{opStatus, 2}); r != r2 {
		t.Fatalf("Find: %v, want the second request", r)
	}
	if d, ok := h.e.RoundTrip(r2); !ok || d != wait/2 {
		t.Fatalf("round trip %v %t, want %v", d, ok, wait/2)
	}
	h.e.Finish(r2, &msg{opStatus, 2}, nil)
	h.e.Finish(r2, nil, errRadio)
	if o2.calls != 1 || o2.err != nil || h.e.Pending() != 1 {
		t.Fatalf("second request: %d callbacks, err %v, %d pending", o2.calls, o2.err, h.e.Pending())
	}
	h.clk.Advance(wait) // r1 resent
	if _, ok := h.e.RoundTrip(r1); ok {
		t.Fatal("round trip of a resent request")
	}
	h.e.Abort(errRadio)
	if o1.calls != 1 || !errors.Is(o1.err, errRadio) || h.e.Pending() != 0 {
		t.Fatalf("abort: %d callbacks, err %v", o1.calls, o1.err)
	}
	h.sendErr = errRadio
	if err := h.e.Start(&Request{Dst: srv, Msg: &msg{opGet, 9}, Want: opStatus}); !errors.Is(err, errRadio) || h.e.Pending() != 0 {
		t.Fatalf("Start with a failing send: %v, %d pending", err, h.e.Pending())
	}
}
