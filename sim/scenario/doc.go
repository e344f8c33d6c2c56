// Package scenario runs a simulated fleet firmware update end to end, the
// job behind `meshdfu sim`: an Initiator's signed image reaches a
// Distributor (fleet node 0), which updates every other node of a
// sim/fleet network, each a Firmware Update Server with a BLOB Transfer
// Server that verifies images with package fw.
//
// Run takes a Config (every knob of the CLI: targets, topology, loss,
// image size, mode, addressing, strategy profile, upload method, faults,
// capture) and an optional Observer that receives progress samples, and
// returns a Result, the JSON object documented in docs/sim-json.md. A run
// is a pure function of its Config, except Result.WallSeconds.
//
// The distributor role is the unexported distributor interface
// (distributor.go). Today it is played by "direct": a Firmware Update
// Client and a BLOB Transfer Client on node 0 with the image placed there
// (both upload methods are instantaneous). A Firmware Distribution Server
// driven by a Distribution Client on an Initiator node (models/dfd) plugs
// in behind the same interface once that package has its server and
// client.
//
// Faults (ParseFault) sabotage chosen targets, picked from the seed:
// target reboots and distributor restarts at a share of the transfer,
// targets that stay off, tampered images, loss bursts. Each target has an
// expected final phase, and Result.OK says whether all met it.
//
// Known limit: distributions through relays (line, grid, building) do not
// complete yet (the targets' BLOB servers are lost at Information Get or
// Transfer Start), so DefaultTopology is single-hop.
//
// Everything runs on the calling goroutine; nothing is shared.
package scenario
