package https

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t testing.TB, p []byte, want CheckResult, limit int64) (Firmware, []byte, error) {
	t.Helper()
	var out bytes.Buffer
	opened := 0
	f, err := ReadArchive(bytes.NewReader(p), want, limit, func(f Firmware) (io.Writer, error) {
		opened++
		if opened > 1 {
			t.Fatal("open called twice")
		}
		return &out, nil
	})
	return f, out.Bytes(), err
}

func TestArchive_RoundTrip(t *testing.T) {
	t.Parallel()
	img := testImage(3000)
	for _, meta := range [][]byte{nil, []byte("metadata octets")} {
		var buf bytes.Buffer
		in := Firmware{FirmwareID: fwidV2, Metadata: meta, Size: int64(len(img))}
		if err := WriteArchive(&buf, in, bytes.NewReader(img)); err != nil {
			t.Fatal(err)
		}
		f, got, err := readAll(t, buf.Bytes(), CheckResult{FirmwareID: fwidV2, Size: 3000, DFUChainSize: 1}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, img) || !bytes.Equal(f.FirmwareID, fwidV2) || !bytes.Equal(f.Metadata, meta) || f.Size != 3000 {
			t.Fatalf("got %x %q size %d", f.FirmwareID, f.Metadata, f.Size)
		}
	}
}

func TestWriteArchive_Errors(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	for name, tc := range map[string]struct {
		f   Firmware
		img io.Reader
	}{
		"short fwid":    {Firmware{FirmwareID: []byte{1}, Size: 1}, bytes.NewReader([]byte{1})},
		"zero size":     {Firmware{FirmwareID: fwidV1}, bytes.NewReader(nil)},
		"long metadata": {Firmware{FirmwareID: fwidV1, Metadata: make([]byte, 256), Size: 1}, bytes.NewReader([]byte{1})},
		"short image":   {Firmware{FirmwareID: fwidV1, Size: 10}, bytes.NewReader([]byte{1})},
	} {
		if err := WriteArchive(&buf, tc.f, tc.img); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReadArchive_Layouts(t *testing.T) {
	t.Parallel()
	img := testImage(100)
	meta := []byte("meta")
	man := manifestJSON("firmware.bin", "metadata.bin", FormatFWID(fwidV2))
	manLower := manifestJSON("./bin/fw.bin", "", strings.ToLower(FormatFWID(fwidV2)))
	m := func(name string, data []byte) tarMember { return tarMember{name: name, data: data} }
	cases := []struct {
		name     string
		gz       bool
		members  []tarMember
		wantMeta []byte
	}{
		{"manifest, metadata, image", true, []tarMember{m("manifest.json", man), m("metadata.bin", meta), m("firmware.bin", img)}, meta},
		{"image before metadata", true, []tarMember{m("manifest.json", man), m("firmware.bin", img), m("metadata.bin", meta)}, meta},
		{"manifest last", true, []tarMember{m("firmware.bin", img), m("metadata.bin", meta), m("manifest.json", man)}, meta},
		{"not compressed", false, []tarMember{m("manifest.json", man), m("metadata.bin", meta), m("firmware.bin", img)}, meta},
		{"extra members, directory, ./ names", true, []tarMember{
			{name: "bin/", typ: '5'}, m("./README", []byte("hello")), m("./manifest.json", manLower), m("bin/fw.bin", img), m("other.bin", []byte("x")),
		}, []byte{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := buildArchive(t, tc.gz, tc.members...)
			f, got, err := readAll(t, p, CheckResult{FirmwareID: fwidV2, Size: 100}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, img) || !bytes.Equal(f.Metadata, tc.wantMeta) {
				t.Fatalf("image %d octets, metadata %q", len(got), f.Metadata)
			}
		})
	}
}

func TestReadArchive_Errors(t *testing.T) {
	t.Parallel()
	img := testImage(100)
	meta := []byte("meta")
	id := FormatFWID(fwidV2)
	man := manifestJSON("firmware.bin", "metadata.bin", id)
	manNoMeta := manifestJSON("firmware.bin", "", id)
	m := func(name string, data []byte) tarMember { return tarMember{name: name, data: data} }
	good := buildArchive(t, true, m("manifest.json", man), m("metadata.bin", meta), m("firmware.bin", img))
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-6] ^= 0xff // gzip CRC-32
	want := CheckResult{FirmwareID: fwidV2, Size: 100}
	cases := []struct {
		name  string
		p     []byte
		want  CheckResult
		limit int64
		err   error
	}{
		{"empty body", nil, want, 1000, ErrManifest},
		{"not an archive", []byte("<html>hello</html>"), want, 1000, ErrManifest},
		{"bad gzip trailer", corrupt, want, 1000, ErrManifest},
		{"truncated", good[:len(good)/2], want, 1000, ErrManifest},
		{"no manifest", buildArchive(t, true, m("firmware.bin", img)), want, 1000, ErrManifest},
		{"no image", buildArchive(t, true, m("manifest.json", manNoMeta)), want, 1000, ErrManifest},
		{"no metadata member", buildArchive(t, true, m("manifest.json", man), m("firmware.bin", img)), want, 1000, ErrManifest},
		{"duplicate member", buildArchive(t, true, m("manifest.json", manNoMeta), m("firmware.bin", img), m("firmware.bin", img)), want, 1000, ErrManifest},
		{"bad manifest json", buildArchive(t, true, m("manifest.json", []byte("{")), m("firmware.bin", img)), want, 1000, ErrManifest},
		{"manifest without firmware_id", buildArchive(t, true, m("manifest.json", []byte(`{"manifest":{"firmware":{"firmware_image_file":"a"}}}`))), want, 1000, ErrManifest},
		{"other firmware_id", buildArchive(t, true, m("manifest.json", manifestJSON("firmware.bin", "", FormatFWID(fwidV3))), m("firmware.bin", img)), want, 1000, ErrManifest},
		{"image smaller than announced", buildArchive(t, true, m("manifest.json", manNoMeta), m("firmware.bin", img[:50])), want, 1000, ErrManifest},
		{"empty image", buildArchive(t, true, m("manifest.json", manNoMeta), m("firmware.bin", nil)), CheckResult{}, 1000, ErrManifest},
		{"image larger than announced", buildArchive(t, true, m("manifest.json", manNoMeta), m("firmware.bin", testImage(101))), want, 1000, ErrTooLarge},
		{"image larger than limit", buildArchive(t, true, m("manifest.json", manNoMeta), m("firmware.bin", img)), CheckResult{}, 99, ErrTooLarge},
		{"early member larger than limit", buildArchive(t, true, m("firmware.bin", img), m("manifest.json", manNoMeta)), CheckResult{}, 99, ErrTooLarge},
		{"metadata too long", buildArchive(t, true, m("manifest.json", man), m("metadata.bin", make([]byte, 256)), m("firmware.bin", img)), want, 1000, ErrManifest},
		{"absolute member name", buildArchive(t, true, m("manifest.json", manifestJSON("/etc/passwd", "", id))), want, 1000, ErrManifest},
		{"dot-dot member name", buildArchive(t, true, m("manifest.json", manifestJSON("../x", "", id))), want, 1000, ErrManifest},
		{"image named manifest", buildArchive(t, true, m("manifest.json", manifestJSON("manifest.json", "", id))), want, 1000, ErrManifest},
		{"no room", good, want, 0, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := readAll(t, tc.p, tc.want, tc.limit)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if errors.Is(err, ErrTooLarge) && len(got) > 0 {
				t.Fatalf("%d image octets written before ErrTooLarge", len(got))
			}
		})
	}
}

