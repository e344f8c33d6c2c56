package fw

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Names inside a DirStore directory.
const (
	indexName    = "index.json"
	indexTmpName = "index.json.tmp"
	imagesDir    = "images"
	tmpDir       = "tmp"
	imageExt     = ".img"
	partExt      = ".part"
)

// StoreConfig configures OpenStore. The zero value is usable.
type StoreConfig struct {
	// Capacity is the quota on the sum of image sizes, in octets
	// (0: unlimited).
	Capacity int64
}

// DirStore is the durable Store, kept in one directory:
//
//	index.json           the slots: name, generation, Firmware ID, metadata, size, SHA-256
//	images/<gen>.img     one file per committed image, named by a generation number
//	tmp/<gen>.part       images being written
//
// Every write goes to a new file under tmp/, is fsynced, renamed into
// images/ and the directory fsynced; then index.json is replaced the same
// way (index.json.tmp, fsync, rename, fsync), and only then is the old
// image removed. A crash at any point leaves the old index naming the old
// image or the new index naming the new complete one. OpenStore clears
// tmp/, removes images the index does not name, and checks every image's
// size and SHA-256; a slot that fails is corrupt: listed, never served.
//
// One process at a time may open a directory. A DirStore is safe for
// concurrent use.
type DirStore struct {
	mu     sync.Mutex
	dir    string
	q      quota
	idx    index
	active map[string]*dirWriter
	closed bool
}

var _ Store = (*DirStore)(nil)

