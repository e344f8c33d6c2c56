package blob

import (
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/meshdfu/meshdfu/mesh/access"
)

func TestChunkNumberEncoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c    uint16
		want string
	}{
		{0x0000, "00"}, {0x007f, "7f"}, {0x0080, "c2 80"}, {0x07ff, "df bf"},
		{0x0800, "e0 a0 80"}, {0x0baf, "e0 ae af"}, {0x7fff, "e7 bf bf"}, {0xd7ff, "ed 9f bf"},
		{0xd800, "ed a0 80"}, {0xdfff, "ed bf bf"}, {0xe000, "ee 80 80"}, {0xffff, "ef bf bf"},
	}
	for _, c := range cases {
		if got := AppendChunkNumber(nil, c.c); string(got) != string(hx(c.want)) {
			t.Errorf("AppendChunkNumber(0x%04x) = %x, want %s", c.c, got, c.want)
		}
	}
	// Every 16-bit number round-trips, matches unicode/utf8 outside the
	// surrogates, and ChunkListLen agrees.
	all := make([]uint16, 0, MaxChunks)
	for c := range MaxChunks {
		all = append(all, uint16(c))
		b := AppendChunkNumber(nil, uint16(c))
		if (c < 0xd800 || c > 0xdfff) && string(b) != string(utf8.AppendRune(nil, rune(c))) {
			t.Fatalf("0x%04x: %x differs from UTF-8", c, b)
		}
	}
	enc := AppendChunkList(nil, all)
	if len(enc) != ChunkListLen(all) {
		t.Fatalf("ChunkListLen %d, encoded %d", ChunkListLen(all), len(enc))
	}
	got, err := ParseChunkList(nil, enc)
	if err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("ParseChunkList of all numbers: %v", err)
	}
}

func TestParseChunkListRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in  string
		err error
	}{
		{"c2", access.ErrLength}, {"e0 a0", access.ErrLength}, {"80", access.ErrProhibited},
		{"bf", access.ErrProhibited}, {"f0 90 80 80", access.ErrProhibited}, {"ff", access.ErrProhibited},
		{"c0 80", access.ErrProhibited}, {"c1 bf", access.ErrProhibited}, {"e0 80 80", access.ErrProhibited},
		{"e0 9f bf", access.ErrProhibited}, {"c2 c2", access.ErrProhibited}, {"e0 a0 00", access.ErrProhibited},
	} {
		if _, err := ParseChunkList(nil, hx(c.in)); !errors.Is(err, c.err) {
			t.Errorf("ParseChunkList(%s) = %v, want %v", c.in, err, c.err)
		}
	}
}

func TestChunkSet(t *testing.T) {
	t.Parallel()
	s := NewChunkSet(19)
	if !s.Empty() || s.Len() != 19 || s.Next(0) != -1 {
		t.Fatal("new set not empty")
	}
	for _, i := range []int{0, 9, 18, 19, -1, 100} {
		s.Set(i)
	}
	if string(s.BitField()) != string(hx("01 02 04")) || s.Count() != 3 {
		t.Fatalf("bit field %x count %d", s.BitField(), s.Count())
	}
	if !s.Has(9) || s.Has(10) || s.Has(19) || s.Has(-1) {
		t.Fatal("Has")
	}
	if s.Next(1) != 9 || s.Next(10) != 18 || s.Next(19) != -1 {
		t.Fatal("Next")
	}
	if got := s.AppendList(nil, 2); !reflect.DeepEqual(got, []uint16{0, 9}) {
		t.Fatalf("AppendList = %v", got)
	}
	c := s.Clone()
	s.Clear(9)
	if !c.Has(9) || s.Has(9) {
		t.Fatal("Clone shares storage")
	}
	s.Fill()
	if string(s.BitField()) != string(hx("ff ff 07")) || s.Count() != 19 {
		t.Fatalf("Fill: %x", s.BitField())
	}
	o := NewChunkSet(24)
	o.Fill()
	s.Reset(19)
	s.Union(o)
	if string(s.BitField()) != string(hx("ff ff 07")) {
		t.Fatalf("Union keeps padding zero: %x", s.BitField())
	}
	if !s.Equal(FullChunkSet(19)) || s.Equal(FullChunkSet(20)) {
		t.Fatal("Equal")
	}
	// Boundaries of the whole 16-bit range.
	big := FullChunkSet(MaxChunks)
	if big.Count() != MaxChunks || big.Next(0xffff) != 0xffff {
		t.Fatal("full 65536 set")
	}
	big.Clear(0xffff)
	if big.Next(0xfff8) != 0xfff8 || big.Next(0xffff) != -1 {
		t.Fatal("Next at the top")
	}
	if err := s.SetBitField(hx("ff 0f"), 12); err != nil || s.Count() != 12 {
		t.Fatalf("SetBitField: %v", err)
	}
	if err := s.SetBitField(hx("ff 1f"), 12); !errors.Is(err, access.ErrRFU) {
		t.Fatalf("padding: %v", err)
	}
	if err := s.SetBitField(hx("ff"), 12); !errors.Is(err, access.ErrLength) {
		t.Fatalf("short: %v", err)
	}
}

func TestArithmetic(t *testing.T) {
	t.Parallel()
	// blob.md §8: 10 000 octets, log 12, chunk size 100.
	if n := BlockCount(10000, 12); n != 3 {
		t.Fatalf("BlockCount = %d", n)
	}
	for b, want := range []int{4096, 4096, 1808, 0} {
		if got := BlockLen(10000, 12, b); got != want {
			t.Errorf("BlockLen(%d) = %d, want %d", b, got, want)
		}
	}
	for b, want := range []int{41, 41, 19} {
		bl := BlockLen(10000, 12, b)
		if got := ChunkCount(bl, 100); got != want {
			t.Errorf("ChunkCount(block %d) = %d, want %d", b, got, want)
		}
	}
	if ChunkLen(1808, 100, 18) != 8 || ChunkLen(4096, 100, 40) != 96 || ChunkLen(4096, 100, 41) != 0 || ChunkLen(4096, 100, 0) != 100 {
		t.Error("ChunkLen")
	}
	if ChunkCount(4096, 8) != 512 || ChunkCount(1808, 8) != 226 || ChunkCount(10, 0) != 0 {
		t.Error("ChunkCount chunk size 8")
	}
	if BlockCount(0, 12) != 0 || BlockCount(4096, 12) != 1 || BlockCount(4097, 12) != 2 ||
		BlockCount(0xffffffff, 0x20) != 1 || BlockCount(0xffffffff, 0xff) != 1 || BlockCount(0xffffffff, 0) != 0xffffffff {
		t.Error("BlockCount edges")
	}
	if BlockLen(0xffffffff, 0x20, 0) != 0xffffffff || BlockOffset(12, 2) != 8192 {
		t.Error("BlockLen/BlockOffset edges")
	}
	if BlockSize(12) != 4096 || BlockSize(64) != 0 {
		t.Error("BlockSize")
	}
}
