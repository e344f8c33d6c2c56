package https

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
)

func TestClient_CheckAndRetrieve(t *testing.T) {
	t.Parallel()
	img2, img3 := testImage(5000), testImage(70000)
	src := memSource(t, map[string][]byte{FormatFWID(fwidV2): img2, FormatFWID(fwidV3): img3, FormatFWID(fwidOth): testImage(10)})
	srv, c := tlsServer(t, NewHandler(src, HandlerConfig{}), Config{})
	for _, uri := range []string{srv.URL, srv.URL + "/", srv.URL + "/updates/vendor"} {
		res, err := c.Check(t.Context(), uri, fwidV1)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if !bytes.Equal(res.FirmwareID, fwidV3) || res.Size != int64(len(img3)) || res.DFUChainSize != 1 {
			t.Fatalf("check: %+v", res)
		}
		var buf bytes.Buffer
		f, err := c.Retrieve(t.Context(), uri, fwidV1, res, 1<<20, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), img3) || !bytes.Equal(f.FirmwareID, fwidV3) || string(f.Metadata) != "meta-"+FormatFWID(fwidV3) {
			t.Fatalf("retrieved %x %q, %d octets", f.FirmwareID, f.Metadata, buf.Len())
		}
	}
	// From v2, v3 is next; from v3 nothing is newer.
	if res, err := c.Check(t.Context(), srv.URL, fwidV2); err != nil || !bytes.Equal(res.FirmwareID, fwidV3) {
		t.Fatalf("check from v2: %+v, %v", res, err)
	}
	if _, err := c.Check(t.Context(), srv.URL, fwidV3); !errors.Is(err, ErrNewFirmwareNotAvailable) {
		t.Fatalf("check from v3: %v", err)
	}
}

// The Distribution Server's path: retrieve straight into a slot store.
func TestClient_RetrieveTo_SlotStore(t *testing.T) {
	t.Parallel()
	img := testImage(12345)
	src := memSource(t, map[string][]byte{FormatFWID(fwidV2): img})
	srv, c := tlsServer(t, NewHandler(src, HandlerConfig{}), Config{})
	store := fw.NewMemStore(20000)
	res, err := c.Check(t.Context(), srv.URL, fwidV1)
	if err != nil {
		t.Fatal(err)
	}
	var sw fw.SlotWriter
	f, err := c.RetrieveTo(t.Context(), srv.URL, fwidV1, res, store.Free(), func(f Firmware) (io.Writer, error) {
		var err error
		sw, err = store.BeginWrite("upload", f.FirmwareID, f.Metadata, f.Size)
		if err != nil {
			return nil, err
		}
		return io.NewOffsetWriter(sw, 0), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Commit(); err != nil {
		t.Fatal(err)
	}
	info, got, err := store.Get("upload")
	if err != nil || !bytes.Equal(got, img) || !bytes.Equal(info.FirmwareID, f.FirmwareID) || !bytes.Equal(info.Metadata, f.Metadata) {
		t.Fatalf("stored %+v, %v", info, err)
	}
	// No room left for it again.
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, res, store.Free(), io.Discard); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("second retrieval into a full store: %v", err)
	}
}

