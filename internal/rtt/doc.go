// Package rtt holds what a client needs to talk to nodes behind relays:
// a smoothed round-trip estimate per peer (RFC 6298), the hop count of a
// message from its received TTL, the number of PDUs an access message
// costs, and a booking of the network's air for networks where every
// relay forwards every PDU (flooding).
//
// Why (docs/benchmarks-blob.md, "Relays"): a relay forwards each PDU
// Relay Retransmit times from one advertiser, so a flooded network
// carries about one PDU per RelayTransmissions × PDUInterval, whoever
// sent it. Requests that are retried before their answers can arrive, or
// sent faster than the relays forward them, fill the relays' queues,
// round trips outgrow every timer, and the retries make the queues
// longer still. A client therefore measures each peer's round trip,
// never waits less than an exchange needs over the peer's hops, doubles
// its wait on every retry over relays, and books the air every PDU it
// causes (its requests, the answers, the acknowledgments) before it
// sends.
//
// The types are pure: they take the current time as an argument and keep
// no timers. Call them on the node's executor.
package rtt
