package dfu

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

// fakeNet is an access layer whose transport holds each send's done until
// the test reports it, as a segmented transfer over relays does.
type fakeNet struct {
	clk   *faketime.Clock
	layer *access.Layer
	sends []sentReq
}

type sentReq struct {
	at   time.Duration
	ttl  uint8
	done func(error)
}

const (
	cliAddr = mesh.Address(0x0001)
	tgtAddr = mesh.Address(0x0042)
)

func newFakeNet(t *testing.T, cfg ClientConfig) (*fakeNet, *Client) {
	t.Helper()
	n := &fakeNet{clk: faketime.New()}
	l, err := access.New(access.Config{
		Clock:       n.clk,
		Rand:        rand.New(rand.NewPCG(1, 2)),
		Primary:     func() mesh.Address { return cliAddr },
		DefaultTTL:  func() uint8 { return 7 },
		FixedGroup:  func(mesh.Address) bool { return false },
		BoundNetKey: func(uint16) uint16 { return 0 },
		Send: func(ctx *access.Context, _ []byte, done func(error)) error {
			n.sends = append(n.sends, sentReq{n.clk.Now().Sub(faketime.Epoch), ctx.TTL, done})
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.layer = l
	cfg.Clock, cfg.Layer = n.clk, l
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddElement(0, c.Model()); err != nil {
		t.Fatal(err)
	}
	if err := c.Model().Bind(0); err != nil {
		t.Fatal(err)
	}
	return n, c
}

// status delivers a Firmware Update Status from the target, arriving with
// recvTTL.
func (n *fakeNet) status(t *testing.T, recvTTL uint8, m *UpdateStatus) {
	t.Helper()
	p, err := access.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	n.layer.Receive(&access.Context{Src: tgtAddr, Dst: cliAddr, RecvTTL: recvTTL}, p)
}

func bigStart() *UpdateStart {
	return &UpdateStart{TTL: 4, TimeoutBase: 10, BLOBID: 7, Metadata: make([]byte, 100)}
}

// TestClient_NoResendWhileInTransport: a segmented request is not sent
// again while the transport still carries it; once the transport reports
// it acknowledged, only the status is awaited, and then it goes again.
func TestClient_NoResendWhileInTransport(t *testing.T) {
	n, c := newFakeNet(t, ClientConfig{Timeout: 10 * time.Second, Retries: 1})
	var got error
	ended := false
	if err := c.Request(tgtAddr, bigStart(), func(_ access.Message, err error) { got, ended = err, true }); err != nil {
		t.Fatal(err)
	}
	n.clk.Advance(time.Minute)
	if len(n.sends) != 1 || ended {
		t.Fatalf("%d sends, ended %t while the first is in the transport", len(n.sends), ended)
	}
	n.sends[0].done(nil) // acknowledged by the target's transport
	n.clk.Advance(answerBase - time.Millisecond)
	if len(n.sends) != 1 {
		t.Fatalf("resent %v after the acknowledgment", answerBase)
	}
	n.clk.Advance(10 * time.Second) // the wait for the status ran out: once more
	if len(n.sends) != 2 {
		t.Fatalf("%d sends after the status did not come", len(n.sends))
	}
	n.sends[1].done(errTest) // the transport gave up: the status is still awaited
	n.clk.Advance(time.Minute)
	if !ended || got == nil {
		t.Fatalf("ended %t, err %v", ended, got)
	}
	if st := c.Stats(); st.Sends != 2 || st.Resends != 1 || st.TransportFailures != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestClient_StatusWhileInTransport: the status may come before the
// transport's report (the acknowledgment was lost); the request ends, and
// a late report changes nothing.
func TestClient_StatusWhileInTransport(t *testing.T) {
	n, c := newFakeNet(t, ClientConfig{})
	var resp access.Message
	if err := c.Request(tgtAddr, bigStart(), func(m access.Message, _ error) { resp = m }); err != nil {
		t.Fatal(err)
	}
	n.clk.Advance(100 * time.Millisecond)
	n.status(t, 5, &UpdateStatus{Status: StatusSuccess, Phase: PhaseIdle})
	if resp == nil || c.Pending() != 0 {
		t.Fatalf("status not taken: %v, %d pending", resp, c.Pending())
	}
	n.sends[0].done(nil)
	n.clk.Advance(time.Minute)
	if len(n.sends) != 1 {
		t.Fatalf("%d sends", len(n.sends))
	}
	if h := c.Hops(tgtAddr); h != 3 {
		t.Fatalf("hops %d, want 3 (TTL 7 → 5)", h)
	}
}

// TestClient_RelaysBackoffAndAir: once a target answered over relays, the
// next requests book the air of their exchanges (150 ms a PDU with the
// defaults) and a resend waits twice as long; ScopeTTL sends the first
// copy with hops + 1 and the resend with the full TTL.
func TestClient_RelaysBackoffAndAir(t *testing.T) {
	n, c := newFakeNet(t, ClientConfig{Timeout: 8 * time.Second, Retries: 2, ScopeTTL: true})
	get := func() {
		if err := c.Request(tgtAddr, &UpdateGet{}, func(access.Message, error) {}); err != nil {
			t.Fatal(err)
		}
	}
	get()
	n.sends[0].done(nil)
	n.clk.Advance(time.Second)
	n.status(t, 5, &UpdateStatus{Status: StatusSuccess, Phase: PhaseIdle}) // 3 hops
	if c.MaxHops() != 3 || c.PollInterval(2*time.Second) != 6*time.Second {
		t.Fatalf("hops %d, poll %v", c.MaxHops(), c.PollInterval(2*time.Second))
	}
	get() // books 4 PDUs (Get, 2-segment status, ack) = 600 ms: free now
	get2 := len(n.sends)
	if get2 != 2 || n.sends[1].ttl != 4 {
		t.Fatalf("second Get: %d sends, TTL %d, want TTL 4", get2, n.sends[len(n.sends)-1].ttl)
	}
	n.sends[1].done(nil)
	first := n.sends[1].at
	n.clk.Advance(time.Minute) // no status: resends with backoff
	if len(n.sends) != 4 {
		t.Fatalf("%d sends", len(n.sends))
	}
	w1, w2 := n.sends[2].at-first, n.sends[3].at-n.sends[2].at
	if w2 < 2*w1-time.Millisecond || n.sends[2].ttl != 7 {
		t.Fatalf("waits %v then %v; resend TTL %d", w1, w2, n.sends[2].ttl)
	}
}

var errTest = errors.New("transport gave up")
