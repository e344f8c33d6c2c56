package cdb_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/meshdfu/meshdfu/mesh/cdb"
)

// Build a small network the way the simulator does.
func ExampleNewNetwork() {
	r := rand.NewChaCha8([32]byte{1})
	db, _ := cdb.NewNetwork("demo", r)
	dist, _ := db.AddNode(r, cdb.NewNode{Name: "distributor", Elements: 2})
	target, _ := db.AddNode(r, cdb.NewNode{Name: "target"})
	fmt.Println(dist.UnicastAddress.Mesh(), dist.ElementCount(), target.UnicastAddress.Mesh())
	fmt.Println(db.Node(0x0002).Name)
	// Output:
	// 0x0001 2 0x0003
	// distributor
}
