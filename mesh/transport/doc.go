// Package transport implements the Bluetooth Mesh lower and upper transport
// layers (Mesh Protocol v1.1 §3.5 and §3.6): the lower transport PDU
// codecs, segmentation and reassembly with the Mesh Protocol 1.1 SAR
// Transmitter and SAR Receiver states and timers, upper transport access
// encryption with an AppKey or a DevKey (and a Label UUID for virtual
// destinations), transport control messages, and the replay protection list.
//
// The package sits between mesh/network and mesh/access but imports neither:
// a Layer talks to the network layer through the Send function of its Config
// and is fed what the network layer delivered through Receive; it hands
// access and control messages up through DeliverAccess and DeliverControl.
//
// Main types:
//
//   - UnsegAccess, SegAccess, UnsegControl, SegmentAck, SegControl: one
//     codec per lower transport PDU kind, and Decode to pick one.
//   - SeqAuth and RecoverSeqAuth: the 56-bit authentication sequence.
//   - EncryptAccess, DecryptAccess: the upper transport access PDU.
//   - SARTransmitter, SARReceiver: the SAR states with their spec defaults
//     and the nibble packing of the SAR Configuration messages.
//   - ReplayList: the replay protection list, exportable for persistence.
//   - Layer: the whole transport layer of one node.
//
// Friend and Low Power behaviour live in mesh/friend: the Friend reassembles
// and acknowledges (OBO = 1) for its LPNs itself; here OBO acknowledgments
// are accepted, and a Low Power node reassembles without acknowledging
// (NetPDU.FromFriend). Not covered: directed forwarding and the Device Key
// Candidate.
//
// Concurrency: call every method of a Layer on the node's executor. The
// package never starts goroutines, sleeps or reads the wall clock; timers come
// from the mesh.Clock in the Config, so a Layer runs the same under the
// simulator and a real radio.
package transport
