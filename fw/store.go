package fw

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Store is a set of firmware slots. Each slot has a name and holds a
// Firmware ID, metadata and an image. A DirStore keeps them on disk and
// survives crashes; a MemStore keeps them in memory for the simulator.
//
// A committed slot changes only as a whole: Put and a SlotWriter's Commit
// replace it atomically, and a partially written upload never replaces it.
// Every read checks the slot's SHA-256; a slot that fails is reported as
// corrupt (ErrCorrupt, SlotInfo.Corrupt) and never served.
//
// Capacity is a quota on the sum of the image sizes (0: unlimited). A write
// reserves its size when it begins; a write that replaces a slot is charged
// only the difference, so a target can keep re-uploading into one slot.
type Store interface {
	// Put stores a complete image in slot name, replacing any slot there.
	Put(name string, fwid, metadata, image []byte) error
	// BeginWrite starts a write of an image of size octets that arrives in
	// pieces (a BLOB transfer). The slot changes only on Commit.
	BeginWrite(name string, fwid, metadata []byte, size int64) (SlotWriter, error)
	// Stat returns the slot's description without reading its image. A
	// corrupt slot is returned with Corrupt set and no error.
	Stat(name string) (SlotInfo, error)
	// Get returns the slot and a copy of its image, after checking it.
	Get(name string) (SlotInfo, []byte, error)
	// Open returns the slot and its image for random access, after checking
	// it. Close the Image when done.
	Open(name string) (SlotInfo, Image, error)
	// Delete removes the slot (corrupt or not). A write in progress to the
	// same name is not affected.
	Delete(name string) error
	// List returns every slot, corrupt ones included, in the order they were
	// first stored (replacing a slot keeps its place).
	List() []SlotInfo
	// Capacity returns the quota in octets (0: unlimited).
	Capacity() int64
	// Used returns the octets held by committed slots.
	Used() int64
	// Free returns the octets still available to new writes: capacity minus
	// committed slots and writes in progress (never negative).
	Free() int64
}

// SlotWriter receives an image in pieces, in any order, with overlaps
// allowed (a chunk sent twice). Commit succeeds only once every octet in
// 0..size-1 has been written; until then the slot keeps its old contents.
type SlotWriter interface {
	io.WriterAt
	// ReadAt reads back the image being written (octets not yet written
	// read as zero), so a target can verify it before it commits.
	io.ReaderAt
	// Written returns how many distinct octets of the image have been
	// written.
	Written() int64
	// Size returns the image size given to BeginWrite.
	Size() int64
	// Commit makes the written image the slot's contents, atomically. It
	// fails with ErrIncomplete (and the writer stays usable) while octets
	// are missing.
	Commit() error
	// Abort discards the write. It is safe after Commit (then a no-op).
	Abort() error
}

// Image is a stored image opened for random access.
type Image interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// SlotInfo describes a slot.
type SlotInfo struct {
	Name       string
	FirmwareID []byte
	Metadata   []byte
	Size       int64    // image size in octets
	SHA256     [32]byte // SHA-256 of the image as committed
	// Corrupt is set when the stored image no longer matches its checksum
	// (or is missing); such a slot is never served.
	Corrupt bool
}

func (s SlotInfo) clone() SlotInfo {
	s.FirmwareID = bytes.Clone(s.FirmwareID)
	s.Metadata = bytes.Clone(s.Metadata)
	return s
}

// MaxSlotNameLen is the longest slot name.
const MaxSlotNameLen = 64

// CheckSlotName reports ErrSlotName unless name is 1..64 characters from
// letters, digits, '.', '_' and '-', not starting with '.'.
func CheckSlotName(name string) error {
	if len(name) == 0 || len(name) > MaxSlotNameLen || name[0] == '.' {
		return fmt.Errorf("%w: %q", ErrSlotName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q", ErrSlotName, name)
		}
	}
	return nil
}

// checkSlotArgs validates what a write gives for a slot.
func checkSlotArgs(op, name string, fwid, metadata []byte, size int64) error {
	if err := CheckSlotName(name); err != nil {
		return fmt.Errorf("fw: %s: %w", op, err)
	}
	if err := CheckFirmwareID(fwid); err != nil {
		return fmt.Errorf("fw: %s %s: %w", op, name, err)
	}
	if len(metadata) > MaxMetadataLen {
		return fmt.Errorf("fw: %s %s: %w: %d octets, at most %d", op, name, ErrMetadataFormat, len(metadata), MaxMetadataLen)
	}
	if size <= 0 || size > math.MaxUint32 {
		return fmt.Errorf("fw: %s %s: image size %d, want 1..2^32-1", op, name, size)
	}
	return nil
}

// quota is the space accounting both stores share.
type quota struct {
	capacity int64 // 0: unlimited
	used     int64 // committed image octets
	reserved int64 // octets reserved by writes in progress
}

// fits reports ErrNoSpace unless a write of size octets that would replace
// a slot of replacing octets fits.
func (q *quota) fits(size, replacing int64) error {
	if q.capacity == 0 {
		return nil
	}
	if need := q.used - replacing + q.reserved + size; need > q.capacity {
		return fmt.Errorf("%w: %d octets needed, %d free of %d", ErrNoSpace, size, q.free(), q.capacity)
	}
	return nil
}

func (q *quota) free() int64 {
	limit := q.capacity
	if limit == 0 {
		limit = math.MaxInt64
	}
	return max(0, limit-q.used-q.reserved)
}

// coverage tracks which octets of an image were written, as sorted,
// disjoint, non-adjacent half-open intervals.
type coverage struct {
	iv    [][2]int64
	total int64
}

func (c *coverage) add(start, end int64) {
	if start >= end {
		return
	}
	// First interval that ends at or after start (touching counts).
	i, _ := slices.BinarySearchFunc(c.iv, start, func(v [2]int64, s int64) int {
		if v[1] < s {
			return -1
		}
		return 1
	})
	j := i
	for j < len(c.iv) && c.iv[j][0] <= end {
		start = min(start, c.iv[j][0])
		end = max(end, c.iv[j][1])
		c.total -= c.iv[j][1] - c.iv[j][0]
		j++
	}
	c.iv = slices.Replace(c.iv, i, j, [2]int64{start, end})
	c.total += end - start
}

// checkRead validates a ReadAt of n octets at off from an image of size,
// returning how many octets can be read and io.EOF when that is short.
func checkRead(off int64, n int, size int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fw: read at negative offset")
	}
	if off >= size {
		return 0, io.EOF
	}
	if int64(n) > size-off {
		return int(size - off), io.EOF
	}
	return n, nil
}

// checkWrite validates a WriteAt of n octets at off into an image of size.
func checkWrite(name string, off int64, n int, size int64) error {
	if off < 0 || off > size || int64(n) > size-off {
		return fmt.Errorf("fw: write %s: %d octets at offset %d past image size %d", name, n, off, size)
	}
	return nil
}
