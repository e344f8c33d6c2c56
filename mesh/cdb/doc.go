// Package cdb reads and writes the Mesh Configuration Database (CDB): the
// JSON network file of the Mesh Configuration Database Profile 1.0.x that
// provisioners export (nRF Mesh) or keep (bluez mesh-cfgclient).
//
// Parse and Load accept schema 1.0.0 and 1.0.1 and the variants met in the
// field: upper- or lower-case hex, dashed or 32-digit UUIDs, the bluez
// store's names (top-level "uuid", "name", "ivIndex", "token",
// "blacklistedAddresses", "low"/"high"; node "uuid" and "blacklisted"),
// security "high"/"low", and an integer publish period. Files without key
// material (bluez keeps keys in its daemon, partial exports omit device
// keys) load; the typed accessors then return ErrNoKey. Validate checks
// the rules a node or tool relies on and names the offending field.
//
// Marshal writes CDB 1.0.1 as nRF Mesh does (upper-case hex, dashed
// UUIDs). NewNetwork and AddNode create networks for the simulator and the
// CLI; their randomness comes from an io.Reader.
//
// The standard format carries no IV Index or sequence numbers; IVIndex is
// bluez's extension and is written only when non-zero.
//
// A Database is plain data: it holds no lock, and callers that share one
// across goroutines serialise access themselves.
package cdb
