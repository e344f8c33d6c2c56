package fw

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// exampleKey is the docs/metadata.md key: the Ed25519 seed 00 01 … 1f.
func exampleKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// exampleImage is the docs/metadata.md image: 1024 octets 00 01 … ff 00 ….
func exampleImage() []byte {
	img := make([]byte, 1024)
	for i := range img {
		img[i] = byte(i)
	}
	return img
}

const (
	exampleFWID     = "f105 0100020003"
	exampleSHA      = "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9"
	exampleUnsigned = "4d44 01 01 00040000 " + exampleSHA + " 07 312e322e302b33"
	exampleSigned   = "4d44 01 c1 00040000 " + exampleSHA + " 07 312e322e302b33 56475aa75463474c " +
		"1eba0e87f7fe5e1c1e4b52f34286b7c9624fc1cc6d12a5bda8a79374b48bd2d1a31b164af7d5321b07b061d40abff8723d971e924a61e11df614f0933252830b"
)

func exampleMetadata(t testing.TB) *Metadata {
	t.Helper()
	m, err := NewMetadata("1.2.0+3", exampleImage(), FlagCompositionChange)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The worked example of docs/metadata.md, octet for octet.
func TestMetadata_DocExample(t *testing.T) {
	m := exampleMetadata(t)
	if got := hex.EncodeToString(m.SHA256[:]); got != exampleSHA {
		t.Fatalf("image SHA-256 %s", got)
	}
	b, err := m.Marshal()
	if err != nil || !bytes.Equal(b, mustHex(t, exampleUnsigned)) {
		t.Fatalf("unsigned: %x, %v", b, err)
	}
	if err := m.Sign(exampleKey(), mustHex(t, exampleFWID)); err != nil {
		t.Fatal(err)
	}
	b, err = m.Marshal()
	if err != nil || !bytes.Equal(b, mustHex(t, exampleSigned)) {
		t.Fatalf("signed: %x, %v", b, err)
	}
	if len(b) != 120 {
		t.Errorf("length %d", len(b))
	}
	id := KeyID(exampleKey().Public().(ed25519.PublicKey))
	if hex.EncodeToString(id[:]) != "56475aa75463474c" {
		t.Errorf("key ID %x", id)
	}
}

func TestMetadata_Unmarshal(t *testing.T) {
	sig := bytes.Repeat([]byte{0xAB}, 64)
	sha := mustHex(t, exampleSHA)
	tests := []struct {
		name string
		hex  string
		want *Metadata
		err  error
	}{
		{"metadata.md unsigned", exampleUnsigned, &Metadata{Version: "1.2.0+3", Size: 1024, Flags: FlagCompositionChange}, nil},
		{"metadata.md signed", exampleSigned, &Metadata{Version: "1.2.0+3", Size: 1024, Flags: FlagCompositionChange,
			KeyID: mustHex(t, "56475aa75463474c"), Signature: mustHex(t, exampleSigned)[56:]}, nil},
		{"no flags, 1-char version", "4d44 01 00 01000000 " + exampleSHA + " 01 31", &Metadata{Version: "1", Size: 1}, nil},
		{"composition change with RPR", "4d44 01 03 01000000 " + exampleSHA + " 01 31", &Metadata{Version: "1", Size: 1, Flags: 3}, nil},
		{"unprovision", "4d44 01 04 01000000 " + exampleSHA + " 01 31", &Metadata{Version: "1", Size: 1, Flags: FlagUnprovision}, nil},
		{"signature without key ID", "4d44 01 80 01000000 " + exampleSHA + " 01 31" + hex.EncodeToString(sig),
			&Metadata{Version: "1", Size: 1, Signature: sig}, nil},
		{"empty", "", nil, ErrMetadataFormat},
		{"bad magic", "4d45 01 00 01000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"format 2", "4d44 02 00 01000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"RFU flag bit 3", "4d44 01 08 01000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"RFU flag bit 5", "4d44 01 20 01000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"RPR without composition change", "4d44 01 02 01000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"size 0", "4d44 01 00 00000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"empty version", "4d44 01 00 01000000 " + exampleSHA + " 00", nil, ErrMetadataFormat},
		{"version with space", "4d44 01 00 01000000 " + exampleSHA + " 02 3120", nil, ErrMetadataFormat},
		{"version with control char", "4d44 01 00 01000000 " + exampleSHA + " 02 310a", nil, ErrMetadataFormat},
		{"version not ASCII", "4d44 01 00 01000000 " + exampleSHA + " 02 c3a9", nil, ErrMetadataFormat},
		{"version 65 chars", "4d44 01 00 01000000 " + exampleSHA + " 41 " + strings.Repeat("31", 65), nil, ErrMetadataFormat},
		{"version length past end", "4d44 01 00 01000000 " + exampleSHA + " 05 3131", nil, ErrMetadataFormat},
		{"trailing octet", "4d44 01 00 01000000 " + exampleSHA + " 01 31 00", nil, ErrMetadataFormat},
		{"key ID flag, no key ID", "4d44 01 40 01000000 " + exampleSHA + " 01 31", nil, ErrMetadataFormat},
		{"key ID short", "4d44 01 40 01000000 " + exampleSHA + " 01 31 01020304050607", nil, ErrMetadataFormat},
		{"signature short", "4d44 01 80 01000000 " + exampleSHA + " 01 31" + strings.Repeat("ab", 63), nil, ErrMetadataFormat},
		{"signature, flag clear", "4d44 01 00 01000000 " + exampleSHA + " 01 31" + strings.Repeat("ab", 64), nil, ErrMetadataFormat},
		{"over 255 octets", "4d44 01 00 01000000 " + exampleSHA + " 01 31" + strings.Repeat("00", 214), nil, ErrMetadataFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustHex(t, tt.hex)
			var m Metadata
			err := m.Unmarshal(p)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			tt.want.SHA256 = [32]byte(sha)
			if !metaEqual(&m, tt.want) {
				t.Fatalf("got %+v\nwant %+v", m, *tt.want)
			}
			b, err := m.Marshal()
			if err != nil || !bytes.Equal(b, p) {
				t.Fatalf("re-encode %x, %v", b, err)
			}
			for i := range p { // no strict prefix parses
				if err := new(Metadata).Unmarshal(p[:i]); !errors.Is(err, ErrMetadataFormat) {
					t.Fatalf("prefix of %d octets: %v", i, err)
				}
			}
		})
	}
}

