package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
)

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2 // main exits 2 for cobra's flag errors
}

// firmwareFixture makes a key pair and a raw image in a temp dir.
func firmwareFixture(t *testing.T) (dir, key, image string) {
	t.Helper()
	dir = t.TempDir()
	key = filepath.Join(dir, "signing.key")
	if _, _, err := runCmd(t, "firmware", "keygen", "--out", key); err != nil {
		t.Fatalf("keygen: %v", err)
	}
	image = filepath.Join(dir, "app.bin")
	if err := os.WriteFile(image, bytes.Repeat([]byte("firmware"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, key, image
}

func inspectJSON(t *testing.T, args ...string) (imageSummary, error) {
	t.Helper()
	out, _, err := runCmd(t, append([]string{"firmware", "inspect", "--json"}, args...)...)
	var s imageSummary
	if jerr := json.Unmarshal([]byte(out), &s); jerr != nil && err == nil {
		t.Fatalf("not JSON: %v\n%s", jerr, out)
	}
	return s, err
}

func TestFirmware_KeygenPackInspect(t *testing.T) {
	dir, key, image := firmwareFixture(t)
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	if _, _, err := runCmd(t, "firmware", "keygen", "--out", key); exitCode(err) != 1 {
		t.Errorf("keygen over an existing key: %v", err)
	}
	if _, _, err := runCmd(t, "firmware", "keygen", "--out", key, "--force"); err != nil {
		t.Errorf("keygen --force: %v", err)
	}

	out, _, err := runCmd(t, "firmware", "pack", "--image", image, "--fwid", "f105 0100 0200", "--version", "1.2.0",
		"--key", key, "--composition-change")
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	for _, want := range []string{"f10501000200 (company 0x05f1)", "1.2.0", "8000 octets", "composition-change (additional information 0x1)", "signature:       valid"} {
		if !strings.Contains(out, want) {
			t.Errorf("pack summary lacks %q:\n%s", want, out)
		}
	}
	packed := image + ".mdfu"

	s, err := inspectJSON(t, packed, "--pub", key+".pub")
	if err != nil || s.Signature != "valid" || s.Image != "ok" || s.Version != "1.2.0" || s.Size != 8000 ||
		s.FirmwareID != "f10501000200" || len(s.Flags) != 1 || s.KeyID == "" || *s.AdditionalInfo != 1 {
		t.Fatalf("inspect: %+v, %v", s, err)
	}
	if s, err := inspectJSON(t, packed); err != nil || s.Signature != "not checked" {
		t.Fatalf("inspect without key: %+v, %v", s, err)
	}
	text, _, err := runCmd(t, "firmware", "inspect", packed, "--pub", key+".pub")
	if err != nil || !strings.Contains(text, "signature:       valid") {
		t.Fatalf("inspect text: %v\n%s", err, text)
	}

	// Another key: the signature is invalid, exit 1.
	other := filepath.Join(dir, "other.key")
	runCmd(t, "firmware", "keygen", "--out", other)
	if s, err := inspectJSON(t, packed, "--pub", other+".pub"); exitCode(err) != 1 || s.Signature != "invalid" || s.SignatureError == "" {
		t.Fatalf("wrong key: %+v, %v", s, err)
	}

	// A tampered image (rebuilt with a valid CRC) fails the hash check.
	f := readImageFile(t, packed)
	f.Image[100] ^= 1
	tampered := filepath.Join(dir, "tampered.mdfu")
	writeImageFile(t, tampered, f)
	if s, err := inspectJSON(t, tampered, "--pub", key+".pub"); exitCode(err) != 1 || !strings.Contains(s.Image, "hash mismatch") {
		t.Fatalf("tampered: %+v, %v", s, err)
	}

	// Another Firmware ID on the same metadata: the signature binds the ID.
	f = readImageFile(t, packed)
	f.FirmwareID[2] = 9
	swapped := filepath.Join(dir, "swapped.mdfu")
	writeImageFile(t, swapped, f)
	if s, err := inspectJSON(t, swapped, "--pub", key+".pub"); exitCode(err) != 1 || s.Signature != "invalid" || s.Image != "ok" {
		t.Fatalf("swapped Firmware ID: %+v, %v", s, err)
	}

	// Vendor metadata that is not meshdfu's: printed, exit 1.
	f = readImageFile(t, packed)
	f.Metadata = []byte{1, 2, 3}
	vendor := filepath.Join(dir, "vendor.mdfu")
	writeImageFile(t, vendor, f)
	if s, err := inspectJSON(t, vendor); exitCode(err) != 1 || s.Metadata != "010203" || s.MetadataFormat == "meshdfu" {
		t.Fatalf("vendor metadata: %+v, %v", s, err)
	}

	// A damaged file.
	b, _ := os.ReadFile(packed)
	os.WriteFile(filepath.Join(dir, "cut.mdfu"), b[:len(b)-10], 0o644)
	if _, _, err := runCmd(t, "firmware", "inspect", filepath.Join(dir, "cut.mdfu")); exitCode(err) != 1 {
		t.Errorf("truncated file: %v", err)
	}
}

func TestFirmware_PackFlagsAndOut(t *testing.T) {
	dir, key, image := firmwareFixture(t)
	out := filepath.Join(dir, "x.mdfu")
	if _, _, err := runCmd(t, "firmware", "pack", "--image", image, "--fwid", "0xf1050200", "--version", "2.0.0-rc.1",
		"--key", key, "--composition-change", "--remote-provisioning", "--out", out); err != nil {
		t.Fatal(err)
	}
	s, err := inspectJSON(t, out, "--pub", key)
	if err != nil || *s.AdditionalInfo != 2 || s.Signature != "valid" {
		t.Fatalf("%+v %v", s, err)
	}
	if _, _, err := runCmd(t, "firmware", "pack", "--image", image, "--fwid", "f105", "--version", "3", "--key", key, "--unprovision", "--out", out); err != nil {
		t.Fatal(err)
	}
	if s, _ := inspectJSON(t, out); *s.AdditionalInfo != 3 {
		t.Fatalf("unprovision: %+v", s)
	}
}

func TestFirmware_Errors(t *testing.T) {
	dir, key, image := firmwareFixture(t)
	pack := func(extra ...string) []string {
		args := map[string]string{"--image": image, "--fwid": "f10501", "--version": "1.0", "--key": key}
		for i := 0; i+1 < len(extra); i += 2 {
			args[extra[i]] = extra[i+1]
		}
		out := []string{"firmware", "pack"}
		for k, v := range args {
			if v != "-" {
				out = append(out, k, v)
			}
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"keygen without --out", []string{"firmware", "keygen"}, 2},
		{"pack without --image", pack("--image", "-"), 2},
		{"pack without --key", pack("--key", "-"), 2},
		{"fwid not hex", pack("--fwid", "zz"), 2},
		{"fwid 1 octet", pack("--fwid", "f1"), 2},
		{"fwid 109 octets", pack("--fwid", strings.Repeat("00", 109)), 2},
		{"version with space", pack("--version", "1 0"), 2},
		{"version too long", pack("--version", strings.Repeat("1", 65)), 2},
		{"rpr alone", append(pack(), "--remote-provisioning"), 2},
		{"missing image", pack("--image", filepath.Join(dir, "none")), 1},
		{"empty image", pack("--image", writeTemp(t, dir, "empty.bin", nil)), 1},
		{"key is public", pack("--key", key+".pub"), 1},
		{"missing key", pack("--key", filepath.Join(dir, "none")), 1},
		{"inspect no args", []string{"firmware", "inspect"}, 2},
		{"inspect missing file", []string{"firmware", "inspect", filepath.Join(dir, "none")}, 1},
		{"inspect not an image file", []string{"firmware", "inspect", image}, 1},
		{"inspect bad --pub", []string{"firmware", "inspect", image, "--pub", image}, 2},
	}
	for _, tt := range tests {
		if _, _, err := runCmd(t, tt.args...); exitCode(err) != tt.code {
			t.Errorf("%s: %v, want exit %d", tt.name, err, tt.code)
		}
	}
}

func TestFirmware_Help(t *testing.T) {
	for _, sub := range []string{"keygen", "pack", "inspect"} {
		out, _, err := runCmd(t, "firmware", sub, "--help")
		if err != nil || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help: %v\n%s", sub, err, out)
		}
	}
}

func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readImageFile(t *testing.T, path string) *fw.ImageFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fw.ImageFile
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return &f
}

func writeImageFile(t *testing.T, path string, f *fw.ImageFile) {
	t.Helper()
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	writeTemp(t, filepath.Dir(path), filepath.Base(path), b)
}
