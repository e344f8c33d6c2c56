package dfu

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/meshdfu/meshdfu/fw"
)

// Firmware provides the ServerConfig hooks of a meshdfu target that checks
// images with package fw (docs/metadata.md):
//
//   - Check parses the Incoming Firmware Metadata as fw.Metadata; its flags
//     give the Additional Information;
//   - Verify reads the received BLOB, an fw.ImageFile (Firmware ID,
//     metadata, image, CRC), requires its metadata to equal the Start's,
//     and checks the image size and SHA-256 against the metadata and, with
//     PublicKey, the Ed25519 signature over metadata, Firmware ID and hash;
//   - Apply verifies once more and returns the file's Firmware ID.
//
// The reason of a failed verification wraps fw's sentinels
// (fw.ErrHashMismatch, fw.ErrBadSignature, fw.ErrImageFile, …).
type Firmware struct {
	// PublicKey is the key images must be signed with; nil: size and hash
	// only.
	PublicKey ed25519.PublicKey
	// Data returns the received BLOB (blob.MemoryStorage.Data does), nil
	// when there is none.
	Data func(blobID uint64) []byte
}

// Install sets cfg's Check, Verify and Apply hooks to f's.
func (f *Firmware) Install(cfg *ServerConfig) {
	cfg.Check, cfg.Verify, cfg.Apply = f.Check, f.Verify, f.Apply
}

// Check accepts meshdfu metadata and reports its Additional Information.
func (f *Firmware) Check(index uint8, metadata []byte) (AdditionalInfo, error) {
	m, err := fw.ParseMetadata(metadata)
	if err != nil {
		return InfoNoChange, fmt.Errorf("dfu: metadata check: %w", err)
	}
	return AdditionalInfo(m.AdditionalInformation()), nil
}

// Verify checks the received image file of blobID against metadata.
func (f *Firmware) Verify(index uint8, metadata []byte, blobID uint64) error {
	_, err := f.verified(metadata, blobID)
	return err
}

// Apply returns the new Firmware ID of a verified image.
func (f *Firmware) Apply(index uint8, metadata []byte, blobID uint64) ([]byte, error) {
	file, err := f.verified(metadata, blobID)
	if err != nil {
		return nil, err
	}
	return file.FirmwareID, nil
}

func (f *Firmware) verified(metadata []byte, blobID uint64) (*fw.ImageFile, error) {
	m, err := fw.ParseMetadata(metadata)
	if err != nil {
		return nil, fmt.Errorf("dfu: verify: %w", err)
	}
	var data []byte
	if f.Data != nil {
		data = f.Data(blobID)
	}
	if data == nil {
		return nil, fmt.Errorf("dfu: verify: no image received for BLOB %016x", blobID)
	}
	var file fw.ImageFile
	if err := file.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("dfu: verify: %w", err)
	}
	if !bytes.Equal(file.Metadata, metadata) {
		return nil, fmt.Errorf("dfu: verify: %w: image file metadata differs from the Start's", fw.ErrMetadataFormat)
	}
	if err := fw.VerifyImage(bytes.NewReader(file.Image), m, file.FirmwareID, f.PublicKey); err != nil {
		return nil, fmt.Errorf("dfu: verify: %w", err)
	}
	return &file, nil
}
