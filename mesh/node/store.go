package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNoState is returned by Store.Load when nothing was saved yet.
var ErrNoState = errors.New("node: no saved state")

// Store keeps a node's durable state. Save must be atomic: after a crash the
// store holds either the previous state or the new one, never a mix.
type Store interface {
	Load() (*State, error)
	Save(*State) error
}

// MemoryStore is a Store in memory, for the simulator and tests. It keeps a
// deep copy, so a node "rebooted" from it sees only what it saved.
type MemoryStore struct {
	data  []byte
	Saves int // number of Save calls, for tests and metrics
}

// Load returns a copy of the last saved state.
func (m *MemoryStore) Load() (*State, error) {
	if m.data == nil {
		return nil, ErrNoState
	}
	var s State
	if err := json.Unmarshal(m.data, &s); err != nil {
		return nil, fmt.Errorf("node: memory store: %w", err)
	}
	return &s, nil
}

// Save stores a copy of s.
func (m *MemoryStore) Save(s *State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("node: memory store: %w", err)
	}
	m.data = b
	m.Saves++
	return nil
}

// FileStore is a Store in one JSON file, written atomically (temporary
// file, fsync, rename, fsync of the directory) with owner-only permissions,
// because the state holds keys.
type FileStore struct {
	Path string
}

// Load reads the state file.
func (f *FileStore) Load() (*State, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, fmt.Errorf("node: load state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("node: load state %s: %w", f.Path, err)
	}
	return &s, nil
}

// Save writes the state file atomically.
func (f *FileStore) Save(s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("node: save state: %w", err)
	}
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("node: save state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("node: save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("node: save state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("node: save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("node: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("node: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("node: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
