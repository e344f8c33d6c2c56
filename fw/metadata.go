package fw

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/internal/wire"
)

// Limits from the Firmware Update model (MshDFU; shared/spec/dfu.md §4, §6):
// a Firmware ID is a 2-octet Company ID plus 0..106 octets of version
// information, and firmware metadata is at most 255 octets.
const (
	MinFirmwareIDLen = 2
	MaxFirmwareIDLen = 108
	MaxMetadataLen   = 255
)

// Metadata format constants (docs/metadata.md).
const (
	// MetadataFormat is the format octet written after the magic.
	MetadataFormat = 0x01
	// MaxVersionLen is the longest version string.
	MaxVersionLen = 64
	// KeyIDLen is the length of a key ID: the first octets of SHA-256 of
	// the public key.
	KeyIDLen = 8
	// SignatureLen is the length of an Ed25519 signature.
	SignatureLen = ed25519.SignatureSize
	// MaxMarshaledMetadataLen is the longest metadata this package writes
	// (a 64-character version, key ID and signature): 177 octets.
	MaxMarshaledMetadataLen = metaFixedLen + MaxVersionLen + KeyIDLen + SignatureLen
)

// metadataMagic opens every meshdfu metadata: "MD".
var metadataMagic = [2]byte{'M', 'D'}

const (
	metaFixedLen = 2 + 1 + 1 + 4 + sha256.Size + 1 // magic, format, flags, size, hash, version length

	flagKeyID     = 0x40
	flagSignature = 0x80
	flagRFU       = 0x38
)

// Flags describe what applying the image does to the node. They map to the
// Firmware Update Additional Information (shared/spec/dfu.md Table FS-4)
// through Metadata.AdditionalInformation.
type Flags uint8

// Flag bits (bits 0..2 of the flags octet; bits 3..5 are RFU and bits 6..7
// are presence bits the codec sets from KeyID and Signature).
const (
	// FlagCompositionChange: Composition Data changes after the image is
	// applied.
	FlagCompositionChange Flags = 0x01
	// FlagRemoteProvisioning: with FlagCompositionChange, the node supports
	// Remote Provisioning and exposes the new Composition Data in page 128
	// until it is refreshed (Additional Information 0x2 rather than 0x1).
	FlagRemoteProvisioning Flags = 0x02
	// FlagUnprovision: the node becomes unprovisioned after the image is
	// applied (it must be provisioned again).
	FlagUnprovision Flags = 0x04

	flagsDefined = FlagCompositionChange | FlagRemoteProvisioning | FlagUnprovision
)

// Firmware Update Additional Information values (shared/spec/dfu.md
// Table FS-4).
const (
	AdditionalInfoNoChange             = 0x0 // Composition Data will not change
	AdditionalInfoCompositionChange    = 0x1 // changes; new data after re-provisioning
	AdditionalInfoCompositionChangeRPR = 0x2 // changes; Remote Provisioning supported
	AdditionalInfoUnprovisioned        = 0x3 // node will become unprovisioned
)

// Metadata is meshdfu's firmware metadata, the octets a Firmware Update
// Start or Metadata Check carries as Incoming Firmware Metadata. Wire layout
// (multi-octet integers little-endian; docs/metadata.md):
//
//	Magic "MD" (2) | Format 0x01 (1) | Flags (1) | Image Size (4) |
//	Image SHA-256 (32) | Version Length V (1) | Version (V, 1..64) |
//	[Key ID (8), when flags bit 6] | [Signature (64), when flags bit 7]
//
// The flags octet: bit 0 FlagCompositionChange, bit 1
// FlagRemoteProvisioning, bit 2 FlagUnprovision, bits 3..5 RFU (zero), bit 6
// key ID present, bit 7 signature present.
//
// The Ed25519 signature covers every metadata octet before it (so the flags
// and key ID are signed), then the Firmware ID, then the image SHA-256:
//
//	metadata[:len-64] ‖ Firmware ID ‖ Image SHA-256
type Metadata struct {
	Version string   // new firmware version: 1..64 printable ASCII characters, no spaces
	Size    uint32   // image size in octets, at least 1
	SHA256  [32]byte // SHA-256 of the image
	Flags   Flags    // effect of applying the image
	KeyID   []byte   // nil, or KeyIDLen octets naming the signing key
	// Signature is nil (unsigned) or SignatureLen octets.
	Signature []byte
}

// MarshalSize returns the encoded length of m.
func (m *Metadata) MarshalSize() int {
	n := metaFixedLen + len(m.Version)
	if m.KeyID != nil {
		n += KeyIDLen
	}
	if m.Signature != nil {
		n += SignatureLen
	}
	return n
}

