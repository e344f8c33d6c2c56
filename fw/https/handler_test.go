package https

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
)

func TestNewest(t *testing.T) {
	t.Parallel()
	im := func(h string) Firmware { id, _ := ParseFWID(h); return Firmware{FirmwareID: id, Size: 1} }
	images := []Firmware{im("F1050100"), im("F1050200"), im("F1050a00"), im("F1051101"), im("F10502000000"), im("59000900"), im("F1050109")}
	cases := []struct {
		cur     string
		product int
		want    string // "" = none
	}{
		{"F1050100", 0, "F1051101"},
		{"F1051101", 0, ""},
		{"F1051200", 0, ""},
		{"F1050200", 1, "F1050200"[:0]},     // product 02: nothing newer than itself
		{"F1050100", 1, "F1050109"},         // product 01
		{"F1050a00", 1, ""},                 // product 0a: only itself
		{"F10501000000", 0, "F10502000000"}, // same length only
		{"59000100", 0, "59000900"},         // another company
		{"0A000100", 0, ""},                 // unknown company
		{"F105", 0, ""},                     // no version information
		{"F1050100", 5, ""},                 // product longer than the ID
	}
	for _, tc := range cases {
		cur, _ := ParseFWID(tc.cur)
		got, ok := Newest(images, cur, tc.product)
		if tc.want == "" {
			if ok {
				t.Errorf("%s/%d: got %X, want none", tc.cur, tc.product, got.FirmwareID)
			}
			continue
		}
		if !ok || FormatFWID(got.FirmwareID) != strings.ToUpper(tc.want) {
			t.Errorf("%s/%d: got %X (%v), want %s", tc.cur, tc.product, got.FirmwareID, ok, tc.want)
		}
	}
}

func TestHandler_Requests(t *testing.T) {
	t.Parallel()
	img := testImage(2000)
	src := memSource(t, map[string][]byte{FormatFWID(fwidV2): img})
	var logs bytes.Buffer
	h := NewHandler(src, HandlerConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	do := func(method, target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec
	}
	cases := []struct {
		method, target string
		code           int
		ctype          string
	}{
		{"GET", "/check?cfwid=F105010000", 200, "application/json"},
		{"GET", "/any/prefix/check?cfwid=f105010000", 200, "application/json"},
		{"GET", "/get?cfwid=F105010000", 200, ArchiveContentType},
		{"HEAD", "/get?cfwid=F105010000", 200, ArchiveContentType},
		{"GET", "/check?cfwid=F105020000", 404, ""},
		{"GET", "/check?cfwid=5900010000", 404, ""},
		{"GET", "/check", 400, ""},
		{"GET", "/check?cfwid=F1", 400, ""},
		{"GET", "/check?cfwid=zz", 400, ""},
		{"GET", "/check?cfwid=F105010000&cfwid=F105010000", 400, ""},
		{"GET", "/", 404, ""},
		{"GET", "/firmware.bin", 404, ""},
		{"POST", "/check?cfwid=F105010000", 405, ""},
	}
	for _, tc := range cases {
		rec := do(tc.method, tc.target)
		if rec.Code != tc.code || (tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.target, rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.ctype)
		}
	}
	// The check answer parses and names the image; the archive holds it.
	res, err := ParseManifest(do("GET", "/check?cfwid=F105010000").Body.Bytes())
	if err != nil || !bytes.Equal(res.FirmwareID, fwidV2) || res.Size != 2000 || res.DFUChainSize != 1 {
		t.Fatalf("check: %+v, %v", res, err)
	}
	rec := do("GET", "/get?cfwid=F105010000")
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, FormatFWID(fwidV2)+".tar.gz") {
		t.Errorf("Content-Disposition %q", cd)
	}
	var out bytes.Buffer
	f, err := ReadArchive(rec.Body, res, 1<<20, func(Firmware) (io.Writer, error) { return &out, nil })
	if err != nil || !bytes.Equal(out.Bytes(), img) || string(f.Metadata) != "meta-"+FormatFWID(fwidV2) {
		t.Fatalf("get: %+v, %v", f, err)
	}
	if !strings.Contains(logs.String(), "cfwid=F105010000") || !strings.Contains(logs.String(), "status=404") {
		t.Errorf("request log:\n%s", logs.String())
	}
}

