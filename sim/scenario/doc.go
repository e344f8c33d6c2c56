// Package scenario runs a simulated fleet firmware update end to end, the
// job behind `meshdfu sim`, with the real models on a sim/fleet network:
//
//   - node 0x0001 is the Initiator, a Firmware Distribution Client
//     (models/dfd) with the BLOB Transfer Client of in-band uploads;
//   - node 0x0002 is the Distributor, a Firmware Distribution Server with
//     an fw.MemStore, a memory state store and its own Firmware Update and
//     BLOB Transfer Clients;
//   - every other node is a target: a Firmware Update Server whose BLOB
//     Transfer Server receives the signed image file, verified with
//     package fw (Ed25519 signature, SHA-256, CRC) before it is applied.
//
// The Initiator uploads the image (in band over BLOB, or out of band: the
// Distributor checks and retrieves it from a fake update server that
// serves it packed as a firmware archive after a virtual network delay),
// adds the targets as receivers, starts the distribution (to a group
// address or by unicast, push, pull or the distributor's choice) and polls
// it until it ends. Targets that apply reboot into the new firmware and
// answer Information Get with the new Firmware ID, which the distributor
// confirms. The Initiator stands a metre from the distributor and talks to
// it alone; relays are chosen among the distributor and the targets.
//
// Run takes a Config (every knob of the CLI: targets, topology, loss,
// image size, mode, addressing, strategy profile, upload method, faults,
// capture) and an optional Observer that receives progress samples, and
// returns a Result, the JSON object documented in docs/sim-json.md. A run
// is a pure function of its Config, except Result.WallSeconds. The steps
// of the procedure (upload, start, transfer, verify, apply, confirm) are
// read from the distributor's state after each of its messages and timers.
//
// Faults (ParseFault) sabotage chosen targets, picked from the seed:
// target reboots at a share of the transfer, targets that stay off,
// tampered images, loss bursts, and distributor restarts: the distributor
// is switched off and, 2 s later, rebuilt from its stores, and it resumes
// the distribution where the targets stand. Each target has an expected
// final phase, and Result.OK says whether all met it.
//
// Known limits. A distributor restart waits for the first block boundary
// at or after its share of the transfer: blob.Client cannot rejoin a
// block its lost instance opened (see maybeRestart). Over relays (line,
// grid, building) the fault-free run completes, but slowly (5–15 B/s), and
// silent targets can make the Firmware Update Starts of the others time
// out (docs/sim-json.md).
//
// Everything runs on the calling goroutine; nothing is shared.
package scenario
