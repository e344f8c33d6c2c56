package oob_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/internal/oob"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/models/dfd"
)

// TestHTTPS_HostileUpdateServers: a Distribution Server with the real
// adapter against update servers that misbehave. Each ends in the status
// or Upload Phase docs/dfd.md names, with nothing stored and the store's
// space given back: a redirect to http: (URI Not Supported, no request in
// clear text), a manifest that is not JSON (URI Unreachable), a manifest
// announcing more than the distributor holds (Insufficient Resources), a
// manifest that lies about the size either way and an endless body
// (Transfer Success never comes: Transfer Error).
func TestHTTPS_HostileUpdateServers(t *testing.T) {
	src := fw.NewMemStore(0)
	image := bytes.Repeat([]byte("firmware"), 500) // 4000 octets
	if err := src.Put("new", newFWID, []byte("meta"), image); err != nil {
		t.Fatal(err)
	}
	real := https.NewHandler(https.StoreSource(src), https.HandlerConfig{})
	var clear atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { clear.Add(1) }))
	defer plain.Close()
	manifest := func(w http.ResponseWriter, size int64) {
		b, err := json.Marshal(https.CheckResult{FirmwareID: newFWID, DFUChainSize: 1, Size: size})
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
	// The real check's size, to lie about it.
	rec := httptest.NewRecorder()
	real.ServeHTTP(rec, httptest.NewRequest("GET", "/dfu/check?cfwid="+https.FormatFWID(curFWID), nil))
	res, err := https.ParseManifest(rec.Body.Bytes())
	if err != nil || res.Size <= 100 {
		t.Fatalf("real manifest %q: %v", rec.Body.String(), err)
	}
	check := func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/check") }
	cases := []struct {
		name    string
		store   int64 // the distributor's store capacity (0: unlimited)
		handler http.HandlerFunc
		status  dfd.Status      // the answer to Upload OOB Start
		phase   dfd.UploadPhase // the Upload Phase at the end
	}{
		{"redirect to http", 0, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.URL+r.URL.RequestURI(), http.StatusFound)
		}, dfd.StatusURINotSupported, dfd.UploadIdle},
		{"manifest not JSON", 0, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"manifest": {"firmware": `)
		}, dfd.StatusURIUnreachable, dfd.UploadIdle},
		{"image larger than the store", res.Size - 1, real.ServeHTTP, dfd.StatusInsufficientResources, dfd.UploadIdle},
		{"manifest announces less", 0, func(w http.ResponseWriter, r *http.Request) {
			if check(r) {
				manifest(w, res.Size-100)
				return
			}
			real.ServeHTTP(w, r)
		}, dfd.StatusSuccess, dfd.UploadTransferError},
		{"manifest announces more", 0, func(w http.ResponseWriter, r *http.Request) {
			if check(r) {
				manifest(w, res.Size+100)
				return
			}
			real.ServeHTTP(w, r)
		}, dfd.StatusSuccess, dfd.UploadTransferError},
		{"endless body", 0, func(w http.ResponseWriter, r *http.Request) {
			if check(r) {
				real.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Length", "1000000000000")
			buf := make([]byte, 32<<10)
			for {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}, dfd.StatusSuccess, dfd.UploadTransferError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewUnstartedServer(tc.handler)
			ts.Config.ErrorLog = log.New(io.Discard, "", 0)
			ts.StartTLS()
			defer ts.Close()
			pool := x509.NewCertPool()
			pool.AddCert(ts.Certificate())
			hc, err := https.NewClient(https.Config{RootCAs: pool})
			if err != nil {
				t.Fatal(err)
			}
			exec := make(chanExec, 4)
			store := fw.NewMemStore(tc.store)
			srv, err := dfd.NewServer(dfd.ServerConfig{Clock: faketime.New(), Store: store, OOB: &oob.HTTPS{Client: hc, Exec: exec}})
			if err != nil {
				t.Fatal(err)
			}
			var got []*dfd.UploadStatus
			srv.SetTestReply(func(m access.Message) { got = append(got, m.(*dfd.UploadStatus)) })
			srv.Receive(&access.Context{Src: 1, Dst: 2}, &dfd.UploadOOBStart{URI: ts.URL + "/dfu", FirmwareID: curFWID})
			deadline := time.After(20 * time.Second)
			for len(got) == 0 || srv.UploadPhase() == dfd.UploadTransferActive {
				select {
				case f := <-exec:
					f()
				case <-deadline:
					t.Fatalf("no end: answers %v, phase %v", got, srv.UploadPhase())
				}
			}
			if got[0].Status != tc.status || srv.UploadPhase() != tc.phase {
				t.Fatalf("answered %v, phase %v; want %v, %v", got[0].Status, srv.UploadPhase(), tc.status, tc.phase)
			}
			if len(store.List()) != 0 || store.Used() != 0 || (tc.store > 0 && store.Free() != tc.store) {
				t.Fatalf("stored %v, used %d, free %d", store.List(), store.Used(), store.Free())
			}
			if n := clear.Load(); n != 0 {
				t.Fatalf("%d requests in clear text", n)
			}
		})
	}
}