// A large image streams (no Content-Length) and still reads back.
func TestHandler_LargeImageStreams(t *testing.T) {
	t.Parallel()
	img := testImage(3 << 20)
	srv, c := tlsServer(t, NewHandler(memSource(t, map[string][]byte{FormatFWID(fwidV2): img}), HandlerConfig{}), Config{})
	var out bytes.Buffer
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{FirmwareID: fwidV2, Size: int64(len(img))}, 1<<30, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), img) {
		t.Fatal("image differs")
	}
}

func writeImageFile(t *testing.T, path string, fwid, meta, img []byte) {
	t.Helper()
	b, err := (&fw.ImageFile{FirmwareID: fwid, Metadata: meta, Image: img}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDirSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeImageFile(t, filepath.Join(dir, "a-v2.mdfu"), fwidV2, []byte("m2"), testImage(10))
	writeImageFile(t, filepath.Join(dir, "b-v2-dup.mdfu"), fwidV2, []byte("dup"), testImage(11))
	writeImageFile(t, filepath.Join(dir, "ignored.bin"), fwidV3, nil, testImage(12))
	os.WriteFile(filepath.Join(dir, "broken.mdfu"), []byte("MDFU not really"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub.mdfu"), 0o755)
	var logs bytes.Buffer
	src := NewDirSource(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	list, err := src.List()
	if err != nil || len(list) != 1 || !bytes.Equal(list[0].FirmwareID, fwidV2) || string(list[0].Metadata) != "m2" || list[0].Size != 10 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if !strings.Contains(logs.String(), "broken.mdfu") {
		t.Errorf("no warning for the broken file:\n%s", logs.String())
	}
	// A file added later is served, one removed is gone.
	writeImageFile(t, filepath.Join(dir, "c-v3.mdfu"), fwidV3, nil, testImage(13))
	os.Remove(filepath.Join(dir, "a-v2.mdfu"))
	list, _ = src.List()
	if len(list) != 2 || string(list[0].Metadata) != "dup" || !bytes.Equal(list[1].FirmwareID, fwidV3) {
		t.Fatalf("after changes: %+v", list)
	}
	rc, err := src.Open(fwidV3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, testImage(13)) {
		t.Fatal("image differs")
	}
	// A file rewritten in place is reread.
	later := time.Now().Add(time.Hour)
	writeImageFile(t, filepath.Join(dir, "c-v3.mdfu"), fwidV3, []byte("new"), testImage(14))
	os.Chtimes(filepath.Join(dir, "c-v3.mdfu"), later, later)
	list, _ = src.List()
	if string(list[1].Metadata) != "new" || list[1].Size != 14 {
		t.Fatalf("after rewrite: %+v", list[1])
	}
	if _, err := src.Open(fwidV1); err == nil {
		t.Fatal("open of a missing image: no error")
	}
	if _, err := NewDirSource(filepath.Join(dir, "missing"), nil).List(); err == nil {
		t.Fatal("missing directory: no error")
	}
}

func TestStoreSource_SkipsCorrupt(t *testing.T) {
	t.Parallel()
	s := fw.NewMemStore(0)
	s.Put("a", fwidV2, nil, testImage(10))
	s.Put("b", fwidV3, nil, testImage(10))
	s.Corrupt("b")
	src := StoreSource(s)
	// The store finds the damage when it reads the slot; from then on
	// the slot is not listed.
	if _, err := src.Open(fwidV3); err == nil {
		t.Fatal("corrupt slot opened")
	}
	list, _ := src.List()
	if len(list) != 1 || !bytes.Equal(list[0].FirmwareID, fwidV2) {
		t.Fatalf("list: %+v", list)
	}
	rec := httptest.NewRecorder()
	NewHandler(src, HandlerConfig{}).ServeHTTP(rec, httptest.NewRequest("GET", "/check?cfwid="+FormatFWID(fwidV1), nil))
	var m map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		t.Fatalf("check: %d %s", rec.Code, rec.Body)
	}
}
