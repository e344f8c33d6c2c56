// Package dfd implements the Firmware Distribution Server and Client
// models of Bluetooth Mesh Device Firmware Update (MshDFU v1.0) and their
// message codec.
//
// Messages (messages*.go): the 23 Firmware Distribution messages, one Go
// type each, with strict decoders (exact lengths, RFU bits and undefined
// values rejected, no trailing octets); the Status, Phase, UploadPhase and
// Policy enums keep the spec's numbers.
//
// Server (server.go, server_distribute.go, server_upload.go) is a
// distributor: the Distribution Receivers List, the Firmware Images List
// in an fw.Store, capabilities, every Distribution and Upload Phase and
// status code as docs/dfd.md tabulates. Distribution Start runs the
// Distribute Firmware procedure with the server's own dfu.Client and
// blob.Client: Firmware Update Start to every receiver, one BLOB transfer
// (to the group or virtual address given, else unicast), verification
// polling, Apply per the Update Policy and the Confirm step; a receiver
// that fails leaves with its reason while the rest carry on. Suspend,
// resume (Start again), Cancel and Apply work in the phases the sheet
// allows. A receiver on the distributor's own node is updated too
// (self-update: the target's dfu.Server skips the transfer). Uploads come
// in-band into the server's blob.Server, streamed into the store, or out
// of band through an OOB (fw/https off the executor; see internal/oob).
// The receivers, the distribution and each receiver's progress are kept in
// a StateStore: a distributor rebuilt from its stores continues where it
// stopped.
//
// Client (client.go) sends every request with retries and provides the
// Initiator's procedures: Upload (in-band, with its own blob.Client),
// UploadOOB and Wait (polling until the distribution ends).
//
// Facts and their sources are in docs/dfd.md. Concurrency: call every
// method on the node's executor; nothing here starts a goroutine, sleeps
// or reads the wall clock.
package dfd
