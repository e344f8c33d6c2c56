package network

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

// airTime is how long the fake medium takes to deliver a transmission.
const airTime = time.Millisecond

// medium links fake bearers: a transmission reaches every linked node after
// airTime, once per Network Transmit / Relay Retransmit repetition.
type medium struct {
	clk   *faketime.Clock
	nodes []*testNode
	links map[[2]int]bool
}

type sentPDU struct {
	pdu []byte
	tx  mesh.Transmit
	at  time.Duration
}

type testNode struct {
	m     *medium
	id    int
	addr  mesh.Address
	iv    IVState
	l     *Layer
	rx    []Rx
	sent  []sentPDU
	group mesh.Address // a group the node listens to
}

func (n *testNode) Send(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	if kind != mesh.ADMessage {
		panic("unexpected AD type")
	}
	p := bytes.Clone(payload)
	n.sent = append(n.sent, sentPDU{p, tx, n.m.clk.Now().Sub(faketime.Epoch)})
	for i := range tx.Transmissions() {
		for _, o := range n.m.nodes {
			if n.m.links[[2]int{n.id, o.id}] {
				o := o
				n.m.clk.AfterFunc(time.Duration(i)*tx.Interval()+airTime, func() { o.l.Receive(p) })
			}
		}
	}
}

func (n *testNode) deliver(rx *Rx) {
	c := *rx
	c.TransportPDU = bytes.Clone(rx.TransportPDU)
	c.Raw = bytes.Clone(rx.Raw)
	n.rx = append(n.rx, c)
}

var testNetKey = testKey(0x42)

// newMedium makes n nodes with unicast addresses 1..n on NetKey 0, linked in
// a line (0–1–2–…), none relaying.
func newMedium(t *testing.T, n int) *medium {
	t.Helper()
	m := &medium{clk: faketime.New(), links: map[[2]int]bool{}}
	for i := range n {
		nd := &testNode{m: m, id: i, addr: mesh.Address(i + 1), iv: IVState{Index: 0x12345678}, group: 0xc001}
		subnets := NewSubnets()
		if _, err := subnets.Add(0, testNetKey); err != nil {
			t.Fatal(err)
		}
		nd.l = New(Config{
			Clock:           m.clk,
			Bearer:          nd,
			Rand:            rand.New(rand.NewPCG(uint64(i), 7)),
			Subnets:         subnets,
			IV:              func() IVState { return nd.iv },
			NetworkTransmit: mesh.Transmit{Count: 1, IntervalSteps: 1},
			RelayRetransmit: mesh.Transmit{Count: 1, IntervalSteps: 0},
			IsLocal:         func(a mesh.Address) bool { return a == nd.addr },
			Listens:         func(a mesh.Address) bool { return a == nd.group || a.IsFixedGroup() },
			Deliver:         nd.deliver,
		})
		m.nodes = append(m.nodes, nd)
		if i > 0 {
			m.link(i-1, i)
		}
	}
	return m
}

func (m *medium) link(a, b int) { m.links[[2]int{a, b}], m.links[[2]int{b, a}] = true, true }

func (m *medium) run(t *testing.T) {
	t.Helper()
	if !m.clk.RunUntilIdle(10 * time.Second) {
		t.Fatal("timers still pending after 10 s")
	}
}

var tp16 = []byte{0x80, 0x26, 0xac, 0x01, 0xee, 0x9d, 0xdd, 0xfd, 0x21, 0x69, 0x32, 0x6d, 0x23, 0xf3, 0xaf, 0xdf}

