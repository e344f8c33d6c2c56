package blob

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/mesh/access"
)

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func bitSet(n int, members ...int) ChunkSet {
	s := NewChunkSet(n)
	for _, m := range members {
		s.Set(m)
	}
	return s
}

const (
	id8  = "88 77 66 55 44 33 22 11"
	id64 = uint64(0x1122334455667788)
)

type msgCase struct {
	name  string
	op    access.Opcode
	in    string
	want  access.Message
	err   error
	fixed bool // every strict prefix and one extra octet must fail
}

var messageTests = []msgCase{
	{"blob.md E13 Transfer Get", OpTransferGet, "", &TransferGet{}, nil, true},
	{"Transfer Get trailing", OpTransferGet, "00", nil, access.ErrLength, false},
	{"blob.md E13 Block Get", OpBlockGet, "", &BlockGet{}, nil, true},
	{"blob.md E1 Information Get", OpInformationGet, "", &InformationGet{}, nil, true},

	{"blob.md E3 Transfer Start Push", OpTransferStart, "40 " + id8 + " 10 27 00 00 0c 7c 01",
		&TransferStart{ModePush, id64, 10000, 12, 380}, nil, true},
	{"blob.md E3 Transfer Start Pull", OpTransferStart, "80 " + id8 + " 10 27 00 00 0c 7c 01",
		&TransferStart{ModePull, id64, 10000, 12, 380}, nil, true},
	{"Transfer Start RFU bits", OpTransferStart, "41 " + id8 + " 10 27 00 00 0c 7c 01", nil, access.ErrRFU, false},
	{"Transfer Start mode none", OpTransferStart, "00 " + id8 + " 10 27 00 00 0c 7c 01", nil, access.ErrProhibited, false},
	{"Transfer Start mode 0b11", OpTransferStart, "c0 " + id8 + " 10 27 00 00 0c 7c 01", nil, access.ErrProhibited, false},
	{"Transfer Start any log", OpTransferStart, "40 " + id8 + " ff ff ff ff 40 00 00",
		&TransferStart{ModePush, id64, 0xffffffff, 0x40, 0}, nil, true},

	{"blob.md E7 Transfer Cancel", OpTransferCancel, id8, &TransferCancel{id64}, nil, true},

	{"blob.md E4 Transfer Status started", OpTransferStatus, "40 02 " + id8 + " 10 27 00 00 0c 7c 01 07",
		&TransferStatus{Status: StatusSuccess, Mode: ModePush, Phase: PhaseWaitingForBlock, HasID: true, ID: id64,
			HasSize: true, Size: 10000, BlockSizeLog: 12, MTU: 380, BlocksNotReceived: bitSet(3, 0, 1, 2)}, nil, false},
	{"blob.md E4 block 0 done", OpTransferStatus, "40 02 " + id8 + " 10 27 00 00 0c 7c 01 06",
		&TransferStatus{Status: StatusSuccess, Mode: ModePush, Phase: PhaseWaitingForBlock, HasID: true, ID: id64,
			HasSize: true, Size: 10000, BlockSizeLog: 12, MTU: 380, BlocksNotReceived: bitSet(3, 1, 2)}, nil, false},
	{"blob.md E4 Complete", OpTransferStatus, "40 04 " + id8 + " 10 27 00 00 0c 7c 01 00",
		&TransferStatus{Status: StatusSuccess, Mode: ModePush, Phase: PhaseComplete, HasID: true, ID: id64,
			HasSize: true, Size: 10000, BlockSizeLog: 12, MTU: 380, BlocksNotReceived: bitSet(3)}, nil, false},
	{"blob.md E5 Transfer Status Wrong Phase Inactive", OpTransferStatus, "04 00",
		&TransferStatus{Status: StatusWrongPhase, Phase: PhaseInactive, BlocksNotReceived: bitSet(0)}, nil, false},
	{"blob.md E6 Transfer Status Wrong BLOB ID", OpTransferStatus, "06 01 " + id8,
		&TransferStatus{Status: StatusWrongBLOBID, Phase: PhaseWaitingForStart, HasID: true, ID: id64, BlocksNotReceived: bitSet(0)}, nil, false},
	{"Transfer Status 9 blocks", OpTransferStatus, "80 05 " + id8 + " 00 24 00 00 0a 7c 01 00 01",
		&TransferStatus{Status: StatusSuccess, Mode: ModePull, Phase: PhaseSuspended, HasID: true, ID: id64,
			HasSize: true, Size: 0x2400, BlockSizeLog: 10, MTU: 380, BlocksNotReceived: bitSet(9, 8)}, nil, false},
	{"Transfer Status empty BLOB", OpTransferStatus, "40 02 " + id8 + " 00 00 00 00 0c 7c 01",
		&TransferStatus{Status: StatusSuccess, Mode: ModePush, Phase: PhaseWaitingForBlock, HasID: true, ID: id64,
			HasSize: true, Size: 0, BlockSizeLog: 12, MTU: 380, BlocksNotReceived: bitSet(0)}, nil, false},
	{"Transfer Status short", OpTransferStatus, "04", nil, access.ErrLength, false},
	{"Transfer Status 3 octets", OpTransferStatus, "04 00 88", nil, access.ErrLength, false},
	{"Transfer Status 11 octets", OpTransferStatus, "40 02 " + id8 + " 10", nil, access.ErrLength, false},
	{"Transfer Status 16 octets", OpTransferStatus, "40 02 " + id8 + " 10 27 00 00 0c 7c", nil, access.ErrLength, false},
	{"Transfer Status missing bit field", OpTransferStatus, "40 02 " + id8 + " 10 27 00 00 0c 7c 01", nil, access.ErrLength, false},
	{"Transfer Status long bit field", OpTransferStatus, "40 02 " + id8 + " 10 27 00 00 0c 7c 01 07 00", nil, access.ErrLength, false},
	{"Transfer Status padding bits", OpTransferStatus, "40 02 " + id8 + " 10 27 00 00 0c 7c 01 0f", nil, access.ErrRFU, false},
	{"Transfer Status RFU bits", OpTransferStatus, "14 00", nil, access.ErrRFU, false},
	{"Transfer Status RFU status", OpTransferStatus, "0b 00", nil, access.ErrRFU, false},
	{"Transfer Status mode 0b11", OpTransferStatus, "c0 00", nil, access.ErrProhibited, false},
	{"Transfer Status phase 6", OpTransferStatus, "00 06", nil, access.ErrProhibited, false},

	{"blob.md E8 Block Start", OpBlockStart, "02 00 64 00", &BlockStart{2, 100}, nil, true},
	{"Block Start chunk size 0", OpBlockStart, "ff ff 00 00", &BlockStart{0xffff, 0}, nil, true},

	{"blob.md E10 All Chunks Missing", OpBlockStatus, "00 02 00 64 00",
		&BlockStatus{Status: StatusSuccess, Format: FormatAllMissing, BlockNumber: 2, ChunkSize: 100}, nil, false},
	{"blob.md E10 No Chunks Missing", OpBlockStatus, "40 02 00 64 00",
		&BlockStatus{Status: StatusSuccess, Format: FormatNoneMissing, BlockNumber: 2, ChunkSize: 100}, nil, false},
	{"blob.md E10 Some Chunks Missing", OpBlockStatus, "80 02 00 64 00 01 02 04",
		&BlockStatus{Status: StatusSuccess, Format: FormatSomeMissing, BlockNumber: 2, ChunkSize: 100,
			Missing: bitSet(24, 0, 9, 18)}, nil, false},
	{"blob.md E10 Encoded Missing Chunks", OpBlockStatus, "c0 02 00 64 00 00 09 12",
		&BlockStatus{Status: StatusSuccess, Format: FormatEncodedList, BlockNumber: 2, ChunkSize: 100,
			EncodedMissing: []uint16{0, 9, 18}}, nil, false},
	{"Block Status empty list", OpBlockStatus, "c0 02 00 64 00",
		&BlockStatus{Status: StatusSuccess, Format: FormatEncodedList, BlockNumber: 2, ChunkSize: 100,
			EncodedMissing: nil}, nil, false},
	{"blob.md E11 Block Status Wrong Phase", OpBlockStatus, "04 ff ff ff ff",
		&BlockStatus{Status: StatusWrongPhase, Format: FormatAllMissing, BlockNumber: 0xffff, ChunkSize: 0xffff}, nil, false},
	{"Block Status short", OpBlockStatus, "00 02 00 64", nil, access.ErrLength, false},
	{"Block Status all missing trailing", OpBlockStatus, "00 02 00 64 00 00", nil, access.ErrLength, false},
	{"Block Status none missing trailing", OpBlockStatus, "40 02 00 64 00 01", nil, access.ErrLength, false},
	{"Block Status some missing empty", OpBlockStatus, "80 02 00 64 00", nil, access.ErrLength, false},
	{"Block Status RFU bits", OpBlockStatus, "20 02 00 64 00", nil, access.ErrRFU, false},
	{"Block Status RFU status", OpBlockStatus, "0f 02 00 64 00", nil, access.ErrRFU, false},
	{"Block Status truncated list", OpBlockStatus, "c0 02 00 64 00 c2", nil, access.ErrLength, false},

	{"blob.md E12 Partial Block Report four", OpPartialBlockReport, "00 01 02 03",
		&PartialBlockReport{[]uint16{0, 1, 2, 3}}, nil, false},
	{"blob.md E12 Partial Block Report done", OpPartialBlockReport, "", &PartialBlockReport{nil}, nil, false},
	{"blob.md E12 Partial Block Report multi-octet", OpPartialBlockReport, "05 c2 85 e0 a0 80 e0 ae af",
		&PartialBlockReport{[]uint16{5, 0x85, 0x800, 0xbaf}}, nil, false},
	{"Partial Block Report Zephyr 2048", OpPartialBlockReport, "e0 80", nil, access.ErrLength, false},
	{"Partial Block Report Zephyr 2991", OpPartialBlockReport, "ee af", nil, access.ErrLength, false},
	{"Partial Block Report overlong 2", OpPartialBlockReport, "c1 bf", nil, access.ErrProhibited, false},
	{"Partial Block Report overlong 3", OpPartialBlockReport, "e0 9f bf", nil, access.ErrProhibited, false},
	{"Partial Block Report stray continuation", OpPartialBlockReport, "80", nil, access.ErrProhibited, false},
	{"Partial Block Report 4-octet lead", OpPartialBlockReport, "f0 90 80 80", nil, access.ErrProhibited, false},
	{"Partial Block Report bad continuation", OpPartialBlockReport, "c2 05", nil, access.ErrProhibited, false},
	{"Partial Block Report max", OpPartialBlockReport, "ef bf bf", &PartialBlockReport{[]uint16{0xffff}}, nil, false},
	{"Partial Block Report surrogate", OpPartialBlockReport, "ed a0 80", &PartialBlockReport{[]uint16{0xd800}}, nil, false},

	{"blob.md E9 Chunk Transfer last chunk", OpChunkTransfer, "12 00 de ad be ef 01 02 03 04",
		&ChunkTransfer{18, hx("de ad be ef 01 02 03 04")}, nil, false},
	{"Chunk Transfer one octet", OpChunkTransfer, "00 00 aa", &ChunkTransfer{0, []byte{0xaa}}, nil, false},
	{"Chunk Transfer no data", OpChunkTransfer, "00 00", nil, access.ErrLength, false},
	{"Chunk Transfer too long", OpChunkTransfer, "00 00" + strings.Repeat(" 00", MaxChunkSize+1), nil, access.ErrLength, false},

	{"blob.md E2 Information Status", OpInformationStatus, "0c 0c 00 01 79 01 00 00 08 00 7c 01 03",
		&InformationStatus{12, 12, 256, 377, 524288, 380, SupportPush | SupportPull}, nil, true},
	{"Information Status RFU modes", OpInformationStatus, "0c 0c 00 01 79 01 00 00 08 00 7c 01 07", nil, access.ErrRFU, false},
}

func TestMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range messageTests {
		t.Run(tc.name, func(t *testing.T) {
			in := hx(tc.in)
			m := NewMessage(tc.op)
			if m == nil {
				t.Fatalf("no message for %s", tc.op)
			}
			err := m.Unmarshal(in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrMessage) {
					t.Fatalf("Unmarshal(%x) = %v, want %v", in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%x): %v", in, err)
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("Unmarshal(%x) = %+v, want %+v", in, m, tc.want)
			}
			out, err := tc.want.AppendBinary([]byte{0xee})
			if err != nil || string(out[1:]) != string(in) || out[0] != 0xee {
				t.Fatalf("AppendBinary = %x, %v, want ee %x", out, err, in)
			}
			if tc.fixed {
				for i := range in {
					if NewMessage(tc.op).Unmarshal(in[:i]) == nil {
						t.Errorf("prefix of %d octets parsed", i)
					}
				}
				if NewMessage(tc.op).Unmarshal(append(in, 0)) == nil {
					t.Errorf("trailing octet parsed")
				}
			}
			if got := m.Opcode(); got != tc.op {
				t.Errorf("Opcode = %s, want %s", got, tc.op)
			}
		})
	}
}

// TestStatusMessagesFit checks that every status message at its largest
// fits one 380-octet access message.
func TestStatusMessagesFit(t *testing.T) {
	t.Parallel()
	// The largest BLOB a Transfer Status can describe: MaxTransferStatusBlocks
	// blocks of 64 octets.
	ts := &TransferStatus{Mode: ModePull, Phase: PhaseSuspended, HasID: true, HasSize: true,
		Size: MaxTransferStatusBlocks * 64, BlockSizeLog: 6, MTU: 380,
		BlocksNotReceived: FullChunkSet(MaxTransferStatusBlocks)}
	bs := &BlockStatus{Format: FormatSomeMissing, Missing: FullChunkSet(MaxBlockStatusChunks)}
	list := FullChunkSet(MaxChunks).AppendList(nil, 0)
	// Encoded lists are capped by what fits: 3 octets per chunk number at
	// worst.
	el := &BlockStatus{Format: FormatEncodedList, EncodedMissing: list[len(list)-(access.MaxMessageSize-6)/3:]}
	pr := &PartialBlockReport{EncodedMissing: list[len(list)-(access.MaxMessageSize-1)/3:]}
	is := &InformationStatus{Modes: SupportPush | SupportPull}
	for _, m := range []access.Message{ts, bs, el, pr, is} {
		b, err := access.Marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", m.Opcode(), err)
		}
		t.Logf("%s: %d octets", m.Opcode(), len(b))
	}
	// One more block or chunk no longer fits.
	ts.Size += 64
	ts.BlocksNotReceived = FullChunkSet(MaxTransferStatusBlocks + 1)
	bs.Missing = FullChunkSet(MaxBlockStatusChunks + 8)
	for _, m := range []access.Message{ts, bs} {
		if _, err := access.Marshal(m); !errors.Is(err, access.ErrTooLong) {
			t.Errorf("%s one larger: %v, want ErrTooLong", m.Opcode(), err)
		}
	}
}

