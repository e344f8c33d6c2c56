package runtime

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the files a node keeps in its data directory.
const (
	// StateFile holds the node's durable state (addresses, keys, sequence
	// number, IV Index); give DataDir.File(StateFile) to node.FileStore.
	StateFile = "state.json"
	// KeysFile holds key material kept apart from the state, if any.
	KeysFile = "keys.json"
)

// Permissions of what DataDir creates: the directory and every file are
// the owner's alone, because the state holds network and device keys.
const (
	DirPerm  fs.FileMode = 0o700
	FilePerm fs.FileMode = 0o600
)

// DataDir is a node's data directory. Its methods may be called from any
// goroutine; they do not serialise writes to the same file.
type DataDir struct {
	path string
}

// OpenDataDir creates the directory at path (and its parents) with
// permissions 0700 unless it exists, and returns it. An existing directory
// that its group or others may write to is refused with ErrInsecureDir
// (someone else could replace the node's files); meshdfu does not change
// the permissions of a directory it did not create. One that they may only
// read is accepted: the files in it are 0600.
func OpenDataDir(path string) (*DataDir, error) {
	if path == "" {
		return nil, fmt.Errorf("runtime: data directory: %w: empty path", ErrBadName)
	}
	if err := os.MkdirAll(path, DirPerm); err != nil {
		return nil, fmt.Errorf("runtime: data directory: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: data directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("runtime: data directory %s: not a directory", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v (run chmod 700 %s)", ErrInsecureDir, path, fi.Mode().Perm(), path)
	}
	return &DataDir{path: path}, nil
}

// Path returns the directory's path.
func (d *DataDir) Path() string { return d.path }

// File returns the path of the file name in the directory. It panics if
// name is not a single, local path element: names are the program's
// constants, not user input.
func (d *DataDir) File(name string) string {
	if err := checkName(name); err != nil {
		panic(err)
	}
	return filepath.Join(d.path, name)
}

// Sub opens the subdirectory name (for example firmware slots), creating
// it with permissions 0700.
func (d *DataDir) Sub(name string) (*DataDir, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return OpenDataDir(filepath.Join(d.path, name))
}

// ReadFile reads the file name. A file that does not exist yet gives an
// error matching fs.ErrNotExist.
func (d *DataDir) ReadFile(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("runtime: read %s: %w", name, err)
	}
	return b, nil
}

// WriteFile replaces the file name with data atomically, with permissions
// 0600: it writes a temporary file in the directory, syncs it, renames it
// over name and syncs the directory, so that after a crash the file holds
// either its old contents or data, never a mix.
func (d *DataDir) WriteFile(name string, data []byte) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("runtime: write %s: %w", name, err)
		}
	}()
	tmp, err := os.CreateTemp(d.path, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(FilePerm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d.path, name)); err != nil {
		return err
	}
	return syncDir(d.path)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkName accepts a single, local path element.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || !filepath.IsLocal(name) || filepath.Base(name) != name {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}
