package dfd

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// TestServer_UploadStartSizes: Upload Start sizes the distributor cannot
// hold are answered Insufficient Resources and leave the Upload Phase Idle
// with no slot begun: 0 octets (no image), one past Max Image Size, 2^32-1,
// and more than the store has left. The largest that fits is taken.
func TestServer_UploadStartSizes(t *testing.T) {
	const maxImage = 4096
	store := fw.NewMemStore(6000)
	h := newSrv(t, ServerConfig{Store: store, MaxImageSize: maxImage, MaxImages: 4})
	if err := store.Put(SlotName(curFWID), curFWID, nil, make([]byte, 3000)); err != nil {
		t.Fatal(err)
	}
	up := UploadStart{TTL: 5, TimeoutBase: 3, BLOBID: 7, FirmwareID: newFWID}
	for _, size := range []uint32{0, maxImage + 1, math.MaxUint32, 3001} { // 3000 octets are left
		u := up
		u.Size = size
		st := h.ask(&u).(*UploadStatus)
		if st.Status != StatusInsufficientResources || st.Phase != UploadIdle || h.srv.UploadPhase() != UploadIdle {
			t.Errorf("Upload Start of %d octets: %v in %v, want Insufficient Resources in Idle", size, st.Status, st.Phase)
		}
		if store.Free() != 3000 {
			t.Errorf("Upload Start of %d octets reserved space: %d free", size, store.Free())
		}
	}
	u := up
	u.Size = 3000
	if st := h.ask(&u).(*UploadStatus); st.Status != StatusSuccess || st.Phase != UploadTransferActive {
		t.Fatalf("Upload Start of all that is left: %+v", st)
	}
}

// TestServer_FirmwareIDAndMetadataLimits: Firmware IDs of 108 octets and
// metadata of 255 octets (their maximum) are taken and kept octet for
// octet; one octet more does not decode and the request is dropped
// unanswered (the codec's limits; the message tests check the errors).
func TestServer_FirmwareIDAndMetadataLimits(t *testing.T) {
	fwid108 := append([]byte{0x59, 0x00}, bytes.Repeat([]byte{0xA5}, MaxFirmwareIDLen-2)...)
	meta255 := bytes.Repeat([]byte{0x5A}, MaxMetadataLen)
	ctx := &access.Context{Src: 0x0001, Dst: 0x0002}

	// At the maximum: a 108-octet FWID (with 254 octets of metadata, all
	// an Upload Start of 380 octets holds), then 255 octets of metadata.
	for _, u := range []UploadStart{
		{TTL: 5, TimeoutBase: 3, BLOBID: 1, Size: 100, FirmwareID: fwid108, Metadata: meta255[:254]},
		{TTL: 5, TimeoutBase: 3, BLOBID: 2, Size: 100, FirmwareID: newFWID[:2], Metadata: meta255},
	} {
		h := newSrv(t, ServerConfig{})
		if st := h.ask(&u).(*UploadStatus); st.Status != StatusSuccess || !bytes.Equal(st.FirmwareID, u.FirmwareID) {
			t.Fatalf("Upload Start, FWID %d and metadata %d octets: %+v", len(u.FirmwareID), len(u.Metadata), st)
		}
		if !bytes.Equal(h.srv.up.params.Metadata, u.Metadata) {
			t.Fatalf("metadata kept: %d octets", len(h.srv.up.params.Metadata))
		}
	}
	h := newSrv(t, ServerConfig{})
	if err := h.store.Put(SlotName(fwid108), fwid108, meta255, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if st := h.ask(&FirmwareGet{FirmwareID: fwid108}).(*FirmwareStatus); st.Status != StatusSuccess || !bytes.Equal(st.FirmwareID, fwid108) {
		t.Fatalf("Firmware Get of a 108-octet FWID: %+v", st)
	}

	// Past the maximum: 109-octet FWIDs in Firmware Get, Firmware Delete
	// and Upload Start, and an Upload Start whose metadata length octet
	// promises more than follows.
	fwid109 := append(bytes.Clone(fwid108), 0xEE)
	start := func(metaLen byte, meta, fwid []byte) []byte {
		p := []byte{5}
		p = binary.LittleEndian.AppendUint16(p, 3)
		p = binary.LittleEndian.AppendUint64(p, 9)
		p = binary.LittleEndian.AppendUint32(p, 100)
		p = append(p, metaLen)
		p = append(p, meta...)
		return append(p, fwid...)
	}
	for _, tc := range []struct {
		name string
		op   access.Opcode
		p    []byte
	}{
		{"Firmware Get, 109-octet FWID", OpFirmwareGet, fwid109},
		{"Firmware Delete, 109-octet FWID", OpFirmwareDelete, fwid109},
		{"Upload Start, 109-octet FWID", OpUploadStart, start(0, nil, fwid109)},
		{"Upload Start, metadata length past the message", OpUploadStart, start(255, meta255[:100], newFWID)},
	} {
		dropped := h.srv.Stats().Dropped
		n := len(h.out)
		h.srv.handle(tc.op)(ctx, tc.p)
		if len(h.out) != n || h.srv.Stats().Dropped != dropped+1 {
			t.Errorf("%s: %d answers, dropped %+d; want none, 1", tc.name, len(h.out)-n, h.srv.Stats().Dropped-dropped)
		}
	}
	if h.srv.UploadPhase() != UploadIdle || len(h.store.List()) != 1 {
		t.Fatalf("after the bad requests: upload %v, %d images", h.srv.UploadPhase(), len(h.store.List()))
	}
}
