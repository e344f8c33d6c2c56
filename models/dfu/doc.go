// Package dfu implements the Firmware Update Server and Client models of
// Bluetooth Mesh Device Firmware Update (MshDFU v1.0) and their message
// codec.
//
// messages.go and messages_*.go hold the nine Firmware Update messages
// (Information Get/Status, Firmware Metadata Check/Status, Update
// Get/Start/Cancel/Apply/Status), one Go type each, with strict decoders;
// the Status, Phase and AdditionalInfo enums keep the spec's numbers.
// Facts and their sources are in docs/dfu.md; where the specification
// text was not available, Zephyr's subsys/bluetooth/mesh/dfu_srv.c and
// dfu_cli.c were followed.
//
// Concurrency: like every model, call every method on the node's executor;
// nothing here starts a goroutine, sleeps or reads the wall clock.
package dfu