func TestRelayLine(t *testing.T) {
	m := newMedium(t, 3)
	a, b, c := m.nodes[0], m.nodes[1], m.nodes[2]
	b.l.SetRelay(true)
	if err := a.l.Send(&Tx{TTL: 5, SEQ: 7, SRC: a.addr, DST: c.addr, TransportPDU: tp16}); err != nil {
		t.Fatal(err)
	}
	m.run(t)
	if len(c.rx) != 1 {
		t.Fatalf("C received %d PDUs, want 1", len(c.rx))
	}
	got := c.rx[0]
	if got.TTL != 4 || got.SRC != a.addr || got.DST != c.addr || got.SEQ != 7 || got.IVIndex != 0x12345678 ||
		got.NetKeyIndex != 0 || got.Friendship || got.Loopback || !bytes.Equal(got.TransportPDU, tp16) {
		t.Fatalf("C got %+v", got)
	}
	if len(b.rx) != 0 {
		t.Fatalf("B delivered a PDU for C: %+v", b.rx)
	}
	// A sent 2 transmissions, B relayed once (Relay Retransmit: 2 more).
	if len(a.sent) != 1 || a.sent[0].tx != a.l.NetworkTransmit() || len(b.sent) != 1 || b.sent[0].tx != b.l.RelayRetransmit() {
		t.Fatalf("sent: A %d, B %d", len(a.sent), len(b.sent))
	}
	if d := b.sent[0].at - airTime; d < 0 || d > DefaultRelayDelay {
		t.Fatalf("relay delay %v outside [0, %v]", d, DefaultRelayDelay)
	}
	sb, sc := b.l.Stats(), c.l.Stats()
	if sb.Relayed != 1 || sb.DropCached != 1 || sb.Received != 2 {
		t.Fatalf("B stats %+v", sb)
	}
	if sc.Delivered != 1 || sc.DropCached != 1 {
		t.Fatalf("C stats %+v", sc)
	}
	if sa := a.l.Stats(); sa.DropOwnSRC != 2 || sa.Sent != 1 {
		t.Fatalf("A stats %+v (B's relay must be dropped as own SRC)", sa)
	}
}

func TestRelayNoLoops(t *testing.T) {
	// A ring of four relays: every node delivers a group message once and
	// the flood ends.
	m := newMedium(t, 4)
	m.link(3, 0)
	for _, n := range m.nodes {
		n.l.SetRelay(true)
	}
	a := m.nodes[0]
	if err := a.l.Send(&Tx{TTL: 127, SEQ: 1, SRC: a.addr, DST: 0xc001, TransportPDU: tp16[:5]}); err != nil {
		t.Fatal(err)
	}
	m.run(t)
	for _, n := range m.nodes {
		if len(n.rx) != 1 {
			t.Fatalf("node %d delivered %d copies, want 1", n.id, len(n.rx))
		}
		if n.id == 0 && !n.rx[0].Loopback {
			t.Fatal("A's own copy should be the loopback")
		}
		if s := n.l.Stats(); n.id != 0 && s.Relayed != 1 {
			t.Fatalf("node %d relayed %d times, want 1", n.id, s.Relayed)
		}
	}
	if s := m.nodes[2].l.Stats(); s.DropCached == 0 {
		t.Fatalf("node 2 never dropped a cached copy: %+v", s)
	}
}

func TestRelayTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl      uint8
		reachesC bool
		cTTL     uint8
	}{
		{0, false, 0}, {1, false, 0}, {2, true, 1}, {3, true, 2}, {127, true, 126},
	} {
		m := newMedium(t, 3)
		a, b, c := m.nodes[0], m.nodes[1], m.nodes[2]
		b.l.SetRelay(true)
		if err := a.l.Send(&Tx{TTL: tc.ttl, SEQ: 1, SRC: a.addr, DST: 0xc001, TransportPDU: tp16[:4]}); err != nil {
			t.Fatal(err)
		}
		m.run(t)
		if tc.ttl == 1 {
			// Output filter: TTL 1 never leaves A; B hears nothing.
			if len(a.sent) != 0 || a.l.Stats().TxFiltered != 1 || len(b.rx) != 0 {
				t.Fatalf("TTL 1: A sent %d, B received %d", len(a.sent), len(b.rx))
			}
			// A TTL 1 PDU that does arrive (from a relay) is delivered but not relayed.
			pdu, _ := b.l.Subnets().keys[0].Credentials().Seal(nil,
				&Header{TTL: 1, SEQ: 2, SRC: a.addr, DST: 0xc001}, tp16[:4], 0x12345678)
			b.l.Receive(pdu)
			m.run(t)
			if len(b.rx) != 1 || len(b.sent) != 0 {
				t.Fatalf("TTL 1 received: B delivered %d, sent %d", len(b.rx), len(b.sent))
			}
			continue
		}
		if len(b.rx) != 1 || b.rx[0].TTL != tc.ttl {
			t.Fatalf("TTL %d: B received %+v", tc.ttl, b.rx)
		}
		if (len(c.rx) == 1) != tc.reachesC || (tc.reachesC && c.rx[0].TTL != tc.cTTL) {
			t.Fatalf("TTL %d: C received %+v", tc.ttl, c.rx)
		}
		if (len(b.sent) == 1) != tc.reachesC {
			t.Fatalf("TTL %d: B relayed %d", tc.ttl, len(b.sent))
		}
	}
}

