// Package dfu implements the Firmware Update Server and Client models of
// Bluetooth Mesh Device Firmware Update (MshDFU v1.0) and their message
// codec.
//
// Messages (messages.go, messages_info.go, messages_update.go): the nine
// Firmware Update messages — Information Get/Status, Firmware Metadata
// Check/Status, Update Get/Start/Cancel/Apply/Status with both forms of the
// status — one Go type each, with strict decoders. The Status, Phase
// (Update Phase and Retrieved Update Phase) and AdditionalInfo enums keep
// the spec's numbers.
//
// Server (server.go) is a target's Firmware Update Server together with
// the BLOB Transfer Server it extends (models/blob). It holds the
// Firmware Information List, answers every request in every Update Phase
// as docs/dfu.md tabulates, runs the metadata check, Prepare, Verify and
// Apply hooks of its ServerConfig, and keeps its update state across
// reboots so that a target resumes a transfer, verifies again or ends
// Idle, never half-applied. Firmware (target.go) provides hooks that check
// meshdfu images with package fw: metadata flags, size, SHA-256 and the
// Ed25519 signature.
//
// Client (client.go, client_update.go) sends each request to a list of
// targets with retries on the Clock and reports every target through a
// callback; Client.Update runs the whole procedure — Start, the BLOB
// transfer with a blob.Client, verification polling, Apply and the Confirm
// step — and lets the targets that fail drop out while the rest go on.
//
// Facts and their sources are in docs/dfu.md; where the specification
// text was not available, Zephyr's subsys/bluetooth/mesh/dfu_srv.c and
// dfu_cli.c were followed.
//
// Concurrency: like every model, call every method on the node's executor;
// nothing here starts a goroutine, sleeps or reads the wall clock.
package dfu
