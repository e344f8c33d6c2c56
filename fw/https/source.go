package https

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshdfu/meshdfu/fw"
)

// Source is the set of firmware images a Handler serves. Implementations
// must be safe for concurrent use.
type Source interface {
	// List returns the images available now.
	List() ([]Firmware, error)
	// Open returns the image of the firmware with Firmware ID fwid. The
	// reader yields exactly the size List reported.
	Open(fwid []byte) (io.ReadCloser, error)
}

// ImageFileExt is the extension of the image files DirSource serves
// ("meshdfu firmware pack" writes them).
const ImageFileExt = ".mdfu"

// DirSource serves the image files (*.mdfu, docs/metadata.md) in one
// directory, not its subdirectories. It rereads the directory on each List
// and a file whenever its size or modification time changes, so images can
// be added or replaced while a server runs. A file that does not decode is
// skipped with a warning; of two files with the same Firmware ID the first
// by name is served.
type DirSource struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	cache map[string]*dirEntry // by file name
}

type dirEntry struct {
	size int64
	mod  time.Time
	file *fw.ImageFile // nil when the file did not decode
}

var _ Source = (*DirSource)(nil)

// NewDirSource returns a DirSource for dir; logger (nil: discard) gets a
// warning for each file that does not decode.
func NewDirSource(dir string, logger *slog.Logger) *DirSource {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DirSource{dir: dir, log: logger, cache: map[string]*dirEntry{}}
}

// List implements Source.
func (d *DirSource) List() ([]Firmware, error) {
	files, err := d.scan()
	if err != nil {
		return nil, err
	}
	out := make([]Firmware, 0, len(files))
	for _, f := range files {
		out = append(out, Firmware{FirmwareID: bytes.Clone(f.FirmwareID), Metadata: bytes.Clone(f.Metadata), Size: int64(len(f.Image))})
	}
	return out, nil
}

// Open implements Source.
func (d *DirSource) Open(fwid []byte) (io.ReadCloser, error) {
	files, err := d.scan()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if bytes.Equal(f.FirmwareID, fwid) {
			return io.NopCloser(bytes.NewReader(f.Image)), nil
		}
	}
	return nil, fmt.Errorf("https: %s: no image with Firmware ID %s", d.dir, FormatFWID(fwid))
}

// scan refreshes the cache and returns the decoded files by name, without
// duplicate Firmware IDs.
func (d *DirSource) scan() ([]*fw.ImageFile, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("https: image directory: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	live := map[string]bool{}
	var out []*fw.ImageFile
	for _, e := range ents { // ReadDir sorts by name
		name := e.Name()
		if !strings.HasSuffix(name, ImageFileExt) || strings.HasPrefix(name, ".") {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		live[name] = true
		c := d.cache[name]
		if c == nil || c.size != info.Size() || !c.mod.Equal(info.ModTime()) {
			c = &dirEntry{size: info.Size(), mod: info.ModTime()}
			c.file, err = readImageFile(filepath.Join(d.dir, name))
			if err != nil {
				d.log.Warn("skipping image file", "file", name, "err", err)
			}
			d.cache[name] = c
		}
		if c.file == nil {
			continue
		}
		if i := slices.IndexFunc(out, func(f *fw.ImageFile) bool { return bytes.Equal(f.FirmwareID, c.file.FirmwareID) }); i >= 0 {
			continue
		}
		out = append(out, c.file)
	}
	for name := range d.cache {
		if !live[name] {
			delete(d.cache, name)
		}
	}
	return out, nil
}

func readImageFile(path string) (*fw.ImageFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return fw.ReadImageFile(f)
}

// StoreSource serves the committed slots of a firmware store, e.g. a
// distributor's, so one process can be both. Slots the store reports as
// corrupt are skipped; a slot whose damage the store finds only when it is
// opened fails that /get with 500 (the client sees ErrURIUnreachable) and
// is skipped from then on. Of two slots with one Firmware ID the first
// listed is served.
func StoreSource(s fw.Store) Source { return storeSource{s} }

type storeSource struct{ s fw.Store }

func (s storeSource) List() ([]Firmware, error) {
	var out []Firmware
	for _, in := range s.s.List() {
		if !in.Corrupt && !slices.ContainsFunc(out, func(f Firmware) bool { return bytes.Equal(f.FirmwareID, in.FirmwareID) }) {
			out = append(out, Firmware{FirmwareID: in.FirmwareID, Metadata: in.Metadata, Size: in.Size})
		}
	}
	return out, nil
}

func (s storeSource) Open(fwid []byte) (io.ReadCloser, error) {
	for _, in := range s.s.List() {
		if in.Corrupt || !bytes.Equal(in.FirmwareID, fwid) {
			continue
		}
		_, img, err := s.s.Open(in.Name)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.NewSectionReader(img, 0, img.Size()), img}, nil
	}
	return nil, fmt.Errorf("https: store: %w: Firmware ID %s", fw.ErrNotFound, FormatFWID(fwid))
}

// Newest picks the image a device running firmware current updates to.
// A Firmware ID is a Company ID (2 octets) and version information; an
// image is a candidate when its Firmware ID has the same length, the same
// Company ID and the same first productOctets octets of version information
// as current (the product), and the rest of its version information is
// greater, compared octet by octet as one unsigned big-endian number (so
// "01 02 00" < "01 0a 00"; put the most significant version field first).
// The greatest candidate wins; ok is false when there is none. The server
// thus always offers the newest image directly, and announces a
// dfu_chain_size of 1.
func Newest(images []Firmware, current []byte, productOctets int) (Firmware, bool) {
	prefix := 2 + max(productOctets, 0)
	if len(current) < prefix {
		return Firmware{}, false
	}
	var best Firmware
	found := false
	for _, im := range images {
		if len(im.FirmwareID) != len(current) || !bytes.Equal(im.FirmwareID[:prefix], current[:prefix]) {
			continue
		}
		if bytes.Compare(im.FirmwareID[prefix:], current[prefix:]) <= 0 {
			continue
		}
		if !found || bytes.Compare(im.FirmwareID[prefix:], best.FirmwareID[prefix:]) > 0 {
			best, found = im, true
		}
	}
	return best, found
}
