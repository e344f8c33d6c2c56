package friend_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/sim"

	bsim "github.com/meshdfu/meshdfu/bearer/sim"
)

var (
	testNetKey = crypto.Key{0x7d, 0xd7, 0x36, 0x4c, 0xd8, 0x42, 0xad, 0x18, 0xc1, 0x7c, 0x2b, 0x82, 0x0c, 0x84, 0xc3, 0xd6}
	testAppKey = crypto.Key{0x63, 0x96, 0x47, 0x71, 0x73, 0x4f, 0xbd, 0x76, 0xe3, 0xb4, 0x05, 0x19, 0xd1, 0xd9, 0x4a, 0x48}
)

const (
	opData    access.Opcode = 0xC00102 // a vendor opcode carrying test data
	dataModel               = access.ModelID(0x0001_0002)
	testGroup               = mesh.Address(0xC123)
)

// raw is an access message with opaque parameters.
type raw struct {
	op     access.Opcode
	params []byte
}

func (m *raw) Opcode() access.Opcode                 { return m.op }
func (m *raw) AppendBinary(b []byte) ([]byte, error) { return append(b, m.params...), nil }
func (m *raw) Unmarshal(p []byte) error              { m.params = bytes.Clone(p); return nil }

// role is what a simulated node of a scenario does.
type role struct {
	addr     mesh.Address
	friend   *friend.FriendParams
	lpn      *friend.LPNParams
	subGroup bool // the data model subscribes to testGroup
}

// member is one node of a scenario and what outlives its power cycles.
type member struct {
	role
	id     sim.NodeID
	bearer *bsim.Bearer
	store  *node.MemoryStore
	node   *node.Node
	model  *access.Model
	got    [][]byte
	on     bool
}

// world is a single-hop simulated network of full nodes with friendship
// features.
type world struct {
	t   *testing.T
	eng *sim.Engine
	med *sim.Medium
	m   []*member
}

func newWorld(t *testing.T, seed uint64, loss float64, roles ...role) *world {
	t.Helper()
	w := &world{t: t, eng: sim.New(seed)}
	w.med = sim.NewMedium(w.eng, sim.MediumConfig{})
	for i, r := range roles {
		m := &member{role: r, id: sim.NodeID(i), store: &node.MemoryStore{}, on: true}
		m.bearer = bsim.Attach(w.med, m.id, nil)
		w.m = append(w.m, m)
	}
	for i := range w.m {
		for j := i + 1; j < len(w.m); j++ {
			if err := w.med.Connect(sim.NodeID(i), sim.NodeID(j), sim.Independent(loss)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range w.m {
		w.boot(i)
	}
	return w
}

func (w *world) boot(i int) {
	w.t.Helper()
	m := w.m[i]
	m.model = &access.Model{ID: dataModel, Ops: []access.Op{{Opcode: opData, Handler: func(ctx *access.Context, params []byte) {
		m.got = append(m.got, bytes.Clone(params))
	}}}}
	n, err := node.New(node.Config{
		Clock: w.eng.Clock(m.id), Bearer: m.bearer, Rand: w.eng.NodeRand(m.id), Store: m.store,
		Provisioning: &node.Provisioning{
			Address: m.addr, DevKey: crypto.Key{byte(i + 1)},
			NetKeys: []node.NetKeyState{{Index: 0, Key: node.Key(testNetKey)}},
			AppKeys: []node.AppKeyState{{Index: 0, NetKeyIndex: 0, Key: node.Key(testAppKey)}},
			IVIndex: 0x12345678,
		},
		Elements:  []node.Element{{Models: []*access.Model{m.model}}},
		NoBeacons: true,
		Friend:    m.friend,
		LowPower:  m.lpn,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := m.model.Bind(0); err != nil {
		w.t.Fatal(err)
	}
	if m.subGroup {
		if err := m.model.Subscribe(testGroup, nil); err != nil {
			w.t.Fatal(err)
		}
	}
	m.node = n
	m.bearer.SetReceiver(n.Receive)
	if err := n.Start(); err != nil {
		w.t.Fatal(err)
	}
}

// powerOff switches node i off: radio, node and timers.
func (w *world) powerOff(i int) {
	m := w.m[i]
	m.bearer.SetRadio(false)
	m.node.Close()
	w.eng.ResetNode(m.id)
	m.on = false
}

func (w *world) runUntil(limit time.Duration, done func() bool) bool {
	return w.eng.RunWhile(func() bool { return !done() }, limit)
}

// send sends data from node i's model to dst.
func (w *world) send(i int, dst mesh.Address, data []byte, done func(error)) {
	w.t.Helper()
	m := w.m[i]
	ctx := &access.Context{Dst: dst, AppKeyIndex: 0, TTL: access.DefaultTTL}
	if err := m.node.Access().Send(m.model, ctx, &raw{op: opData, params: data}, done); err != nil {
		w.t.Fatal(err)
	}
}

// payload returns a deterministic message body of n octets.
func payload(k, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(k*31 + i)
	}
	return b
}

func (w *world) replay() string {
	return fmt.Sprintf("seed %d: go test -run '%s' ./mesh/friend/", w.eng.Seed(), w.t.Name())
}
