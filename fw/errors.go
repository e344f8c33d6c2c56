package fw

import "errors"

// Sentinel errors. Functions wrap them with context; branch with errors.Is.
var (
	// ErrMetadataFormat reports metadata that is not well-formed meshdfu
	// metadata (docs/metadata.md).
	ErrMetadataFormat = errors.New("fw: bad metadata format")
	// ErrBadSignature reports a signature that does not verify, a missing
	// signature when a public key is configured, or metadata signed by
	// another key.
	ErrBadSignature = errors.New("fw: bad signature")
	// ErrUnsigned reports metadata without a signature where one is needed.
	// It is always wrapped together with ErrBadSignature.
	ErrUnsigned = errors.New("fw: metadata is not signed")
	// ErrHashMismatch reports an image whose SHA-256 differs from the
	// metadata's.
	ErrHashMismatch = errors.New("fw: image hash mismatch")
	// ErrSizeMismatch reports an image whose size differs from the
	// metadata's.
	ErrSizeMismatch = errors.New("fw: image size mismatch")
	// ErrFirmwareID reports a Firmware ID outside 2..108 octets.
	ErrFirmwareID = errors.New("fw: bad Firmware ID")
	// ErrImageFile reports a firmware image file (docs/metadata.md) that is
	// not well-formed.
	ErrImageFile = errors.New("fw: bad image file")
	// ErrKeyFormat reports a key file that does not hold an Ed25519 key in
	// the expected PEM block.
	ErrKeyFormat = errors.New("fw: bad key file")

	// ErrNotFound reports a slot that does not exist.
	ErrNotFound = errors.New("fw: no such slot")
	// ErrCorrupt reports a slot (or a store index) whose stored bytes fail
	// their checksum. A corrupt slot is listed but never served.
	ErrCorrupt = errors.New("fw: corrupt")
	// ErrNoSpace reports a write that would exceed the store's capacity.
	ErrNoSpace = errors.New("fw: not enough space")
	// ErrBusy reports a slot that already has a write in progress.
	ErrBusy = errors.New("fw: slot busy")
	// ErrIncomplete reports a Commit before every octet of the image was
	// written.
	ErrIncomplete = errors.New("fw: image incomplete")
	// ErrSlotName reports a slot name that is empty, too long or holds
	// characters other than letters, digits, '.', '_' and '-'.
	ErrSlotName = errors.New("fw: bad slot name")
	// ErrClosed reports use of a closed store or a finished writer.
	ErrClosed = errors.New("fw: closed")
)
