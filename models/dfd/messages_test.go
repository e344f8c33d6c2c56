package dfd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	newFWID   = []byte{0x59, 0x00, 0x01, 0x00, 0x03, 0x00}
	curFWID   = []byte{0x59, 0x00, 0x01, 0x00, 0x02, 0x00}
	testLabel = [16]byte{0x00, 0x73, 0xE7, 0xE4, 0xD8, 0xB9, 0x45, 0xD8, 0xB1, 0x1F, 0x8C, 0x5E, 0xE3, 0xE8, 0x2F, 0x34}
)

type msgCase struct {
	name string
	op   access.Opcode
	hex  string // parameters
	want access.Message
	err  error // nil: valid
}

func msgCases() []msgCase {
	maxList := &ReceiversList{Count: 200, FirstIndex: 0}
	for i := 0; i < MaxReceiversPerList; i++ {
		maxList.Entries = append(maxList.Entries, NodeEntry{Address: mesh.Address(0x100 + i), Phase: dfu.PhaseApplySuccess, Progress: 100, ImageIndex: 1})
	}
	maxListHex := "c8 00 00 00"
	for i := 0; i < MaxReceiversPerList; i++ {
		w := uint32(0x100+i) | 8<<15 | 50<<26
		maxListHex += hex.EncodeToString([]byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24), 1})
	}
	return []msgCase{
		// sheet §13 worked examples
		{"E7 receivers add", OpReceiversAdd, "02 01 00 0B 0A 01", &ReceiversAdd{Entries: []ReceiverEntry{{0x0102, 0}, {0x0A0B, 1}}}, nil},
		{"receivers add empty", OpReceiversAdd, "", nil, access.ErrLength},
		{"receivers add 4 octets", OpReceiversAdd, "02 01 00 0B", nil, access.ErrLength},
		{"receivers delete all", OpReceiversDeleteAll, "", &ReceiversDeleteAll{}, nil},
		{"receivers delete all trailing", OpReceiversDeleteAll, "00", nil, access.ErrLength},
		{"E8 receivers status", OpReceiversStatus, "00 02 00", &ReceiversStatus{StatusSuccess, 2}, nil},
		{"receivers status short", OpReceiversStatus, "00 02", nil, access.ErrLength},
		{"receivers status long", OpReceiversStatus, "00 02 00 00", nil, access.ErrLength},
		{"receivers status RFU status", OpReceiversStatus, "0E 02 00", nil, access.ErrRFU},
		{"E9 receivers get", OpReceiversGet, "00 00 0A 00", &ReceiversGet{0, 10}, nil},
		{"receivers get limit 0", OpReceiversGet, "00 00 00 00", nil, access.ErrProhibited},
		{"receivers get short", OpReceiversGet, "00 00 0A", nil, access.ErrLength},
		{"E10 receivers list", OpReceiversList, "02 00 00 00 02 01 02 C8 00 0B 8A 14 C8 01", &ReceiversList{Count: 2, Entries: []NodeEntry{
			{Address: 0x0102, Phase: dfu.PhaseVerificationSucceeded, Progress: 100},
			{Address: 0x0A0B, Phase: dfu.PhaseApplyFailed, UpdateStatus: dfu.StatusWrongPhase, Progress: 100, ImageIndex: 1}}}, nil},
		{"Nordic receivers list entry", OpReceiversList, "01 00 00 00 FF BF 6C 06 01", &ReceiversList{Count: 1, Entries: []NodeEntry{
			{Address: 0x3FFF, Phase: dfu.PhaseApplyFailed, UpdateStatus: dfu.StatusMetadataCheckFailed, TransferStatus: blob.StatusInternalError, Progress: 2, ImageIndex: 1}}}, nil},
		{"receivers list empty page", OpReceiversList, "05 00 09 00", &ReceiversList{Count: 5, FirstIndex: 9}, nil},
		{"receivers list largest", OpReceiversList, maxListHex, maxList, nil},
		{"receivers list partial entry", OpReceiversList, "01 00 00 00 02 01 02 C8", nil, access.ErrLength},
		{"receivers list short", OpReceiversList, "01 00 00", nil, access.ErrLength},
		{"receivers list address 0", OpReceiversList, "01 00 00 00 00 00 00 00 00", nil, access.ErrProhibited},
		{"receivers list phase 0xB", OpReceiversList, "01 00 00 00 01 80 05 00 00", nil, access.ErrProhibited},
		{"receivers list progress 51", OpReceiversList, "01 00 00 00 01 00 00 CC 00", nil, access.ErrProhibited},
		{"receivers list transfer status 0xB", OpReceiversList, "01 00 00 00 01 00 C0 02 00", nil, access.ErrProhibited},
		{"capabilities get", OpCapabilitiesGet, "", &CapabilitiesGet{}, nil},
		{"capabilities get trailing", OpCapabilitiesGet, "01", nil, access.ErrLength},
		{"E11 capabilities status", OpCapabilitiesStatus, "08 00 02 00 00 00 04 00 00 00 08 00 00 00 04 00 01 17",
			&CapabilitiesStatus{8, 2, 0x40000, 0x80000, 0x40000, true, []byte{SchemeHTTPS}}, nil},
		{"E11 capabilities status no OOB", OpCapabilitiesStatus, "08 00 02 00 00 00 04 00 00 00 08 00 00 00 04 00 00",
			&CapabilitiesStatus{8, 2, 0x40000, 0x80000, 0x40000, false, nil}, nil},
		{"capabilities status OOB without schemes", OpCapabilitiesStatus, "08 00 02 00 00 00 04 00 00 00 08 00 00 00 04 00 01",
			&CapabilitiesStatus{8, 2, 0x40000, 0x80000, 0x40000, true, nil}, nil},
		{"capabilities status short", OpCapabilitiesStatus, "08 00 02 00 00 00 04 00 00 00 08 00 00 00 04 00", nil, access.ErrLength},
		{"capabilities status OOB 2", OpCapabilitiesStatus, "08 00 02 00 00 00 04 00 00 00 08 00 00 00 04 00 02", nil, access.ErrProhibited},
		{"capabilities status schemes without OOB", OpCapabilitiesStatus, "08 00 02 00 00 00 04 00 00 00 08 00 00 00 04 00 00 17", nil, access.ErrLength},
		{"distribution get", OpGet, "", &Get{}, nil},
		{"distribution get trailing", OpGet, "00", nil, access.ErrLength},
		{"E12 start group", OpStart, "00 00 0A 76 00 05 00 00 00 C0", &Start{TTL: 10, TimeoutBase: 118, TransferMode: blob.ModePush, Policy: PolicyVerifyAndApply, Multicast: 0xC000}, nil},
		{"E12 start unicast only", OpStart, "00 00 05 76 00 05 00 00 00 00", &Start{TTL: 5, TimeoutBase: 118, TransferMode: blob.ModePush, Policy: PolicyVerifyAndApply}, nil},
		{"E13 start label", OpStart, "01 00 FF 03 00 02 01 00 00 73 E7 E4 D8 B9 45 D8 B1 1F 8C 5E E3 E8 2F 34",
			&Start{AppKeyIndex: 1, TTL: 0xFF, TimeoutBase: 3, TransferMode: blob.ModePull, ImageIndex: 1,
				Multicast: mesh.Address(crypto.VirtualAddress(testLabel)), Label: &testLabel}, nil},
		{"start mode 0", OpStart, "00 00 05 76 00 04 00 00 00 C0", &Start{TTL: 5, TimeoutBase: 118, Policy: PolicyVerifyAndApply, Multicast: 0xC000}, nil},
		{"start 9 octets", OpStart, "00 00 05 76 00 05 00 00 00", nil, access.ErrLength},
		{"start 11 octets", OpStart, "00 00 05 76 00 05 00 00 00 C0 00", nil, access.ErrLength},
		{"start 23 octets", OpStart, "01 00 FF 03 00 02 01 00 00 73 E7 E4 D8 B9 45 D8 B1 1F 8C 5E E3 E8 2F", nil, access.ErrLength},
		{"start mode 3", OpStart, "00 00 05 76 00 07 00 00 00 C0", nil, access.ErrProhibited},
		{"start RFU bits", OpStart, "00 00 05 76 00 0D 00 00 00 C0", nil, access.ErrRFU},
		{"start AppKey RFU", OpStart, "00 10 05 76 00 05 00 00 00 C0", nil, access.ErrRFU},
		{"start TTL 0x80", OpStart, "00 00 80 76 00 05 00 00 00 C0", nil, access.ErrProhibited},
		{"start unicast multicast", OpStart, "00 00 05 76 00 05 00 00 01 00", nil, access.ErrProhibited},
		{"suspend", OpSuspend, "", &Suspend{}, nil},
		{"suspend trailing", OpSuspend, "00", nil, access.ErrLength},
		{"cancel", OpCancel, "", &Cancel{}, nil},
		{"cancel trailing", OpCancel, "00", nil, access.ErrLength},
		{"apply", OpApply, "", &Apply{}, nil},
		{"apply trailing", OpApply, "00", nil, access.ErrLength},
		{"E14 status active", OpStatus, "00 01 00 C0 00 00 0A 76 00 05 00 00", &DistributionStatus{Phase: PhaseTransferActive, Details: true,
			Multicast: 0xC000, TTL: 10, TimeoutBase: 118, TransferMode: blob.ModePush, Policy: PolicyVerifyAndApply}, nil},
		{"E14 status idle", OpStatus, "00 00", &DistributionStatus{}, nil},
		{"E14 Nordic status", OpStatus, "07 02 04 01 02 00 07 DC FE 06 00 00", &DistributionStatus{Status: StatusBusyWithDistribution, Phase: PhaseTransferSuccess,
			Details: true, Multicast: 0x0104, AppKeyIndex: 2, TTL: 7, TimeoutBase: 0xFEDC, TransferMode: blob.ModePull, Policy: PolicyVerifyAndApply}, nil},
		{"status 3 octets", OpStatus, "00 01 00", nil, access.ErrLength},
		{"status 11 octets", OpStatus, "00 01 00 C0 00 00 0A 76 00 05 00", nil, access.ErrLength},
		{"status phase 8", OpStatus, "00 08", nil, access.ErrProhibited},
		{"status RFU status", OpStatus, "0E 00", nil, access.ErrRFU},
		{"status RFU mode bits", OpStatus, "00 01 00 C0 00 00 0A 76 00 0D 00 00", nil, access.ErrRFU},
		{"upload get", OpUploadGet, "", &UploadGet{}, nil},
		{"upload get trailing", OpUploadGet, "00", nil, access.ErrLength},
		{"E15 upload start", OpUploadStart, "05 03 00 08 07 06 05 04 03 02 01 00 F0 02 00 04 DE AD BE EF 59 00 01 00 03 00",
			&UploadStart{TTL: 5, TimeoutBase: 3, BLOBID: 0x0102030405060708, Size: 0x2F000, Metadata: []byte{0xDE, 0xAD, 0xBE, 0xEF}, FirmwareID: newFWID}, nil},
		{"E15 upload start no metadata", OpUploadStart, "FF 03 00 08 07 06 05 04 03 02 01 00 F0 02 00 00 59 00 01 00 03 00",
			&UploadStart{TTL: 0xFF, TimeoutBase: 3, BLOBID: 0x0102030405060708, Size: 0x2F000, FirmwareID: newFWID}, nil},
		{"upload start no FWID", OpUploadStart, "05 03 00 08 07 06 05 04 03 02 01 00 F0 02 00 00", nil, access.ErrLength},
		{"upload start 1-octet FWID", OpUploadStart, "05 03 00 08 07 06 05 04 03 02 01 00 F0 02 00 00 59", nil, access.ErrLength},
		{"upload start metadata past end", OpUploadStart, "05 03 00 08 07 06 05 04 03 02 01 00 F0 02 00 09 DE AD", nil, access.ErrLength},
		{"upload start short", OpUploadStart, "05 03 00 08 07 06", nil, access.ErrLength},
		{"upload start TTL 0x80", OpUploadStart, "80 03 00 08 07 06 05 04 03 02 01 00 F0 02 00 00 59 00", nil, access.ErrProhibited},
		{"E16 upload oob start", OpUploadOOBStart, "1A" + hex.EncodeToString([]byte("https://fw.example.com/dfu")) + "59 00 01 00 02 00",
			&UploadOOBStart{URI: "https://fw.example.com/dfu", FirmwareID: curFWID}, nil},
		{"upload oob start empty URI", OpUploadOOBStart, "00 59 00", nil, access.ErrLength},
		{"upload oob start URI past end", OpUploadOOBStart, "05 68 74", nil, access.ErrLength},
		{"upload oob start no FWID", OpUploadOOBStart, "01 68", nil, access.ErrLength},
		{"upload oob start bad UTF-8", OpUploadOOBStart, "01 FF 59 00", nil, access.ErrProhibited},
		{"upload oob start empty", OpUploadOOBStart, "", nil, access.ErrLength},
		{"upload cancel", OpUploadCancel, "", &UploadCancel{}, nil},
		{"upload cancel trailing", OpUploadCancel, "00", nil, access.ErrLength},
		{"E17 upload status in-band", OpUploadStatus, "00 01 2A 59 00 01 00 03 00", &UploadStatus{Phase: UploadTransferActive, Details: true, Progress: 42, FirmwareID: newFWID}, nil},
		{"E17 upload status OOB done", OpUploadStatus, "00 03 E4 59 00 01 00 03 00", &UploadStatus{Phase: UploadTransferSuccess, Details: true, Progress: 100, OOB: true, FirmwareID: newFWID}, nil},
		{"E17 upload status idle", OpUploadStatus, "00 00", &UploadStatus{}, nil},
		{"E17 upload status not available", OpUploadStatus, "0C 00", &UploadStatus{Status: StatusNewFirmwareNotAvailable}, nil},
		{"E17 Nordic upload status", OpUploadStatus, "00 01 E3 59 00 01 00 00 00 00 00 00 00", &UploadStatus{Phase: UploadTransferActive, Details: true, Progress: 99, OOB: true,
			FirmwareID: []byte{0x59, 0, 1, 0, 0, 0, 0, 0, 0, 0}}, nil},
		{"upload status 3 octets", OpUploadStatus, "00 01 2A", nil, access.ErrLength},
		{"upload status 4 octets", OpUploadStatus, "00 01 2A 59", nil, access.ErrLength},
		{"upload status progress 101", OpUploadStatus, "00 01 65 59 00", nil, access.ErrProhibited},
		{"upload status phase 4", OpUploadStatus, "00 04", nil, access.ErrProhibited},
		{"E18 firmware get", OpFirmwareGet, "59 00 01 00 03 00", &FirmwareGet{FirmwareID: newFWID}, nil},
		{"firmware get 1 octet", OpFirmwareGet, "59", nil, access.ErrLength},
		{"firmware get 109 octets", OpFirmwareGet, strings.Repeat("00", 109), nil, access.ErrTooLong},
		{"E18 get by index", OpFirmwareGetByIndex, "05 00", &FirmwareGetByIndex{5}, nil},
		{"get by index short", OpFirmwareGetByIndex, "05", nil, access.ErrLength},
		{"get by index long", OpFirmwareGetByIndex, "05 00 00", nil, access.ErrLength},
		{"firmware delete", OpFirmwareDelete, "59 00 01 00 03 00", &FirmwareDelete{FirmwareID: newFWID}, nil},
		{"firmware delete empty", OpFirmwareDelete, "", nil, access.ErrLength},
		{"firmware delete all", OpFirmwareDeleteAll, "", &FirmwareDeleteAll{}, nil},
		{"firmware delete all trailing", OpFirmwareDeleteAll, "00", nil, access.ErrLength},
		{"E18 firmware status found", OpFirmwareStatus, "00 01 00 00 00 59 00 01 00 03 00", &FirmwareStatus{EntryCount: 1, FirmwareID: newFWID}, nil},
		{"E18 firmware status not found", OpFirmwareStatus, "04 01 00 FF FF 59 00 01 00 03 00", &FirmwareStatus{Status: StatusFirmwareNotFound, EntryCount: 1, Index: NotListed, FirmwareID: newFWID}, nil},
		{"E18 by index not found", OpFirmwareStatus, "04 01 00 05 00", &FirmwareStatus{Status: StatusFirmwareNotFound, EntryCount: 1, Index: 5}, nil},
		{"E18 delete all done", OpFirmwareStatus, "00 00 00 FF FF", &FirmwareStatus{Index: NotListed}, nil},
		{"firmware status largest", OpFirmwareStatus, "00 01 00 00 00" + strings.Repeat("AB", 108), &FirmwareStatus{EntryCount: 1, FirmwareID: bytes.Repeat([]byte{0xAB}, 108)}, nil},
		{"firmware status 4 octets", OpFirmwareStatus, "00 01 00 00", nil, access.ErrLength},
		{"firmware status 1-octet FWID", OpFirmwareStatus, "00 01 00 00 00 59", nil, access.ErrLength},
		{"firmware status 109-octet FWID", OpFirmwareStatus, "00 01 00 00 00" + strings.Repeat("AB", 109), nil, access.ErrTooLong},
		{"firmware status RFU status", OpFirmwareStatus, "0E 01 00 00 00", nil, access.ErrRFU},
	}
}

