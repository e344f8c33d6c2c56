package transport

import (
	"errors"
	"reflect"
	"testing"
)

func TestReplayList(t *testing.T) {
	t.Parallel()
	l := NewReplayList(2)
	steps := []struct {
		op       string // "check" or "update"
		src      uint16
		iv, seq  uint32
		err      error
		changed  bool
		wantSize int
	}{
		{"check", 1, 5, 10, nil, false, 0},
		{"update", 1, 5, 10, nil, true, 1},
		{"check", 1, 5, 10, ErrReplay, false, 1}, // equal is a replay
		{"check", 1, 5, 9, ErrReplay, false, 1},
		{"check", 1, 4, 0xFFFFFF, ErrReplay, false, 1}, // lower IV Index
		{"check", 1, 5, 11, nil, false, 1},
		{"check", 1, 6, 0, nil, false, 1},  // higher IV Index, SEQ reset
		{"update", 1, 5, 9, nil, false, 1}, // older: no change
		{"update", 2, 5, 1, nil, true, 2},
		{"check", 3, 5, 1, ErrRPLFull, false, 2},
		{"update", 3, 5, 1, ErrRPLFull, false, 2},
		{"update", 1, 6, 0, nil, true, 2},
		{"check", 1, 5, 0xFFFFFF, ErrReplay, false, 2},
	}
	for i, s := range steps {
		var err error
		var changed bool
		if s.op == "check" {
			err = l.rplCheck(s.src, s.iv, s.seq)
		} else {
			changed, err = l.rplUpdate(s.src, s.iv, s.seq)
		}
		if !errors.Is(err, s.err) || (s.err == nil && err != nil) || changed != s.changed || l.Len() != s.wantSize {
			t.Fatalf("step %d %+v: err %v changed %t size %d", i, s, err, changed, l.Len())
		}
	}
	exp := l.Export(nil)
	want := []RPLEntry{{1, 6, 0}, {2, 5, 1}}
	if !reflect.DeepEqual(exp, want) {
		t.Fatalf("Export = %+v, want %+v", exp, want)
	}
	m := NewReplayList(4)
	if err := m.Import(exp); err != nil || !reflect.DeepEqual(m.Export(nil), want) {
		t.Fatalf("Import: %v, %+v", err, m.Export(nil))
	}
	if err := m.Import([]RPLEntry{{0xC000, 1, 1}}); !errors.Is(err, ErrAddress) {
		t.Fatalf("Import of a group source: %v", err)
	}
	small := NewReplayList(1)
	if err := small.Import(exp); !errors.Is(err, ErrRPLFull) {
		t.Fatalf("Import beyond capacity: %v", err)
	}
	m.PruneBefore(6)
	if !reflect.DeepEqual(m.Export(nil), []RPLEntry{{1, 6, 0}}) {
		t.Fatalf("PruneBefore: %+v", m.Export(nil))
	}
	if NewReplayList(0).Cap() != DefaultRPLSize {
		t.Fatal("default capacity")
	}
}

func (l *ReplayList) rplCheck(src uint16, iv, seq uint32) error { return l.Check(addr(src), iv, seq) }
func (l *ReplayList) rplUpdate(src uint16, iv, seq uint32) (bool, error) {
	return l.Update(addr(src), iv, seq)
}
