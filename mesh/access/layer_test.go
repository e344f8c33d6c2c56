package access

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

type sent struct {
	at      time.Duration
	ctx     Context
	payload []byte
}

type harness struct {
	clk   *faketime.Clock
	layer *Layer
	sent  []sent
	ttl   uint8
	fixed map[mesh.Address]bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{clk: faketime.New(), ttl: 5, fixed: map[mesh.Address]bool{}}
	l, err := New(Config{
		Clock:       h.clk,
		Rand:        rand.New(rand.NewPCG(1, 2)),
		Primary:     func() mesh.Address { return 0x0100 },
		DefaultTTL:  func() uint8 { return h.ttl },
		FixedGroup:  func(a mesh.Address) bool { return h.fixed[a] },
		BoundNetKey: func(uint16) uint16 { return 3 },
		Send: func(ctx *Context, payload []byte, done func(error)) error {
			h.sent = append(h.sent, sent{h.clk.Now().Sub(faketime.Epoch), *ctx, append([]byte(nil), payload...)})
			if done != nil {
				done(nil)
			}
			return nil
		},
		Composition: CompositionHeader{CID: 0x05f1, PID: 1, VID: 2, CRPL: 32, Features: FeatureRelay},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.layer = l
	return h
}

type recorder struct{ got []string }

func (r *recorder) model(name string, id ModelID, ops ...Opcode) *Model {
	m := &Model{ID: id}
	for _, o := range ops {
		o := o
		m.Ops = append(m.Ops, Op{Opcode: o, Len: LenRange(0, 2), Handler: func(ctx *Context, p []byte) {
			r.got = append(r.got, name+"@"+ctx.Dst.String()+":"+o.String())
		}})
	}
	return m
}

func TestNewRequiresConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New accepted an empty Config")
	}
}

