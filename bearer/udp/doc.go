// Package udp is a mesh.Bearer that carries a node's PDUs as UDP
// datagrams, so that nodes running as separate processes on one host (or a
// LAN) form a mesh. Each node has a list of peers, host:port addresses that
// stand for the nodes in its radio range: every advertising event is one
// datagram to each peer.
//
// A datagram is one advertising AD structure without its length octet:
//
//	AD type (1): 0x2A Mesh Message or 0x2B Mesh Beacon | payload (1–29)
//
// An AD structure in legacy advertising data holds at most 31 octets
// (length, type, payload), so the payload is at most MaxPayload = 29
// octets, the size of the largest Network PDU. Datagrams that are empty,
// longer, or carry another AD type are dropped and counted (ParseDatagram
// is fuzzed).
//
// Send copies the payload and queues it (the queue is bounded: when it is
// full the PDU is dropped and counted, and Send never blocks). A goroutine
// of the bearer sends tx.Transmissions() copies spaced by tx.Interval(),
// timed by the wall clock. Another goroutine reads datagrams and posts each
// PDU to the node's executor (Config.Executor, normally a runtime.Loop),
// where the receive function runs, as the execution contract asks. An
// optional random loss (Config.Loss) drops received datagrams, for tests.
//
// With Config.Capture set, every transmission and every received PDU is
// written to a pcap file (sim/pcap: Bluetooth LE advertising that
// Wireshark dissects), with wall-clock timestamps and, as advertiser
// address, pcap.AdvAddress of the sending node's UDP port.
//
// All methods of Bearer may be called from any goroutine.
package udp
