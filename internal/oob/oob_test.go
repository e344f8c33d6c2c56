package oob_test

import (
	"bytes"
	"crypto/x509"
	"net/http/httptest"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/internal/oob"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/models/dfd"
)

// chanExec is an executor fed by a channel, as runtime/ has one.
type chanExec chan func()

func (c chanExec) Post(f func()) { c <- f }

var (
	curFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x02, 0x00}
	newFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x03, 0x00}
)

// TestHTTPS_UploadOOB: a Distribution Server with the real adapter checks
// and retrieves an image from an httptest TLS update server.
func TestHTTPS_UploadOOB(t *testing.T) {
	src := fw.NewMemStore(0)
	image := bytes.Repeat([]byte("firmware"), 500)
	if err := src.Put("new", newFWID, []byte("meta"), image); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(https.NewHandler(https.StoreSource(src), https.HandlerConfig{}))
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	hc, err := https.NewClient(https.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	exec := make(chanExec, 4)
	store := fw.NewMemStore(0)
	srv, err := dfd.NewServer(dfd.ServerConfig{Clock: faketime.New(), Store: store, OOB: &oob.HTTPS{Client: hc, Exec: exec}})
	if err != nil {
		t.Fatal(err)
	}
	var got []*dfd.UploadStatus
	srv.SetTestReply(func(m access.Message) { got = append(got, m.(*dfd.UploadStatus)) })
	ask := func(m access.Message) { srv.Receive(&access.Context{Src: 1, Dst: 2}, m) }
	drain := func(until func() bool) {
		for !until() {
			(<-exec)()
		}
	}

	ask(&dfd.UploadOOBStart{URI: ts.URL + "/dfu", FirmwareID: []byte{0x59, 0x00, 0x09, 0x09, 0x09, 0x09}})
	drain(func() bool { return len(got) == 1 })
	if got[0].Status != dfd.StatusNewFirmwareNotAvailable || got[0].Phase != dfd.UploadIdle {
		t.Fatalf("404: %+v", got[0])
	}
	ask(&dfd.UploadOOBStart{URI: ts.URL + "/dfu", FirmwareID: curFWID})
	drain(func() bool { return len(got) == 2 })
	if got[1].Status != dfd.StatusSuccess || got[1].Phase != dfd.UploadTransferActive || !got[1].OOB || !bytes.Equal(got[1].FirmwareID, newFWID) {
		t.Fatalf("check: %+v", got[1])
	}
	drain(func() bool { return srv.UploadPhase() != dfd.UploadTransferActive })
	if srv.UploadPhase() != dfd.UploadTransferSuccess {
		t.Fatalf("upload phase %v", srv.UploadPhase())
	}
	info, data, err := store.Get(dfd.SlotName(newFWID))
	if err != nil || !bytes.Equal(data, image) || !bytes.Equal(info.Metadata, []byte("meta")) {
		t.Fatalf("stored %+v, %d octets, %v", info, len(data), err)
	}

	// A server whose certificate is not trusted is unreachable.
	bad, _ := https.NewClient(https.Config{})
	srv2, _ := dfd.NewServer(dfd.ServerConfig{Clock: faketime.New(), Store: fw.NewMemStore(0), OOB: &oob.HTTPS{Client: bad, Exec: exec}})
	var st *dfd.UploadStatus
	srv2.SetTestReply(func(m access.Message) { st = m.(*dfd.UploadStatus) })
	srv2.Receive(&access.Context{Src: 1, Dst: 2}, &dfd.UploadOOBStart{URI: ts.URL + "/dfu", FirmwareID: curFWID})
	drain(func() bool { return st != nil })
	if st.Status != dfd.StatusURIUnreachable {
		t.Fatalf("untrusted certificate: %+v", st)
	}
	// http: is not a supported scheme.
	st = nil
	srv2.Receive(&access.Context{Src: 1, Dst: 2}, &dfd.UploadOOBStart{URI: "http://example.com", FirmwareID: curFWID})
	if st == nil || st.Status != dfd.StatusURINotSupported {
		t.Fatalf("http: %+v", st)
	}
}
