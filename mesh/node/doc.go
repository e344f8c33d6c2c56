// Package node wires the mesh layers into a Node: its elements and models,
// keys, addresses, IV Index and sequence numbers, on the execution contract.
//
// A Node gets a mesh.Clock (time and timers, and its executor) and a
// mesh.Bearer (the air, the simulator's medium or UDP), and hands every PDU
// its bearer receives to Receive. Everything runs on the node's executor, one
// thing at a time: call every method from there (runtime/ does this for real
// time; the simulator's engine is the executor in virtual time).
//
// Durable state (keys, IV Index, the SEQ reserve, model configuration) goes
// through a Store: MemoryStore for the simulator and tests, FileStore on
// disk. A reboot is a new Node from the same Store: it resumes with a SEQ
// above any it could have used before.
package node
