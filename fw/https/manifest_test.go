package https

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	t.Parallel()
	ok := []struct {
		name, in string
		want     CheckResult
	}{
		// dfu.md §9.1: the example values Nordic's apps and server use.
		{"dfu.md §9.1 example", `{"manifest":{"firmware":{"firmware_id":"010246573A312E332E35","dfu_chain_size":2,"firmware_image_file_size":196160}}}`,
			CheckResult{FirmwareID: []byte("\x01\x02FW:1.3.5"), DFUChainSize: 2, Size: 196160}},
		{"Nordic server", "{\n \"manifest\": {\"firmware\": {\"firmware_id\": \"590002000100D2040000\", \"dfu_chain_size\": 1, \"firmware_image_file_size\": 446356}}}\n",
			CheckResult{FirmwareID: []byte{0x59, 0x00, 0x02, 0x00, 0x01, 0x00, 0xd2, 0x04, 0x00, 0x00}, DFUChainSize: 1, Size: 446356}},
		{"lower case, extra fields", `{"x":1,"manifest":{"y":[1],"firmware":{"firmware_id":"f105","dfu_chain_size":1,"firmware_image_file_size":1,"z":null}}}`,
			CheckResult{FirmwareID: []byte{0xf1, 0x05}, DFUChainSize: 1, Size: 1}},
		{"largest", `{"manifest":{"firmware":{"firmware_id":"` + strings.Repeat("ab", 108) + `","dfu_chain_size":1,"firmware_image_file_size":4294967295}}}`,
			CheckResult{FirmwareID: bytes.Repeat([]byte{0xab}, 108), DFUChainSize: 1, Size: 4294967295}},
	}
	for _, tc := range ok {
		got, err := ParseManifest([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !bytes.Equal(got.FirmwareID, tc.want.FirmwareID) || got.DFUChainSize != tc.want.DFUChainSize || got.Size != tc.want.Size {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		// Re-encode and parse again.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseManifest(b)
		if err != nil || !bytes.Equal(again.FirmwareID, got.FirmwareID) || again.Size != got.Size || again.DFUChainSize != got.DFUChainSize {
			t.Errorf("%s: re-encoded %s: %+v, %v", tc.name, b, again, err)
		}
	}
	f := func(id, chain, size string) string {
		return `{"manifest":{"firmware":{"firmware_id":` + id + `,"dfu_chain_size":` + chain + `,"firmware_image_file_size":` + size + `}}}`
	}
	bad := map[string]string{
		"empty":            ``,
		"not json":         `<html>`,
		"array":            `[]`,
		"trailing":         f(`"f105"`, "1", "1") + `{}`,
		"no manifest":      `{"firmware":{}}`,
		"manifest null":    `{"manifest":null}`,
		"no firmware":      `{"manifest":{}}`,
		"no firmware_id":   `{"manifest":{"firmware":{"dfu_chain_size":1,"firmware_image_file_size":1}}}`,
		"no chain":         `{"manifest":{"firmware":{"firmware_id":"f105","firmware_image_file_size":1}}}`,
		"no size":          `{"manifest":{"firmware":{"firmware_id":"f105","dfu_chain_size":1}}}`,
		"fwid number":      f(`12`, "1", "1"),
		"fwid odd":         f(`"f10"`, "1", "1"),
		"fwid not hex":     f(`"zz05"`, "1", "1"),
		"fwid one octet":   f(`"f1"`, "1", "1"),
		"fwid 109 octets":  f(`"`+strings.Repeat("00", 109)+`"`, "1", "1"),
		"fwid empty":       f(`""`, "1", "1"),
		"chain zero":       f(`"f105"`, "0", "1"),
		"chain negative":   f(`"f105"`, "-1", "1"),
		"chain string":     f(`"f105"`, `"1"`, "1"),
		"size zero":        f(`"f105"`, "1", "0"),
		"size float":       f(`"f105"`, "1", "1.5"),
		"size exponent":    f(`"f105"`, "1", "1e3"),
		"size over 2^32-1": f(`"f105"`, "1", "4294967296"),
		"size string":      f(`"f105"`, "1", `"1"`),
		"too long":         f(`"f105"`, "1", "1") + strings.Repeat(" ", MaxManifestSize),
	}
	for name, in := range bad {
		if _, err := ParseManifest([]byte(in)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: err = %v, want ErrManifest", name, err)
		}
	}
}

func TestCheckResult_MarshalJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(CheckResult{FirmwareID: []byte("\x01\x02FW:1.3.5"), DFUChainSize: 2, Size: 196160})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"manifest":{"firmware":{"firmware_id":"010246573A312E332E35","dfu_chain_size":2,"firmware_image_file_size":196160}}}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	for _, r := range []CheckResult{{FirmwareID: []byte{1}, DFUChainSize: 1, Size: 1}, {FirmwareID: fwidV1, Size: 1}, {FirmwareID: fwidV1, DFUChainSize: 1}} {
		if _, err := json.Marshal(r); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}

func TestParseArchiveManifest(t *testing.T) {
	t.Parallel()
	// dfu.md §9.2: the Silicon Labs archive manifest.
	m, err := parseArchiveManifest([]byte(`{"manifest":{"firmware":{"firmware_image_file":"firmware.bin","metadata_file":"metadata.bin","firmware_id":"010246573A312E332E35"}}}`))
	if err != nil || m.ImageFile != "firmware.bin" || m.MetadataFile != "metadata.bin" || !bytes.Equal(m.FirmwareID, []byte("\x01\x02FW:1.3.5")) {
		t.Fatalf("%+v, %v", m, err)
	}
	for _, in := range []string{
		`{}`, `{"manifest":{}}`, `{"manifest":{"firmware":{"firmware_id":"f105"}}}`,
		`{"manifest":{"firmware":{"firmware_image_file":"a"}}}`,
		`{"manifest":{"firmware":{"firmware_image_file":"a","metadata_file":"a","firmware_id":"f105"}}}`,
		`{"manifest":{"firmware":{"firmware_image_file":"","firmware_id":"f105"}}}`,
		`{"manifest":{"firmware":{"firmware_image_file":"a/../../b","firmware_id":"f105"}}}`,
		`{"manifest":{"firmware":{"firmware_image_file":"a","firmware_id":"f1"}}}`,
	} {
		if _, err := parseArchiveManifest([]byte(in)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: err = %v", in, err)
		}
	}
}

func TestRequestURL(t *testing.T) {
	t.Parallel()
	id := []byte{0x02, 0xff, 0x10, 0x00, 0x02, 0x03}
	ok := []struct{ uri, path, want string }{
		// dfu.md §9.1, §9.2: the spec example as Telink quotes it.
		{"https://mesh.example.com/check-for-updates", CheckPath, "https://mesh.example.com/check-for-updates/check?cfwid=02FF10000203"},
		{"https://mesh.example.com/check-for-updates", RetrievePath, "https://mesh.example.com/check-for-updates/get?cfwid=02FF10000203"},
		{"https://mesh.example.com/", CheckPath, "https://mesh.example.com/check?cfwid=02FF10000203"},
		{"HTTPS://127.0.0.1:8443", CheckPath, "HTTPS://127.0.0.1:8443/check?cfwid=02FF10000203"},
	}
	for _, tc := range ok {
		got, err := RequestURL(tc.uri, tc.path, id)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.uri, got, err, tc.want)
		}
	}
	bad := []struct {
		uri string
		fw  []byte
		err error
	}{
		{"http://mesh.example.com", id, ErrScheme},
		{"ftp://mesh.example.com", id, ErrScheme},
		{"mesh.example.com/x", id, ErrScheme},
		{"", id, ErrScheme},
		{"https://mesh.example.com/" + strings.Repeat("a", MaxURILen-25), id, nil},
		{"https://mesh.example.com/" + strings.Repeat("a", MaxURILen-24), id, ErrURITooLong},
		{"https:///path", id, ErrURIMalformed},
		{"https:opaque", id, ErrURIMalformed},
		{"https://user:pw@mesh.example.com", id, ErrURIMalformed},
		{"https://mesh.example.com/x?a=b", id, ErrURIMalformed},
		{"https://mesh.example.com/x?", id, ErrURIMalformed},
		{"https://mesh.example.com/x#frag", id, ErrURIMalformed},
		{"https://mesh.example.com/\xff", id, ErrURIMalformed},
		{"https://mesh example.com", id, ErrURIMalformed},
		{"https://mesh.example.com", []byte{1}, nil},
	}
	for _, tc := range bad {
		_, err := RequestURL(tc.uri, CheckPath, tc.fw)
		if tc.err == nil {
			if len(tc.fw) < 2 && err == nil {
				t.Errorf("%q with a 1-octet Firmware ID: no error", tc.uri)
			}
			if len(tc.fw) >= 2 && err != nil {
				t.Errorf("%q (%d octets): %v", tc.uri, len(tc.uri), err)
			}
			continue
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%q: err = %v, want %v", tc.uri, err, tc.err)
		}
	}
}