func (m *Metadata) validate() error {
	if err := CheckVersion(m.Version); err != nil {
		return err
	}
	if m.Size == 0 {
		return fmt.Errorf("%w: image size 0", ErrMetadataFormat)
	}
	if m.Flags&^flagsDefined != 0 {
		return fmt.Errorf("%w: flags 0x%02x use RFU bits", ErrMetadataFormat, uint8(m.Flags))
	}
	if m.Flags&FlagRemoteProvisioning != 0 && m.Flags&FlagCompositionChange == 0 {
		return fmt.Errorf("%w: remote-provisioning flag without composition-change", ErrMetadataFormat)
	}
	if m.KeyID != nil && len(m.KeyID) != KeyIDLen {
		return fmt.Errorf("%w: key ID has %d octets, want %d", ErrMetadataFormat, len(m.KeyID), KeyIDLen)
	}
	if m.Signature != nil && len(m.Signature) != SignatureLen {
		return fmt.Errorf("%w: signature has %d octets, want %d", ErrMetadataFormat, len(m.Signature), SignatureLen)
	}
	return nil
}

// CheckVersion reports ErrMetadataFormat unless v is a valid version
// string: 1..64 printable ASCII characters, no spaces.
func CheckVersion(v string) error {
	if len(v) == 0 || len(v) > MaxVersionLen {
		return fmt.Errorf("%w: version has %d characters, want 1..%d", ErrMetadataFormat, len(v), MaxVersionLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return fmt.Errorf("%w: version %q: character 0x%02x at %d is not printable ASCII", ErrMetadataFormat, v, v[i], i)
		}
	}
	return nil
}

// AppendBinary appends the encoded metadata to b. It fails with
// ErrMetadataFormat when a field is out of range.
func (m *Metadata) AppendBinary(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, err
	}
	b = m.appendUnsigned(b)
	return append(b, m.Signature...), nil
}

// appendUnsigned appends every field before the signature, with the flags
// octet saying whether a signature follows. m must be valid.
func (m *Metadata) appendUnsigned(b []byte) []byte {
	flags := uint8(m.Flags)
	if m.KeyID != nil {
		flags |= flagKeyID
	}
	if m.Signature != nil {
		flags |= flagSignature
	}
	b = append(b, metadataMagic[0], metadataMagic[1], MetadataFormat, flags)
	b = binary.LittleEndian.AppendUint32(b, m.Size)
	b = append(b, m.SHA256[:]...)
	b = append(b, byte(len(m.Version)))
	b = append(b, m.Version...)
	return append(b, m.KeyID...)
}

// Marshal returns the encoded metadata.
func (m *Metadata) Marshal() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.MarshalSize()))
}

// Unmarshal decodes p strictly: the magic, format, RFU bits, field ranges
// and the exact length are checked, and every failure wraps
// ErrMetadataFormat. It does not retain p.
func (m *Metadata) Unmarshal(p []byte) error {
	if len(p) > MaxMetadataLen {
		return fmt.Errorf("%w: %d octets, at most %d", ErrMetadataFormat, len(p), MaxMetadataLen)
	}
	r := wire.NewReader(p)
	magic := r.Bytes(2)
	format := r.U8()
	flags := r.U8()
	size := r.U32LE()
	hash := r.Bytes(sha256.Size)
	vlen := r.U8()
	version := r.Bytes(int(vlen))
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrMetadataFormat, err)
	}
	if !bytes.Equal(magic, metadataMagic[:]) {
		return fmt.Errorf("%w: magic %x, want %x (not meshdfu metadata)", ErrMetadataFormat, magic, metadataMagic)
	}
	if format != MetadataFormat {
		return fmt.Errorf("%w: format 0x%02x, want 0x%02x", ErrMetadataFormat, format, MetadataFormat)
	}
	if flags&flagRFU != 0 {
		return fmt.Errorf("%w: flags 0x%02x use RFU bits", ErrMetadataFormat, flags)
	}
	var keyID, sig []byte
	if flags&flagKeyID != 0 {
		keyID = bytes.Clone(r.Bytes(KeyIDLen))
	}
	if flags&flagSignature != 0 {
		sig = bytes.Clone(r.Bytes(SignatureLen))
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrMetadataFormat, err)
	}
	out := Metadata{
		Version:   string(version),
		Size:      size,
		Flags:     Flags(flags) &^ (flagKeyID | flagSignature),
		KeyID:     keyID,
		Signature: sig,
	}
	copy(out.SHA256[:], hash)
	if err := out.validate(); err != nil {
		return err
	}
	*m = out
	return nil
}

// ParseMetadata decodes p as with Unmarshal.
func ParseMetadata(p []byte) (*Metadata, error) {
	m := new(Metadata)
	if err := m.Unmarshal(p); err != nil {
		return nil, err
	}
	return m, nil
}