// A bomb: a small compressed archive that decompresses without end is cut
// off at the bound.
func TestReadArchive_DecompressionBound(t *testing.T) {
	t.Parallel()
	man := manifestJSON("firmware.bin", "", FormatFWID(fwidV2))
	img := testImage(100)
	p := buildArchive(t, true, tarMember{name: "manifest.json", data: man}, tarMember{name: "firmware.bin", data: img},
		tarMember{name: "padding", data: make([]byte, 3*ArchiveOverhead)})
	if len(p) > ArchiveOverhead/50 {
		t.Fatalf("bomb is %d octets compressed", len(p))
	}
	_, _, err := readAll(t, p, CheckResult{}, 100)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestReadArchive_WriterAndOpenErrors(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	img := testImage(10)
	if err := WriteArchive(&buf, Firmware{FirmwareID: fwidV2, Size: 10}, bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("disk full")
	_, err := ReadArchive(bytes.NewReader(buf.Bytes()), CheckResult{}, 100, func(Firmware) (io.Writer, error) { return failWriter{errDisk}, nil })
	if !errors.Is(err, errDisk) || errors.Is(err, ErrManifest) {
		t.Fatalf("writer error: %v", err)
	}
	_, err = ReadArchive(bytes.NewReader(buf.Bytes()), CheckResult{}, 100, func(Firmware) (io.Writer, error) { return nil, errDisk })
	if !errors.Is(err, errDisk) {
		t.Fatalf("open error: %v", err)
	}
}

func TestBoundReader(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 9, 10} {
		b := &boundReader{r: bytes.NewReader(make([]byte, n)), left: 10}
		if got, err := io.ReadAll(b); err != nil || len(got) != n {
			t.Fatalf("%d octets under a bound of 10: %d, %v", n, len(got), err)
		}
	}
	b := &boundReader{r: bytes.NewReader(make([]byte, 11)), left: 10}
	got, err := io.ReadAll(b)
	if !errors.Is(err, ErrTooLarge) || len(got) != 10 {
		t.Fatalf("11 octets under a bound of 10: %d, %v", len(got), err)
	}
}
