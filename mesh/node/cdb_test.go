package node

import (
	"math/rand/v2"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

type seededReader struct{ r *rand.Rand }

func (s seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// A node starts from its entry in a network file, with its keys and its
// models' configuration; a message from another node of the file reaches it.
func TestNodeFromCDB(t *testing.T) {
	rnd := seededReader{rand.New(rand.NewPCG(5, 5))}
	db, err := cdb.NewNetwork("test", rnd)
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.AddNode(rnd, cdb.NewNode{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.AddNode(rnd, cdb.NewNode{Name: "b", Elements: 2, Models: [][]cdb.ModelID{{cdb.SIGModel(0x0000), cdb.SIGModel(uint16(testModel))}}})
	if err != nil {
		t.Fatal(err)
	}
	m := &b.Elements[0].Models[1]
	m.Bind = []uint16{0}
	m.Subscribe = []cdb.Target{{Address: 0xC123}}
	// Round-trip through JSON, as a file would.
	raw, err := db.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if db, err = cdb.Parse(raw); err != nil {
		t.Fatal(err)
	}
	clk := faketime.New()
	hub := &Hub{Clock: clk}
	start := func(addr mesh.Address, models ...*access.Model) *Node {
		p, err := ProvisioningFromCDB(db, addr, 0x1234)
		if err != nil {
			t.Fatal(err)
		}
		port := hub.Attach()
		elems := []Element{{Models: models}}
		if addr == mesh.Address(b.UnicastAddress) {
			elems = append(elems, Element{})
		}
		n, err := New(Config{Clock: clk, Bearer: port, Provisioning: p, Elements: elems, NoBeacons: true})
		if err != nil {
			t.Fatal(err)
		}
		port.SetReceiver(n.Receive)
		return n
	}
	var got []string
	model := &access.Model{ID: testModel, Ops: []access.Op{{Opcode: opTest, Handler: func(ctx *access.Context, p []byte) { got = append(got, string(p)) }}}}
	na := start(mesh.Address(a.UnicastAddress))
	nb := start(mesh.Address(b.UnicastAddress), model)
	if nb.IV().Index() != 0x1234 {
		t.Errorf("IV Index %x", nb.IV().Index())
	}
	if !model.IsBound(0) || !model.IsSubscribed(0xC123, nil) {
		t.Fatal("model configuration from the file was not applied")
	}
	w := &world{clk: clk, client: na}
	sendAppFrom(t, w, na, 0xC123, []byte("from a"))
	if len(got) != 1 || got[0] != "from a" {
		t.Fatalf("got %q", got)
	}
	if _, err := ProvisioningFromCDB(db, 0x7000, 0); err == nil {
		t.Fatal("unknown address accepted")
	}
}