// AdditionalInformation returns the Firmware Update Additional Information
// (Table FS-4) a target reports in the Metadata Status for this image.
func (m *Metadata) AdditionalInformation() uint8 {
	switch {
	case m.Flags&FlagUnprovision != 0:
		return AdditionalInfoUnprovisioned
	case m.Flags&FlagCompositionChange != 0 && m.Flags&FlagRemoteProvisioning != 0:
		return AdditionalInfoCompositionChangeRPR
	case m.Flags&FlagCompositionChange != 0:
		return AdditionalInfoCompositionChange
	}
	return AdditionalInfoNoChange
}

// CheckFirmwareID reports ErrFirmwareID unless fwid is 2..108 octets.
func CheckFirmwareID(fwid []byte) error {
	if len(fwid) < MinFirmwareIDLen || len(fwid) > MaxFirmwareIDLen {
		return fmt.Errorf("%w: %d octets, want %d..%d", ErrFirmwareID, len(fwid), MinFirmwareIDLen, MaxFirmwareIDLen)
	}
	return nil
}

// signedMessage returns the octets the signature covers:
// metadata-without-signature ‖ fwid ‖ image hash. m must be valid.
func (m *Metadata) signedMessage(fwid []byte, hash [32]byte) []byte {
	b := make([]byte, 0, metaFixedLen+len(m.Version)+KeyIDLen+len(fwid)+len(hash))
	b = m.appendUnsignedSigned(b) // the flags octet says "signed" either way
	b = append(b, fwid...)
	return append(b, hash[:]...)
}

// appendUnsignedSigned is appendUnsigned with the signature-present bit set.
func (m *Metadata) appendUnsignedSigned(b []byte) []byte {
	start := len(b)
	b = m.appendUnsigned(b)
	b[start+3] |= flagSignature
	return b
}

// Sign signs m for the image with Firmware ID fwid using priv: it sets
// KeyID and Signature. The signature binds the metadata (version, size,
// hash, flags, key ID), the Firmware ID and the image hash.
func (m *Metadata) Sign(priv ed25519.PrivateKey, fwid []byte) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key has %d octets", ErrKeyFormat, len(priv))
	}
	if err := CheckFirmwareID(fwid); err != nil {
		return fmt.Errorf("fw: sign: %w", err)
	}
	id := KeyID(priv.Public().(ed25519.PublicKey))
	m.KeyID = id[:]
	m.Signature = nil
	if err := m.validate(); err != nil {
		return fmt.Errorf("fw: sign: %w", err)
	}
	m.Signature = ed25519.Sign(priv, m.signedMessage(fwid, m.SHA256))
	return nil
}

// Verify checks that imageHash is the hash m names (ErrHashMismatch) and
// that m carries a valid signature by pub over m, fwid and the hash
// (ErrBadSignature, also wrapping ErrUnsigned when there is none). It does
// not check the image size; Verifier does.
func (m *Metadata) Verify(pub ed25519.PublicKey, fwid []byte, imageHash [32]byte) error {
	if imageHash != m.SHA256 {
		return fmt.Errorf("%w: image %x, metadata %x", ErrHashMismatch, imageHash[:8], m.SHA256[:8])
	}
	return m.VerifySignature(pub, fwid)
}

// VerifySignature checks only the signature of m over m, fwid and m.SHA256.
func (m *Metadata) VerifySignature(pub ed25519.PublicKey, fwid []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key has %d octets", ErrKeyFormat, len(pub))
	}
	if err := m.validate(); err != nil {
		return err
	}
	if m.Signature == nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, ErrUnsigned)
	}
	if m.KeyID != nil {
		if id := KeyID(pub); !bytes.Equal(m.KeyID, id[:]) {
			return fmt.Errorf("%w: signed by key %x, verifying with key %x", ErrBadSignature, m.KeyID, id)
		}
	}
	if !ed25519.Verify(pub, m.signedMessage(fwid, m.SHA256), m.Signature) {
		return fmt.Errorf("%w: signature does not verify for Firmware ID %x", ErrBadSignature, fwid)
	}
	return nil
}

// KeyID returns the key ID of pub: the first 8 octets of SHA-256(pub).
func KeyID(pub ed25519.PublicKey) [KeyIDLen]byte {
	h := sha256.Sum256(pub)
	var id [KeyIDLen]byte
	copy(id[:], h[:])
	return id
}

// NewMetadata returns unsigned metadata for image: its size and SHA-256,
// version and flags. Sign it before shipping.
func NewMetadata(version string, image []byte, flags Flags) (*Metadata, error) {
	if uint64(len(image)) > 0xFFFFFFFF {
		return nil, fmt.Errorf("%w: image has %d octets, at most 2^32-1", ErrMetadataFormat, len(image))
	}
	m := &Metadata{Version: version, Size: uint32(len(image)), SHA256: sha256.Sum256(image), Flags: flags}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}