func TestRelayOffAndToggle(t *testing.T) {
	m := newMedium(t, 3)
	a, b, c := m.nodes[0], m.nodes[1], m.nodes[2]
	if b.l.Relay() {
		t.Fatal("relay on by default")
	}
	a.l.Send(&Tx{TTL: 5, SEQ: 1, SRC: a.addr, DST: c.addr, TransportPDU: tp16[:4]})
	m.run(t)
	if len(c.rx) != 0 || len(b.sent) != 0 {
		t.Fatal("relayed with Relay off")
	}
	// Relay turned off between reception and the relay delay: no relay.
	b.l.SetRelay(true)
	a.l.Send(&Tx{TTL: 5, SEQ: 2, SRC: a.addr, DST: c.addr, TransportPDU: tp16[:4]})
	m.clk.Advance(airTime)
	b.l.SetRelay(false)
	m.run(t)
	if len(c.rx) != 0 || b.l.Stats().Relayed != 0 {
		t.Fatal("relayed after Relay was turned off")
	}
}

func TestSendLoopback(t *testing.T) {
	m := newMedium(t, 2)
	a, b := m.nodes[0], m.nodes[1]
	var inDeliver bool
	a.l.deliver = func(rx *Rx) {
		if inDeliver {
			t.Fatal("Deliver re-entered")
		}
		inDeliver = true
		a.deliver(rx)
		if rx.DST == a.addr && rx.SEQ == 1 {
			// A reply from inside Deliver must not re-enter Deliver.
			if err := a.l.Send(&Tx{TTL: 3, SEQ: 9, SRC: a.addr, DST: a.addr, TransportPDU: []byte{9}}); err != nil {
				t.Error(err)
			}
		}
		inDeliver = false
	}
	// To its own unicast: loopback only, nothing on the air.
	if err := a.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: a.addr, DST: a.addr, TransportPDU: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if len(a.rx) != 0 {
		t.Fatal("loopback delivered inside Send")
	}
	m.run(t)
	if len(a.sent) != 0 || len(a.rx) != 2 || !a.rx[0].Loopback || a.rx[0].SEQ != 1 || a.rx[1].SEQ != 9 ||
		!bytes.Equal(a.rx[0].TransportPDU, []byte{1, 2}) || a.rx[0].IVIndex != 0x12345678 || a.rx[0].IVI != 0 {
		t.Fatalf("own unicast: sent %d, rx %+v", len(a.sent), a.rx)
	}
	// The looped-back Raw is the PDU as sealed.
	if h, tp, err := a.l.Subnets().keys[0].Credentials().Open(nil, a.rx[0].Raw, 0x12345678); err != nil ||
		h != a.rx[0].Header || !bytes.Equal(tp, []byte{1, 2}) {
		t.Fatalf("loopback Raw does not open: %+v %v", h, err)
	}
	// To a group it listens to: loopback and air. To one it does not: air only.
	a.rx = nil
	a.l.Send(&Tx{TTL: 3, SEQ: 2, SRC: a.addr, DST: 0xc001, TransportPDU: []byte{3}})
	a.l.Send(&Tx{TTL: 3, SEQ: 3, SRC: a.addr, DST: 0xc002, TransportPDU: []byte{4}})
	a.l.Send(&Tx{TTL: 3, SEQ: 4, SRC: a.addr, DST: mesh.AddrAllNodes, TransportPDU: []byte{5}})
	a.l.Send(&Tx{TTL: 3, SEQ: 5, SRC: a.addr, DST: b.addr, TransportPDU: []byte{6}})
	m.run(t)
	if len(a.rx) != 2 || a.rx[0].DST != 0xc001 || a.rx[1].DST != mesh.AddrAllNodes || len(a.sent) != 4 {
		t.Fatalf("group loopback: rx %+v, sent %d", a.rx, len(a.sent))
	}
	if len(b.rx) != 4 {
		t.Fatalf("B received %d, want 4 (the upper layers filter groups)", len(b.rx))
	}
	if s := a.l.Stats(); s.Loopback != 4 || s.Sent != 4 {
		t.Fatalf("A stats %+v", s)
	}
}

