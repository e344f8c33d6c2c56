package access

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

var opcodeTests = []struct {
	name   string
	in     string
	op     Opcode
	params string
	err    error
}{
	{"Config AppKey Add (1 octet)", "00 aa", 0x00, "aa", nil},
	{"Health Current Status", "04", 0x04, "", nil},
	{"largest 1-octet", "7e 01 02", 0x7e, "01 02", nil},
	{"Config AppKey Status (2 octets)", "80 03 00", 0x8003, "00", nil},
	{"largest 2-octet", "bf ff", 0xbfff, "", nil},
	{"mesh-core.md §6 vendor 0x23 / 0x0136", "e3 36 01", 0xe33601, "", nil},
	{"sample data vendor 0x15 / 0x000a", "d5 0a 00 ff", 0xd50a00, "ff", nil},
	{"sample data vendor 0x2a / 0x000a", "ea 0a 00", 0xea0a00, "", nil},
	{"empty", "", 0, "", ErrLength},
	{"reserved 0x7f", "7f", 0, "", ErrRFU},
	{"2-octet short", "80", 0, "", ErrLength},
	{"3-octet short by one", "c0 01", 0, "", ErrLength},
	{"3-octet short by two", "ff", 0, "", ErrLength},
}

func TestDecodeOpcode(t *testing.T) {
	t.Parallel()
	for _, tc := range opcodeTests {
		t.Run(tc.name, func(t *testing.T) {
			op, params, err := DecodeOpcode(mustHex(t, tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if op != tc.op || !bytes.Equal(params, mustHex(t, tc.params)) {
				t.Fatalf("got %s %x, want %s %s", op, params, tc.op, tc.params)
			}
			b, err := AppendOpcode(nil, op)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tc.in)[:op.Size()]; !bytes.Equal(b, want) {
				t.Fatalf("AppendOpcode = %x, want %x", b, want)
			}
		})
	}
}

func TestOpcodeSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op   Opcode
		size int
		str  string
	}{
		{0x00, 1, "0x00"}, {0x7e, 1, "0x7e"}, {0x7f, 0, "Opcode(0x7f)"}, {0x80, 0, "Opcode(0x80)"},
		{0x7fff, 0, "Opcode(0x7fff)"}, {0x8000, 2, "0x8000"}, {0xbfff, 2, "0xbfff"}, {0xc000, 0, "Opcode(0xc000)"},
		{0xbfffff, 0, "Opcode(0xbfffff)"}, {0xc00000, 3, "0xc00000"}, {0xffffff, 3, "0xffffff"}, {0x1000000, 0, "Opcode(0x1000000)"},
	} {
		if got := tc.op.Size(); got != tc.size {
			t.Errorf("%#x.Size() = %d, want %d", uint32(tc.op), got, tc.size)
		}
		if got := tc.op.String(); got != tc.str {
			t.Errorf("%#x.String() = %q, want %q", uint32(tc.op), got, tc.str)
		}
		if _, err := AppendOpcode(nil, tc.op); (err != nil) != (tc.size == 0) || (err != nil && !errors.Is(err, ErrOpcode)) {
			t.Errorf("AppendOpcode(%#x) err = %v", uint32(tc.op), err)
		}
	}
}

func TestVendorOpcode(t *testing.T) {
	t.Parallel()
	op := VendorOpcode(0x23, 0x0136)
	if op != 0xe33601 || !op.IsVendor() || op.CompanyID() != 0x0136 {
		t.Fatalf("VendorOpcode = %s company 0x%04x", op, op.CompanyID())
	}
	if Opcode(0x8003).CompanyID() != 0 {
		t.Fatal("SIG opcode has a company")
	}
}

type rawMsg struct {
	op Opcode
	p  []byte
}

func (m *rawMsg) Opcode() Opcode                        { return m.op }
func (m *rawMsg) AppendBinary(b []byte) ([]byte, error) { return append(b, m.p...), nil }
func (m *rawMsg) Unmarshal(p []byte) error              { m.p = bytes.Clone(p); return nil }

func TestMarshal(t *testing.T) {
	t.Parallel()
	b, err := Marshal(&rawMsg{0x8003, []byte{1, 2}})
	if err != nil || !bytes.Equal(b, []byte{0x80, 0x03, 1, 2}) {
		t.Fatalf("Marshal = %x, %v", b, err)
	}
	if _, err := Marshal(&rawMsg{0x7f, nil}); !errors.Is(err, ErrOpcode) {
		t.Fatalf("bad opcode err = %v", err)
	}
	if _, err := Marshal(&rawMsg{0x8003, make([]byte, 379)}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("too long err = %v", err)
	}
	if _, err := Marshal(&rawMsg{0x01, make([]byte, 379)}); err != nil {
		t.Fatalf("380 octets: %v", err)
	}
}

func TestModelID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id  ModelID
		hex string
		str string
	}{
		{SIGModel(0x0000), "00 00", "0x0000"},
		{SIGModel(0x1402), "02 14", "0x1402"},
		{VendorModel(0x0136, 0x0001), "36 01 01 00", "0x0136:0x0001"},
	} {
		b := AppendModelID(nil, tc.id)
		if !bytes.Equal(b, mustHex(t, tc.hex)) || tc.id.String() != tc.str || tc.id.Size() != len(b) {
			t.Errorf("%s: got %x %q", tc.str, b, tc.id.String())
		}
		got, err := DecodeModelID(b)
		if err != nil || got != tc.id {
			t.Errorf("DecodeModelID(%x) = %s, %v", b, got, err)
		}
	}
	if _, err := DecodeModelID(mustHex(t, "00 00 01 00")); !errors.Is(err, ErrRFU) {
		t.Errorf("company 0: %v", err)
	}
	for _, n := range []int{0, 1, 3, 5} {
		if _, err := DecodeModelID(make([]byte, n)); !errors.Is(err, ErrLength) {
			t.Errorf("len %d: %v", n, err)
		}
	}
}

// TestModel_OpLookupFollowsOps: the opcode lookup sees Ops appended to or
// replaced after earlier lookups.
func TestModel_OpLookupFollowsOps(t *testing.T) {
	m := &Model{Ops: []Op{{Opcode: 0x8201}, {Opcode: 0x8202}}}
	if !m.HasOpcode(0x8202) || m.HasOpcode(0x8203) {
		t.Fatal("lookup in the first Ops")
	}
	m.Ops = append(m.Ops, Op{Opcode: 0x8203})
	if !m.HasOpcode(0x8203) || !m.HasOpcode(0x8201) {
		t.Fatal("an appended Op is not found")
	}
	m.Ops = []Op{{Opcode: 0x8204}, {Opcode: 0x8205}, {Opcode: 0x8206}}
	if m.HasOpcode(0x8201) || !m.HasOpcode(0x8206) {
		t.Fatal("replaced Ops: stale lookup")
	}
}