// OpenStore opens (creating if needed) the store in dir. It fails with
// ErrCorrupt when index.json is damaged; it then changes nothing on disk.
// Corrupt slots do not make it fail: they are reported through List and
// ErrCorrupt from Get and Open.
func OpenStore(dir string, cfg StoreConfig) (*DirStore, error) {
	for _, d := range []string{dir, filepath.Join(dir, imagesDir), filepath.Join(dir, tmpDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("fw: open store: %w", err)
		}
	}
	s := &DirStore{dir: dir, q: quota{capacity: max(cfg.Capacity, 0)}, active: map[string]*dirWriter{}}
	p, err := os.ReadFile(filepath.Join(dir, indexName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.idx = index{Format: indexFormat, Next: 1}
	case err != nil:
		return nil, fmt.Errorf("fw: open store: %w", err)
	default:
		idx, err := parseIndex(p)
		if err != nil {
			return nil, fmt.Errorf("fw: open store %s: %w", dir, err)
		}
		s.idx = *idx
	}
	if err := s.sweep(); err != nil {
		return nil, err
	}
	for i := range s.idx.Slots {
		r := &s.idx.Slots[i]
		s.q.used += r.Size
		if err := s.checkImage(r); err != nil {
			r.corrupt = true
		}
	}
	return s, nil
}

// sweep removes what a crash may leave behind: parts, the index temp file,
// and images the index does not name.
func (s *DirStore) sweep() error {
	_ = os.Remove(filepath.Join(s.dir, indexTmpName))
	parts, err := os.ReadDir(filepath.Join(s.dir, tmpDir))
	if err != nil {
		return fmt.Errorf("fw: open store: %w", err)
	}
	for _, e := range parts {
		_ = os.RemoveAll(filepath.Join(s.dir, tmpDir, e.Name()))
	}
	named := map[string]bool{}
	for _, r := range s.idx.Slots {
		named[imageFileName(r.Gen)] = true
	}
	imgs, err := os.ReadDir(filepath.Join(s.dir, imagesDir))
	if err != nil {
		return fmt.Errorf("fw: open store: %w", err)
	}
	for _, e := range imgs {
		if !named[e.Name()] {
			_ = os.RemoveAll(filepath.Join(s.dir, imagesDir, e.Name()))
		}
	}
	return nil
}

func imageFileName(gen uint64) string { return fmt.Sprintf("%016x%s", gen, imageExt) }

func (s *DirStore) imagePath(gen uint64) string {
	return filepath.Join(s.dir, imagesDir, imageFileName(gen))
}

// checkImage hashes the slot's image file and compares size and SHA-256.
func (s *DirStore) checkImage(r *slotRecord) error {
	f, err := os.Open(s.imagePath(r.Gen))
	if err != nil {
		return err
	}
	defer f.Close()
	return checkFile(f, r)
}

func checkFile(f *os.File, r *slotRecord) error {
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != r.Size {
		return fmt.Errorf("%w: %d octets, index says %d", ErrCorrupt, n, r.Size)
	}
	if !bytes.Equal(h.Sum(nil), r.SHA256) {
		return fmt.Errorf("%w: SHA-256 differs from the index", ErrCorrupt)
	}
	return nil
}

// Dir returns the store's directory.
func (s *DirStore) Dir() string { return s.dir }

// Close ends the store: writes in progress are aborted. Later calls fail
// with ErrClosed.
func (s *DirStore) Close() error {
	s.mu.Lock()
	ws := make([]*dirWriter, 0, len(s.active))
	for _, w := range s.active {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		_ = w.Abort()
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *DirStore) usable(op, name string) error {
	if s.closed {
		return fmt.Errorf("fw: %s %s: %w", op, name, ErrClosed)
	}
	return nil
}

func (s *DirStore) sizeOf(name string) int64 {
	if r := s.idx.find(name); r != nil {
		return r.Size
	}
	return 0
}

// Put implements Store.
func (s *DirStore) Put(name string, fwid, metadata, image []byte) error {
	if err := checkSlotArgs("put", name, fwid, metadata, int64(len(image))); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable("put", name); err != nil {
		return err
	}
	if s.active[name] != nil {
		return fmt.Errorf("fw: put %s: %w: a write is in progress", name, ErrBusy)
	}
	if err := s.q.fits(int64(len(image)), s.sizeOf(name)); err != nil {
		return fmt.Errorf("fw: put %s: %w", name, err)
	}
	gen := s.idx.Next
	s.idx.Next++
	part := filepath.Join(s.dir, tmpDir, fmt.Sprintf("%016x%s", gen, partExt))
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("fw: put %s: %w", name, err)
	}
	if _, err := f.Write(image); err != nil {
		f.Close()
		os.Remove(part)
		return fmt.Errorf("fw: put %s: %w", name, err)
	}
	sum := sha256.Sum256(image)
	rec := slotRecord{Name: name, Gen: gen, FirmwareID: fwid, Metadata: metadata, Size: int64(len(image)), SHA256: sum[:]}
	return s.install(f, part, rec)
}

// install makes the part file f the image of rec.Name: fsync, rename into
// images/, fsync the directory, write the index, remove the old image. It
// closes f. s.mu is held.
func (s *DirStore) install(f *os.File, part string, rec slotRecord) error {
	fail := func(err error) error {
		os.Remove(part)
		return fmt.Errorf("fw: commit %s: %w", rec.Name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	final := s.imagePath(rec.Gen)
	if err := os.Rename(part, final); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Join(s.dir, imagesDir)); err != nil {
		os.Remove(final)
		return fail(err)
	}
	next := s.idx.clone()
	old := next.find(rec.Name)
	var oldGen uint64
	if old != nil {
		oldGen = old.Gen
		*old = rec
	} else {
		next.Slots = append(next.Slots, rec)
	}
	renamed, err := s.writeIndex(&next)
	if !renamed {
		os.Remove(final)
		return fmt.Errorf("fw: commit %s: %w", rec.Name, err)
	}
	// From the rename on, the new index is what a reopen sees: follow it
	// even if the directory fsync failed.
	s.q.used += rec.Size - s.sizeOf(rec.Name)
	s.idx = next
	if old != nil {
		_ = os.Remove(s.imagePath(oldGen))
	}
	if err != nil {
		return fmt.Errorf("fw: commit %s: %w", rec.Name, err)
	}
	return nil
}

// writeIndex replaces index.json with idx atomically. renamed reports
// whether the new index took the old one's place (then err, if any, is from
// the directory fsync). s.mu is held.
func (s *DirStore) writeIndex(idx *index) (renamed bool, err error) {
	p, err := idx.marshal()
	if err != nil {
		return false, err
	}
	tmp := filepath.Join(s.dir, indexTmpName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return false, err
	}
	if _, err := f.Write(p); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, indexName)); err != nil {
		return false, err
	}
	return true, syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Stat implements Store.
func (s *DirStore) Stat(name string) (SlotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.idx.find(name)
	if r == nil {
		return SlotInfo{}, fmt.Errorf("fw: stat %q: %w", name, ErrNotFound)
	}
	return r.info(), nil
}

// openChecked opens the slot's image file and verifies it, marking the
// slot corrupt on failure. s.mu is held.
func (s *DirStore) openChecked(op, name string) (*slotRecord, *os.File, error) {
	if err := s.usable(op, name); err != nil {
		return nil, nil, err
	}
	r := s.idx.find(name)
	if r == nil {
		return nil, nil, fmt.Errorf("fw: %s %q: %w", op, name, ErrNotFound)
	}
	if r.corrupt {
		return nil, nil, fmt.Errorf("fw: %s %s: %w: image failed its checksum", op, name, ErrCorrupt)
	}
	f, err := os.Open(s.imagePath(r.Gen))
	if err == nil {
		err = checkFile(f, r)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		r.corrupt = true
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, nil, fmt.Errorf("fw: %s %s: %w", op, name, err)
	}
	return r, f, nil
}

// Get implements Store.
func (s *DirStore) Get(name string) (SlotInfo, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, f, err := s.openChecked("get", name)
	if err != nil {
		return SlotInfo{}, nil, err
	}
	defer f.Close()
	img := make([]byte, r.Size)
	if _, err := f.ReadAt(img, 0); err != nil {
		return SlotInfo{}, nil, fmt.Errorf("fw: get %s: %w", name, err)
	}
	if !bytes.Equal(sha256Of(img), r.SHA256) { // changed since it was checked
		r.corrupt = true
		return SlotInfo{}, nil, fmt.Errorf("fw: get %s: %w: SHA-256 differs from the index", name, ErrCorrupt)
	}
	return r.info(), img, nil
}

func sha256Of(p []byte) []byte { s := sha256.Sum256(p); return s[:] }

// Open implements Store. The image was checked when opened; the returned
// Image reads the file directly.
func (s *DirStore) Open(name string) (SlotInfo, Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, f, err := s.openChecked("open", name)
	if err != nil {
		return SlotInfo{}, nil, err
	}
	return r.info(), &fileImage{File: f, size: r.Size}, nil
}

type fileImage struct {
	*os.File
	size int64
}

func (f *fileImage) Size() int64 { return f.size }

// Delete implements Store.
func (s *DirStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable("delete", name); err != nil {
		return err
	}
	r := s.idx.find(name)
	if r == nil {
		return fmt.Errorf("fw: delete %q: %w", name, ErrNotFound)
	}
	gen, size := r.Gen, r.Size
	next := s.idx.clone()
	next.Slots = slices.DeleteFunc(next.Slots, func(r slotRecord) bool { return r.Name == name })
	renamed, err := s.writeIndex(&next)
	if !renamed {
		return fmt.Errorf("fw: delete %s: %w", name, err)
	}
	s.idx = next
	s.q.used -= size
	_ = os.Remove(s.imagePath(gen))
	if err != nil {
		return fmt.Errorf("fw: delete %s: %w", name, err)
	}
	return nil
}

// List implements Store.
func (s *DirStore) List() []SlotInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SlotInfo, len(s.idx.Slots))
	for i := range s.idx.Slots {
		out[i] = s.idx.Slots[i].info()
	}
	return out
}