func TestClient_BadCertificate(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	other := httptest.NewUnstartedServer(http.NotFoundHandler())
	other.StartTLS()
	t.Cleanup(other.Close)
	// Trust a different server's certificate only (httptest certificates
	// are all the same, so make a fresh one for "other").
	otherPool := x509.NewCertPool()
	otherPool.AddCert(selfSignedForTest(t))
	for name, pool := range map[string]*x509.CertPool{"empty pool": x509.NewCertPool(), "another CA": otherPool} {
		c, err := NewClient(Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Check(t.Context(), srv.URL, fwidV1)
		var cve *tls.CertificateVerificationError
		if !errors.Is(err, ErrURIUnreachable) || !errors.As(err, &cve) {
			t.Errorf("%s: check: %v", name, err)
		}
		_, err = c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{}, 1000, io.Discard)
		if !errors.Is(err, ErrURIUnreachable) || !errors.As(err, &cve) {
			t.Errorf("%s: retrieve: %v", name, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the untrusted server", hits.Load())
	}
	// Trusted certificate, wrong name: httptest's certificate has no
	// "localhost" SAN.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c, _ := NewClient(Config{RootCAs: pool})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	if _, err := c.Check(t.Context(), fmt.Sprintf("https://localhost:%d", port), fwidV1); !errors.Is(err, ErrURIUnreachable) {
		t.Errorf("wrong host name: %v", err)
	}
}

// selfSignedForTest returns a certificate no test server uses.
func selfSignedForTest(t *testing.T) *x509.Certificate {
	t.Helper()
	certPEM, _, err := SelfSigned(time.Now(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	x, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestClient_CAFile(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(NewHandler(memSource(t, map[string][]byte{FormatFWID(fwidV2): testImage(10)}), HandlerConfig{}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := dir + "/ca.pem"
	if err := writePEMCert(caFile, srv.Certificate().Raw); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(t.Context(), srv.URL, fwidV1); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(Config{CAFile: dir + "/missing.pem"}); err == nil {
		t.Fatal("missing CA file: no error")
	}
}

func TestClient_NotFound(t *testing.T) {
	t.Parallel()
	srv, c := tlsServer(t, NewHandler(memSource(t, map[string][]byte{FormatFWID(fwidV1): testImage(10)}), HandlerConfig{}), Config{})
	if _, err := c.Check(t.Context(), srv.URL, fwidV1); !errors.Is(err, ErrNewFirmwareNotAvailable) {
		t.Fatalf("check: %v", err)
	}
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{}, 1000, io.Discard); !errors.Is(err, ErrNewFirmwareNotAvailable) {
		t.Fatalf("get: %v", err)
	}
}

// fakeServer answers /check with manifest and /get with body.
func fakeServer(t *testing.T, manifest string, get func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *Client, *atomic.Int32) {
	t.Helper()
	var gets atomic.Int32
	srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/check"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, manifest)
		case strings.HasSuffix(r.URL.Path, "/get"):
			gets.Add(1)
			get(w, r)
		default:
			http.NotFound(w, r)
		}
	}), Config{StallTimeout: 2 * time.Second})
	return srv, c, &gets
}

func checkJSONFor(fwid []byte, size int64) string {
	b, _ := json_Marshal(CheckResult{FirmwareID: fwid, DFUChainSize: 1, Size: size})
	return string(b)
}

func archiveFor(t testing.TB, fwid []byte, img []byte) []byte {
	var buf bytes.Buffer
	if err := WriteArchive(&buf, Firmware{FirmwareID: fwid, Metadata: []byte("m"), Size: int64(len(img))}, bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestClient_Oversize(t *testing.T) {
	t.Parallel()
	big := archiveFor(t, fwidV2, testImage(200))
	srv, c, gets := fakeServer(t, checkJSONFor(fwidV2, 100), func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	res, err := c.Check(t.Context(), srv.URL, fwidV1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// More than announced.
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, res, 1000, &buf); !errors.Is(err, ErrTooLarge) || buf.Len() != 0 {
		t.Fatalf("more than announced: %v, %d octets written", err, buf.Len())
	}
	// More than the free space, nothing announced.
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{}, 150, &buf); !errors.Is(err, ErrTooLarge) || buf.Len() != 0 {
		t.Fatalf("more than maxSize: %v, %d octets written", err, buf.Len())
	}
	// Announced more than the free space: no request at all.
	n := gets.Load()
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, res, 99, &buf); !errors.Is(err, ErrTooLarge) || gets.Load() != n {
		t.Fatalf("announced too much: %v, %d requests", err, gets.Load()-n)
	}
}

// A body that never ends: the client stops at its bound.
func TestClient_EndlessBody(t *testing.T) {
	t.Parallel()
	img := testImage(100)
	good := archiveFor(t, fwidV2, img)
	for name, get := range map[string]func(w http.ResponseWriter, r *http.Request){
		"after the archive": func(w http.ResponseWriter, r *http.Request) {
			w.Write(good)
			endless(w)
		},
		"inside the archive": func(w http.ResponseWriter, r *http.Request) {
			zw := gzip.NewWriter(w)
			tw := tar.NewWriter(zw)
			for _, m := range []tarMember{{name: "manifest.json", data: manifestJSON("firmware.bin", "", FormatFWID(fwidV2))}, {name: "firmware.bin", data: img}} {
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o644})
				tw.Write(m.data)
			}
			// Then a member that claims a terabyte and never ends.
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "padding", Size: 1 << 40, Mode: 0o644})
			endless(tw)
		},
		"Content-Length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000000000")
			endless(w)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv, c, _ := fakeServer(t, checkJSONFor(fwidV2, 100), get)
			done := make(chan error, 1)
			go func() {
				_, err := c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{FirmwareID: fwidV2, Size: 100}, 1000, io.Discard)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("client did not stop")
			}
		})
	}
}

// endless writes zeros until the client goes away.
func endless(w io.Writer) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
}

func TestClient_Unreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := NewClient(Config{RootCAs: x509.NewCertPool(), ConnectTimeout: 2 * time.Second})
	_, err = c.Check(t.Context(), "https://"+addr, fwidV1)
	var op *net.OpError
	if !errors.Is(err, ErrURIUnreachable) || !errors.As(err, &op) {
		t.Fatalf("check: %v", err)
	}
	if _, err := c.Retrieve(t.Context(), "https://"+addr+"/fw", fwidV1, CheckResult{}, 100, io.Discard); !errors.Is(err, ErrURIUnreachable) {
		t.Fatalf("retrieve: %v", err)
	}
}

func TestClient_HTTPStatus(t *testing.T) {
	t.Parallel()
	srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}), Config{})
	if _, err := c.Check(t.Context(), srv.URL, fwidV1); !errors.Is(err, ErrURIUnreachable) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503: %v", err)
	}
}

