package https_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/fw/https"
)

// A Distributor's Upload OOB: check an update server for newer firmware,
// then retrieve it into a slot of its firmware store.
func Example() {
	// The update server holds version 2 of product F105 (Company ID 0x05F1).
	images := fw.NewMemStore(0)
	images.Put("v2", []byte{0xf1, 0x05, 0x02, 0x00}, []byte("metadata"), bytes.Repeat([]byte{0xaa}, 1000))
	srv := httptest.NewTLSServer(https.NewHandler(https.StoreSource(images), https.HandlerConfig{}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	ctx := context.Background()
	c, _ := https.NewClient(https.Config{RootCAs: roots})
	defer c.CloseIdleConnections()
	current := []byte{0xf1, 0x05, 0x01, 0x00}
	res, err := c.Check(ctx, srv.URL+"/updates", current)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("new firmware %s, %d octets\n", https.FormatFWID(res.FirmwareID), res.Size)

	store := fw.NewMemStore(64 << 10)
	var slot fw.SlotWriter
	f, err := c.RetrieveTo(ctx, srv.URL+"/updates", current, res, store.Free(), func(f https.Firmware) (w io.Writer, err error) {
		slot, err = store.BeginWrite("upload", f.FirmwareID, f.Metadata, f.Size)
		if err != nil {
			return nil, err
		}
		return io.NewOffsetWriter(slot, 0), nil
	})
	if err == nil {
		err = slot.Commit()
	}
	fmt.Printf("stored %s with metadata %q: %v\n", https.FormatFWID(f.FirmwareID), f.Metadata, err)

	_, err = c.Check(ctx, srv.URL+"/updates", res.FirmwareID)
	fmt.Println(errors.Is(err, https.ErrNewFirmwareNotAvailable))
	// Output:
	// new firmware F1050200, 1000 octets
	// stored F1050200 with metadata "metadata": <nil>
	// true
}