// Capacity implements Store.
func (s *DirStore) Capacity() int64 { return s.q.capacity }

// Used implements Store.
func (s *DirStore) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.used
}

// Free implements Store.
func (s *DirStore) Free() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.free()
}

// BeginWrite implements Store. The image grows in tmp/ and becomes the
// slot's only on Commit; a crash or Abort leaves the slot as it was.
func (s *DirStore) BeginWrite(name string, fwid, metadata []byte, size int64) (SlotWriter, error) {
	if err := checkSlotArgs("begin write", name, fwid, metadata, size); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable("begin write", name); err != nil {
		return nil, err
	}
	if s.active[name] != nil {
		return nil, fmt.Errorf("fw: begin write %s: %w: a write is in progress", name, ErrBusy)
	}
	if err := s.q.fits(size, s.sizeOf(name)); err != nil {
		return nil, fmt.Errorf("fw: begin write %s: %w", name, err)
	}
	gen := s.idx.Next
	s.idx.Next++ // persisted with the next index write; reuse after a crash is harmless
	part := filepath.Join(s.dir, tmpDir, fmt.Sprintf("%016x%s", gen, partExt))
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fw: begin write %s: %w", name, err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		os.Remove(part)
		return nil, fmt.Errorf("fw: begin write %s: %w", name, err)
	}
	w := &dirWriter{s: s, f: f, part: part, rec: slotRecord{
		Name: name, Gen: gen, FirmwareID: bytes.Clone(fwid), Metadata: bytes.Clone(metadata), Size: size,
	}}
	s.active[name] = w
	s.q.reserved += size
	return w, nil
}