func TestMessages(t *testing.T) {
	for _, tc := range msgCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := mustHex(t, tc.hex)
			m := NewMessage(tc.op)
			err := m.Unmarshal(p)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrMessage) {
					t.Fatalf("Unmarshal(%x) = %v, want %v", p, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%x): %v", p, err)
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("decoded %+v, want %+v", m, tc.want)
			}
			got, err := tc.want.AppendBinary(nil)
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("encoded %x, %v; want %x", got, err, p)
			}
			if full, err := access.Marshal(tc.want); err != nil || len(full) > access.MaxMessageSize {
				t.Fatalf("whole message: %d octets, %v", len(full), err)
			}
		})
	}
}

// TestMessages_Prefixes: no strict prefix of a fixed-size or self-delimited
// valid message parses to the same value.
func TestMessages_Prefixes(t *testing.T) {
	for _, tc := range msgCases() {
		if tc.err != nil {
			continue
		}
		p := mustHex(t, tc.hex)
		for n := 0; n < len(p); n++ {
			m := NewMessage(tc.op)
			if err := m.Unmarshal(p[:n]); err == nil && reflect.DeepEqual(m, tc.want) {
				t.Errorf("%s: prefix %x decodes to the same message", tc.name, p[:n])
			}
		}
	}
}

