// Package sim is the mesh.Bearer of a simulated node: it moves the node's
// PDUs over a sim.Medium (the radio of the discrete-event simulator in
// package github.com/meshdfu/meshdfu/sim).
//
// A simulated node is wired from four pieces, all from the same engine:
//
//	eng := sim.New(seed)
//	med := sim.NewMedium(eng, sim.MediumConfig{})
//	clk := eng.Clock(id)                // mesh.Clock and mesh.Executor
//	rnd := eng.NodeRand(id)             // the node's *rand.Rand
//	b := bsim.Attach(med, id, recv)     // mesh.Bearer; recv may be set later
//
// Import it under a short name, since its package name is the engine's:
//
//	import bsim "github.com/meshdfu/meshdfu/bearer/sim"
//
// Send queues a PDU on the node's advertiser and returns at once; received
// PDUs reach the node's ReceiveFunc on the engine loop, and the payload must
// not be retained after it returns. Everything runs on the engine loop: call
// Bearer methods only from the node's own code or before the engine runs.
package sim
