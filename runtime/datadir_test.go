package runtime

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestDataDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nodes", "n1")
	d, err := OpenDataDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != DirPerm {
		t.Fatalf("stat %v, %v: want mode %v", fi, err, DirPerm)
	}
	if d.Path() != path || d.File(StateFile) != filepath.Join(path, StateFile) {
		t.Fatalf("paths %q %q", d.Path(), d.File(StateFile))
	}
	if _, err := d.ReadFile(KeysFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file = %v, want ErrNotExist", err)
	}
	for _, data := range []string{"first", "second"} {
		if err := d.WriteFile(KeysFile, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := d.ReadFile(KeysFile)
		if err != nil || string(got) != data {
			t.Fatalf("ReadFile = %q, %v; want %q", got, err, data)
		}
	}
	fi, err := os.Stat(d.File(KeysFile))
	if err != nil || fi.Mode().Perm() != FilePerm {
		t.Fatalf("keys file %v, %v: want mode %v", fi, err, FilePerm)
	}
	entries, err := os.ReadDir(path)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v (%v), want only %s: temporary files left", entries, err, KeysFile)
	}

	sub, err := d.Sub("slots")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sub.Path()); err != nil || fi.Mode().Perm() != DirPerm {
		t.Fatalf("sub %v, %v", fi, err)
	}
	// Reopening an existing private directory works.
	if _, err := OpenDataDir(path); err != nil {
		t.Fatal(err)
	}
}

func TestDataDir_Insecure(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDataDir(path); err != nil {
		t.Fatalf("OpenDataDir(0755) = %v, want success", err)
	}
	if err := os.Chmod(path, 0o775); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDataDir(path); !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("OpenDataDir(0775) = %v, want ErrInsecureDir", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDataDir(file); err == nil {
		t.Fatal("OpenDataDir of a regular file succeeded")
	}
	if _, err := OpenDataDir(""); !errors.Is(err, ErrBadName) {
		t.Fatalf("OpenDataDir(\"\") = %v", err)
	}
}

func TestDataDir_BadNames(t *testing.T) {
	t.Parallel()
	d, err := OpenDataDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", ".", "..", "../x", "a/b", "/etc/passwd"} {
		if err := d.WriteFile(name, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("WriteFile(%q) = %v, want ErrBadName", name, err)
		}
		if _, err := d.ReadFile(name); !errors.Is(err, ErrBadName) {
			t.Errorf("ReadFile(%q) = %v, want ErrBadName", name, err)
		}
		if _, err := d.Sub(name); !errors.Is(err, ErrBadName) {
			t.Errorf("Sub(%q) = %v, want ErrBadName", name, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("File(%q) did not panic", name)
				}
			}()
			d.File(name)
		}()
	}
}
