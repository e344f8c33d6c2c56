// Package sim is meshdfu's radio simulator: a discrete-event engine in
// virtual time and a Bluetooth LE advertising medium on which unchanged
// mesh node code runs (docs/simulator.md).
//
// Engine is the loop. Virtual time starts at Epoch; events are ordered by
// (time, sequence number) and run one at a time on the goroutine that calls
// Run*, so a run is a pure function of the seed given to New. Each node gets
// a Clock (a mesh.Clock and mesh.Executor) from Engine.Clock and a random
// source from Engine.NodeRand. Engine.Digest hashes every event (time, kind,
// node, payload digest) and WithEventLog writes them as text, so a test can
// compare two runs byte for byte. Trace and Handler stamp text and slog
// output with virtual time.
//
// Medium is the radio. A transmission is one advertising event of one PDU,
// on air for MediumConfig.AirTime; each node's advertiser sends one event at
// a time, at least MinGap apart plus a random advertising delay, taking PDUs
// from a FIFO queue. A node receives an event when a link from the sender
// exists and none of these happen, checked in this order: its radio was off
// (SetRadio), its listening hook said no (SetListening), it was transmitting
// itself at some moment of the reception (half duplex), another event it
// hears overlapped (collision: both are lost there), or the link lost it
// (independent or Gilbert-Elliott, see Loss). Delivery happens at the end of
// the air time through the node's mesh.ReceiveFunc; the payload is the
// medium's buffer and must not be retained. Metrics counts all of this per
// node and in total.
//
// The node's mesh.Bearer is package bearer/sim; layouts are in sim/topology
// and captures in sim/pcap (PcapCapture connects the medium to a writer).
//
// Nothing here is safe for concurrent use: all calls happen on the loop.
package sim
