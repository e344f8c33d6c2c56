package fw

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
)

// MemStore is a Store in memory, for the simulator and tests. It has the
// same semantics as DirStore (checksums, capacity, atomic commit) but
// nothing survives the process. It is safe for concurrent use.
type MemStore struct {
	mu     sync.Mutex
	q      quota
	slots  []*memSlot // in order of first store
	active map[string]*memWriter
}

type memSlot struct {
	info  SlotInfo
	image []byte // never mutated after commit; replaced as a whole
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore with the given capacity in octets
// (0: unlimited).
func NewMemStore(capacity int64) *MemStore {
	return &MemStore{q: quota{capacity: max(capacity, 0)}, active: map[string]*memWriter{}}
}

func (s *MemStore) find(name string) (int, *memSlot) {
	for i, sl := range s.slots {
		if sl.info.Name == name {
			return i, sl
		}
	}
	return -1, nil
}

func (s *MemStore) sizeOf(name string) int64 {
	if _, sl := s.find(name); sl != nil {
		return sl.info.Size
	}
	return 0
}

// Put implements Store.
func (s *MemStore) Put(name string, fwid, metadata, image []byte) error {
	if err := checkSlotArgs("put", name, fwid, metadata, int64(len(image))); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[name] != nil {
		return fmt.Errorf("fw: put %s: %w: a write is in progress", name, ErrBusy)
	}
	if err := s.q.fits(int64(len(image)), s.sizeOf(name)); err != nil {
		return fmt.Errorf("fw: put %s: %w", name, err)
	}
	s.commit(name, fwid, metadata, bytes.Clone(image))
	return nil
}

// commit installs image (owned by the store from now on). s.mu is held.
func (s *MemStore) commit(name string, fwid, metadata, image []byte) {
	sl := &memSlot{
		info: SlotInfo{
			Name: name, FirmwareID: bytes.Clone(fwid), Metadata: bytes.Clone(metadata),
			Size: int64(len(image)), SHA256: sha256.Sum256(image),
		},
		image: image,
	}
	if i, old := s.find(name); old != nil {
		s.q.used -= old.info.Size
		s.slots[i] = sl
	} else {
		s.slots = append(s.slots, sl)
	}
	s.q.used += sl.info.Size
}

// Stat implements Store.
func (s *MemStore) Stat(name string) (SlotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, sl := s.find(name)
	if sl == nil {
		return SlotInfo{}, fmt.Errorf("fw: stat %q: %w", name, ErrNotFound)
	}
	return sl.info.clone(), nil
}

// checked returns the slot after verifying its image. s.mu is held.
func (s *MemStore) checked(op, name string) (*memSlot, error) {
	_, sl := s.find(name)
	if sl == nil {
		return nil, fmt.Errorf("fw: %s %q: %w", op, name, ErrNotFound)
	}
	if !sl.info.Corrupt && sha256.Sum256(sl.image) != sl.info.SHA256 {
		sl.info.Corrupt = true
	}
	if sl.info.Corrupt {
		return nil, fmt.Errorf("fw: %s %s: %w: image does not match its SHA-256", op, name, ErrCorrupt)
	}
	return sl, nil
}

// Get implements Store.
func (s *MemStore) Get(name string) (SlotInfo, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, err := s.checked("get", name)
	if err != nil {
		return SlotInfo{}, nil, err
	}
	return sl.info.clone(), bytes.Clone(sl.image), nil
}

// Open implements Store.
func (s *MemStore) Open(name string) (SlotInfo, Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, err := s.checked("open", name)
	if err != nil {
		return SlotInfo{}, nil, err
	}
	return sl.info.clone(), memImage{bytes.NewReader(sl.image)}, nil
}

type memImage struct{ *bytes.Reader }

func (memImage) Close() error { return nil }

// Delete implements Store.
func (s *MemStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, sl := s.find(name)
	if sl == nil {
		return fmt.Errorf("fw: delete %q: %w", name, ErrNotFound)
	}
	s.q.used -= sl.info.Size
	s.slots = slices.Delete(s.slots, i, i+1)
	return nil
}

// List implements Store.
func (s *MemStore) List() []SlotInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SlotInfo, len(s.slots))
	for i, sl := range s.slots {
		out[i] = sl.info.clone()
	}
	return out
}

// Capacity implements Store.
func (s *MemStore) Capacity() int64 { return s.q.capacity }

// Used implements Store.
func (s *MemStore) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.used
}

// Free implements Store.
func (s *MemStore) Free() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.free()
}

// Corrupt flips one octet of the slot's image without updating its
// checksum, so tests can exercise what happens to a corrupt slot. Images
// already opened are not affected.
func (s *MemStore) Corrupt(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, sl := s.find(name)
	if sl == nil {
		return fmt.Errorf("fw: corrupt %q: %w", name, ErrNotFound)
	}
	img := bytes.Clone(sl.image)
	img[len(img)/2] ^= 0xFF
	sl.image = img
	return nil
}

// BeginWrite implements Store.
func (s *MemStore) BeginWrite(name string, fwid, metadata []byte, size int64) (SlotWriter, error) {
	if err := checkSlotArgs("begin write", name, fwid, metadata, size); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[name] != nil {
		return nil, fmt.Errorf("fw: begin write %s: %w: a write is in progress", name, ErrBusy)
	}
	if err := s.q.fits(size, s.sizeOf(name)); err != nil {
		return nil, fmt.Errorf("fw: begin write %s: %w", name, err)
	}
	w := &memWriter{s: s, name: name, fwid: bytes.Clone(fwid), metadata: bytes.Clone(metadata), buf: make([]byte, size)}
	s.active[name] = w
	s.q.reserved += size
	return w, nil
}

type memWriter struct {
	s        *MemStore
	name     string
	fwid     []byte
	metadata []byte
	buf      []byte
	cov      coverage
	done     bool
}

func (w *memWriter) WriteAt(p []byte, off int64) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return 0, fmt.Errorf("fw: write %s: %w", w.name, ErrClosed)
	}
	if err := checkWrite(w.name, off, len(p), int64(len(w.buf))); err != nil {
		return 0, err
	}
	copy(w.buf[off:], p)
	w.cov.add(off, off+int64(len(p)))
	return len(p), nil
}

func (w *memWriter) ReadAt(p []byte, off int64) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return 0, fmt.Errorf("fw: read %s: %w", w.name, ErrClosed)
	}
	n, err := checkRead(off, len(p), int64(len(w.buf)))
	if n > 0 {
		copy(p, w.buf[off:off+int64(n)])
	}
	return n, err
}

func (w *memWriter) Written() int64 {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.cov.total
}

func (w *memWriter) Size() int64 { return int64(len(w.buf)) }

// finish releases the reservation. w.s.mu is held.
func (w *memWriter) finish() {
	w.done = true
	w.s.q.reserved -= int64(len(w.buf))
	delete(w.s.active, w.name)
}

func (w *memWriter) Commit() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.done {
		return fmt.Errorf("fw: commit %s: %w", w.name, ErrClosed)
	}
	if w.cov.total != int64(len(w.buf)) {
		return fmt.Errorf("fw: commit %s: %w: %d of %d octets written", w.name, ErrIncomplete, w.cov.total, len(w.buf))
	}
	w.finish()
	w.s.commit(w.name, w.fwid, w.metadata, w.buf)
	return nil
}

func (w *memWriter) Abort() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if !w.done {
		w.finish()
	}
	return nil
}
