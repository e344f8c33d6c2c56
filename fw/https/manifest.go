package https

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/meshdfu/meshdfu/fw"
)

// Limits on what a server may send besides the image.
const (
	// MaxManifestSize bounds the body of a check answer and the
	// manifest.json of an archive. The three-field manifests seen in
	// practice are under 200 octets.
	MaxManifestSize = 64 << 10
	// MaxImageSize is the largest image: Upload Firmware Size and the
	// capability fields are 4 octets (dfu.md §5.7, §5.13).
	MaxImageSize = math.MaxUint32
)

// CheckResult is the answer of Firmware Check over HTTPS (dfu.md §9.1): a
// newer firmware exists for the current Firmware ID. On the wire it is
//
//	{"manifest": {"firmware": {
//	    "firmware_id": "<hex Firmware ID of the new firmware>",
//	    "dfu_chain_size": <updates needed to reach the newest firmware>,
//	    "firmware_image_file_size": <image size in octets>}}}
type CheckResult struct {
	// FirmwareID is the new firmware's Firmware ID (2..108 octets).
	FirmwareID []byte
	// DFUChainSize is how many successive updates lead from the current
	// firmware to the newest; 1 means this firmware is the newest.
	DFUChainSize int
	// Size is the announced image size in octets (1..MaxImageSize).
	Size int64
}

// checkJSON is the wire form of CheckResult. Pointers tell a missing field
// from a zero one.
type checkJSON struct {
	Manifest *struct {
		Firmware *struct {
			FirmwareID   *string `json:"firmware_id"`
			DFUChainSize *int64  `json:"dfu_chain_size"`
			Size         *int64  `json:"firmware_image_file_size"`
		} `json:"firmware"`
	} `json:"manifest"`
}

// ParseManifest decodes the body of a check answer. It is strict about what
// it uses: one JSON object with manifest.firmware holding firmware_id (hex,
// either case, 2..108 octets), dfu_chain_size (an integer ≥ 1) and
// firmware_image_file_size (an integer 1..MaxImageSize); nothing may follow
// the object. Fields it does not use are ignored, so a server may add its
// own. Every failure wraps ErrManifest.
func ParseManifest(p []byte) (CheckResult, error) {
	if len(p) > MaxManifestSize {
		return CheckResult{}, fmt.Errorf("%w: manifest has %d octets, at most %d", ErrManifest, len(p), MaxManifestSize)
	}
	var m checkJSON
	if err := json.Unmarshal(p, &m); err != nil {
		return CheckResult{}, fmt.Errorf("%w: manifest: %w", ErrManifest, err)
	}
	if m.Manifest == nil {
		return CheckResult{}, fmt.Errorf("%w: manifest: no \"manifest\" object", ErrManifest)
	}
	f := m.Manifest.Firmware
	switch {
	case f == nil:
		return CheckResult{}, fmt.Errorf("%w: manifest: no \"manifest.firmware\" object", ErrManifest)
	case f.FirmwareID == nil:
		return CheckResult{}, fmt.Errorf("%w: manifest: no firmware_id", ErrManifest)
	case f.DFUChainSize == nil:
		return CheckResult{}, fmt.Errorf("%w: manifest: no dfu_chain_size", ErrManifest)
	case f.Size == nil:
		return CheckResult{}, fmt.Errorf("%w: manifest: no firmware_image_file_size", ErrManifest)
	}
	fwid, err := parseFWIDHex(*f.FirmwareID)
	if err != nil {
		return CheckResult{}, fmt.Errorf("%w: manifest: firmware_id: %w", ErrManifest, err)
	}
	if *f.DFUChainSize < 1 || *f.DFUChainSize > math.MaxInt32 {
		return CheckResult{}, fmt.Errorf("%w: manifest: dfu_chain_size %d, want at least 1", ErrManifest, *f.DFUChainSize)
	}
	if *f.Size < 1 || *f.Size > MaxImageSize {
		return CheckResult{}, fmt.Errorf("%w: manifest: firmware_image_file_size %d, want 1..%d", ErrManifest, *f.Size, int64(MaxImageSize))
	}
	return CheckResult{FirmwareID: fwid, DFUChainSize: int(*f.DFUChainSize), Size: *f.Size}, nil
}

