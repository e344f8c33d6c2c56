package fw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Image file constants (docs/metadata.md).
const (
	// ImageFileFormat is the format octet after the "MDFU" magic.
	ImageFileFormat = 0x01
	// imageHeaderLen: magic (4), format (1), Firmware ID length (1),
	// metadata length (1), reserved (1), image length (4).
	imageHeaderLen  = 12
	imageTrailerLen = 4
	// ImageFileOverhead is the size of an image file beyond its Firmware
	// ID, metadata and image: header and CRC.
	ImageFileOverhead = imageHeaderLen + imageTrailerLen
)

var imageMagic = [4]byte{'M', 'D', 'F', 'U'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ImageFile is a firmware image with its Firmware ID and metadata, as one
// file (what "meshdfu firmware pack" writes and a distributor uploads).
// Layout (multi-octet integers little-endian):
//
//	Magic "MDFU" (4) | Format 0x01 (1) | Firmware ID Length F (1, 2..108) |
//	Metadata Length M (1, 0..255) | Reserved 0x00 (1) | Image Length N (4, ≥1) |
//	Firmware ID (F) | Metadata (M) | Image (N) | CRC-32C of all preceding octets (4)
//
// The metadata is opaque here: usually meshdfu metadata (ParseMetadata),
// but any vendor metadata up to 255 octets is carried as is.
type ImageFile struct {
	FirmwareID []byte
	Metadata   []byte
	Image      []byte
}

func (f *ImageFile) validate() error {
	if err := CheckFirmwareID(f.FirmwareID); err != nil {
		return fmt.Errorf("%w: %w", ErrImageFile, err)
	}
	if len(f.Metadata) > MaxMetadataLen {
		return fmt.Errorf("%w: metadata has %d octets, at most %d", ErrImageFile, len(f.Metadata), MaxMetadataLen)
	}
	if len(f.Image) == 0 || uint64(len(f.Image)) > 0xFFFFFFFF {
		return fmt.Errorf("%w: image has %d octets, want 1..2^32-1", ErrImageFile, len(f.Image))
	}
	return nil
}

// MarshalSize returns the encoded length of f.
func (f *ImageFile) MarshalSize() int {
	return ImageFileOverhead + len(f.FirmwareID) + len(f.Metadata) + len(f.Image)
}

// AppendBinary appends the encoded file to b.
func (f *ImageFile) AppendBinary(b []byte) ([]byte, error) {
	if err := f.validate(); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, imageMagic[:]...)
	b = append(b, ImageFileFormat, byte(len(f.FirmwareID)), byte(len(f.Metadata)), 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Image)))
	b = append(b, f.FirmwareID...)
	b = append(b, f.Metadata...)
	b = append(b, f.Image...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// MarshalBinary returns the encoded file.
func (f *ImageFile) MarshalBinary() ([]byte, error) {
	return f.AppendBinary(make([]byte, 0, f.MarshalSize()))
}

// imageHeader is the decoded fixed header.
type imageHeader struct{ fwidLen, metaLen, imageLen int }

func parseImageHeader(p []byte) (imageHeader, error) {
	if len(p) < imageHeaderLen {
		return imageHeader{}, fmt.Errorf("%w: %d octets, header needs %d", ErrImageFile, len(p), imageHeaderLen)
	}
	if !bytes.Equal(p[:4], imageMagic[:]) {
		return imageHeader{}, fmt.Errorf("%w: magic %q, want %q", ErrImageFile, p[:4], imageMagic[:])
	}
	if p[4] != ImageFileFormat {
		return imageHeader{}, fmt.Errorf("%w: format 0x%02x, want 0x%02x", ErrImageFile, p[4], ImageFileFormat)
	}
	h := imageHeader{fwidLen: int(p[5]), metaLen: int(p[6]), imageLen: int(binary.LittleEndian.Uint32(p[8:12]))}
	if h.fwidLen < MinFirmwareIDLen || h.fwidLen > MaxFirmwareIDLen {
		return imageHeader{}, fmt.Errorf("%w: %w: %d octets", ErrImageFile, ErrFirmwareID, h.fwidLen)
	}
	if p[7] != 0 {
		return imageHeader{}, fmt.Errorf("%w: reserved octet 0x%02x, want 0", ErrImageFile, p[7])
	}
	if h.imageLen == 0 {
		return imageHeader{}, fmt.Errorf("%w: empty image", ErrImageFile)
	}
	return h, nil
}

// UnmarshalBinary decodes p strictly: magic, format, lengths, reserved
// octet, the exact total length and the CRC. Every failure wraps
// ErrImageFile. It does not retain p.
func (f *ImageFile) UnmarshalBinary(p []byte) error {
	h, err := parseImageHeader(p)
	if err != nil {
		return err
	}
	want := ImageFileOverhead + h.fwidLen + h.metaLen + h.imageLen
	if len(p) != want {
		return fmt.Errorf("%w: %d octets, header says %d", ErrImageFile, len(p), want)
	}
	body := p[:len(p)-imageTrailerLen]
	if got, sum := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(p[len(body):]); got != sum {
		return fmt.Errorf("%w: CRC-32C %08x, file says %08x", ErrImageFile, got, sum)
	}
	r := body[imageHeaderLen:]
	*f = ImageFile{
		FirmwareID: bytes.Clone(r[:h.fwidLen]),
		Metadata:   bytes.Clone(r[h.fwidLen : h.fwidLen+h.metaLen]),
		Image:      bytes.Clone(r[h.fwidLen+h.metaLen:]),
	}
	return nil
}

// ReadImageFile reads and decodes one image file from r, which must end
// where the file ends. Memory grows with the octets actually read, not with
// the lengths the header claims.
func ReadImageFile(r io.Reader) (*ImageFile, error) {
	var hdr [imageHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrImageFile, err)
	}
	h, err := parseImageHeader(hdr[:])
	if err != nil {
		return nil, err
	}
	want := int64(ImageFileOverhead + h.fwidLen + h.metaLen + h.imageLen)
	var buf bytes.Buffer
	buf.Grow(int(min(want, 1<<20)))
	buf.Write(hdr[:])
	// Read one octet more than the file should have, to catch trailing data.
	if _, err := io.CopyN(&buf, r, want-imageHeaderLen+1); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: %w", ErrImageFile, err)
	}
	f := new(ImageFile)
	if err := f.UnmarshalBinary(buf.Bytes()); err != nil {
		return nil, err
	}
	return f, nil
}

// WriteImageFile encodes f to w.
func WriteImageFile(w io.Writer, f *ImageFile) error {
	b, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("fw: write image file: %w", err)
	}
	return nil
}
