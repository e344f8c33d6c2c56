package udp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// datagramCases are the decoder's table; FuzzParseDatagram seeds from it.
var datagramCases = []struct {
	name    string
	hex     string
	kind    mesh.ADType
	payload string
	err     error
}{
	{"message, 1 octet", "2a 68", mesh.ADMessage, "68", nil},
	// Network PDUs and a beacon of the sample data (internal/vectors).
	{"§8.3.1 message #1", "2a 68 ec a4 87 51 67 65 b5 e5 bf da cb af 6c b7 fb 6b ff 87 1f 03 54 44 ce 83 a6 70 df",
		mesh.ADMessage, "68 ec a4 87 51 67 65 b5 e5 bf da cb af 6c b7 fb 6b ff 87 1f 03 54 44 ce 83 a6 70 df", nil},
	{"29-octet network PDU", "2a 68 ca b5 c5 34 8a 23 0a fb a8 c6 3d 4e 68 63 64 97 9d ea f4 fd 40 96 11 45 93 9c da 0e",
		mesh.ADMessage, "68 ca b5 c5 34 8a 23 0a fb a8 c6 3d 4e 68 63 64 97 9d ea f4 fd 40 96 11 45 93 9c da 0e", nil},
	{"secure network beacon", "2b 01 00 3e ca ff 67 2f 67 33 70 12 34 56 78 8e a2 61 58 2f 36 4f 6f", mesh.ADBeacon,
		"01 00 3e ca ff 67 2f 67 33 70 12 34 56 78 8e a2 61 58 2f 36 4f 6f", nil},
	{"message, 29 octets", "2a" + strings.Repeat(" 11", 29), mesh.ADMessage, strings.Repeat("11", 29), nil},
	{"empty", "", 0, "", ErrEmpty},
	{"type only", "2a", 0, "", ErrEmptyPayload},
	{"30-octet payload", "2a" + strings.Repeat(" 11", 30), 0, "", ErrTooLong},
	{"beacon, 30-octet payload", "2b" + strings.Repeat(" 11", 30), 0, "", ErrTooLong},
	{"PB-ADV", "29 00 00 00 00 00 00", 0, "", ErrADType},
	{"flags AD type", "01 06", 0, "", ErrADType},
	{"unknown AD type", "ff 00", 0, "", ErrADType},
}

func TestParseDatagram(t *testing.T) {
	t.Parallel()
	for _, tc := range datagramCases {
		t.Run(tc.name, func(t *testing.T) {
			in := mustHex(t, tc.hex)
			kind, payload, err := ParseDatagram(in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseDatagram = %v, want %v", err, tc.err)
			}
			if err != nil {
				if _, err := AppendDatagram(nil, mesh.ADType(tc.kind), payload); err == nil && tc.kind != 0 {
					t.Fatal("AppendDatagram accepted what ParseDatagram rejects")
				}
				return
			}
			if kind != tc.kind || !bytes.Equal(payload, mustHex(t, tc.payload)) {
				t.Fatalf("ParseDatagram = %v %x, want %v %s", kind, payload, tc.kind, tc.payload)
			}
			out, err := AppendDatagram([]byte{0xee}, kind, payload)
			if err != nil || !bytes.Equal(out[1:], in) || out[0] != 0xee {
				t.Fatalf("AppendDatagram = %x, %v; want ee %x", out, err, in)
			}
		})
	}
}

func TestAppendDatagram_Invalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		kind    mesh.ADType
		payload []byte
		err     error
	}{
		{"empty", mesh.ADMessage, nil, ErrEmptyPayload},
		{"too long", mesh.ADMessage, make([]byte, MaxPayload+1), ErrTooLong},
		{"PB-ADV", mesh.ADProvisioning, []byte{1}, ErrADType},
	} {
		b, err := AppendDatagram([]byte{1}, tc.kind, tc.payload)
		if !errors.Is(err, tc.err) || len(b) != 1 {
			t.Errorf("%s: AppendDatagram = %x, %v; want %v and b unchanged", tc.name, b, err, tc.err)
		}
	}
	if MaxDatagram != 30 || MaxPayload+2 != MaxADData {
		t.Fatalf("sizes: MaxDatagram %d, MaxPayload %d", MaxDatagram, MaxPayload)
	}
}
