// Package fw holds firmware images and the trust around them: meshdfu's
// firmware metadata (version, image size, SHA-256, flags and an Ed25519
// signature; docs/metadata.md), signing keys, the single-file image format
// that "meshdfu firmware pack" writes, and the firmware slot stores that
// distributors and targets keep images in.
//
// # Metadata and verification
//
// Metadata is at most 255 octets, so it travels as the Incoming Firmware
// Metadata of Firmware Update Start and Metadata Check and as the Upload
// Firmware Metadata of Firmware Distribution Upload Start (MshDFU; see
// shared/spec/dfu.md). Metadata.Sign signs it together with the Firmware ID
// and the image hash. A target verifies an image with a Verifier (stream the
// image through it, then Finish) or Metadata.Verify: without a public key it
// checks size and hash; with one it also checks the signature. Failures wrap
// ErrSizeMismatch, ErrHashMismatch or ErrBadSignature, which a Firmware
// Update Server turns into the Verification Failed phase.
// Metadata.AdditionalInformation gives the Firmware Update Additional
// Information for the Metadata Check.
//
// # Stores
//
// Store is the slot interface. DirStore (OpenStore) is durable: each write
// goes to a temporary file that is fsynced and renamed, an atomic JSON
// index names the slots with their SHA-256, and a crash leaves either the
// old image or the new complete one. MemStore is the same in memory, for the
// simulator. Both check checksums when reading, never serve a corrupt
// slot, account for a capacity, and take images in pieces through
// BeginWrite (a BLOB transfer), which replace the slot only on Commit. A
// SlotWriter also reads back what was written, so a target can run the
// Verifier over it before it commits (io.NewSectionReader(w, 0, w.Size())).
//
// # Execution
//
// fw is storage, not protocol code: DirStore uses the os package, but fw
// starts no goroutines and reads no clock. Stores are safe for concurrent
// use; Metadata and Verifier values are not.
package fw