func TestAppendBinaryErrors(t *testing.T) {
	t.Parallel()
	for _, m := range []access.Message{
		&TransferStart{Mode: ModeNone},
		&TransferStatus{Status: 0x0b},
		&TransferStatus{Mode: 3},
		&TransferStatus{Phase: 6},
		&TransferStatus{HasSize: true},
		&TransferStatus{HasID: true, HasSize: true, Size: 100, BlockSizeLog: 6},
		&BlockStatus{Status: 0x0c},
		&BlockStatus{Format: FormatSomeMissing},
		&ChunkTransfer{},
		&ChunkTransfer{Data: make([]byte, MaxChunkSize+1)},
		&InformationStatus{Modes: 4},
	} {
		if b, err := m.AppendBinary(nil); err == nil {
			t.Errorf("%s %+v encoded to %x", m.Opcode(), m, b)
		}
	}
}

func TestZeroAlloc(t *testing.T) {
	buf := make([]byte, 0, access.MaxMessageSize)
	ts := &TransferStatus{Mode: ModePush, Phase: PhaseWaitingForBlock, HasID: true, HasSize: true, Size: 10000,
		BlockSizeLog: 12, MTU: 380, BlocksNotReceived: FullChunkSet(3)}
	bs := &BlockStatus{Format: FormatEncodedList, EncodedMissing: []uint16{1, 200, 3000}}
	ct := &ChunkTransfer{Number: 3, Data: make([]byte, 100)}
	in, _ := ct.Marshal()
	var rx ChunkTransfer
	_ = rx.Unmarshal(in)
	var rs TransferStatus
	tsb, _ := ts.Marshal()
	_ = rs.Unmarshal(tsb)
	n := testing.AllocsPerRun(100, func() {
		for _, m := range []access.Message{ts, bs, ct} {
			if _, err := m.AppendBinary(buf[:0]); err != nil {
				t.Fatal(err)
			}
		}
		if rx.Unmarshal(in) != nil || rs.Unmarshal(tsb) != nil {
			t.Fatal("decode")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per encode/decode round", n)
	}
}

func TestEnumStrings(t *testing.T) {
	t.Parallel()
	if StatusInformationUnavailable.String() != "Information Unavailable" || Status(0x0b).String() != "Status(0x0b)" {
		t.Error("Status.String")
	}
	if PhaseSuspended.String() != "Suspended" || Phase(9).String() != "Phase(0x09)" {
		t.Error("Phase.String")
	}
	if ModePull.String() != "Pull" || (SupportPush|SupportPull).String() != "Push|Pull" || FormatEncodedList.String() != "Encoded Missing Chunks" {
		t.Error("mode strings")
	}
	if !(SupportPull).Has(ModePull) || SupportPull.Has(ModePush) || SupportPull.Has(ModeNone) {
		t.Error("SupportedModes.Has")
	}
}

func TestBlockStatusMissingChunks(t *testing.T) {
	t.Parallel()
	var s ChunkSet
	cases := []struct {
		m    BlockStatus
		n    int
		want []int
		ok   bool
	}{
		{BlockStatus{Format: FormatAllMissing}, 5, []int{0, 1, 2, 3, 4}, true},
		{BlockStatus{Format: FormatNoneMissing}, 5, nil, true},
		{BlockStatus{Format: FormatSomeMissing, Missing: bitSet(24, 0, 9, 18)}, 19, []int{0, 9, 18}, true},
		{BlockStatus{Format: FormatSomeMissing, Missing: bitSet(24, 0, 9, 19)}, 19, nil, false},
		{BlockStatus{Format: FormatSomeMissing, Missing: bitSet(24, 0)}, 9, nil, false},
		{BlockStatus{Format: FormatEncodedList, EncodedMissing: []uint16{4, 1}}, 5, []int{1, 4}, true},
		{BlockStatus{Format: FormatEncodedList, EncodedMissing: []uint16{5}}, 5, nil, false},
	}
	for i, c := range cases {
		err := c.m.MissingChunks(&s, c.n)
		if (err == nil) != c.ok {
			t.Errorf("case %d: err %v", i, err)
			continue
		}
		if c.ok && !reflect.DeepEqual(members(s), c.want) {
			t.Errorf("case %d: %v, want %v", i, members(s), c.want)
		}
	}
}

func members(s ChunkSet) []int {
	var out []int
	for i := s.Next(0); i >= 0; i = s.Next(i + 1) {
		out = append(out, i)
	}
	return out
}