func metaEqual(a, b *Metadata) bool {
	return a.Version == b.Version && a.Size == b.Size && a.SHA256 == b.SHA256 && a.Flags == b.Flags &&
		bytes.Equal(a.KeyID, b.KeyID) && bytes.Equal(a.Signature, b.Signature) &&
		(a.KeyID == nil) == (b.KeyID == nil) && (a.Signature == nil) == (b.Signature == nil)
}

func TestMetadata_MarshalRejects(t *testing.T) {
	base := func() Metadata { return Metadata{Version: "1", Size: 1} }
	for name, mod := range map[string]func(*Metadata){
		"empty version":  func(m *Metadata) { m.Version = "" },
		"long version":   func(m *Metadata) { m.Version = strings.Repeat("v", 65) },
		"size 0":         func(m *Metadata) { m.Size = 0 },
		"RFU flag":       func(m *Metadata) { m.Flags = 0x10 },
		"presence flag":  func(m *Metadata) { m.Flags = 0x80 },
		"RPR alone":      func(m *Metadata) { m.Flags = FlagRemoteProvisioning },
		"key ID 7":       func(m *Metadata) { m.KeyID = make([]byte, 7) },
		"signature 63":   func(m *Metadata) { m.Signature = make([]byte, 63) },
		"empty key ID":   func(m *Metadata) { m.KeyID = []byte{} },
		"signature 65":   func(m *Metadata) { m.Signature = make([]byte, 65) },
		"version spaces": func(m *Metadata) { m.Version = "1 2" },
	} {
		m := base()
		mod(&m)
		if _, err := m.Marshal(); !errors.Is(err, ErrMetadataFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The largest metadata this package writes fits in 255 octets.
	m := Metadata{Version: strings.Repeat("9", MaxVersionLen), Size: 1, KeyID: make([]byte, 8), Signature: make([]byte, 64)}
	b, err := m.Marshal()
	if err != nil || len(b) != MaxMarshaledMetadataLen || len(b) > MaxMetadataLen {
		t.Fatalf("largest: %d octets, %v", len(b), err)
	}
}

func TestMetadata_AdditionalInformation(t *testing.T) {
	for _, tt := range []struct {
		flags Flags
		want  uint8
	}{
		{0, AdditionalInfoNoChange},
		{FlagCompositionChange, AdditionalInfoCompositionChange},
		{FlagCompositionChange | FlagRemoteProvisioning, AdditionalInfoCompositionChangeRPR},
		{FlagUnprovision, AdditionalInfoUnprovisioned},
		{FlagUnprovision | FlagCompositionChange, AdditionalInfoUnprovisioned},
	} {
		m := Metadata{Flags: tt.flags}
		if got := m.AdditionalInformation(); got != tt.want {
			t.Errorf("flags %#x: %d, want %d", tt.flags, got, tt.want)
		}
	}
}

func TestMetadata_SignVerify(t *testing.T) {
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	_, otherPriv, _ := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	otherPub := otherPriv.Public().(ed25519.PublicKey)
	fwid := mustHex(t, exampleFWID)
	img := exampleImage()
	m := exampleMetadata(t)
	if err := m.Sign(priv, fwid); err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256(img)
	if err := m.Verify(pub, fwid, hash); err != nil {
		t.Fatalf("valid: %v", err)
	}
	// Round trip through the wire keeps it valid.
	b, _ := m.Marshal()
	m2, err := ParseMetadata(b)
	if err != nil || m2.Verify(pub, fwid, hash) != nil {
		t.Fatalf("after round trip: %v", err)
	}

	bad := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	bad("other key", m.Verify(otherPub, fwid, hash), ErrBadSignature)
	bad("other Firmware ID", m.Verify(pub, mustHex(t, "f105 0100020004"), hash), ErrBadSignature)
	img[5] ^= 1
	bad("tampered image", m.Verify(pub, fwid, sha256.Sum256(img)), ErrHashMismatch)
	img[5] ^= 1

	// Tampering with any signed field breaks the signature, key ID included.
	for name, mod := range map[string]func(*Metadata){
		"version": func(m *Metadata) { m.Version = "1.2.1" },
		"size":    func(m *Metadata) { m.Size++ },
		"flags":   func(m *Metadata) { m.Flags = 0 },
		"key ID":  func(m *Metadata) { m.KeyID = nil },
		"sig":     func(m *Metadata) { m.Signature[0] ^= 1 },
	} {
		c := *m2
		c.Signature = bytes.Clone(m2.Signature)
		mod(&c)
		bad(name, c.VerifySignature(pub, fwid), ErrBadSignature)
	}
	// Metadata and image re-hashed consistently but not re-signed.
	c := *m2
	c.SHA256 = sha256.Sum256([]byte("other"))
	bad("hash swapped", c.Verify(pub, fwid, c.SHA256), ErrBadSignature)

	unsigned := exampleMetadata(t)
	err = unsigned.Verify(pub, fwid, hash)
	bad("unsigned", err, ErrBadSignature)
	bad("unsigned", err, ErrUnsigned)
	bad("short key", m.Verify(pub[:31], fwid, hash), ErrKeyFormat)
	bad("sign with short key", unsigned.Sign(priv[:10], fwid), ErrKeyFormat)
	bad("sign with 1-octet fwid", unsigned.Sign(priv, []byte{1}), ErrFirmwareID)
	bad("sign with 109-octet fwid", unsigned.Sign(priv, make([]byte, 109)), ErrFirmwareID)
}

func TestCheckFirmwareID(t *testing.T) {
	for n, ok := range map[int]bool{0: false, 1: false, 2: true, 108: true, 109: false} {
		if err := CheckFirmwareID(make([]byte, n)); (err == nil) != ok {
			t.Errorf("%d octets: %v", n, err)
		}
	}
}

func TestNewMetadata_Rejects(t *testing.T) {
	if _, err := NewMetadata("1", nil, 0); !errors.Is(err, ErrMetadataFormat) {
		t.Errorf("empty image: %v", err)
	}
	if _, err := NewMetadata("", []byte{1}, 0); !errors.Is(err, ErrMetadataFormat) {
		t.Errorf("empty version: %v", err)
	}
}
