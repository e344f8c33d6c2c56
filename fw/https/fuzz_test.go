package https

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"testing"
)

func FuzzManifest(f *testing.F) {
	for _, s := range []string{
		`{"manifest":{"firmware":{"firmware_id":"010246573A312E332E35","dfu_chain_size":2,"firmware_image_file_size":196160}}}`,
		`{"manifest":{"firmware":{"firmware_id":"590002000100D2040000","dfu_chain_size":1,"firmware_image_file_size":446356}}}`,
		`{"x":1,"manifest":{"firmware":{"firmware_id":"f105","dfu_chain_size":1,"firmware_image_file_size":1}}}`,
		`{"manifest":{"firmware":{"firmware_id":"f105","dfu_chain_size":1e3,"firmware_image_file_size":-1}}}`,
		`{"manifest":null}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := ParseManifest(p)
		if err != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("parsed %+v does not encode: %v", r, err)
		}
		again, err := ParseManifest(b)
		if err != nil || !bytes.Equal(again.FirmwareID, r.FirmwareID) || again.Size != r.Size || again.DFUChainSize != r.DFUChainSize {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", r, b, again, err)
		}
	})
}

func FuzzArchiveManifest(f *testing.F) {
	f.Add([]byte(`{"manifest":{"firmware":{"firmware_image_file":"firmware.bin","metadata_file":"metadata.bin","firmware_id":"010246573A312E332E35"}}}`))
	f.Add([]byte(`{"manifest":{"firmware":{"firmware_image_file":"./a/../b","firmware_id":"f105"}}}`))
	f.Add([]byte(`{"manifest":{"firmware":{"firmware_image_file":"/x","metadata_file":"","firmware_id":"f105"}}}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := parseArchiveManifest(p)
		if err != nil {
			return
		}
		if m.ImageFile == "" || m.ImageFile == m.MetadataFile || strings.HasPrefix(m.ImageFile, "/") || strings.HasPrefix(m.ImageFile, "../") {
			t.Fatalf("accepted %+v", m)
		}
	})
}

func FuzzArchive(f *testing.F) {
	var buf bytes.Buffer
	WriteArchive(&buf, Firmware{FirmwareID: fwidV2, Metadata: []byte("meta"), Size: 300}, bytes.NewReader(testImage(300)))
	f.Add(buf.Bytes(), int64(0), true)
	f.Add(buf.Bytes(), int64(300), false)
	man := manifestJSON("firmware.bin", "metadata.bin", FormatFWID(fwidV2))
	f.Add(buildArchive(f, false, tarMember{name: "firmware.bin", data: testImage(40)}, tarMember{name: "metadata.bin", data: []byte("m")},
		tarMember{name: "manifest.json", data: man}), int64(40), true)
	f.Add(buildArchive(f, true, tarMember{name: "manifest.json", data: man}, tarMember{name: "firmware.bin", data: testImage(40)},
		tarMember{name: "metadata.bin", data: []byte("m")}), int64(0), false)
	f.Add([]byte{0x1f, 0x8b}, int64(0), false)
	f.Fuzz(func(t *testing.T, p []byte, size int64, bindID bool) {
		const limit = 4096
		want := CheckResult{Size: max(0, size)}
		if bindID {
			want.FirmwareID = fwidV2
		}
		var out bytes.Buffer
		calls := 0
		got, err := ReadArchive(bytes.NewReader(p), want, limit, func(Firmware) (io.Writer, error) {
			calls++
			return &out, nil
		})
		if calls > 1 {
			t.Fatalf("open called %d times", calls)
		}
		if err != nil {
			return
		}
		if int64(out.Len()) != got.Size || got.Size < 1 || got.Size > limit || (want.Size > 0 && got.Size != want.Size) {
			t.Fatalf("wrote %d octets for a %d-octet image (limit %d, announced %d)", out.Len(), got.Size, limit, want.Size)
		}
		if bindID && !bytes.Equal(got.FirmwareID, fwidV2) || len(got.Metadata) > 255 {
			t.Fatalf("accepted %+v", got)
		}
	})
}

func FuzzRequestURL(f *testing.F) {
	for _, s := range []string{"https://mesh.example.com/check-for-updates", "https://127.0.0.1:8443/", "http://x", "https://u@x", "https://x/?", "https://[::1]:1/a%20b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got, err := RequestURL(uri, CheckPath, fwidV1)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.Query().Get("cfwid") != FormatFWID(fwidV1) || len(u.Query()) != 1 || !strings.HasSuffix(u.Path, CheckPath) {
			t.Fatalf("%q -> %q (%v)", uri, got, err)
		}
	})
}
