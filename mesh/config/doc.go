// Package config implements the Configuration Server and Configuration
// Client models of Bluetooth Mesh (Mesh Protocol v1.1 §4.4.1, §4.4.2) and
// the codec of their messages (§4.3.2), secured with device keys.
//
// Covered: Composition Data Get/Status (page 0), AppKey and NetKey
// Add/Update/Delete/Get, Model App Bind/Unbind and SIG/Vendor Model App
// Get, Model Subscription Add/Delete/Overwrite/Delete All and their Virtual
// Address forms, SIG/Vendor Model Subscription Get, Model Publication
// Get/Set/Virtual Address Set, Default TTL, Network Transmit, Relay, Secure
// Network Beacon, and Node Reset. Not covered: GATT Proxy, Friend, Node
// Identity, Key Refresh Phase, Heartbeat, LPN PollTimeout, and the Mesh 1.1
// additions (SAR, Private Beacon, Opcodes Aggregator, Large Composition
// Data). docs/config.md records where each opcode and layout was confirmed.
//
// The Server answers every request with the status the spec names. It keeps
// model state (bindings, subscriptions, publication) in the access.Layer's
// models and everything else in a NodeState that the node provides;
// MemoryState is an in-memory NodeState for tests and the simulator.
//
// The Client sends one request at a time per call to a node's primary
// address with the node's device key, retries on the Clock and reports the
// matching status through a callback, with a *StatusError when the status
// is not Success.
//
// Concurrency: call every method on the node's executor; callbacks run
// there too.
package config