func TestSendErrors(t *testing.T) {
	m := newMedium(t, 1)
	a := m.nodes[0]
	if err := a.l.Send(&Tx{NetKeyIndex: 3, TTL: 3, SEQ: 1, SRC: 1, DST: 2, TransportPDU: []byte{1}}); !errors.Is(err, ErrUnknownNetKey) {
		t.Fatalf("unknown NetKey: %v", err)
	}
	if err := a.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: 1, DST: 2, TransportPDU: make([]byte, 17)}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("17 octets: %v", err)
	}
	if err := a.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: 0xc000, DST: 2, TransportPDU: []byte{1}}); !errors.Is(err, ErrBadSRC) {
		t.Fatalf("group SRC: %v", err)
	}
	if len(a.sent) != 0 {
		t.Fatal("failed Send reached the bearer")
	}
}

func TestReceiveDrops(t *testing.T) {
	m := newMedium(t, 2)
	a, b := m.nodes[0], m.nodes[1]
	creds := NewCredentials(testNetKey, ManagedFloodingP)
	seal := func(h Header, iv uint32) []byte {
		pdu, err := creds.Seal(nil, &h, []byte{1, 2, 3}, iv)
		if err != nil {
			t.Fatal(err)
		}
		return pdu
	}
	good := seal(Header{TTL: 3, SEQ: 1, SRC: a.addr, DST: b.addr}, 0x12345678)
	badMIC := bytes.Clone(good)
	badMIC[len(badMIC)-1] ^= 1
	otherNID := bytes.Clone(good)
	otherNID[0] ^= 0x01 // no credentials with that NID (checked below)
	if len(b.l.Subnets().Candidates(otherNID[0]&0x7f)) != 0 {
		t.Fatal("test assumption: NID^1 unused")
	}
	steps := []struct {
		name  string
		pdu   []byte
		count func(Stats) uint64
	}{
		{"too short", good[:13], func(s Stats) uint64 { return s.DropLength }},
		{"too long", append(bytes.Clone(good), make([]byte, 29-len(good)+1)...), func(s Stats) uint64 { return s.DropLength }},
		{"unknown NID", otherNID, func(s Stats) uint64 { return s.DropUnknownNID }},
		{"bad NetMIC", badMIC, func(s Stats) uint64 { return s.DropAuth }},
		{"old IV Index", seal(Header{TTL: 3, SEQ: 1, SRC: a.addr, DST: b.addr}, 0x12345676), func(s Stats) uint64 { return s.DropAuth }},
		{"own SRC", seal(Header{TTL: 3, SEQ: 1, SRC: b.addr, DST: 0xc001}, 0x12345678), func(s Stats) uint64 { return s.DropOwnSRC }},
		{"delivered", good, func(s Stats) uint64 { return s.Delivered }},
		{"cached", good, func(s Stats) uint64 { return s.DropCached }},
		{"previous IV Index", seal(Header{TTL: 3, SEQ: 1, SRC: a.addr, DST: b.addr}, 0x12345677), func(s Stats) uint64 { return s.Delivered }},
		{"not for us, not relaying", seal(Header{TTL: 3, SEQ: 2, SRC: a.addr, DST: 0x0077}, 0x12345678), func(s Stats) uint64 { return s.Received }},
	}
	for _, st := range steps {
		before := st.count(b.l.Stats())
		b.l.Receive(st.pdu)
		if got := st.count(b.l.Stats()); got != before+1 {
			t.Errorf("%s: counter %d → %d, want +1 (%+v)", st.name, before, got, b.l.Stats())
		}
	}
	if len(b.rx) != 2 || b.rx[1].IVIndex != 0x12345677 {
		t.Fatalf("B delivered %+v", b.rx)
	}
	// Bad addresses can only come from a sender that skips the checks.
	c := creds
	forge := func(src, dst mesh.Address) []byte {
		pdu := []byte{c.nid, 3, 0, 0, 9, byte(src >> 8), byte(src)}
		n := crypto.NetworkNonce(3, 9, uint16(src), 0x12345678)
		pdu, _ = crypto.NewCCM(c.encKey).Seal(pdu, &n, []byte{byte(dst >> 8), byte(dst), 1}, nil, 4)
		c.pecbFor(pdu[7:], 0x12345678)
		for i := 1; i < 7; i++ {
			pdu[i] ^= c.pecb[i-1]
		}
		return pdu
	}
	b.l.Receive(forge(0xc000, b.addr))
	b.l.Receive(forge(0, b.addr))
	b.l.Receive(forge(a.addr, 0))
	if s := b.l.Stats(); s.DropBadSRC != 2 || s.DropBadDST != 1 {
		t.Fatalf("bad address counters %+v", s)
	}
	// IV Index 0: a PDU claiming IVI 1 (IV Index −1) is dropped.
	b.iv = IVState{}
	b.l.Receive(seal(Header{TTL: 3, SEQ: 5, SRC: a.addr, DST: b.addr}, 0xffffffff))
	if s := b.l.Stats(); s.DropIVIndex != 1 {
		t.Fatalf("IV Index drop %+v", s)
	}
}

