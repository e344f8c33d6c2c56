package udp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/runtime"
	"github.com/meshdfu/meshdfu/sim/pcap"
)

// Every socket of these tests is on 127.0.0.1: nothing leaves the host.
const loopback = "127.0.0.1:0"

// testTimeout bounds every wait of a test on a real socket. Nothing waits
// for a fixed time: each wait ends as soon as its event happens.
const testTimeout = 10 * time.Second

// rx is one PDU as the node saw it.
type rx struct {
	kind    mesh.ADType
	payload []byte
	at      time.Time
}

// testNode is a node's loop and bearer.
type testNode struct {
	loop *runtime.Loop
	b    *Bearer
	rx   chan rx
}

// newNode opens a bearer on loopback for a node whose receive function
// runs on its own runtime.Loop and forwards PDUs to n.rx.
func newNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	n := &testNode{loop: runtime.New(runtime.Config{Name: t.Name()}), rx: make(chan rx, 1024)}
	n.loop.Start(context.Background())
	t.Cleanup(func() { n.loop.Close() })
	if cfg.Listen == "" {
		cfg.Listen = loopback
	}
	cfg.Executor = n.loop
	if cfg.Receive == nil {
		cfg.Receive = func(kind mesh.ADType, p []byte) {
			n.rx <- rx{kind, bytes.Clone(p), n.loop.Now()}
		}
	}
	b, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	n.b = b
	return n
}

func (n *testNode) addr() string { return n.b.LocalAddr().String() }

