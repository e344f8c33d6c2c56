package fw

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"strings"
	"testing"
)

// exampleFile is the image file of docs/metadata.md: the example Firmware
// ID and signed metadata with the 7-octet image "meshdfu".
const exampleFile = "4d444655 01 07 78 00 07000000 " + exampleFWID + " " + exampleSigned + " 6d657368646675 e7524419"

// withCRC replaces the last 4 octets of p with the CRC-32C of the rest.
func withCRC(p []byte) []byte {
	body := p[:len(p)-4]
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

func TestImageFile_Unmarshal(t *testing.T) {
	good := mustHex(t, exampleFile)
	mod := func(f func(p []byte) []byte) string {
		return hex.EncodeToString(f(bytes.Clone(good)))
	}
	tests := []struct {
		name string
		hex  string
		err  error
	}{
		{"metadata.md example", exampleFile, nil},
		{"no metadata", "4d444655 01 02 00 00 01000000 f105 aa 00000000", nil}, // CRC fixed below
		{"empty", "", ErrImageFile},
		{"short header", "4d444655 01 02 00 00 010000", ErrImageFile},
		{"bad magic", mod(func(p []byte) []byte { p[0] = 'm'; return withCRC(p) }), ErrImageFile},
		{"format 2", mod(func(p []byte) []byte { p[4] = 2; return withCRC(p) }), ErrImageFile},
		{"fwid length 1", "4d444655 01 01 00 00 01000000 f1 aa 00000000", ErrFirmwareID},
		{"fwid length 109", "4d444655 01 6d 00 00 01000000", ErrFirmwareID},
		{"reserved set", mod(func(p []byte) []byte { p[7] = 1; return withCRC(p) }), ErrImageFile},
		{"image length 0", "4d444655 01 02 00 00 00000000 f105 00000000", ErrImageFile},
		{"bad CRC", mod(func(p []byte) []byte { p[len(p)-1] ^= 1; return p }), ErrImageFile},
		{"flipped image bit", mod(func(p []byte) []byte { p[len(p)-6] ^= 1; return p }), ErrImageFile},
		{"trailing octet", mod(func(p []byte) []byte { return append(p, 0) }), ErrImageFile},
		{"truncated", mod(func(p []byte) []byte { return p[:len(p)-1] }), ErrImageFile},
		{"image length too big", mod(func(p []byte) []byte { p[8] = 8; return withCRC(p) }), ErrImageFile},
		{"image length huge", mod(func(p []byte) []byte { p[11] = 0xff; return withCRC(p) }), ErrImageFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustHex(t, tt.hex)
			if tt.name == "no metadata" || tt.name == "fwid length 1" {
				p = withCRC(p)
			}
			var f ImageFile
			err := f.UnmarshalBinary(p)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("UnmarshalBinary: %v, want %v", err, tt.err)
			}
			rf, rerr := ReadImageFile(bytes.NewReader(p))
			if !errors.Is(rerr, tt.err) || (tt.err == nil) != (rerr == nil) {
				t.Fatalf("ReadImageFile: %v, want %v", rerr, tt.err)
			}
			if tt.err != nil {
				return
			}
			if !bytes.Equal(rf.Image, f.Image) || !bytes.Equal(rf.FirmwareID, f.FirmwareID) || !bytes.Equal(rf.Metadata, f.Metadata) {
				t.Fatal("ReadImageFile and UnmarshalBinary disagree")
			}
			b, err := f.MarshalBinary()
			if err != nil || !bytes.Equal(b, p) {
				t.Fatalf("re-encode %x, %v", b, err)
			}
			for i := range p {
				if err := new(ImageFile).UnmarshalBinary(p[:i]); !errors.Is(err, ErrImageFile) {
					t.Fatalf("prefix %d: %v", i, err)
				}
			}
		})
	}
}

func TestImageFile_Example(t *testing.T) {
	f := ImageFile{FirmwareID: mustHex(t, exampleFWID), Metadata: mustHex(t, exampleSigned), Image: []byte("meshdfu")}
	var buf bytes.Buffer
	if err := WriteImageFile(&buf, &f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), mustHex(t, exampleFile)) {
		t.Fatalf("got %x", buf.Bytes())
	}
}

func TestImageFile_MarshalRejects(t *testing.T) {
	for name, f := range map[string]ImageFile{
		"fwid 1":       {FirmwareID: []byte{1}, Image: []byte{1}},
		"fwid 109":     {FirmwareID: make([]byte, 109), Image: []byte{1}},
		"metadata 256": {FirmwareID: []byte{1, 2}, Metadata: make([]byte, 256), Image: []byte{1}},
		"no image":     {FirmwareID: []byte{1, 2}},
	} {
		if _, err := f.MarshalBinary(); !errors.Is(err, ErrImageFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A header claiming a 4 GiB image over a short stream does not make
// ReadImageFile allocate 4 GiB.
func TestReadImageFile_LyingHeader(t *testing.T) {
	p := mustHex(t, "4d444655 01 02 00 00 ffffffff f105 aa")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := ReadImageFile(bytes.NewReader(p)); !errors.Is(err, ErrImageFile) {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("allocated %d octets for a 19-octet input", n)
	}
	if _, err := ReadImageFile(io.LimitReader(strings.NewReader(""), 0)); !errors.Is(err, ErrImageFile) {
		t.Fatal(err)
	}
}
