package blob

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestFileStorage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fs := FileStorage{Dir: dir}
	if _, err := fs.Open(1, 10, true); err == nil {
		t.Fatal("resume of a missing file succeeded")
	}
	w, err := fs.Open(1, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("abc"), 7); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close() // "crash" after the block was synced
	w, err = fs.Open(1, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt([]byte("xy"), 0)
	w.Close()
	got, _ := os.ReadFile(fs.Path(1))
	if !bytes.Equal(got, []byte("xy\x00\x00\x00\x00\x00abc")) {
		t.Errorf("file %q", got)
	}
	// A new transfer of the same ID starts from scratch.
	w, _ = fs.Open(1, 4, false)
	w.Close()
	if got, _ := os.ReadFile(fs.Path(1)); !bytes.Equal(got, make([]byte, 4)) {
		t.Errorf("restarted file %q", got)
	}
}

func TestFileStateStore(t *testing.T) {
	t.Parallel()
	st := FileStateStore{Path: filepath.Join(t.TempDir(), "blob.state")}
	if b, err := st.LoadState(); b != nil || err != nil {
		t.Fatalf("empty store: %x %v", b, err)
	}
	for _, rec := range [][]byte{{1, 2, 3}, {4}} {
		if err := st.SaveState(rec); err != nil {
			t.Fatal(err)
		}
		if b, err := st.LoadState(); !bytes.Equal(b, rec) || err != nil {
			t.Fatalf("load %x %v, want %x", b, err, rec)
		}
	}
	if err := st.SaveState(nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := st.LoadState(); b != nil {
		t.Fatalf("erased store: %x", b)
	}
	if err := st.SaveState(nil); err != nil {
		t.Fatalf("erase twice: %v", err)
	}
}

// TestServer_RebootFileStores runs a reboot mid-transfer with the durable
// stores.
func TestServer_RebootFileStores(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newServerRig(t, func(c *ServerConfig) {
		c.Storage = FileStorage{Dir: dir}
		c.State = FileStateStore{Path: filepath.Join(dir, "state")}
	})
	r.to(PhaseWaitingForBlock, false)
	for b := range 2 {
		r.status(&BlockStart{uint16(b), testChunk})
		for c := range 4 {
			r.call(r.chunk(b, c))
		}
	}
	r.status(&BlockStart{2, testChunk})
	r.call(r.chunk(2, 0))
	r.boot()
	if d, n := r.srv.Progress(); r.srv.Phase() != PhaseSuspended || d != 2 || n != 5 {
		t.Fatalf("after reboot: %s %d/%d", r.srv.Phase(), d, n)
	}
	r.status(start(ModePush))
	for b := 2; b < 5; b++ {
		r.status(&BlockStart{uint16(b), testChunk})
		for c := range ChunkCount(BlockLen(testSize, testLog, b), testChunk) {
			r.call(r.chunk(b, c))
		}
	}
	got, _ := os.ReadFile(FileStorage{Dir: dir}.Path(testID))
	if r.srv.Phase() != PhaseComplete || !bytes.Equal(got, r.blob) {
		t.Fatalf("phase %s, file equal %t", r.srv.Phase(), bytes.Equal(got, r.blob))
	}
}
