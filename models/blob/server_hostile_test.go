package blob

import (
	"math"
	"testing"
)

// TestServer_ImpossibleValues sends the extreme values of every size and
// number field to a server ready for a transfer and checks the status
// blob.md §11.2/§11.3 names for each; a chunk cannot be answered (Chunk
// Transfer is unacknowledged), so a bad one is counted as rejected and
// lands nowhere. The server still takes the real transfer afterwards.
func TestServer_ImpossibleValues(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, nil) // Max BLOB Size 1 MiB, block logs 6..8, Max Total Chunks 64, Max Chunk Size 100
	r.srv.Prepare(testID, 4, 0)
	for _, tc := range []struct {
		name string
		edit func(*TransferStart)
		want Status
	}{
		{"size 2^32-1", func(m *TransferStart) { m.Size = math.MaxUint32 }, StatusBLOBTooLarge},
		{"size Max BLOB Size + 1", func(m *TransferStart) { m.Size = 1<<20 + 1 }, StatusBLOBTooLarge},
		{"block size log 0", func(m *TransferStart) { m.BlockSizeLog = 0 }, StatusInvalidBlockSize},
		{"block size log 0xFF", func(m *TransferStart) { m.BlockSizeLog = 0xFF }, StatusInvalidBlockSize},
		{"block size log 32", func(m *TransferStart) { m.BlockSizeLog = 32 }, StatusInvalidBlockSize},
		// Blocks Not Received could never fit a Transfer Status of that MTU.
		{"MTU 0", func(m *TransferStart) { m.MTU = 0 }, StatusInvalidParameter},
		{"Blocks Not Received past the MTU", func(m *TransferStart) { m.Size = 1 << 20; m.BlockSizeLog = 6 }, StatusInvalidParameter},
	} {
		m := start(ModePush)
		tc.edit(m)
		if st, _ := r.status(m); st != tc.want || r.srv.Phase() != PhaseWaitingForStart {
			t.Errorf("Transfer Start %s: %s in %s, want %s in Waiting for Transfer Start", tc.name, st, r.srv.Phase(), tc.want)
		}
	}
	if st, _ := r.status(start(ModePush)); st != StatusSuccess {
		t.Fatalf("a good Transfer Start after the bad ones: %s", st)
	}
	for _, tc := range []struct {
		name string
		m    *BlockStart
		want Status
	}{
		{"block 0xFFFF", &BlockStart{math.MaxUint16, testChunk}, StatusInvalidBlockNumber},
		{"block = block count", &BlockStart{5, testChunk}, StatusInvalidBlockNumber},
		{"chunk size 0", &BlockStart{0, 0}, StatusInvalidChunkSize},
		{"chunk size 0xFFFF", &BlockStart{0, math.MaxUint16}, StatusInvalidChunkSize},
		{"chunk size above Max Chunk Size", &BlockStart{0, 101}, StatusInvalidChunkSize},
	} {
		if st, _ := r.status(tc.m); st != tc.want {
			t.Errorf("Block Start %s: %s, want %s", tc.name, st, tc.want)
		}
	}
	if st, _ := r.status(&BlockStart{0, testChunk}); st != StatusSuccess {
		t.Fatalf("a good Block Start: %s", st)
	}
	before := r.srv.Stats()
	good := r.chunk(0, 0)
	for _, c := range []*ChunkTransfer{
		{Number: math.MaxUint16, Data: good.Data},     // chunk number past the block
		{Number: 4, Data: good.Data},                  // = chunks in the block (64/16)
		{Number: 0, Data: append(good.Data, 1)},       // one octet longer than the chunk size
		{Number: 0, Data: good.Data[:1]},              // shorter
		{Number: 0, Data: make([]byte, MaxChunkSize)}, // the largest a message carries
	} {
		r.call(c)
	}
	st := r.srv.Stats()
	if st.RejectedChunks != before.RejectedChunks+5 || st.Chunks != before.Chunks {
		t.Fatalf("bad chunks: rejected %+d, accepted %+d; want 5, 0", st.RejectedChunks-before.RejectedChunks, st.Chunks-before.Chunks)
	}
	if d := r.store.Data(testID); len(d) > 0 && d[0] == r.blob[0] {
		t.Fatalf("a rejected chunk landed: %x", d[:4])
	}
	// The transfer is intact: block 0 and the rest arrive.
	for b := range 5 {
		if b > 0 {
			r.status(&BlockStart{uint16(b), testChunk})
		}
		for c := 0; c*testChunk < BlockLen(testSize, testLog, b); c++ {
			r.call(r.chunk(b, c))
		}
	}
	if r.srv.Phase() != PhaseComplete || string(r.store.Data(testID)) != string(r.blob) {
		t.Fatalf("after the bad values: %s, data equal %t", r.srv.Phase(), string(r.store.Data(testID)) == string(r.blob))
	}
}

// A Transfer Start for a BLOB of 0 octets (BLOB Size is 1..2^32-1 by the
// specification) is answered Success and the transfer is Complete at once,
// as Zephyr does: nothing is written. A Firmware Update Server then fails
// verification of the empty image (dfu.Firmware: no image file), and a
// distributor refuses an Upload Start of 0 octets before any BLOB
// (models/dfd TestServer_UploadStartSizes).
func TestServer_ZeroSizeBLOB(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, nil)
	r.srv.Prepare(testID, 4, 0)
	m := start(ModePush)
	m.Size = 0
	st, msg := r.status(m)
	ts := msg.(*TransferStatus)
	if st != StatusSuccess || r.srv.Phase() != PhaseComplete || ts.Size != 0 || ts.BlocksNotReceived.Len() != 0 {
		t.Fatalf("0-octet Transfer Start: %s in %s (%+v)", st, r.srv.Phase(), ts)
	}
	if st, _ := r.status(&BlockStart{0, testChunk}); st != StatusInvalidBlockNumber {
		t.Fatalf("Block Start in a 0-octet BLOB: %s", st)
	}
	if d := r.store.Data(testID); len(d) != 0 {
		t.Fatalf("stored %d octets", len(d))
	}
}
