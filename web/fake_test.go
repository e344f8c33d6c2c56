package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// fakeDist is a Backend with a simulated distribution: each step moves
// every receiver 25 % further; the receiver at failAt fails verification.
type fakeDist struct {
	mu        sync.Mutex
	phase     dfd.Phase
	dist      *StartRequest
	receivers []dfd.Receiver
	images    []fw.SlotInfo
	upload    UploadState
	counters  Counters
	failAt    mesh.Address
	started   []StartRequest
	snapErr   error
	calls     map[string]int
}

var _ Backend = (*fakeDist)(nil)

func newFake() *fakeDist { return &fakeDist{calls: map[string]int{}} }

func refused(st dfd.Status) error { return &dfd.StatusError{Op: dfd.OpStart, Server: 2, Status: st} }

func (f *fakeDist) Snapshot(ctx context.Context) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapErr != nil {
		return nil, f.snapErr
	}
	s := &Snapshot{Node: 0x0002, Phase: f.phase, Upload: f.upload, Counters: f.counters,
		Receivers: append([]dfd.Receiver(nil), f.receivers...), Images: append([]fw.SlotInfo(nil), f.images...)}
	if f.dist != nil {
		d := *f.dist
		s.Distribution = &d
		if int(d.ImageIndex) < len(f.images) {
			s.FirmwareID = f.images[d.ImageIndex].FirmwareID
		}
	}
	return s, nil
}

func (f *fakeDist) busy() bool { return Running(f.phase) }

func (f *fakeDist) AddReceivers(ctx context.Context, entries []dfd.ReceiverEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["add"]++
	if f.busy() {
		return refused(dfd.StatusBusyWithDistribution)
	}
next:
	for _, e := range entries {
		for i := range f.receivers {
			if f.receivers[i].Address == e.Address {
				f.receivers[i].ImageIndex = e.ImageIndex
				continue next
			}
		}
		f.receivers = append(f.receivers, dfd.Receiver{Address: e.Address, ImageIndex: e.ImageIndex, Phase: dfu.PhaseUnknown})
	}
	return nil
}

func (f *fakeDist) DeleteReceivers(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy() {
		return refused(dfd.StatusBusyWithDistribution)
	}
	f.receivers = nil
	return nil
}

func (f *fakeDist) AddImage(ctx context.Context, file *fw.ImageFile) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, in := range f.images {
		if string(in.FirmwareID) == string(file.FirmwareID) {
			return i, nil
		}
	}
	if len(f.images) >= 2 {
		return 0, errors.Join(ErrConflict, errors.New("the Firmware Images List is full"))
	}
	f.images = append(f.images, fw.SlotInfo{Name: dfd.SlotName(file.FirmwareID), FirmwareID: file.FirmwareID,
		Metadata: file.Metadata, Size: int64(len(file.Image)), SHA256: sha256.Sum256(file.Image)})
	return len(f.images) - 1, nil
}

func (f *fakeDist) DeleteImage(ctx context.Context, index int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.phase != dfd.PhaseIdle {
		return refused(dfd.StatusBusyWithDistribution)
	}
	if index < 0 {
		f.images = nil
		return nil
	}
	if index >= len(f.images) {
		return ErrNotFound
	}
	f.images = append(f.images[:index], f.images[index+1:]...)
	return nil
}

func (f *fakeDist) Start(ctx context.Context, req StartRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, req)
	switch {
	case len(f.receivers) == 0:
		return refused(dfd.StatusReceiversListEmpty)
	case int(req.ImageIndex) >= len(f.images):
		return refused(dfd.StatusFirmwareNotFound)
	case f.busy():
		return refused(dfd.StatusBusyWithDistribution)
	}
	f.dist, f.phase = &req, dfd.PhaseTransferActive
	for i := range f.receivers {
		f.receivers[i] = dfd.Receiver{Address: f.receivers[i].Address, ImageIndex: f.receivers[i].ImageIndex, Phase: dfu.PhaseTransferActive, Blocks: 4}
	}
	return nil
}

// step moves the simulated distribution on; it reports whether it still
// runs.
func (f *fakeDist) step() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.phase != dfd.PhaseTransferActive && f.phase != dfd.PhaseApplyingUpdate {
		return false
	}
	f.counters.PDUsSent += 40
	f.counters.OctetsSent += 40 * 29
	live := 0
	for i := range f.receivers {
		r := &f.receivers[i]
		if r.Failed {
			continue
		}
		switch {
		case r.Progress < 100:
			r.Progress += 25
			r.BlocksDone++
			f.counters.BytesTransferred += 1000
			if r.Progress == 100 {
				r.Phase = dfu.PhaseVerifyingUpdate
			}
		case r.Address == f.failAt:
			r.Phase, r.Failed, r.Reason = dfu.PhaseVerificationFailed, true, "Verification Failed: fw: bad signature"
			continue
		case r.Phase == dfu.PhaseVerifyingUpdate:
			r.Phase = dfu.PhaseApplyingUpdate
			f.phase = dfd.PhaseApplyingUpdate
		case r.Phase == dfu.PhaseApplyingUpdate:
			r.Phase = dfu.PhaseApplySuccess
		}
		if r.Phase != dfu.PhaseApplySuccess {
			live++
		}
	}
	if live == 0 {
		f.phase = dfd.PhaseCompleted
		return false
	}
	return true
}

func (f *fakeDist) Suspend(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.phase != dfd.PhaseTransferActive {
		return refused(dfd.StatusSuspendFailed)
	}
	f.phase = dfd.PhaseTransferSuspended
	return nil
}

func (f *fakeDist) Resume(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.phase != dfd.PhaseTransferSuspended {
		return errors.Join(ErrConflict, errors.New("nothing to resume"))
	}
	f.phase = dfd.PhaseTransferActive
	return nil
}

func (f *fakeDist) Cancel(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.phase, f.dist = dfd.PhaseIdle, nil
	return nil
}

func (f *fakeDist) Apply(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.phase != dfd.PhaseTransferSuccess {
		return refused(dfd.StatusWrongPhase)
	}
	f.phase = dfd.PhaseApplyingUpdate
	return nil
}

// testImage returns a packed, signed image file.
func testImage(t testing.TB, fwid []byte, size int) (*fw.ImageFile, []byte) {
	t.Helper()
	img := make([]byte, size)
	for i := range img {
		img[i] = byte(i * 7)
	}
	_, priv, err := fw.GenerateKey(zeroReader{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := fw.NewMetadata("2.0.0", img, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(priv, fwid); err != nil {
		t.Fatal(err)
	}
	meta, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f := &fw.ImageFile{FirmwareID: fwid, Metadata: meta, Image: img}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return f, b
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 1
	}
	return len(p), nil
}
