package transport

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

func addr(a uint16) mesh.Address { return mesh.Address(a) }

// memKeys is a KeyStore over maps.
type memKeys struct {
	dev    map[mesh.Address]crypto.Key
	apps   []AppKey
	labels [][16]byte
}

func (k *memKeys) DevKey(a mesh.Address) (crypto.Key, bool) { v, ok := k.dev[a]; return v, ok }

func (k *memKeys) AppKeysByAID(aid uint8, dst []AppKey) []AppKey {
	for _, a := range k.apps {
		if a.AID == aid {
			dst = append(dst, a)
		}
	}
	return dst
}

func (k *memKeys) AppKey(index uint16) (AppKey, bool) {
	for _, a := range k.apps {
		if a.Index == index {
			return a, true
		}
	}
	return AppKey{}, false
}

func (k *memKeys) LabelUUIDs(a mesh.Address, dst [][16]byte) [][16]byte {
	for _, l := range k.labels {
		if mesh.Address(crypto.VirtualAddress(l)) == a {
			dst = append(dst, l)
		}
	}
	return dst
}

var (
	testAppKey = crypto.Key{0x63, 0x96, 0x47, 0x71, 0x73, 0x4f, 0xbd, 0x76, 0xe3, 0xb4, 0x05, 0x19, 0xd1, 0xd9, 0x4a, 0x48}
	testDevKey = crypto.Key{0x9d, 0x6d, 0xd0, 0xe9, 0x6e, 0xb2, 0x5d, 0xc1, 0x9a, 0x40, 0xed, 0x99, 0x14, 0xf8, 0xf0, 0x3f}
	testLabel  = [16]byte{0xf4, 0xa0, 0x02, 0xc7, 0xfb, 0x1e, 0x4c, 0xa0, 0xa4, 0x69, 0xa0, 0x21, 0xde, 0x0d, 0xb8, 0x75}
)

func newTestKeys() *memKeys {
	return &memKeys{
		dev:    map[mesh.Address]crypto.Key{},
		apps:   []AppKey{{Index: 0x456, NetKeyIndex: 0, AID: crypto.K4(testAppKey), Key: testAppKey}},
		labels: [][16]byte{testLabel},
	}
}

// received is a copy of a delivered access message.
type received struct {
	AccessMessage
	label *[16]byte
	at    time.Time
}

// testNode is one Layer and what it delivered.
type testNode struct {
	l       *Layer
	elems   []mesh.Address
	seq     map[mesh.Address]uint32
	access  []received
	control []ControlMessage
	sent    []NetPDU
}

func (n *testNode) owns(a mesh.Address) bool {
	for _, e := range n.elems {
		if e == a {
			return true
		}
	}
	return false
}

// link is a fake radio between testNodes: each PDU is lost with probability
// loss (seeded), and otherwise delivered after delay on the shared clock.
type link struct {
	t     testing.TB
	clk   *faketime.Clock
	rng   *rand.Rand
	loss  float64
	delay time.Duration
	iv    uint32
	nodes []*testNode
	// drop, if set, decides loss instead of the random draw.
	drop func(from *testNode, p *NetPDU) bool
}

func newLink(t testing.TB, seed uint64, loss float64) *link {
	return &link{t: t, clk: faketime.New(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		loss: loss, delay: 5 * time.Millisecond, iv: 0x12345678}
}

// addNode adds a node with the given element addresses; mod edits the
// Config before New.
func (k *link) addNode(keys *memKeys, elems []mesh.Address, mod func(*Config)) *testNode {
	n := &testNode{elems: elems, seq: map[mesh.Address]uint32{}}
	cfg := Config{
		Clock:   k.clk,
		NextSeq: func(src mesh.Address) (uint32, error) { n.seq[src]++; return n.seq[src], nil },
		IVIndex: func() uint32 { return k.iv },
		Send:    func(p *NetPDU) error { k.send(n, p); return nil },
		Keys:    keys,
		IsLocal: n.owns,
		DeliverAccess: func(m *AccessMessage) {
			r := received{AccessMessage: *m, at: k.clk.Now()}
			r.Payload = bytes.Clone(m.Payload)
			if m.Label != nil {
				lb := *m.Label
				r.label = &lb
			}
			n.access = append(n.access, r)
		},
		DeliverControl: func(m *ControlMessage) {
			c := *m
			c.Params = bytes.Clone(m.Params)
			n.control = append(n.control, c)
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	// Like a bearer, report each PDU as gone out right after it was queued.
	send := cfg.Send
	cfg.Send = func(p *NetPDU) error {
		err := send(p)
		if err == nil && p.Sent != nil {
			k.clk.AfterFunc(0, p.Sent)
		}
		return err
	}
	l, err := New(cfg)
	if err != nil {
		k.t.Fatal(err)
	}
	n.l = l
	k.nodes = append(k.nodes, n)
	return n
}

func (k *link) send(from *testNode, p *NetPDU) {
	c := *p
	c.LowerPDU = bytes.Clone(p.LowerPDU)
	from.sent = append(from.sent, c)
	for _, to := range k.nodes {
		if to == from {
			continue
		}
		if c.DST.IsUnicast() && !to.owns(c.DST) {
			continue
		}
		lost := k.rng.Float64() < k.loss
		if k.drop != nil {
			lost = k.drop(from, &c)
		}
		if lost {
			continue
		}
		k.clk.AfterFunc(k.delay, func() { to.l.Receive(&c, k.iv) })
	}
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}
