// Package network implements the Bluetooth Mesh network layer (Mesh
// Protocol v1.1 §3.4, with the security of §3.9.6 and §3.10):
//
//   - the network PDU codec: Credentials.Seal encrypts (AES-CCM with the
//     EncryptionKey) and obfuscates (PECB from the PrivacyKey) a lower
//     transport PDU; Credentials.Open reverses it; PeekIVINID reads the
//     cleartext first octet. Both allocate nothing in steady state.
//   - Subnets, the NetKey List: per 12-bit NetKey Index the key, its derived
//     material (Keys: credentials, Network ID, BeaconKey, PrivateBeaconKey,
//     IdentityKey), the Key Refresh phase with old and new keys, friendship
//     credentials, and an index from NID to every credentials accepted on
//     receive.
//   - IVState, the IV Index and IV Update flag, with the transmit and
//     receive IV Index rules.
//   - Cache, the Network Message Cache keyed on (SRC, SEQ, IV Index).
//   - Layer, which sends originated PDUs, receives, authenticates,
//     de-duplicates, delivers and relays (managed flooding on the
//     advertising bearer).
//
// Not covered: sequence number allocation (the caller passes SEQ), the
// GATT bearer and proxy filters, directed forwarding, subnet bridging,
// heartbeat, and the Friend queue (the Friend and LPN features use the
// friendship credentials registered in Subnets and Rx.Friendship).
//
// Everything here follows the execution contract: call every method on the
// node's executor; time comes from the mesh.Clock and randomness from the
// injected *rand.Rand. Credentials hold scratch buffers and are not safe
// for concurrent use.
package network
