package fleet_test

import (
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// Three nodes in a line, the middle one relaying: node 0 configures nodes
// 1 and 2 over the air, then publishes to their group, and node 2 prints
// what it gets, in virtual time.
func Example() {
	var f *fleet.Fleet
	models := func(i int) []node.Element {
		m := &access.Model{ID: access.SIGModel(0x1000), Ops: []access.Op{{Opcode: 0x8203, Handler: func(ctx *access.Context, p []byte) {
			if i == 2 {
				fmt.Printf("%v node 2 got %q from %v\n", f.Elapsed().Round(time.Millisecond), p, ctx.Src)
			}
		}}}}
		return []node.Element{{Models: []*access.Model{m}}}
	}
	f, err := fleet.New(fleet.Config{Seed: 1, Topology: topology.Line(3, sim.Loss{}), Relays: fleet.RelaysDominating, Models: models})
	if err != nil {
		panic(err)
	}
	group := mesh.Address(0xC000)
	f.Configure([]int{1, 2}, fleet.Plan{Models: []access.ModelID{access.SIGModel(0x1000)}, Subscribe: []mesh.Address{group}},
		func(rs []fleet.Result) {
			for _, r := range rs {
				fmt.Printf("%v node %d configured: %d steps, err %v\n", r.Done.Round(time.Millisecond), r.Node, r.Steps, r.Err)
			}
			n0 := f.Node(0)
			m := n0.Access().Model(f.Address(0), access.SIGModel(0x1000))
			m.Bind(0)
			n0.Access().Send(m, &access.Context{Dst: group, TTL: access.DefaultTTL}, &raw{op: 0x8203, params: []byte("hello")}, nil)
		})
	f.RunUntilIdle(time.Minute)
	fmt.Println("relays:", f.Relays())
	// Output:
	// 811ms node 1 configured: 3 steps, err <nil>
	// 1.122s node 2 configured: 3 steps, err <nil>
	// 1.196s node 2 got "hello" from 0x0001
	// relays: [false true false]
}