func TestIVUpdateAcrossNodes(t *testing.T) {
	// A is in IV Update (m = n+1, transmits n); B still Normal at n.
	m := newMedium(t, 2)
	a, b := m.nodes[0], m.nodes[1]
	a.iv = IVState{Index: 0x12345679, Updating: true}
	a.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: a.addr, DST: b.addr, TransportPDU: []byte{1}})
	m.run(t)
	// Both back to Normal at n+1; SEQ restarts, and the cache keeps the
	// same SEQ under another IV Index apart.
	a.iv = IVState{Index: 0x12345679}
	b.iv = IVState{Index: 0x12345679}
	a.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: a.addr, DST: b.addr, TransportPDU: []byte{2}})
	m.run(t)
	if len(b.rx) != 2 || b.rx[0].IVIndex != 0x12345678 || b.rx[1].IVIndex != 0x12345679 {
		t.Fatalf("B received %+v", b.rx)
	}
}

func TestKeyRefreshAcrossNodes(t *testing.T) {
	m := newMedium(t, 2)
	a, b := m.nodes[0], m.nodes[1]
	newKey := testKey(0x99)
	for _, n := range m.nodes {
		if _, err := n.l.Subnets().Update(0, newKey); err != nil {
			t.Fatal(err)
		}
	}
	// A in phase 2 transmits with the new key; B in phase 1 accepts it.
	a.l.Subnets().SetPhase(0, Phase2)
	a.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: a.addr, DST: b.addr, TransportPDU: []byte{1}})
	// B in phase 1 transmits with the old key; A in phase 2 accepts it.
	b.l.Send(&Tx{TTL: 3, SEQ: 1, SRC: b.addr, DST: a.addr, TransportPDU: []byte{2}})
	m.run(t)
	if len(b.rx) != 1 || !b.rx[0].NewKey || len(a.rx) != 1 || a.rx[0].NewKey {
		t.Fatalf("A rx %+v, B rx %+v", a.rx, b.rx)
	}
	// A revokes the old key: B's old-key PDUs no longer authenticate.
	a.l.Subnets().SetPhase(0, Phase3)
	b.l.Send(&Tx{TTL: 3, SEQ: 2, SRC: b.addr, DST: a.addr, TransportPDU: []byte{3}})
	m.run(t)
	if len(a.rx) != 1 {
		t.Fatalf("A accepted a revoked key: %+v", a.rx)
	}
}