func TestClient_Scheme(t *testing.T) {
	t.Parallel()
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { plainHits.Add(1) }))
	t.Cleanup(plain.Close)
	srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/secure") {
			http.Redirect(w, r, strings.Replace(r.URL.String(), "/secure", "/moved", 1), http.StatusFound)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/moved") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, checkJSONFor(fwidV2, 10))
			return
		}
		http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusFound)
	}), Config{})
	if _, err := c.Check(t.Context(), plain.URL, fwidV1); !errors.Is(err, ErrScheme) {
		t.Fatalf("http URI: %v", err)
	}
	if _, err := c.Retrieve(t.Context(), plain.URL, fwidV1, CheckResult{}, 100, io.Discard); !errors.Is(err, ErrScheme) {
		t.Fatalf("http URI: %v", err)
	}
	if _, err := c.Check(t.Context(), srv.URL, fwidV1); !errors.Is(err, ErrScheme) {
		t.Fatalf("redirect to http: %v", err)
	}
	if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{}, 100, io.Discard); !errors.Is(err, ErrScheme) {
		t.Fatalf("redirect to http: %v", err)
	}
	if plainHits.Load() != 0 {
		t.Fatalf("%d requests went out in clear text", plainHits.Load())
	}
	// A redirect that stays on https is followed.
	if res, err := c.Check(t.Context(), srv.URL+"/secure", fwidV1); err != nil || !bytes.Equal(res.FirmwareID, fwidV2) {
		t.Fatalf("https redirect: %+v, %v", res, err)
	}
}

func TestClient_TooManyRedirects(t *testing.T) {
	t.Parallel()
	srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
	}), Config{MaxRedirects: 2})
	if _, err := c.Check(t.Context(), srv.URL, fwidV1); !errors.Is(err, ErrURIUnreachable) {
		t.Fatalf("redirect loop: %v", err)
	}
}

func TestClient_LyingServer(t *testing.T) {
	t.Parallel()
	img := testImage(100)
	cases := []struct {
		name     string
		manifest string
		ctype    string
		archive  []byte
		checkErr error
		getErr   error
	}{
		{"archive smaller than announced", checkJSONFor(fwidV2, 200), "", archiveFor(t, fwidV2, img), nil, ErrManifest},
		{"archive larger than announced", checkJSONFor(fwidV2, 50), "", archiveFor(t, fwidV2, img), nil, ErrTooLarge},
		{"archive of other firmware", checkJSONFor(fwidV2, 100), "", archiveFor(t, fwidV3, img), nil, ErrManifest},
		{"bad JSON", `{"manifest":`, "", nil, ErrManifest, nil},
		{"HTML page", `<html>`, "text/html", nil, ErrManifest, nil},
		{"no content type", checkJSONFor(fwidV2, 100), "-", nil, ErrManifest, nil},
		{"names the current firmware", checkJSONFor(fwidV1, 100), "", nil, ErrNewFirmwareNotAvailable, nil},
		{"garbage archive", checkJSONFor(fwidV2, 100), "", []byte("garbage, not an archive"), nil, ErrManifest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/get") {
					w.Write(tc.archive)
					return
				}
				switch tc.ctype {
				case "":
					w.Header().Set("Content-Type", "application/json; charset=utf-8")
				case "-":
					w.Header()["Content-Type"] = nil
				default:
					w.Header().Set("Content-Type", tc.ctype)
				}
				io.WriteString(w, tc.manifest)
			}), Config{})
			res, err := c.Check(t.Context(), srv.URL, fwidV1)
			if !errors.Is(err, tc.checkErr) {
				t.Fatalf("check: err = %v, want %v", err, tc.checkErr)
			}
			if err != nil {
				return
			}
			if _, err := c.Retrieve(t.Context(), srv.URL, fwidV1, res, 1000, io.Discard); !errors.Is(err, tc.getErr) {
				t.Fatalf("get: err = %v, want %v", err, tc.getErr)
			}
		})
	}
}

func TestClient_TooLongURI(t *testing.T) {
	t.Parallel()
	c, _ := NewClient(Config{})
	uri := "https://127.0.0.1/" + strings.Repeat("x", MaxURILen)
	if _, err := c.Check(t.Context(), uri, fwidV1); !errors.Is(err, ErrURITooLong) {
		t.Fatalf("check: %v", err)
	}
	if _, err := c.Retrieve(t.Context(), uri, fwidV1, CheckResult{}, 100, io.Discard); !errors.Is(err, ErrURITooLong) {
		t.Fatalf("retrieve: %v", err)
	}
}

func TestClient_StallAndCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{0x1f})
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), Config{StallTimeout: 200 * time.Millisecond})
	_, err := c.Retrieve(t.Context(), srv.URL, fwidV1, CheckResult{}, 100, io.Discard)
	if !errors.Is(err, ErrURIUnreachable) || errors.Is(err, context.Canceled) {
		t.Fatalf("stalled body: %v", err)
	}
	// The caller cancels: the error says so.
	c2, _ := NewClient(Config{RootCAs: c.tr.TLSClientConfig.RootCAs})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = c2.Retrieve(ctx, srv.URL, fwidV1, CheckResult{}, 100, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
