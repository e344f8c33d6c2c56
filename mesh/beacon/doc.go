// Package beacon implements the mesh beacons and the IV Index rules that
// ride on them (Mesh Protocol v1.1 §3.10, §3.11.5, §3.11.6, and the Mesh
// Proxy Service advertising data of §7.2.2.2).
//
// Codecs, each with Marshal/AppendBinary and a strict Unmarshal:
//
//   - SecureNetwork: the Secure Network beacon, with Authenticate/Verify
//     under the subnet's BeaconKey.
//   - Private: the Mesh Private beacon, built by NewPrivate and checked by
//     Decrypt under the PrivateBeaconKey.
//   - Unprovisioned: the Unprovisioned Device beacon, with URIHash.
//   - ServiceData: Mesh Proxy Service data (Network ID, Node Identity,
//     Private Network Identity, Private Node Identity), with the hash
//     computations and the full AD structure.
//
// Machines:
//
//   - IVUpdate: the IV Update procedure and IV Index Recovery: which IV
//     Index to transmit and receive with, the 96/144/192 h timing rules,
//     following beacons, deferring the return to Normal while a segmented
//     transfer is pending, the SEQ exhaustion trigger and test mode.
//   - Service: sends each subnet's beacon at the adaptive interval (10–600 s)
//     and handles received beacons against the candidate subnets the node
//     passes as KeySets; it surfaces Key Refresh flags and feeds IVUpdate.
//
// Not here: Key Refresh phase transitions (mesh/network), Proxy
// configuration and the Private Beacon Server model, and the Random Update
// Interval policy for private beacons (the node supplies Random).
//
// Every method runs on the node's executor; time comes from mesh.Clock.
package beacon
