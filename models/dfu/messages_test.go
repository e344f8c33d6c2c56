package dfu

import (
	"bytes"
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

const (
	id8    = "88 77 66 55 44 33 22 11"
	id64   = uint64(0x1122334455667788)
	uriHex = "68 74 74 70 73 3A 2F 2F 66 77 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D 2F 6D 65 73 68"
	uri    = "https://fw.example.com/mesh"
)

var (
	oldFWID = hx("59 00 01 00 02 00")
	newFWID = hx("59 00 01 00 03 00")
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
	// Information Get.
	{"dfu.md E1 Information Get", OpInformationGet, "00 02", &InformationGet{0, 2}, nil, true},
	{"Information Get short", OpInformationGet, "00", nil, access.ErrLength, false},
	{"Information Get long", OpInformationGet, "00 02 00", nil, access.ErrLength, false},

	// Information Status.
	{"dfu.md E2 Information Status", OpInformationStatus,
		"02 00 06 59 00 01 00 02 00 1B " + uriHex + " 03 59 00 0A 00",
		&InformationStatus{2, 0, []FirmwareInformation{{oldFWID, uri}, {hx("59 00 0A"), ""}}}, nil, false},
	{"Information Status count only", OpInformationStatus, "03 00", &InformationStatus{ListCount: 3}, nil, false},
	{"Information Status past end", OpInformationStatus, "02 07", &InformationStatus{ListCount: 2, FirstIndex: 7}, nil, false},
	{"Information Status second page", OpInformationStatus, "02 01 02 59 00 00",
		&InformationStatus{2, 1, []FirmwareInformation{{hx("59 00"), ""}}}, nil, false},
	{"Information Status empty", OpInformationStatus, "", nil, access.ErrLength, false},
	{"Information Status one octet", OpInformationStatus, "01", nil, access.ErrLength, false},
	{"Information Status FWID cut", OpInformationStatus, "01 00 06 59 00 01", nil, access.ErrLength, false},
	{"Information Status URI length missing", OpInformationStatus, "01 00 02 59 00", nil, access.ErrLength, false},
	{"Information Status URI cut", OpInformationStatus, "01 00 02 59 00 05 68 74", nil, access.ErrLength, false},
	{"Information Status FWID length 1", OpInformationStatus, "01 00 01 59 00", nil, access.ErrProhibited, false},
	{"Information Status FWID length 0", OpInformationStatus, "01 00 00 00", nil, access.ErrProhibited, false},
	{"Information Status FWID length 109", OpInformationStatus, "01 00 6d" + strings.Repeat(" 00", 109) + " 00", nil, access.ErrProhibited, false},
	{"Information Status FWID length 108", OpInformationStatus, "01 00 6c" + strings.Repeat(" 00", 108) + " 00",
		&InformationStatus{1, 0, []FirmwareInformation{{make([]byte, 108), ""}}}, nil, false},
	{"Information Status URI not UTF-8", OpInformationStatus, "01 00 02 59 00 01 ff", nil, access.ErrProhibited, false},
	{"Information Status entries past count", OpInformationStatus, "01 01 02 59 00 00", nil, access.ErrProhibited, false},

	// Metadata Check.
	{"dfu.md E3 Metadata Check", OpMetadataCheck, "00 01 02 00 00 00 00 00 00",
		&MetadataCheck{0, hx("01 02 00 00 00 00 00 00")}, nil, false},
	{"Metadata Check no metadata", OpMetadataCheck, "03", &MetadataCheck{ImageIndex: 3}, nil, false},
	{"Metadata Check empty", OpMetadataCheck, "", nil, access.ErrLength, false},
	{"Metadata Check 255 metadata", OpMetadataCheck, "01" + strings.Repeat(" aa", 255),
		&MetadataCheck{1, bytes.Repeat([]byte{0xaa}, 255)}, nil, false},
	{"Metadata Check 256 metadata", OpMetadataCheck, "01" + strings.Repeat(" aa", 256), nil, access.ErrLength, false},

	// Metadata Status.
	{"dfu.md E4 Metadata Status success", OpMetadataStatus, "10 00", &MetadataStatus{StatusSuccess, InfoCompositionChange, 0}, nil, true},
	{"dfu.md E4 Metadata Status failed", OpMetadataStatus, "05 00", &MetadataStatus{StatusMetadataCheckFailed, InfoNoChange, 0}, nil, true},
	{"Metadata Status unprovision idx 2", OpMetadataStatus, "18 02", &MetadataStatus{StatusSuccess, InfoUnprovision, 2}, nil, true},
	{"Metadata Status no RPR", OpMetadataStatus, "0f 01", &MetadataStatus{StatusBLOBTransferBusy, InfoCompositionChangeNoRPR, 1}, nil, true},
	{"Metadata Status info RFU 4", OpMetadataStatus, "20 00", nil, access.ErrRFU, false},
	{"Metadata Status info RFU 0x1f", OpMetadataStatus, "f8 00", nil, access.ErrRFU, false},

	// Update Get / Cancel / Apply.
	{"Update Get", OpUpdateGet, "", &UpdateGet{}, nil, true},
	{"Update Cancel", OpUpdateCancel, "", &UpdateCancel{}, nil, true},
	{"Update Apply", OpUpdateApply, "", &UpdateApply{}, nil, true},
	{"Update Get trailing", OpUpdateGet, "00", nil, access.ErrLength, false},
	{"Update Cancel trailing", OpUpdateCancel, "00", nil, access.ErrLength, false},
	{"Update Apply trailing", OpUpdateApply, "00", nil, access.ErrLength, false},

	// Update Start.
	{"dfu.md E5 Update Start", OpUpdateStart, "05 76 00 " + id8 + " 00 AA BB CC DD",
		&UpdateStart{5, 118, id64, 0, hx("AA BB CC DD")}, nil, false},
	{"Update Start no metadata", OpUpdateStart, "ff 03 00 " + id8 + " 02",
		&UpdateStart{0xff, 3, id64, 2, nil}, nil, false},
	{"Update Start TTL 0x7f", OpUpdateStart, "7f 03 00 " + id8 + " 02", &UpdateStart{0x7f, 3, id64, 2, nil}, nil, false},
	{"Update Start TTL 0x80", OpUpdateStart, "80 03 00 " + id8 + " 02", nil, access.ErrProhibited, false},
	{"Update Start TTL 0xfe", OpUpdateStart, "fe 03 00 " + id8 + " 02", nil, access.ErrProhibited, false},
	{"Update Start 255 metadata", OpUpdateStart, "05 03 00 " + id8 + " 00" + strings.Repeat(" 11", 255),
		&UpdateStart{5, 3, id64, 0, bytes.Repeat([]byte{0x11}, 255)}, nil, false},
	{"Update Start 256 metadata", OpUpdateStart, "05 03 00 " + id8 + " 00" + strings.Repeat(" 11", 256), nil, access.ErrLength, false},

	// Update Status.
	{"dfu.md E6 Status Transfer Active", OpUpdateStatus, "40 05 00 76 00 " + id8 + " 00",
		&UpdateStatus{StatusSuccess, PhaseTransferActive, true, 5, InfoNoChange, 118, id64, 0}, nil, false},
	{"dfu.md E6 Status Verification Succeeded", OpUpdateStatus, "80 05 01 76 00 " + id8 + " 00",
		&UpdateStatus{StatusSuccess, PhaseVerificationSucceeded, true, 5, InfoCompositionChangeNoRPR, 118, id64, 0}, nil, false},
	{"dfu.md E6 Status Wrong Phase Idle", OpUpdateStatus, "02", &UpdateStatus{Status: StatusWrongPhase}, nil, true},
	{"dfu.md E6 Nordic vector", OpUpdateStatus, "87 10 01 34 12 08 07 06 05 04 03 02 01 00",
		&UpdateStatus{StatusBLOBTransferBusy, PhaseVerificationSucceeded, true, 16, InfoCompositionChangeNoRPR, 0x1234, 0x0102030405060708, 0}, nil, false},
	{"Status Applying phase only", OpUpdateStatus, "c0", &UpdateStatus{Phase: PhaseApplyingUpdate}, nil, true},
	{"Status Verification Failed idx 3", OpUpdateStatus, "a0 ff 03 05 00 " + id8 + " 03",
		&UpdateStatus{StatusSuccess, PhaseVerificationFailed, true, 0xff, InfoUnprovision, 5, id64, 3}, nil, false},
	{"Status phase 7", OpUpdateStatus, "e0", nil, access.ErrProhibited, false},
	{"Status RFU bit 3", OpUpdateStatus, "08", nil, access.ErrRFU, false},
	{"Status RFU bit 4", OpUpdateStatus, "10", nil, access.ErrRFU, false},
	{"Status info RFU", OpUpdateStatus, "40 05 04 76 00 " + id8 + " 00", nil, access.ErrRFU, false},
	{"Status info RFU bits", OpUpdateStatus, "40 05 20 76 00 " + id8 + " 00", nil, access.ErrRFU, false},
	{"Status TTL prohibited", OpUpdateStatus, "40 80 00 76 00 " + id8 + " 00", nil, access.ErrProhibited, false},
	{"Status empty", OpUpdateStatus, "", nil, access.ErrLength, false},
	{"Status 2 octets", OpUpdateStatus, "40 05", nil, access.ErrLength, false},
	{"Status 13 octets", OpUpdateStatus, "40 05 00 76 00 " + id8, nil, access.ErrLength, false},
	{"Status 15 octets", OpUpdateStatus, "40 05 00 76 00 " + id8 + " 00 00", nil, access.ErrLength, false},
}

func TestMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range messageTests {
		t.Run(tc.name, func(t *testing.T) {
			in := hx(tc.in)
			m := NewMessage(tc.op)
			err := m.Unmarshal(in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrMessage) {
					t.Fatalf("Unmarshal(%x) = %v, want %v and ErrMessage", in, err, tc.err)
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
			if err != nil || !bytes.Equal(out[1:], in) || out[0] != 0xee {
				t.Fatalf("AppendBinary = %x, %v, want ee%x", out, err, in)
			}
			full, err := access.Marshal(tc.want)
			if err != nil || len(full) > access.MaxMessageSize {
				t.Fatalf("access.Marshal: %d octets, %v", len(full), err)
			}
			if tc.fixed {
				for i := range len(in) {
					if err := NewMessage(tc.op).Unmarshal(in[:i]); !errors.Is(err, access.ErrLength) {
						t.Errorf("prefix %x parsed: %v", in[:i], err)
					}
				}
				if err := NewMessage(tc.op).Unmarshal(append(bytes.Clone(in), 0)); err == nil {
					t.Errorf("one extra octet parsed")
				}
			}
		})
	}
}

// TestMessages_Prefixes checks the variable messages: no prefix shorter
// than the fixed part parses, and between the two forms of Update Status
// nothing parses.
func TestMessages_Prefixes(t *testing.T) {
	t.Parallel()
	full := hx("40 05 00 76 00 " + id8 + " 00")
	for i := range len(full) {
		err := new(UpdateStatus).Unmarshal(full[:i])
		if (i == 1) != (err == nil) {
			t.Errorf("Update Status prefix %x: %v", full[:i], err)
		}
	}
	start := hx("05 76 00 " + id8 + " 00")
	for i := range len(start) {
		if err := new(UpdateStart).Unmarshal(start[:i]); !errors.Is(err, access.ErrLength) {
			t.Errorf("Update Start prefix %x: %v", start[:i], err)
		}
	}
}

func TestMessages_NoRetain(t *testing.T) {
	t.Parallel()
	p := hx("05 76 00 " + id8 + " 00 AA BB")
	var m UpdateStart
	if err := m.Unmarshal(p); err != nil {
		t.Fatal(err)
	}
	p[12] = 0
	if m.Metadata[0] != 0xAA {
		t.Fatal("UpdateStart retains its input")
	}
	q := hx("01 00 02 59 00 00")
	var s InformationStatus
	if err := s.Unmarshal(q); err != nil {
		t.Fatal(err)
	}
	q[3] = 0
	if s.Entries[0].FirmwareID[0] != 0x59 {
		t.Fatal("InformationStatus retains its input")
	}
}

func TestMessages_EncodeErrors(t *testing.T) {
	t.Parallel()
	long := make([]byte, 256)
	tests := []struct {
		name string
		m    access.Message
		err  error
	}{
		{"start metadata 256", &UpdateStart{Metadata: long}, access.ErrTooLong},
		{"start TTL 0x80", &UpdateStart{TTL: 0x80}, access.ErrProhibited},
		{"check metadata 256", &MetadataCheck{Metadata: long}, access.ErrTooLong},
		{"metadata status info 4", &MetadataStatus{AdditionalInfo: 4}, access.ErrRFU},
		{"metadata status status 8", &MetadataStatus{Status: 8}, access.ErrProhibited},
		{"status phase 7", &UpdateStatus{Phase: 7}, access.ErrProhibited},
		{"status phase Apply Success", &UpdateStatus{Phase: PhaseApplySuccess}, access.ErrProhibited},
		{"status status 8", &UpdateStatus{Status: 8}, access.ErrProhibited},
		{"status info 5", &UpdateStatus{Details: true, AdditionalInfo: 5}, access.ErrRFU},
		{"status TTL", &UpdateStatus{Details: true, TTL: 0x90}, access.ErrProhibited},
		{"info FWID 1", &InformationStatus{ListCount: 1, Entries: []FirmwareInformation{{FirmwareID: []byte{1}}}}, access.ErrProhibited},
		{"info FWID 109", &InformationStatus{ListCount: 1, Entries: []FirmwareInformation{{FirmwareID: make([]byte, 109)}}}, access.ErrProhibited},
		{"info URI 256", &InformationStatus{ListCount: 1, Entries: []FirmwareInformation{{oldFWID, strings.Repeat("a", 256)}}}, access.ErrTooLong},
		{"info URI not UTF-8", &InformationStatus{ListCount: 1, Entries: []FirmwareInformation{{oldFWID, "\xff"}}}, access.ErrProhibited},
		{"info past count", &InformationStatus{ListCount: 1, FirstIndex: 1, Entries: []FirmwareInformation{{oldFWID, ""}}}, access.ErrProhibited},
		{"info too long", &InformationStatus{ListCount: 2, Entries: []FirmwareInformation{
			{make([]byte, 108), strings.Repeat("a", 255)}, {make([]byte, 20), ""}}}, access.ErrTooLong},
	}
	for _, tc := range tests {
		if _, err := tc.m.AppendBinary(nil); !errors.Is(err, tc.err) || !errors.Is(err, ErrMessage) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

// TestMessages_LargestFit checks each status at its largest against the
// 380-octet access payload (Zephyr dfu_srv.c BUILD_ASSERTs).
func TestMessages_LargestFit(t *testing.T) {
	t.Parallel()
	biggest := []access.Message{
		&UpdateStatus{Phase: PhaseTransferActive, Details: true, TTL: 0x7f},
		&MetadataStatus{},
		&UpdateStart{TTL: 5, Metadata: make([]byte, MaxMetadataLen)},
		&MetadataCheck{Metadata: make([]byte, MaxMetadataLen)},
		// One entry at its largest always fits, so paging always moves on.
		&InformationStatus{ListCount: 255, FirstIndex: 254, Entries: []FirmwareInformation{
			{make([]byte, MaxFirmwareIDLen), strings.Repeat("u", MaxURILen)}}},
	}
	for _, m := range biggest {
		b, err := access.Marshal(m)
		if err != nil || len(b) > access.MaxMessageSize {
			t.Errorf("%s: %d octets, %v", opName(m.Opcode()), len(b), err)
		}
	}
}

func TestEnums(t *testing.T) {
	t.Parallel()
	checks := []struct{ got, want string }{
		{StatusBLOBTransferBusy.String(), "BLOB Transfer Busy"},
		{Status(9).String(), "Status(0x09)"},
		{PhaseApplyingUpdate.String(), "Applying Update"},
		{PhaseUnknown.String(), "Unknown"},
		{Phase(0x0b).String(), "Phase(0x0b)"},
		{InfoUnprovision.String(), "Unprovision"},
		{AdditionalInfo(4).String(), "AdditionalInfo(0x04)"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, op := range Opcodes {
		if m := NewMessage(op); m == nil || m.Opcode() != op {
			t.Errorf("NewMessage(%s) = %v", op, m)
		}
	}
	if NewMessage(0x8300) != nil {
		t.Error("NewMessage of a BLOB opcode")
	}
}
