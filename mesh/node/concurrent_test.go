package node

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Several segmented messages from one node to different destinations may
// be in flight at once, and each is acknowledged and completes.
func TestConcurrentSegmentedToSeveralPeers(t *testing.T) {
	clk := faketime.New()
	hub := &Hub{Clock: clk, Rand: rand.New(rand.NewPCG(1, 1))}
	mk := func(addr mesh.Address, dev crypto.Key, models ...*access.Model) *Node {
		p := hub.Attach()
		n, err := New(Config{Clock: clk, Bearer: p, NoBeacons: true, Elements: []Element{{Models: models}},
			Provisioning: &Provisioning{Address: addr, DevKey: dev,
				NetKeys: []NetKeyState{{Index: 0, Key: Key(netKey)}},
				AppKeys: []AppKeyState{{Index: 0, NetKeyIndex: 0, Key: Key(testAppKey)}}}})
		if err != nil {
			t.Fatal(err)
		}
		p.SetReceiver(n.Receive)
		return n
	}
	src := mk(1, cliKey)
	var got []mesh.Address
	var dsts []mesh.Address
	for i := 0; i < 4; i++ {
		addr := mesh.Address(0x100 + i)
		m := &access.Model{ID: testModel, Ops: []access.Op{{Opcode: opTest, Handler: func(ctx *access.Context, p []byte) {
			got = append(got, ctx.Dst)
		}}}}
		mk(addr, devKey, m)
		_ = m.Bind(0)
		dsts = append(dsts, addr)
	}
	payload, _ := access.Marshal(&raw{op: opTest, params: bytes.Repeat([]byte{7}, 120)})
	var done []error
	for _, d := range dsts {
		if err := src.Transport().SendAccess(&transport.AccessTx{Src: 1, Dst: d, AppKeyIndex: 0, TTL: 5, Payload: payload}, func(err error) {
			done = append(done, err)
		}); err != nil {
			t.Fatal(err)
		}
	}
	clk.RunUntilIdle(2 * time.Minute)
	if len(got) != len(dsts) {
		t.Errorf("delivered to %v, want %v", got, dsts)
	}
	for i, err := range done {
		if err != nil {
			t.Errorf("transfer %d: %v", i, err)
		}
	}
	if len(done) != len(dsts) {
		t.Errorf("%d transfers ended, want %d", len(done), len(dsts))
	}
}
