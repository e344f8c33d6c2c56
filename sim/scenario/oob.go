package scenario

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/dfd"
)

// The fake update server's timing: each request costs oobLatency (a TLS
// handshake and a GET over a gateway's uplink), and the firmware archive
// arrives at oobRate octets per second.
const (
	oobLatency = 400 * time.Millisecond
	oobRate    = 200_000
)

// fakeOOB stands in for the distributor's HTTPS client (fw/https through
// internal/oob): it knows one update, for oldFWID, and serves it packed as
// a firmware archive, which the distributor unpacks with the real archive
// reader. Results come on the distributor's clock after a virtual delay,
// as the real adapter posts them to the node's executor.
type fakeOOB struct {
	clk     mesh.Clock
	img     *Image
	archive []byte
	// cutAt, when set, makes the first retrieval end after that share of
	// the archive, as a server that drops the connection
	// (FaultUploadInterrupt).
	cutAt float64
	cuts  int
	onCut func()
}

var _ dfd.OOB = (*fakeOOB)(nil)

func newFakeOOB(clk mesh.Clock, img *Image) (*fakeOOB, error) {
	var b bytes.Buffer
	f := https.Firmware{FirmwareID: img.FirmwareID, Metadata: img.Metadata, Size: int64(len(img.Firmware))}
	if err := https.WriteArchive(&b, f, bytes.NewReader(img.Firmware)); err != nil {
		return nil, fmt.Errorf("scenario: firmware archive: %w", err)
	}
	return &fakeOOB{clk: clk, img: img, archive: b.Bytes()}, nil
}

// Check answers Check Firmware: the new image for oldFWID, none for
// anything else.
func (o *fakeOOB) Check(uri string, cur []byte, done func(https.CheckResult, error)) func() {
	t := o.clk.AfterFunc(oobLatency, func() {
		if uri != uploadURI {
			done(https.CheckResult{}, https.ErrURIUnreachable)
			return
		}
		if !bytes.Equal(cur, oldFWID) {
			done(https.CheckResult{}, https.ErrNewFirmwareNotAvailable)
			return
		}
		done(https.CheckResult{FirmwareID: o.img.FirmwareID, DFUChainSize: 1, Size: int64(len(o.img.Firmware))}, nil)
	})
	return func() { t.Stop() }
}

// Retrieve delivers the archive once it has crossed the uplink, unpacked
// into the distributor's store through open.
func (o *fakeOOB) Retrieve(uri string, cur []byte, want https.CheckResult, maxSize int64,
	open func(https.Firmware) (io.Writer, error), done func(https.Firmware, error)) func() {
	d := oobLatency + time.Duration(len(o.archive))*time.Second/oobRate
	t := o.clk.AfterFunc(d, func() {
		if !bytes.Equal(cur, oldFWID) {
			done(https.Firmware{}, https.ErrNewFirmwareNotAvailable)
			return
		}
		body := o.archive
		if o.cutAt > 0 && o.cuts == 0 {
			o.cuts++
			if o.onCut != nil {
				o.onCut()
			}
			body = body[:int(float64(len(body))*o.cutAt)]
		}
		done(https.ReadArchive(bytes.NewReader(body), want, maxSize, open))
	})
	return func() { t.Stop() }
}
