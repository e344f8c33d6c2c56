package https

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
)

// Firmware IDs: Company ID 0x05F1, then version information.
var (
	fwidV1  = []byte{0xf1, 0x05, 0x01, 0x00, 0x00}
	fwidV2  = []byte{0xf1, 0x05, 0x02, 0x00, 0x00}
	fwidV3  = []byte{0xf1, 0x05, 0x03, 0x01, 0x00}
	fwidOth = []byte{0x59, 0x00, 0x09, 0x00, 0x00} // another company
)

// testImage returns n octets of a fixed pattern.
func testImage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// memSource is a Source over a fw.MemStore holding the given images.
func memSource(t *testing.T, images map[string][]byte) Source {
	t.Helper()
	s := fw.NewMemStore(0)
	for hexID, img := range images {
		id, err := ParseFWID(hexID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put("s"+hexID, id, []byte("meta-"+hexID), img); err != nil {
			t.Fatal(err)
		}
	}
	return StoreSource(s)
}

// tlsServer starts an HTTPS server on 127.0.0.1 and a client that trusts it.
func tlsServer(t *testing.T, h http.Handler, cfg Config) (*httptest.Server, *Client) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.RootCAs = pool
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

// tarMember is one member of a hand-built archive.
type tarMember struct {
	name string
	data []byte
	size int64 // header size; 0: len(data)
	typ  byte  // 0: regular
}

// buildArchive builds a tar (gzip-compressed when gz) from members.
func buildArchive(t testing.TB, gz bool, members ...tarMember) []byte {
	t.Helper()
	var out bytes.Buffer
	var w io.Writer = &out
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&out)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := m.size
		if size == 0 && typ == tar.TypeReg {
			size = int64(len(m.data))
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: typ, Name: m.name, Size: size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if len(m.data) > 0 {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func manifestJSON(imageFile, metaFile, fwid string) []byte {
	s := `{"manifest":{"firmware":{"firmware_image_file":"` + imageFile + `",`
	if metaFile != "" {
		s += `"metadata_file":"` + metaFile + `",`
	}
	return []byte(s + `"firmware_id":"` + fwid + `"}}}`)
}

func json_Marshal(v any) ([]byte, error) { return json.Marshal(v) }

func writePEMCert(path string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