func TestMessages_EncodeRejects(t *testing.T) {
	bad := []access.Message{
		&ReceiversAdd{},
		&ReceiversAdd{Entries: make([]ReceiverEntry, MaxReceiversPerAdd+1)},
		&ReceiversStatus{Status: 0x0E},
		&ReceiversGet{},
		&ReceiversList{Entries: []NodeEntry{{Address: 0x8001}}},
		&ReceiversList{Entries: []NodeEntry{{Address: 1, Progress: 101}}},
		&ReceiversList{Entries: make([]NodeEntry, MaxReceiversPerList+1)},
		&CapabilitiesStatus{URISchemes: []byte{SchemeHTTPS}},
		&Start{TTL: 0x80},
		&Start{TransferMode: 3},
		&Start{Multicast: 0x0001},
		&Start{AppKeyIndex: 0x1000},
		&DistributionStatus{Phase: 8},
		&DistributionStatus{Details: true, TransferMode: 3},
		&UploadStart{FirmwareID: []byte{1}},
		&UploadStart{FirmwareID: newFWID, Metadata: make([]byte, 256)},
		&UploadStart{FirmwareID: newFWID, TTL: 0x90},
		&UploadOOBStart{FirmwareID: newFWID},
		&UploadOOBStart{URI: "\xff", FirmwareID: newFWID},
		&UploadStatus{Details: true, Progress: 101, FirmwareID: newFWID},
		&UploadStatus{Details: true},
		&FirmwareGet{},
		&FirmwareDelete{FirmwareID: make([]byte, 109)},
		&FirmwareStatus{FirmwareID: []byte{1}},
	}
	for _, m := range bad {
		if _, err := m.AppendBinary(nil); !errors.Is(err, ErrMessage) {
			t.Errorf("%T %+v: encoded, err %v", m, m, err)
		}
	}
}