func TestReceiveDelivery(t *testing.T) {
	label := [16]byte{0xf4, 0xa0, 0x02, 0xc7, 0xfb, 0x1e, 0x4c, 0xa0, 0xa4, 0x69, 0xa0, 0x21, 0xde, 0x0d, 0xb8, 0x75}
	virt := mesh.Address(crypto.VirtualAddress(label))
	other := label
	other[0] ^= 1
	const opA, opB = Opcode(0x8201), Opcode(0x8202)

	h := newHarness(t)
	var r recorder
	a0 := r.model("a0", 0x1000, opA)
	dev := r.model("dev", 0x0000, opA)
	dev.DevKey = true
	b1 := r.model("b1", 0x1000, opA, opB)
	if _, err := h.layer.AddElement(0, dev, a0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.layer.AddElement(1, b1); err != nil {
		t.Fatal(err)
	}
	must(t, a0.Bind(1))
	must(t, b1.Bind(1))
	must(t, b1.Bind(2))
	must(t, b1.Subscribe(0xc001, nil))
	must(t, b1.Subscribe(0, &label))
	h.fixed[mesh.AddrAllRelays] = true

	for _, tc := range []struct {
		name string
		ctx  Context
		msg  []byte
		want []string
		st   func(Stats) uint64
	}{
		{"unicast primary, AppKey", Context{Dst: 0x0100, AppKeyIndex: 1}, []byte{0x82, 0x01}, []string{"a0@0x0100:0x8201"}, nil},
		{"unicast primary, DevKey", Context{Dst: 0x0100, DevKey: true}, []byte{0x82, 0x01}, []string{"dev@0x0100:0x8201"}, nil},
		{"unicast second element", Context{Dst: 0x0101, AppKeyIndex: 2}, []byte{0x82, 0x02, 9}, []string{"b1@0x0101:0x8202"}, nil},
		{"unbound AppKey", Context{Dst: 0x0100, AppKeyIndex: 2}, []byte{0x82, 0x01}, nil, func(s Stats) uint64 { return s.WrongKey }},
		{"DevKey to AppKey model", Context{Dst: 0x0101, DevKey: true}, []byte{0x82, 0x01}, nil, func(s Stats) uint64 { return s.WrongKey }},
		{"subscribed group", Context{Dst: 0xc001, AppKeyIndex: 1}, []byte{0x82, 0x01}, []string{"b1@0xc001:0x8201"}, nil},
		{"unsubscribed group", Context{Dst: 0xc002, AppKeyIndex: 1}, []byte{0x82, 0x01}, nil, func(s Stats) uint64 { return s.UnknownOpcode }},
		{"virtual with label", Context{Dst: virt, Label: &label, AppKeyIndex: 1}, []byte{0x82, 0x01}, []string{"b1@" + virt.String() + ":0x8201"}, nil},
		{"virtual, other label same hash", Context{Dst: virt, Label: &other, AppKeyIndex: 1}, []byte{0x82, 0x01}, nil, func(s Stats) uint64 { return s.UnknownOpcode }},
		{"all-nodes: primary only", Context{Dst: mesh.AddrAllNodes, AppKeyIndex: 1}, []byte{0x82, 0x01}, []string{"a0@0xffff:0x8201"}, nil},
		{"all-relays enabled", Context{Dst: mesh.AddrAllRelays, AppKeyIndex: 1}, []byte{0x82, 0x01}, []string{"a0@0xfffe:0x8201"}, nil},
		{"all-friends disabled", Context{Dst: mesh.AddrAllFriends, AppKeyIndex: 1}, []byte{0x82, 0x01}, nil, func(s Stats) uint64 { return s.UnknownOpcode }},
		{"unknown opcode", Context{Dst: 0x0100, AppKeyIndex: 1}, []byte{0x82, 0x09}, nil, func(s Stats) uint64 { return s.UnknownOpcode }},
		{"opcode on other element", Context{Dst: 0x0100, AppKeyIndex: 2}, []byte{0x82, 0x02}, nil, func(s Stats) uint64 { return s.UnknownOpcode }},
		{"too long for LenRule", Context{Dst: 0x0100, AppKeyIndex: 1}, []byte{0x82, 0x01, 1, 2, 3}, nil, func(s Stats) uint64 { return s.BadLength }},
		{"bad opcode", Context{Dst: 0x0100, AppKeyIndex: 1}, []byte{0x7f}, nil, func(s Stats) uint64 { return s.BadOpcode }},
		{"outside our elements", Context{Dst: 0x0102, AppKeyIndex: 1}, []byte{0x82, 0x01}, nil, func(s Stats) uint64 { return s.UnknownOpcode }},
	} {
		r.got = nil
		before := h.layer.Stats()
		c := tc.ctx
		h.layer.Receive(&c, tc.msg)
		if len(r.got) != len(tc.want) || (len(r.got) > 0 && r.got[0] != tc.want[0]) {
			t.Errorf("%s: delivered %v, want %v", tc.name, r.got, tc.want)
		}
		if tc.st != nil && tc.st(h.layer.Stats()) <= tc.st(before) {
			t.Errorf("%s: counter did not move: %+v", tc.name, h.layer.Stats())
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAddElementErrors(t *testing.T) {
	h := newHarness(t)
	a, b := &Model{ID: 1}, &Model{ID: 1}
	if _, err := h.layer.AddElement(0, a, b); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate ID: %v", err)
	}
	if _, err := h.layer.AddElement(0, a); err != nil {
		t.Fatal(err)
	}
	if _, err := h.layer.AddElement(0, a); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("model twice: %v", err)
	}
	if h.layer.Model(0x0100, 1) != a || h.layer.Model(0x0101, 1) != nil || h.layer.Element(0xc000) != nil {
		t.Fatal("lookup")
	}
}

func TestSendAndReply(t *testing.T) {
	h := newHarness(t)
	m := &Model{ID: 0x1001}
	dev := &Model{ID: 0x0001, DevKey: true}
	if _, err := h.layer.AddElement(0, dev); err != nil {
		t.Fatal(err)
	}
	if _, err := h.layer.AddElement(0, m); err != nil {
		t.Fatal(err)
	}
	msg := &rawMsg{0x8003, []byte{7}}
	if err := h.layer.Send(m, &Context{Dst: 0x0200, AppKeyIndex: 4, TTL: DefaultTTL}, msg, nil); !errors.Is(err, ErrNotBound) {
		t.Fatalf("unbound send: %v", err)
	}
	if err := h.layer.Send(m, &Context{Dst: 0x0200, DevKey: true}, msg, nil); !errors.Is(err, ErrNotBound) {
		t.Fatalf("DevKey send from AppKey model: %v", err)
	}
	must(t, m.Bind(4))
	must(t, h.layer.Send(m, &Context{Dst: 0x0200, AppKeyIndex: 4, TTL: DefaultTTL}, msg, nil))
	if len(h.sent) != 1 || h.sent[0].ctx.Src != 0x0101 || h.sent[0].ctx.TTL != 5 || string(h.sent[0].payload) != "\x80\x03\x07" {
		t.Fatalf("send: %+v", h.sent)
	}

	for _, tc := range []struct {
		name     string
		req      Context
		ttl      uint8
		min, max time.Duration
	}{
		{"unicast request", Context{Src: 0x0300, Dst: 0x0100, DevKey: true, NetKeyIndex: 2, RecvTTL: 4}, 5, 20 * time.Millisecond, 50 * time.Millisecond},
		{"TTL 0 request", Context{Src: 0x0300, Dst: 0x0100, DevKey: true, RecvTTL: 0}, 0, 20 * time.Millisecond, 50 * time.Millisecond},
		{"group request", Context{Src: 0x0300, Dst: 0xc000, DevKey: true, RecvTTL: 3}, 5, 20 * time.Millisecond, 500 * time.Millisecond},
	} {
		for range 20 {
			h.sent = nil
			start := h.clk.Now()
			var doneErr error = errors.New("not run")
			must(t, h.layer.Reply(dev, &tc.req, msg, func(err error) { doneErr = err }))
			if len(h.sent) != 0 {
				t.Fatalf("%s: reply sent without delay", tc.name)
			}
			h.clk.Advance(time.Second)
			if len(h.sent) != 1 || doneErr != nil {
				t.Fatalf("%s: %d sent, done %v", tc.name, len(h.sent), doneErr)
			}
			s := h.sent[0]
			d := faketime.Epoch.Add(s.at).Sub(start)
			if d < tc.min || d > tc.max {
				t.Fatalf("%s: delay %v", tc.name, d)
			}
			if s.ctx.Dst != tc.req.Src || s.ctx.Src != 0x0100 || s.ctx.TTL != tc.ttl || s.ctx.DevKey != tc.req.DevKey || s.ctx.NetKeyIndex != tc.req.NetKeyIndex {
				t.Fatalf("%s: reply context %+v", tc.name, s.ctx)
			}
		}
	}
}

func TestPublish(t *testing.T) {
	h := newHarness(t)
	ticks := 0
	m := &Model{ID: 0x1000}
	m.PeriodicPublish = func() { ticks++ }
	msg := &rawMsg{0x8201, nil}
	if err := m.SetPublication(Publication{Address: 0xc000}); !errors.Is(err, ErrNotAdded) {
		t.Fatalf("before AddElement: %v", err)
	}
	if _, err := h.layer.AddElement(0, m); err != nil {
		t.Fatal(err)
	}
	if err := h.layer.Publish(m, msg, nil); !errors.Is(err, ErrNoPublication) {
		t.Fatalf("unconfigured: %v", err)
	}
	for _, bad := range []Publication{
		{Address: 0xc000, TTL: 0x80},
		{Address: 0xc000, AppKeyIndex: 0x1000},
		{Address: 0x8123},
	} {
		if err := m.SetPublication(bad); !errors.Is(err, ErrProhibited) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	pub := Publication{Address: 0xc000, AppKeyIndex: 1, TTL: DefaultTTL, CredentialFlag: true,
		Period: NewPublishPeriod(2, 1), Retransmit: PublishRetransmit{Count: 2, IntervalSteps: 1}}
	must(t, m.SetPublication(pub))
	if err := h.layer.Publish(m, msg, nil); !errors.Is(err, ErrNotBound) {
		t.Fatalf("unbound publish: %v", err)
	}
	must(t, m.Bind(1))
	must(t, h.layer.Publish(m, msg, nil))
	h.clk.Advance(250 * time.Millisecond)
	if len(h.sent) != 3 {
		t.Fatalf("%d transmissions, want 1 + 2 retransmissions", len(h.sent))
	}
	for i, s := range h.sent {
		if s.at != time.Duration(i)*100*time.Millisecond || s.ctx.Dst != 0xc000 || s.ctx.TTL != 5 || !s.ctx.Friendship || s.ctx.NetKeyIndex != 3 {
			t.Fatalf("transmission %d: %+v", i, s)
		}
	}
	// A new publication cancels pending retransmissions.
	h.sent = nil
	must(t, h.layer.Publish(m, msg, nil))
	h.clk.Advance(50 * time.Millisecond)
	must(t, h.layer.Publish(m, &rawMsg{0x8202, nil}, nil))
	h.clk.Advance(time.Second)
	if len(h.sent) != 4 || string(h.sent[0].payload) != "\x82\x01" || string(h.sent[1].payload) != "\x82\x02" || string(h.sent[3].payload) != "\x82\x02" {
		t.Fatalf("after overlap: %d sent %+v", len(h.sent), h.sent)
	}
	// Period: 2 × 1 s.
	ticks = 0
	h.clk.Advance(5 * time.Second)
	if ticks < 2 || ticks > 3 {
		t.Fatalf("%d periodic ticks in 5 s, want 2–3", ticks)
	}
	must(t, m.SetPublication(Publication{}))
	ticks = 0
	h.clk.Advance(10 * time.Second)
	if ticks != 0 || m.Publication().Address != 0 {
		t.Fatalf("period kept running after clear: %d", ticks)
	}
	// Unbinding the publish key clears the publication.
	must(t, m.SetPublication(pub))
	m.Unbind(1)
	if m.Publication().Address != mesh.AddrUnassigned {
		t.Fatal("publication survived unbind")
	}
	// Virtual publication carries the label.
	label := [16]byte{1}
	must(t, m.Bind(1))
	must(t, m.SetPublication(Publication{Label: &label, AppKeyIndex: 1}))
	h.sent = nil
	must(t, h.layer.Publish(m, msg, nil))
	if s := h.sent[0].ctx; s.Label == nil || *s.Label != label || s.Dst != mesh.Address(crypto.VirtualAddress(label)) || s.TTL != 0 {
		t.Fatalf("virtual publish ctx %+v", s)
	}
	noPub := &Model{ID: 2, NoPublication: true}
	if _, err := h.layer.AddElement(0, noPub); err != nil {
		t.Fatal(err)
	}
	if err := noPub.SetPublication(pub); !errors.Is(err, ErrNoPublication) {
		t.Fatalf("NoPublication: %v", err)
	}
}

func TestModelLists(t *testing.T) {
	m := &Model{ID: 1, MaxBindings: 2, MaxSubscriptions: 1}
	must(t, m.Bind(1))
	must(t, m.Bind(1))
	must(t, m.Bind(2))
	if err := m.Bind(3); !errors.Is(err, ErrFull) {
		t.Fatalf("bind full: %v", err)
	}
	if err := m.Bind(0x1000); !errors.Is(err, ErrProhibited) {
		t.Fatalf("bind 0x1000: %v", err)
	}
	if !m.Unbind(1) || m.Unbind(1) || len(m.Bindings()) != 1 {
		t.Fatal("unbind")
	}
	for _, a := range []mesh.Address{0, 0x0001, 0x8000, mesh.AddrAllNodes} {
		if err := m.Subscribe(a, nil); !errors.Is(err, ErrProhibited) {
			t.Errorf("subscribe %s: %v", a, err)
		}
	}
	must(t, m.Subscribe(0xc000, nil))
	if err := m.Subscribe(0xc001, nil); !errors.Is(err, ErrFull) {
		t.Fatalf("subscribe full: %v", err)
	}
	if !m.Unsubscribe(0xc000, nil) || m.Unsubscribe(0xc000, nil) {
		t.Fatal("unsubscribe")
	}
	label := [16]byte{9}
	must(t, m.Subscribe(0, &label))
	subs := m.Subscriptions()
	if len(subs) != 1 || *subs[0].Label != label || !subs[0].Address.IsVirtual() {
		t.Fatalf("subs %+v", subs)
	}
	m.ClearSubscriptions()
	if len(m.Subscriptions()) != 0 {
		t.Fatal("clear")
	}
	d := &Model{ID: 2, DevKey: true}
	if err := d.Bind(0); !errors.Is(err, ErrNotBound) {
		t.Fatalf("DevKey bind: %v", err)
	}
	n := &Model{ID: 3, NoSubscriptions: true}
	if err := n.Subscribe(0xc000, nil); !errors.Is(err, ErrFull) {
		t.Fatalf("NoSubscriptions: %v", err)
	}
}

func TestLayerComposition(t *testing.T) {
	h := newHarness(t)
	if _, err := h.layer.AddElement(0x0100, &Model{ID: 0}, &Model{ID: VendorModel(0x05f1, 1)}, &Model{ID: 0x1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.layer.AddElement(0x0101); err != nil {
		t.Fatal(err)
	}
	c := h.layer.Composition()
	b, err := c.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "f1 05 01 00 02 00 20 00 01 00  00 01 02 01 00 00 00 10 f1 05 01 00  01 01 00 00")
	if string(b) != string(want) {
		t.Fatalf("composition %x\nwant        %x", b, want)
	}
}

func TestPublishPeriod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p PublishPeriod
		d time.Duration
	}{
		{0x00, 0}, {0x01, 100 * time.Millisecond}, {0x3f, 6300 * time.Millisecond}, {0x41, time.Second},
		{0x8a, 100 * time.Second}, {0xc2, 20 * time.Minute}, {0xc0, 0},
	} {
		if got := tc.p.Duration(); got != tc.d {
			t.Errorf("%#02x: %v, want %v", uint8(tc.p), got, tc.d)
		}
	}
	r := PublishRetransmitFromByte(0x0b)
	if r.Count != 3 || r.IntervalSteps != 1 || r.Interval() != 100*time.Millisecond || r.Byte() != 0x0b {
		t.Fatalf("retransmit %+v", r)
	}
}
