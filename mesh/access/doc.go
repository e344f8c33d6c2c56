// Package access implements the access layer of the Bluetooth Mesh stack
// (Mesh Protocol v1.1 §3.7): opcodes, access messages, elements and model
// instances, delivery of received messages to models, replies, model
// publication with periodic publishing and retransmissions, and page 0 of
// the Composition Data (§4.2.2.1).
//
// A Layer holds the node's elements. The upper transport layer calls
// Layer.Receive with each decrypted access payload and its Context; Receive
// decodes the opcode and runs the handler of every model instance the
// message is for (the delivery rules of §3.7.3.1: the opcode belongs to the
// model, the model is bound to the key that secured the message, and the
// destination is the element, a subscribed group or Label UUID, or a fixed
// group delivered to the primary element). Models send through Layer.Send,
// Layer.Reply and Layer.Publish; the Layer writes the opcode, resolves the
// Default TTL and hands the payload to the Send function in its Config.
//
// Opcodes are held in their on-air octet order: the Opcode value written
// big-endian in Size() octets is what goes on the air (see Opcode).
//
// Not covered: Opcodes Aggregator, Large Composition Data, Composition Data
// pages other than 0, friendship credentials for publication (the flag is
// stored and passed on in Context.Friendship), and the Directed Forwarding
// fixed group rules beyond a caller-supplied predicate.
//
// Concurrency: call every method on the node's executor. Time and timers come
// from the Config's mesh.Clock and randomness from its *rand.Rand; nothing in
// this package starts a goroutine or reads the wall clock.
package access