func TestEnums(t *testing.T) {
	if StatusSuspendFailed.String() != "Suspend Failed" || Status(0x0E).String() != "Status(0x0e)" || Status(0x0E).Valid() {
		t.Fatal("Status")
	}
	if PhaseTransferSuspended.String() != "Transfer Suspended" || Phase(8).String() != "Phase(0x08)" {
		t.Fatal("Phase")
	}
	if UploadTransferSuccess.String() != "Transfer Success" || UploadPhase(4).Valid() {
		t.Fatal("UploadPhase")
	}
	if PolicyVerifyAndApply.String() != "Verify And Apply" {
		t.Fatal("Policy")
	}
	for _, op := range Opcodes {
		if NewMessage(op) == nil || NewMessage(op).Opcode() != op || opName(op) == op.String() {
			t.Errorf("opcode %v", op)
		}
	}
	if NewMessage(0x8310) != nil {
		t.Fatal("Firmware Update opcode taken")
	}
}

// TestReceiversEvery: Wait reads a Receivers List of up to 8 pages every
// ReceiversEvery rounds, and a longer one less often in proportion (the
// Initiator's reads of 1000 entries every 20 s were a large share of the
// air of a 1000-target distribution).
func TestReceiversEvery(t *testing.T) {
	for n, want := range map[int]int{0: ReceiversEvery, 24: ReceiversEvery, 8 * ReceiversPage: ReceiversEvery, 1000: 31, 4000: 125} {
		if got := receiversEvery(n); got != want {
			t.Errorf("receiversEvery(%d) = %d, want %d", n, got, want)
		}
	}
}
