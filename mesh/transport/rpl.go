package transport

import (
	"fmt"
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
)

// DefaultRPLSize is the replay protection list capacity used when
// Config.RPLSize is 0.
const DefaultRPLSize = 128

// RPLEntry is one replay protection list entry: the highest IV Index ‖ SEQ
// accepted from Src.
type RPLEntry struct {
	Src     mesh.Address
	IVIndex uint32
	Seq     uint32
}

// ReplayList is the replay protection list (Mesh Protocol v1.1 §3.9.8): per
// source address, the last valid IVI‖SEQ. A PDU passes only if its IVI‖SEQ
// is strictly greater. The list holds at most its capacity of sources; when
// it is full a PDU from a new source is discarded, as the spec requires.
// Check does not change the list; the layer calls Update once a message was
// authenticated and delivered.
type ReplayList struct {
	capacity int
	last     map[mesh.Address]uint64
}

// NewReplayList returns an empty list that holds up to capacity sources (0
// means DefaultRPLSize).
func NewReplayList(capacity int) *ReplayList {
	if capacity <= 0 {
		capacity = DefaultRPLSize
	}
	return &ReplayList{capacity: capacity, last: make(map[mesh.Address]uint64, capacity)}
}

func ivSeq(ivIndex, seq uint32) uint64 { return uint64(ivIndex)<<24 | uint64(seq&0xFFFFFF) }

// Check reports whether a PDU from src with ivIndex and seq may be
// processed: nil, or an error wrapping ErrReplay (not newer than the stored
// value) or ErrRPLFull (unknown source and no room).
func (l *ReplayList) Check(src mesh.Address, ivIndex, seq uint32) error {
	v := ivSeq(ivIndex, seq)
	old, ok := l.last[src]
	switch {
	case ok && v <= old:
		return fmt.Errorf("%w: %v IV 0x%08x SEQ 0x%06x, last accepted 0x%014x", ErrReplay, src, ivIndex, seq, old)
	case !ok && len(l.last) >= l.capacity:
		return fmt.Errorf("%w: no entry for %v (%d sources)", ErrRPLFull, src, l.capacity)
	}
	return nil
}

// Update records ivIndex‖seq for src if it is newer than the stored value.
// It reports whether the list changed, and fails with ErrRPLFull when src is
// new and the list is full.
func (l *ReplayList) Update(src mesh.Address, ivIndex, seq uint32) (bool, error) {
	v := ivSeq(ivIndex, seq)
	old, ok := l.last[src]
	if ok && v <= old {
		return false, nil
	}
	if !ok && len(l.last) >= l.capacity {
		return false, fmt.Errorf("%w: no entry for %v (%d sources)", ErrRPLFull, src, l.capacity)
	}
	l.last[src] = v
	return true, nil
}

// Len returns the number of sources in the list.
func (l *ReplayList) Len() int { return len(l.last) }

// Cap returns the capacity.
func (l *ReplayList) Cap() int { return l.capacity }

// Export appends every entry to dst in address order, so a node can persist
// the list.
func (l *ReplayList) Export(dst []RPLEntry) []RPLEntry {
	start := len(dst)
	for src, v := range l.last {
		dst = append(dst, RPLEntry{Src: src, IVIndex: uint32(v >> 24), Seq: uint32(v) & 0xFFFFFF})
	}
	slices.SortFunc(dst[start:], func(a, b RPLEntry) int { return int(a.Src) - int(b.Src) })
	return dst
}

// Import merges persisted entries into the list, keeping the newer value
// per source. It fails with ErrRPLFull if they do not fit, having imported
// what fitted, and with ErrAddress for a non-unicast source.
func (l *ReplayList) Import(entries []RPLEntry) error {
	for _, e := range entries {
		if !e.Src.IsUnicast() {
			return fmt.Errorf("%w: replay entry for %v", ErrAddress, e.Src)
		}
		if _, err := l.Update(e.Src, e.IVIndex, e.Seq); err != nil {
			return err
		}
	}
	return nil
}

// PruneBefore drops entries whose IV Index is below ivIndex; after an IV
// Index change a node may forget sources last heard two IV Indexes ago.
func (l *ReplayList) PruneBefore(ivIndex uint32) {
	for src, v := range l.last {
		if uint32(v>>24) < ivIndex {
			delete(l.last, src)
		}
	}
}
