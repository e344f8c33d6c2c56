package fw

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var (
	fwidA = []byte{0xf1, 0x05, 1}
	fwidB = []byte{0xf1, 0x05, 2}
	metaA = []byte("meta-a")
)

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

// storeImpls runs f against a fresh MemStore and DirStore of capacity c.
func storeImpls(t *testing.T, c int64, f func(t *testing.T, s Store)) {
	t.Run("mem", func(t *testing.T) { f(t, NewMemStore(c)) })
	t.Run("dir", func(t *testing.T) {
		s, err := OpenStore(t.TempDir(), StoreConfig{Capacity: c})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
}

func mustGet(t *testing.T, s Store, name string, fwid, image []byte) {
	t.Helper()
	info, img, err := s.Get(name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	if !bytes.Equal(img, image) || !bytes.Equal(info.FirmwareID, fwid) || info.Size != int64(len(image)) || info.Corrupt {
		t.Fatalf("get %s: info %+v, image %d octets", name, info, len(img))
	}
	info2, r, err := s.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer r.Close()
	got, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil || !bytes.Equal(got, image) || info2.SHA256 != info.SHA256 {
		t.Fatalf("open %s: %v", name, err)
	}
}

func TestStore_PutGetListDelete(t *testing.T) {
	storeImpls(t, 0, func(t *testing.T, s Store) {
		a, b := pattern(1000, 1), pattern(500, 2)
		if err := s.Put("a", fwidA, metaA, a); err != nil {
			t.Fatal(err)
		}
		if err := s.Put("b", fwidB, nil, b); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "a", fwidA, a)
		mustGet(t, s, "b", fwidB, b)
		a2 := pattern(700, 3)
		if err := s.Put("a", fwidB, nil, a2); err != nil { // replace keeps the place
			t.Fatal(err)
		}
		l := s.List()
		if len(l) != 2 || l[0].Name != "a" || l[1].Name != "b" || l[0].Size != 700 {
			t.Fatalf("list %+v", l)
		}
		if s.Used() != 1200 {
			t.Errorf("used %d", s.Used())
		}
		if err := s.Delete("a"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted: %v", err)
		}
		for _, err := range []error{s.Delete("a"), func() error { _, err := s.Stat("zz"); return err }(),
			func() error { _, _, err := s.Open("zz"); return err }()} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("missing: %v", err)
			}
		}
		if s.Used() != 500 || len(s.List()) != 1 {
			t.Errorf("after delete: used %d, %d slots", s.Used(), len(s.List()))
		}
	})
}

func TestStore_BadArgs(t *testing.T) {
	storeImpls(t, 0, func(t *testing.T, s Store) {
		for name, err := range map[string]error{
			"empty name":  s.Put("", fwidA, nil, []byte{1}),
			"slash name":  s.Put("a/b", fwidA, nil, []byte{1}),
			"dot name":    s.Put("..", fwidA, nil, []byte{1}),
			"long name":   s.Put(string(bytes.Repeat([]byte{'a'}, 65)), fwidA, nil, []byte{1}),
			"fwid 1":      s.Put("a", []byte{1}, nil, []byte{1}),
			"meta 256":    s.Put("a", fwidA, make([]byte, 256), []byte{1}),
			"empty image": s.Put("a", fwidA, nil, nil),
			"size 0": func() error {
				_, err := s.BeginWrite("a", fwidA, nil, 0)
				return err
			}(),
			"size 2^32": func() error {
				_, err := s.BeginWrite("a", fwidA, nil, 1<<32)
				return err
			}(),
		} {
			if err == nil {
				t.Errorf("%s accepted", name)
			}
		}
		if len(s.List()) != 0 {
			t.Error("a bad write left a slot")
		}
	})
}