func TestFriendshipSendReceive(t *testing.T) {
	m := newMedium(t, 2)
	a, b := m.nodes[0], m.nodes[1] // A is the LPN, B the Friend
	var fa, fb *Friendship
	for _, n := range m.nodes {
		f, err := n.l.Subnets().AddFriendship(0, a.addr, b.addr, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n == a {
			fa = f
		} else {
			fb = f
		}
	}
	b.l.SetRelay(true)
	if err := a.l.Send(&Tx{TTL: 5, SEQ: 1, CTL: true, SRC: a.addr, DST: 0xc001, TransportPDU: []byte{1, 0}, Friendship: fa.Tx()}); err != nil {
		t.Fatal(err)
	}
	m.run(t)
	if len(a.sent) != 1 || a.sent[0].tx != (mesh.Transmit{}) {
		t.Fatalf("friendship PDU sent %+v, want one transmission", a.sent)
	}
	if len(b.rx) != 1 || !b.rx[0].Friendship || b.rx[0].Friend != fb || !b.rx[0].CTL {
		t.Fatalf("B received %+v", b.rx)
	}
	if len(b.sent) != 0 {
		t.Fatal("the network layer relayed a friendship PDU (the Friend feature does that)")
	}
}

func TestReceiveAllocs(t *testing.T) {
	m := newMedium(t, 2)
	a, b := m.nodes[0], m.nodes[1]
	b.l.deliver = func(*Rx) {}
	creds := NewCredentials(testNetKey, ManagedFloodingP)
	var pdus [][]byte
	for seq := range uint32(300) {
		p, _ := creds.Seal(nil, &Header{TTL: 3, SEQ: seq, SRC: a.addr, DST: b.addr}, tp16, 0x12345678)
		pdus = append(pdus, p)
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() {
		b.l.Receive(pdus[i])
		i++
	}); n != 0 {
		t.Fatalf("Receive: %v allocations, want 0", n)
	}
	if s := b.l.Stats(); s.Delivered != uint64(i) {
		t.Fatalf("delivered %d of %d", s.Delivered, i)
	}
}

func TestNewDefaults(t *testing.T) {
	m := newMedium(t, 1)
	l := New(Config{Clock: m.clk, Bearer: m.nodes[0]})
	if l.Subnets() == nil || l.cache.Size() != DefaultCacheSize || l.relayDelay != DefaultRelayDelay {
		t.Fatal("defaults not applied")
	}
	l.Receive([]byte{1, 2, 3}) // no panic with nil funcs
	l.SetNetworkTransmit(mesh.Transmit{Count: 3})
	l.SetRelayRetransmit(mesh.Transmit{Count: 2})
	if l.NetworkTransmit().Count != 3 || l.RelayRetransmit().Count != 2 {
		t.Fatal("setters")
	}
	l.ResetCache()
	defer func() {
		if recover() == nil {
			t.Fatal("New without a Clock did not panic")
		}
	}()
	New(Config{})
}

// BenchmarkReceive measures Layer.Receive of a 29-octet PDU for a local
// unicast address: NID lookup, Open, cache, Deliver.
func BenchmarkReceive(b *testing.B) {
	clk := faketime.New()
	subnets := NewSubnets()
	subnets.Add(0, testNetKey)
	l := New(Config{Clock: clk, Bearer: &nopBearer{}, Subnets: subnets,
		IsLocal: func(a mesh.Address) bool { return a == 2 }, CacheSize: 256})
	creds := NewCredentials(testNetKey, ManagedFloodingP)
	pdus := make([][]byte, 4096)
	for i := range pdus {
		pdus[i], _ = creds.Seal(nil, &Header{TTL: 3, SEQ: uint32(i), SRC: 1, DST: 2}, tp16, 0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Receive(pdus[i%len(pdus)])
		i++
	}
	if l.Stats().Delivered == 0 {
		b.Fatal("nothing delivered")
	}
}