// MarshalJSON encodes r as a check answer, with the Firmware ID in
// upper-case hex as the published examples have it.
func (r CheckResult) MarshalJSON() ([]byte, error) {
	if err := fw.CheckFirmwareID(r.FirmwareID); err != nil {
		return nil, fmt.Errorf("https: manifest: %w", err)
	}
	if r.DFUChainSize < 1 || r.Size < 1 || r.Size > MaxImageSize {
		return nil, fmt.Errorf("https: manifest: dfu_chain_size %d, size %d out of range", r.DFUChainSize, r.Size)
	}
	type firmware struct {
		FirmwareID   string `json:"firmware_id"`
		DFUChainSize int    `json:"dfu_chain_size"`
		Size         int64  `json:"firmware_image_file_size"`
	}
	type manifest struct {
		Firmware firmware `json:"firmware"`
	}
	return json.Marshal(struct {
		Manifest manifest `json:"manifest"`
	}{manifest{firmware{FormatFWID(r.FirmwareID), r.DFUChainSize, r.Size}}})
}

// FormatFWID returns the cfwid form of a Firmware ID: its octets in message
// order, two upper-case hex digits each (dfu.md §9.1).
func FormatFWID(fwid []byte) string { return strings.ToUpper(hex.EncodeToString(fwid)) }

// ParseFWID decodes a cfwid value or a manifest firmware_id: hex digits of
// either case, 2..108 octets.
func ParseFWID(s string) ([]byte, error) {
	b, err := parseFWIDHex(s)
	if err != nil {
		return nil, fmt.Errorf("https: Firmware ID %q: %w", truncate(s), err)
	}
	return b, nil
}

func parseFWIDHex(s string) ([]byte, error) {
	if len(s) > 2*fw.MaxFirmwareIDLen {
		return nil, fmt.Errorf("%w: %d hex digits, at most %d", fw.ErrFirmwareID, len(s), 2*fw.MaxFirmwareIDLen)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	if err := fw.CheckFirmwareID(b); err != nil {
		return nil, err
	}
	return b, nil
}

// truncate shortens untrusted text quoted in an error.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// archiveManifest is manifest.json inside a firmware archive (dfu.md §9.2,
// the Silicon Labs layout):
//
//	{"manifest": {"firmware": {
//	    "firmware_image_file": "firmware.bin",
//	    "metadata_file": "metadata.bin",
//	    "firmware_id": "<hex Firmware ID>"}}}
type archiveManifest struct {
	ImageFile    string // archive member holding the image
	MetadataFile string // archive member holding the metadata; "" when none
	FirmwareID   []byte
}

type archiveJSON struct {
	Manifest *struct {
		Firmware *struct {
			ImageFile    *string `json:"firmware_image_file"`
			MetadataFile *string `json:"metadata_file"`
			FirmwareID   *string `json:"firmware_id"`
		} `json:"firmware"`
	} `json:"manifest"`
}

// parseArchiveManifest decodes an archive's manifest.json: firmware_id and
// firmware_image_file are required, metadata_file is optional; member names
// must be relative paths without "..", and the two must differ. Failures
// wrap ErrManifest.
func parseArchiveManifest(p []byte) (archiveManifest, error) {
	if len(p) > MaxManifestSize {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json has %d octets, at most %d", ErrManifest, len(p), MaxManifestSize)
	}
	var m archiveJSON
	if err := json.Unmarshal(p, &m); err != nil {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json: %w", ErrManifest, err)
	}
	if m.Manifest == nil || m.Manifest.Firmware == nil {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json: no \"manifest.firmware\" object", ErrManifest)
	}
	f := m.Manifest.Firmware
	if f.FirmwareID == nil || f.ImageFile == nil {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json: firmware_id and firmware_image_file are required", ErrManifest)
	}
	var am archiveManifest
	var err error
	if am.FirmwareID, err = parseFWIDHex(*f.FirmwareID); err != nil {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json: firmware_id: %w", ErrManifest, err)
	}
	if am.ImageFile, err = memberName(*f.ImageFile); err != nil {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json: firmware_image_file: %w", ErrManifest, err)
	}
	if f.MetadataFile != nil && *f.MetadataFile != "" {
		if am.MetadataFile, err = memberName(*f.MetadataFile); err != nil {
			return archiveManifest{}, fmt.Errorf("%w: manifest.json: metadata_file: %w", ErrManifest, err)
		}
	}
	if am.ImageFile == am.MetadataFile || am.ImageFile == archiveManifestName || am.MetadataFile == archiveManifestName {
		return archiveManifest{}, fmt.Errorf("%w: manifest.json: image %q and metadata %q must be distinct files", ErrManifest, am.ImageFile, am.MetadataFile)
	}
	return am, nil
}

// memberName cleans an archive member name: relative, no "..", not empty.
func memberName(s string) (string, error) {
	c := path.Clean(s)
	if s == "" || len(s) > 255 || path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("bad member name %q", truncate(s))
	}
	return c, nil
}