func TestStore_Capacity(t *testing.T) {
	storeImpls(t, 1000, func(t *testing.T, s Store) {
		if s.Capacity() != 1000 || s.Free() != 1000 {
			t.Fatalf("capacity %d free %d", s.Capacity(), s.Free())
		}
		if err := s.Put("a", fwidA, nil, make([]byte, 600)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put("b", fwidA, nil, make([]byte, 401)); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("over capacity: %v", err)
		}
		// Replacing a slot is charged the difference only.
		if err := s.Put("a", fwidA, nil, make([]byte, 1000)); err != nil {
			t.Fatalf("replace: %v", err)
		}
		if s.Free() != 0 {
			t.Errorf("free %d", s.Free())
		}
		if err := s.Delete("a"); err != nil {
			t.Fatal(err)
		}
		// A write in progress reserves its size.
		w, err := s.BeginWrite("c", fwidA, nil, 700)
		if err != nil {
			t.Fatal(err)
		}
		if s.Free() != 300 {
			t.Errorf("free with reservation %d", s.Free())
		}
		if _, err := s.BeginWrite("d", fwidA, nil, 301); !errors.Is(err, ErrNoSpace) {
			t.Errorf("over reservation: %v", err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if s.Free() != 1000 || s.Used() != 0 {
			t.Errorf("after abort: free %d used %d", s.Free(), s.Used())
		}
	})
}

func TestStore_ChunkedWrite(t *testing.T) {
	storeImpls(t, 0, func(t *testing.T, s Store) {
		old := pattern(300, 9)
		if err := s.Put("x", fwidA, nil, old); err != nil {
			t.Fatal(err)
		}
		img := pattern(1000, 4)
		w, err := s.BeginWrite("x", fwidB, metaA, int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginWrite("x", fwidB, nil, 5); !errors.Is(err, ErrBusy) {
			t.Errorf("second writer: %v", err)
		}
		if err := s.Put("x", fwidB, nil, img); !errors.Is(err, ErrBusy) {
			t.Errorf("put during write: %v", err)
		}
		// Chunks out of order, one sent twice, overlapping.
		for _, c := range [][2]int{{500, 800}, {0, 100}, {90, 300}, {500, 800}, {800, 1000}} {
			if _, err := w.WriteAt(img[c[0]:c[1]], int64(c[0])); err != nil {
				t.Fatal(err)
			}
		}
		if w.Written() != 800 || w.Size() != 1000 {
			t.Errorf("written %d", w.Written())
		}
		if err := w.Commit(); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("commit with a hole: %v", err)
		}
		mustGet(t, s, "x", fwidA, old) // the old image until commit
		if _, err := w.WriteAt(img[:10], 995); err == nil {
			t.Error("write past the end accepted")
		}
		if _, err := w.WriteAt(img[:1], -1); err == nil {
			t.Error("negative offset accepted")
		}
		if _, err := w.WriteAt(img[300:500], 300); err != nil {
			t.Fatal(err)
		}
		// Verify before committing, by reading the write back.
		back, err := io.ReadAll(io.NewSectionReader(w, 0, w.Size()))
		if err != nil || !bytes.Equal(back, img) {
			t.Fatalf("read back: %v", err)
		}
		if n, err := w.ReadAt(make([]byte, 10), 995); n != 5 || err != io.EOF {
			t.Fatalf("read past the end: %d %v", n, err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
			t.Errorf("read after commit: %v", err)
		}
		mustGet(t, s, "x", fwidB, img)
		if info, _ := s.Stat("x"); !bytes.Equal(info.Metadata, metaA) {
			t.Errorf("metadata %q", info.Metadata)
		}
		if err := w.Commit(); !errors.Is(err, ErrClosed) {
			t.Errorf("second commit: %v", err)
		}
		if _, err := w.WriteAt([]byte{1}, 0); !errors.Is(err, ErrClosed) {
			t.Errorf("write after commit: %v", err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("abort after commit: %v", err)
		}
		if s.Used() != 1000 || s.Free() <= 0 {
			t.Errorf("used %d", s.Used())
		}
		// An aborted write leaves the slot alone.
		w2, _ := s.BeginWrite("x", fwidA, nil, 10)
		w2.WriteAt(make([]byte, 10), 0)
		w2.Abort()
		mustGet(t, s, "x", fwidB, img)
	})
}

func TestMemStore_Corrupt(t *testing.T) {
	s := NewMemStore(0)
	s.Put("a", fwidA, nil, pattern(100, 1))
	_, r, _ := s.Open("a")
	if err := s.Corrupt("a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get("a"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("get: %v", err)
	}
	if _, _, err := s.Open("a"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v", err)
	}
	if l := s.List(); !l[0].Corrupt {
		t.Error("not listed as corrupt")
	}
	got := make([]byte, 100)
	if _, err := r.ReadAt(got, 0); err != nil || !bytes.Equal(got, pattern(100, 1)) {
		t.Error("an image opened before the damage changed")
	}
	if err := s.Corrupt("zz"); !errors.Is(err, ErrNotFound) {
		t.Error(err)
	}
	if err := s.Put("a", fwidA, nil, pattern(10, 1)); err != nil { // a corrupt slot can be replaced
		t.Fatal(err)
	}
	mustGet(t, s, "a", fwidA, pattern(10, 1))
}

func TestCoverage(t *testing.T) {
	var c coverage
	for _, iv := range [][2]int64{{10, 20}, {30, 40}, {20, 30}, {0, 5}, {5, 5}, {2, 8}, {50, 60}, {0, 100}} {
		c.add(iv[0], iv[1])
	}
	if c.total != 100 || len(c.iv) != 1 {
		t.Fatalf("%+v", c)
	}
	var d coverage
	d.add(10, 20)
	d.add(30, 40)
	d.add(15, 35)
	d.add(50, 51)
	if d.total != 31 || len(d.iv) != 2 {
		t.Fatalf("%+v", d)
	}
}

// ---- DirStore on disk ----

func openDir(t *testing.T, dir string) *DirStore {
	t.Helper()
	s, err := OpenStore(dir, StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDirStore_Reopen(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	a, b := pattern(4000, 1), pattern(10, 2)
	s.Put("b", fwidB, metaA, b)
	s.Put("a", fwidA, nil, a)
	w, _ := s.BeginWrite("c", fwidA, nil, 100)
	w.WriteAt(make([]byte, 50), 0)
	s.Close()
	if _, _, err := s.Get("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("get after close: %v", err)
	}

	s2 := openDir(t, dir)
	l := s2.List()
	if len(l) != 2 || l[0].Name != "b" || l[1].Name != "a" || !bytes.Equal(l[0].Metadata, metaA) {
		t.Fatalf("list %+v", l)
	}
	mustGet(t, s2, "a", fwidA, a)
	mustGet(t, s2, "b", fwidB, b)
	if s2.Used() != 4010 {
		t.Errorf("used %d", s2.Used())
	}
	assertClean(t, dir, 2)
}

// assertClean checks that tmp/ is empty and images/ holds n files.
func assertClean(t *testing.T, dir string, n int) {
	t.Helper()
	tmp, _ := os.ReadDir(filepath.Join(dir, tmpDir))
	imgs, _ := os.ReadDir(filepath.Join(dir, imagesDir))
	if len(tmp) != 0 || len(imgs) != n {
		t.Errorf("tmp has %d files, images %d (want %d)", len(tmp), len(imgs), n)
	}
	if _, err := os.Stat(filepath.Join(dir, indexTmpName)); err == nil {
		t.Error("index.json.tmp left behind")
	}
}

// Leftovers of a crash at each step are swept on open.
func TestDirStore_SweepsLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	s.Put("a", fwidA, nil, pattern(100, 1))
	s.Close()
	os.WriteFile(filepath.Join(dir, tmpDir, "00000000000000ff.part"), []byte("half"), 0o644)    // crash while writing
	os.WriteFile(filepath.Join(dir, imagesDir, "00000000000000fe.img"), []byte("whole"), 0o644) // crash before the index
	os.WriteFile(filepath.Join(dir, indexTmpName), []byte("{"), 0o644)                          // crash before the rename
	s2 := openDir(t, dir)
	mustGet(t, s2, "a", fwidA, pattern(100, 1))
	assertClean(t, dir, 1)
}

func TestDirStore_CorruptSlots(t *testing.T) {
	for name, damage := range map[string]func(path string){
		"flipped bit": func(p string) {
			b, _ := os.ReadFile(p)
			b[17] ^= 4
			os.WriteFile(p, b, 0o644)
		},
		"truncated": func(p string) { os.Truncate(p, 50) },
		"extended":  func(p string) { f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0); f.Write([]byte{0}); f.Close() },
		"missing":   func(p string) { os.Remove(p) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openDir(t, dir)
			s.Put("good", fwidA, nil, pattern(100, 1))
			s.Put("bad", fwidB, nil, pattern(100, 2))
			bad := s.idx.find("bad")
			path := s.imagePath(bad.Gen)

			// Damage found on read, without reopening.
			damage(path)
			if _, _, err := s.Get("bad"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("get: %v", err)
			}
			if info, err := s.Stat("bad"); err != nil || !info.Corrupt {
				t.Fatalf("stat: %+v %v", info, err)
			}
			s.Close()

			// And on open.
			s2 := openDir(t, dir)
			for _, op := range []func() error{
				func() error { _, _, err := s2.Get("bad"); return err },
				func() error { _, _, err := s2.Open("bad"); return err },
			} {
				if err := op(); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("reopened: %v", err)
				}
			}
			l := s2.List()
			if len(l) != 2 || l[0].Corrupt || !l[1].Corrupt {
				t.Fatalf("list %+v", l)
			}
			mustGet(t, s2, "good", fwidA, pattern(100, 1))
			// A corrupt slot can be replaced or deleted.
			if err := s2.Put("bad", fwidB, nil, pattern(100, 3)); err != nil {
				t.Fatal(err)
			}
			mustGet(t, s2, "bad", fwidB, pattern(100, 3))
			if err := s2.Delete("bad"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDirStore_CorruptIndex(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	s.Put("a", fwidA, nil, pattern(100, 1))
	s.Close()
	p, _ := os.ReadFile(filepath.Join(dir, indexName))
	damaged := bytes.Replace(p, []byte(`"size":100`), []byte(`"size":101`), 1)
	os.WriteFile(filepath.Join(dir, indexName), damaged, 0o644)
	if _, err := OpenStore(dir, StoreConfig{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v", err)
	}
	// Nothing was removed: restoring the index restores the store.
	os.WriteFile(filepath.Join(dir, indexName), p, 0o644)
	s2 := openDir(t, dir)
	mustGet(t, s2, "a", fwidA, pattern(100, 1))
}

// A write whose index update fails leaves the slot as it was, in memory and
// on disk.
func TestDirStore_IndexWriteFails(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	old := pattern(100, 1)
	s.Put("a", fwidA, nil, old)
	// A directory where index.json.tmp should go makes the index write fail.
	blocker := filepath.Join(dir, indexTmpName)
	os.Mkdir(blocker, 0o755)
	os.WriteFile(filepath.Join(blocker, "x"), nil, 0o644)
	if err := s.Put("a", fwidB, nil, pattern(200, 2)); err == nil {
		t.Fatal("put succeeded without an index")
	}
	w, _ := s.BeginWrite("b", fwidB, nil, 3)
	w.WriteAt([]byte{1, 2, 3}, 0)
	if err := w.Commit(); err == nil {
		t.Fatal("commit succeeded without an index")
	}
	if err := s.Delete("a"); err == nil {
		t.Fatal("delete succeeded without an index")
	}
	mustGet(t, s, "a", fwidA, old)
	if s.Used() != 100 || len(s.List()) != 1 {
		t.Fatalf("used %d, %d slots", s.Used(), len(s.List()))
	}
	os.RemoveAll(blocker)
	assertClean(t, dir, 1) // the new images were removed again
	s.Close()
	s2 := openDir(t, dir)
	mustGet(t, s2, "a", fwidA, old)
}

// Stores are safe for concurrent use (run with -race).
func TestStore_Concurrent(t *testing.T) {
	storeImpls(t, 0, func(t *testing.T, s Store) {
		done := make(chan error)
		for g := range 4 {
			go func() {
				name := []string{"a", "b"}[g%2]
				var err error
				for i := 0; i < 20 && err == nil; i++ {
					if err = s.Put(name, fwidA, nil, pattern(64, byte(g))); errors.Is(err, ErrBusy) {
						err = nil
					}
					if _, _, gerr := s.Get(name); gerr != nil && !errors.Is(gerr, ErrNotFound) {
						err = gerr
					}
					s.List()
					s.Free()
				}
				done <- err
			}()
		}
		for range 4 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})
}