// link makes a and b peers of each other.
func link(t *testing.T, a, b *testNode) {
	t.Helper()
	if err := a.b.AddPeer(b.addr()); err != nil {
		t.Fatal(err)
	}
	if err := b.b.AddPeer(a.addr()); err != nil {
		t.Fatal(err)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// expect waits for the node's next PDU.
func (n *testNode) expect(ctx context.Context, t *testing.T) rx {
	t.Helper()
	select {
	case r := <-n.rx:
		return r
	case <-ctx.Done():
		t.Fatalf("no PDU received: %v (stats %+v)", ctx.Err(), n.b.Stats())
		return rx{}
	}
}

// expectPDU waits for the node's next PDU and checks it.
func (n *testNode) expectPDU(ctx context.Context, t *testing.T, kind mesh.ADType, payload []byte) rx {
	t.Helper()
	r := n.expect(ctx, t)
	if r.kind != kind || !bytes.Equal(r.payload, payload) {
		t.Fatalf("received %v %x, want %v %x", r.kind, r.payload, kind, payload)
	}
	return r
}

// drops returns an onDrop hook that reports drops on a channel.
func drops() (chan DropReason, func(DropReason)) {
	c := make(chan DropReason, 1024)
	return c, func(r DropReason) { c <- r }
}

// expectDrop waits for a drop and checks its reason.
func expectDrop(ctx context.Context, t *testing.T, c chan DropReason, want DropReason) {
	t.Helper()
	select {
	case r := <-c:
		if r != want {
			t.Fatalf("dropped for %v, want %v", r, want)
		}
	case <-ctx.Done():
		t.Fatalf("no drop: %v", ctx.Err())
	}
}

var once = mesh.Transmit{} // one transmission

func TestBearer_Exchange(t *testing.T) {
	ctx := testContext(t)
	a, b := newNode(t, Config{}), newNode(t, Config{})
	link(t, a, b)

	msg := []byte{0x68, 0xec, 0xa4, 0x87}
	a.b.Send(mesh.ADMessage, msg, once)
	b.expectPDU(ctx, t, mesh.ADMessage, msg)

	beacon := bytes.Repeat([]byte{0x01}, 22)
	b.b.Send(mesh.ADBeacon, beacon, once)
	a.expectPDU(ctx, t, mesh.ADBeacon, beacon)

	full := bytes.Repeat([]byte{0x5e}, MaxPayload)
	a.b.Send(mesh.ADMessage, full, once)
	b.expectPDU(ctx, t, mesh.ADMessage, full)

	sa, sb := a.b.Stats(), b.b.Stats()
	if sa.Sent != 2 || sa.Transmissions != 2 || sa.Datagrams != 2 || sa.Received != 1 || sa.TotalDropped() != 0 {
		t.Errorf("a: %+v", sa)
	}
	if sb.Sent != 1 || sb.Received != 2 || sb.TotalDropped() != 0 {
		t.Errorf("b: %+v", sb)
	}
}

// TestBearer_ReceiveOnExecutor checks that the receive function runs on
// the node's loop: it shares unlocked state with code run by Do, and the
// race detector watches.
func TestBearer_ReceiveOnExecutor(t *testing.T) {
	ctx := testContext(t)
	var b *testNode
	count := 0 // owned by b's loop
	got := make(chan struct{}, 16)
	b = newNode(t, Config{Receive: func(mesh.ADType, []byte) { count++; got <- struct{}{} }})
	a := newNode(t, Config{Peers: []string{b.addr()}})
	for range 3 {
		a.b.Send(mesh.ADMessage, []byte{1}, once)
	}
	for range 3 {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if err := b.loop.Do(ctx, func() {
		if count != 3 {
			t.Errorf("count %d, want 3", count)
		}
	}); err != nil {
		t.Fatal(err)
	}
}

func TestBearer_Transmissions(t *testing.T) {
	ctx := testContext(t)
	a, b := newNode(t, Config{}), newNode(t, Config{})
	link(t, a, b)

	tx := mesh.Transmit{Count: 3, IntervalSteps: 1} // 4 transmissions, 20 ms apart
	payload := []byte{1, 2, 3}
	start := time.Now()
	a.b.Send(mesh.ADMessage, payload, tx)
	payload[0] = 9 // Send copied it
	var last rx
	for range tx.Transmissions() {
		last = b.expectPDU(ctx, t, mesh.ADMessage, []byte{1, 2, 3})
	}
	// The last copy left at least 3 intervals after Send.
	if d := last.at.Sub(start); d < 3*tx.Interval() {
		t.Errorf("4th copy after %v, want ≥ %v", d, 3*tx.Interval())
	}
	// Each transmission is counted before its datagrams are written, so
	// the sender's counters are final once the receiver has all copies.
	if s := a.b.Stats(); s.Sent != 1 || s.Transmissions != 4 || s.Datagrams != 4 {
		t.Errorf("sender stats %+v, want 1 PDU in 4 transmissions", s)
	}
}

func TestBearer_Peers(t *testing.T) {
	ctx := testContext(t)
	a, b, c := newNode(t, Config{}), newNode(t, Config{}), newNode(t, Config{})
	if err := a.b.AddPeer(b.addr()); err != nil {
		t.Fatal(err)
	}
	if err := a.b.AddPeer(c.addr()); err != nil {
		t.Fatal(err)
	}
	if err := a.b.AddPeer(c.addr()); err != nil { // twice: no-op
		t.Fatal(err)
	}
	if got := a.b.Peers(); len(got) != 2 || got[0] != b.b.LocalAddr() || got[1] != c.b.LocalAddr() {
		t.Fatalf("peers %v", got)
	}
	a.b.Send(mesh.ADMessage, []byte{1}, once)
	b.expectPDU(ctx, t, mesh.ADMessage, []byte{1})
	c.expectPDU(ctx, t, mesh.ADMessage, []byte{1})

	if err := a.b.RemovePeer(b.addr()); err != nil {
		t.Fatal(err)
	}
	if err := a.b.RemovePeer(b.addr()); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("RemovePeer of a non-peer = %v, want ErrNoPeer", err)
	}
	a.b.Send(mesh.ADMessage, []byte{2}, once)
	c.expectPDU(ctx, t, mesh.ADMessage, []byte{2})
	if s := a.b.Stats(); s.Transmissions != 2 || s.Datagrams != 3 {
		t.Fatalf("stats %+v, want 2 transmissions in 3 datagrams", s)
	}
	for _, bad := range []string{"127.0.0.1", "127.0.0.1:0", ":5001", "127.0.0.1:x"} {
		if err := a.b.AddPeer(bad); err == nil {
			t.Errorf("AddPeer(%q) succeeded", bad)
		}
	}
}

// TestBearer_Malformed sends bad datagrams from a plain socket, then a good
// one; the bad ones are counted by the time the good one is delivered (one
// socket pair on loopback keeps the order).
func TestBearer_Malformed(t *testing.T) {
	ctx := testContext(t)
	b := newNode(t, Config{})
	raw, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(loopback)))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	bad := [][]byte{
		{},
		{0x2a},
		append([]byte{0x2a}, make([]byte, MaxPayload+1)...),
		append([]byte{0x2a}, make([]byte, 1500)...),
		{0x29, 0x00, 0x01},
	}
	for _, d := range bad {
		if _, err := raw.WriteToUDPAddrPort(d, b.b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	good := append([]byte{0x2b}, make([]byte, MaxPayload)...)
	if _, err := raw.WriteToUDPAddrPort(good, b.b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	b.expectPDU(ctx, t, mesh.ADBeacon, good[1:])
	if s := b.b.Stats(); s.Dropped[DropMalformed] != uint64(len(bad)) || s.Received != 1 {
		t.Fatalf("stats %+v, want %d malformed", s, len(bad))
	}
}

func TestBearer_OnlyPeers(t *testing.T) {
	ctx := testContext(t)
	dropped, onDrop := drops()
	a, stranger := newNode(t, Config{}), newNode(t, Config{})
	b := newNode(t, Config{OnlyPeers: true, Peers: []string{a.addr()}, onDrop: onDrop})
	if err := stranger.b.AddPeer(b.addr()); err != nil {
		t.Fatal(err)
	}
	stranger.b.Send(mesh.ADMessage, []byte{1}, once)
	expectDrop(ctx, t, dropped, DropStranger)
	if err := a.b.AddPeer(b.addr()); err != nil {
		t.Fatal(err)
	}
	a.b.Send(mesh.ADMessage, []byte{2}, once)
	b.expectPDU(ctx, t, mesh.ADMessage, []byte{2})
}

func TestBearer_Loss(t *testing.T) {
	ctx := testContext(t)
	dropped, onDrop := drops()
	const n = 100
	b := newNode(t, Config{Loss: 0.5, Rand: rand.New(rand.NewPCG(1, 2)), onDrop: onDrop})
	a := newNode(t, Config{Peers: []string{b.addr()}, QueueLen: n})
	for i := range n {
		a.b.Send(mesh.ADMessage, []byte{byte(i)}, once)
	}
	lost, got := 0, 0
	for lost+got < n {
		select {
		case r := <-dropped:
			if r != DropLoss {
				t.Fatalf("dropped for %v", r)
			}
			lost++
		case <-b.rx:
			got++
		case <-ctx.Done():
			t.Fatalf("%d lost, %d received of %d: %v", lost, got, n, ctx.Err())
		}
	}
	if lost < n/5 || lost > n*4/5 {
		t.Fatalf("lost %d of %d at 50%% loss", lost, n)
	}
	if s := b.b.Stats(); s.Dropped[DropLoss] != uint64(lost) || s.Received != uint64(got) {
		t.Fatalf("stats %+v", s)
	}
}

func TestBearer_SendDrops(t *testing.T) {
	b := newNode(t, Config{})
	a := newNode(t, Config{QueueLen: 2, Peers: []string{b.addr()}})
	slow := mesh.Transmit{Count: 7, IntervalSteps: 31} // 8 transmissions 320 ms apart: busy for 2.2 s
	for range 3 {
		a.b.Send(mesh.ADMessage, []byte{1}, slow) // returns at once, even when full
	}
	a.b.Send(mesh.ADMessage, nil, once)
	a.b.Send(mesh.ADMessage, make([]byte, MaxPayload+1), once)
	a.b.Send(mesh.ADProvisioning, []byte{1}, once)
	s := a.b.Stats()
	if s.Sent != 2 || s.Dropped[DropQueueFull] != 1 || s.Dropped[DropInvalid] != 3 {
		t.Fatalf("stats %+v, want 2 sent, 1 queue-full, 3 invalid", s)
	}
	if err := a.b.Close(); err != nil { // with transmissions pending
		t.Fatal(err)
	}
	a.b.Send(mesh.ADMessage, []byte{1}, once)
	if s := a.b.Stats(); s.Dropped[DropClosed] != 1 {
		t.Fatalf("stats %+v, want 1 closed", s)
	}
}

// TestBearer_Backlog holds received PDUs in an executor that does not run
// them: beyond Config.Backlog they are dropped.
func TestBearer_Backlog(t *testing.T) {
	ctx := testContext(t)
	dropped, onDrop := drops()
	var mu sync.Mutex
	var held []func()
	posted := make(chan struct{}, 16)
	exec := executorFunc(func(f func()) {
		mu.Lock()
		held = append(held, f)
		mu.Unlock()
		posted <- struct{}{}
	})
	var got []byte // owned by whoever runs held functions: the test
	b, err := Open(Config{Listen: loopback, Executor: exec, Backlog: 2, onDrop: onDrop,
		Receive: func(_ mesh.ADType, p []byte) { got = append(got, p[0]) }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := newNode(t, Config{Peers: []string{b.LocalAddr().String()}})
	for i := range 3 {
		a.b.Send(mesh.ADMessage, []byte{byte(i)}, once)
	}
	for range 2 {
		select {
		case <-posted:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	expectDrop(ctx, t, dropped, DropBacklog)
	mu.Lock()
	run := held
	held = nil
	mu.Unlock()
	for _, f := range run {
		f()
	}
	if !bytes.Equal(got, []byte{0, 1}) {
		t.Fatalf("delivered %v, want [0 1]", got)
	}
	// The backlog has room again.
	a.b.Send(mesh.ADMessage, []byte{3}, once)
	select {
	case <-posted:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	held[0]() // delivery after Close: dropped
	mu.Unlock()
	if s := b.Stats(); s.Received != 2 || s.Dropped[DropBacklog] != 1 || s.Dropped[DropClosed] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

type executorFunc func(func())

func (e executorFunc) Post(f func()) { e(f) }

func TestBearer_NoReceiver(t *testing.T) {
	ctx := testContext(t)
	dropped, onDrop := drops()
	loop := runtime.New(runtime.Config{})
	loop.Start(ctx)
	defer loop.Close()
	b, err := Open(Config{Listen: loopback, Executor: loop, onDrop: onDrop})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := newNode(t, Config{Peers: []string{b.LocalAddr().String()}})
	a.b.Send(mesh.ADMessage, []byte{1}, once)
	expectDrop(ctx, t, dropped, DropNoReceiver)

	got := make(chan byte, 1)
	b.SetReceiver(func(_ mesh.ADType, p []byte) { got <- p[0] })
	a.b.Send(mesh.ADMessage, []byte{2}, once)
	select {
	case v := <-got:
		if v != 2 {
			t.Fatalf("received %d", v)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}

func TestBearer_Close(t *testing.T) {
	loop := runtime.New(runtime.Config{})
	loop.Start(t.Context())
	defer loop.Close()
	b, err := Open(Config{Listen: loopback, Executor: loop})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.LocalAddr()
	if !addr.Addr().IsLoopback() || addr.Port() == 0 {
		t.Fatalf("LocalAddr %v", addr)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	// The port is free again: the socket was closed.
	b2, err := Open(Config{Listen: addr.String(), Executor: loop})
	if err != nil {
		t.Fatalf("reopen %v: %v", addr, err)
	}
	b2.Close()
}

func TestOpen_Errors(t *testing.T) {
	loop := runtime.New(runtime.Config{})
	defer loop.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no executor", Config{Listen: loopback}},
		{"loss > 1", Config{Listen: loopback, Executor: loop, Loss: 1.5}},
		{"loss < 0", Config{Listen: loopback, Executor: loop, Loss: -0.1}},
		{"negative queue", Config{Listen: loopback, Executor: loop, QueueLen: -1}},
		{"bad listen", Config{Listen: "127.0.0.1:x", Executor: loop}},
		{"bad peer", Config{Listen: loopback, Executor: loop, Peers: []string{"127.0.0.1"}}},
	} {
		if b, err := Open(tc.cfg); err == nil {
			b.Close()
			t.Errorf("%s: Open succeeded", tc.name)
		}
	}
}

// TestBearer_Capture checks that a capturing node records its
// transmissions and what it receives as pcap records sim/pcap can parse.
func TestBearer_Capture(t *testing.T) {
	ctx := testContext(t)
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a := newNode(t, Config{Capture: w})
	b := newNode(t, Config{})
	link(t, a, b)
	a.b.Send(mesh.ADMessage, []byte{0x68, 1}, mesh.Transmit{Count: 1})
	b.expectPDU(ctx, t, mesh.ADMessage, []byte{0x68, 1})
	b.expectPDU(ctx, t, mesh.ADMessage, []byte{0x68, 1})
	b.b.Send(mesh.ADBeacon, []byte{0x01, 2}, once)
	a.expectPDU(ctx, t, mesh.ADBeacon, []byte{0x01, 2})
	if err := a.b.Close(); err != nil {
		t.Fatal(err)
	}
	if s := a.b.Stats(); s.CaptureErr != nil {
		t.Fatal(s.CaptureErr)
	}

	type record struct {
		advA [6]byte
		kind mesh.ADType
		data []byte
	}
	var recs []record
	p := buf.Bytes()
	if len(p) < 24 || binary.LittleEndian.Uint32(p[20:]) != pcap.LinkType {
		t.Fatalf("pcap header %x", p[:min(len(p), 24)])
	}
	for p = p[24:]; len(p) > 0; {
		if len(p) < 16 {
			t.Fatalf("truncated record header %x", p)
		}
		sec, usec, incl := binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]), int(binary.LittleEndian.Uint32(p[8:]))
		at := time.Unix(int64(sec), int64(usec)*1000)
		if at.Before(start.Truncate(time.Microsecond)) || at.After(time.Now()) {
			t.Errorf("record time %v not in the test's wall-clock span", at)
		}
		ll, err := pcap.ParseLL(p[16+10 : 16+incl]) // skip the pseudo-header
		if err != nil || len(ll.AD) != 1 {
			t.Fatalf("record %d: %v %+v", len(recs), err, ll)
		}
		recs = append(recs, record{ll.AdvA, ll.AD[0].Type, ll.AD[0].Data})
		p = p[16+incl:]
	}
	aAdv, bAdv := pcap.AdvAddress(int(a.b.LocalAddr().Port())), pcap.AdvAddress(int(b.b.LocalAddr().Port()))
	want := []record{
		{aAdv, mesh.ADMessage, []byte{0x68, 1}},
		{aAdv, mesh.ADMessage, []byte{0x68, 1}},
		{bAdv, mesh.ADBeacon, []byte{0x01, 2}},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i := range want {
		if recs[i].advA != want[i].advA || recs[i].kind != want[i].kind || !bytes.Equal(recs[i].data, want[i].data) {
			t.Errorf("record %d = %+v, want %+v", i, recs[i], want[i])
		}
	}
}

func TestDropReason_String(t *testing.T) {
	if DropQueueFull.String() != "queue-full" || DropNoReceiver.String() != "no-receiver" || NumDropReasons.String() != "DropReason(9)" {
		t.Fatal(DropQueueFull, DropNoReceiver, NumDropReasons)
	}
}
