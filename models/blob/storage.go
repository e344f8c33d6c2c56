package blob

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Storage is where a Server puts the BLOB data it receives.
type Storage interface {
	// Open returns a Writer for BLOB id of size octets. resume is false at
	// Transfer Start (the previous content may be discarded) and true when a
	// rebooted server recovers an interrupted transfer (the data of completed
	// blocks must still be there). An error refuses the transfer: the
	// server answers Internal Error, or abandons the recovered transfer.
	Open(id uint64, size uint32, resume bool) (Writer, error)
}

// Writer receives the data of one BLOB.
type Writer interface {
	// WriteAt writes one chunk at its offset in the BLOB (io.WriterAt).
	io.WriterAt
	// Sync makes everything written so far durable. The server calls it when
	// a block completes, before it records the block as received.
	Sync() error
	// Close ends the transfer (complete or cancelled).
	Close() error
}

// MemoryStorage is a Storage in memory, for the simulator and tests. It
// survives a rebuilt Server (a "reboot") when the same value is reused.
type MemoryStorage struct {
	blobs map[uint64][]byte
}

// Open returns a Writer over the BLOB's buffer, kept when resume is set.
func (m *MemoryStorage) Open(id uint64, size uint32, resume bool) (Writer, error) {
	if m.blobs == nil {
		m.blobs = make(map[uint64][]byte)
	}
	b, ok := m.blobs[id]
	if !resume || !ok || len(b) != int(size) {
		if resume {
			return nil, fmt.Errorf("blob: memory storage: no data of BLOB %016x to resume", id)
		}
		b = make([]byte, size)
		m.blobs[id] = b
	}
	return &memWriter{b: b}, nil
}

// Data returns the stored data of BLOB id (shared, not a copy), or nil.
func (m *MemoryStorage) Data(id uint64) []byte { return m.blobs[id] }

type memWriter struct{ b []byte }

func (w *memWriter) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(w.b)) {
		return 0, fmt.Errorf("blob: memory storage: write of %d octets at %d beyond %d", len(p), off, len(w.b))
	}
	return copy(w.b[off:], p), nil
}

func (w *memWriter) Sync() error  { return nil }
func (w *memWriter) Close() error { return nil }

// FileStorage is a durable Storage: BLOB id lives in Dir/<id as 16 hex
// digits>.blob, written at offsets and synced to disk at every block end.
type FileStorage struct {
	Dir string
}

// Path returns the file of BLOB id.
func (f FileStorage) Path(id uint64) string {
	return filepath.Join(f.Dir, fmt.Sprintf("%016x.blob", id))
}

// Open creates (or truncates) the BLOB's file, or reopens it for resume.
func (f FileStorage) Open(id uint64, size uint32, resume bool) (Writer, error) {
	flag := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if resume {
		flag = os.O_RDWR
	}
	file, err := os.OpenFile(f.Path(id), flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("blob: file storage: %w", err)
	}
	if err := file.Truncate(int64(size)); err != nil {
		file.Close()
		return nil, fmt.Errorf("blob: file storage: %w", err)
	}
	return file, nil
}

// StateStore keeps a Server's persistent transfer state (an opaque record
// the Server encodes) across reboots.
type StateStore interface {
	// LoadState returns the last saved record, or nil when there is none.
	LoadState() ([]byte, error)
	// SaveState replaces the record; nil erases it.
	SaveState(b []byte) error
}

// MemoryStateStore is a StateStore in memory; it keeps a copy.
type MemoryStateStore struct {
	b []byte
	// Saves counts SaveState calls.
	Saves int
}

// LoadState returns a copy of the saved record.
func (m *MemoryStateStore) LoadState() ([]byte, error) {
	if m.b == nil {
		return nil, nil
	}
	return append([]byte(nil), m.b...), nil
}

// SaveState keeps a copy of b.
func (m *MemoryStateStore) SaveState(b []byte) error {
	m.Saves++
	if b == nil {
		m.b = nil
		return nil
	}
	m.b = append([]byte(nil), b...)
	return nil
}

// FileStateStore keeps the record in a file, replaced atomically (write a
// temporary file, sync, rename, sync the directory).
type FileStateStore struct {
	Path string
}

// LoadState reads the file; a missing file is no record.
func (f FileStateStore) LoadState() ([]byte, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob: state file: %w", err)
	}
	return b, nil
}

// SaveState writes the file atomically, or removes it for nil.
func (f FileStateStore) SaveState(b []byte) error {
	if b == nil {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("blob: state file: %w", err)
		}
		return nil
	}
	tmp := f.Path + ".tmp"
	file, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("blob: state file: %w", err)
	}
	if _, err = file.Write(b); err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.Path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blob: state file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(f.Path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