type dirWriter struct {
	s    *DirStore
	f    *os.File
	part string
	rec  slotRecord
	cov  coverage
	done bool
}

func (w *dirWriter) WriteAt(p []byte, off int64) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return 0, fmt.Errorf("fw: write %s: %w", w.rec.Name, ErrClosed)
	}
	if err := checkWrite(w.rec.Name, off, len(p), w.rec.Size); err != nil {
		return 0, err
	}
	n, err := w.f.WriteAt(p, off)
	w.cov.add(off, off+int64(n))
	if err != nil {
		return n, fmt.Errorf("fw: write %s: %w", w.rec.Name, err)
	}
	return n, nil
}

func (w *dirWriter) ReadAt(p []byte, off int64) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return 0, fmt.Errorf("fw: read %s: %w", w.rec.Name, ErrClosed)
	}
	n, err := checkRead(off, len(p), w.rec.Size)
	if n > 0 {
		if m, rerr := w.f.ReadAt(p[:n], off); rerr != nil {
			return m, fmt.Errorf("fw: read %s: %w", w.rec.Name, rerr)
		}
	}
	return n, err
}

func (w *dirWriter) Written() int64 {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.cov.total
}

func (w *dirWriter) Size() int64 { return w.rec.Size }

// finish releases the reservation. w.s.mu is held.
func (w *dirWriter) finish() {
	w.done = true
	w.s.q.reserved -= w.rec.Size
	delete(w.s.active, w.rec.Name)
}

func (w *dirWriter) Commit() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return fmt.Errorf("fw: commit %s: %w", w.rec.Name, ErrClosed)
	}
	if w.cov.total != w.rec.Size {
		return fmt.Errorf("fw: commit %s: %w: %d of %d octets written", w.rec.Name, ErrIncomplete, w.cov.total, w.rec.Size)
	}
	if err := w.s.usable("commit", w.rec.Name); err != nil {
		return err
	}
	w.finish()
	// Hash what is on disk, not what was handed to WriteAt.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(w.f, 0, w.rec.Size)); err != nil {
		w.f.Close()
		os.Remove(w.part)
		return fmt.Errorf("fw: commit %s: %w", w.rec.Name, err)
	}
	w.rec.SHA256 = h.Sum(nil)
	return w.s.install(w.f, w.part, w.rec)
}

func (w *dirWriter) Abort() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return nil
	}
	w.finish()
	w.f.Close()
	if err := os.Remove(w.part); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fw: abort %s: %w", w.rec.Name, err)
	}
	return nil
}
