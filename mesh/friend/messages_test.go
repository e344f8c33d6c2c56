package friend

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

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

// codecCases are parameter encodings, named after where they come from:
// the spec's sample data (§8.3) and the worked encodings of friend-lpn.md.
var codecCases = []struct {
	name string
	op   uint8
	hex  string
	want Message
	err  error
}{
	{"msg04 poll FSN 0", OpPoll, "00", &Poll{FSN: 0}, nil},
	{"msg10 poll FSN 1", OpPoll, "01", &Poll{FSN: 1}, nil},
	{"poll padding", OpPoll, "02", nil, ErrProhibited},
	{"poll padding high", OpPoll, "81", nil, ErrProhibited},
	{"poll empty", OpPoll, "", nil, ErrLength},
	{"poll long", OpPoll, "00 00", nil, ErrLength},

	{"E8 update", OpUpdate, "00 12345678 00", &Update{IVIndex: 0x12345678}, nil},
	{"E11 update IV update MD", OpUpdate, "02 12345679 01", &Update{IVUpdate: true, IVIndex: 0x12345679, MD: true}, nil},
	{"E12 update key refresh", OpUpdate, "01 12345678 00", &Update{KeyRefresh: true, IVIndex: 0x12345678}, nil},
	{"update RFU flag", OpUpdate, "04 12345678 00", nil, ErrProhibited},
	{"update MD 2", OpUpdate, "00 12345678 02", nil, ErrProhibited},
	{"update short", OpUpdate, "00 12345678", nil, ErrLength},
	{"update long", OpUpdate, "00 12345678 00 00", nil, ErrLength},

	{"msg01 request", OpRequest, "4b 50 057e40 0000 01 0000", &Request{RSSIFactor: 2, ReceiveWindowFactor: 1, MinQueueSizeLog: 3,
		ReceiveDelay: 80, PollTimeout: 0x057E40, NumElements: 1}, nil},
	{"E5 request", OpRequest, "1c 64 00012c 2345 01 0001", &Request{ReceiveWindowFactor: 3, MinQueueSizeLog: 4,
		ReceiveDelay: 100, PollTimeout: 300, PreviousAddress: 0x2345, NumElements: 1, LPNCounter: 1}, nil},
	{"zephyr default request", OpRequest, "01 64 00012c 0000 01 0001", &Request{MinQueueSizeLog: 1,
		ReceiveDelay: 100, PollTimeout: 300, NumElements: 1, LPNCounter: 1}, nil},
	{"request max poll timeout", OpRequest, "01 0a 34bbff 0000 ff ffff", &Request{MinQueueSizeLog: 1,
		ReceiveDelay: 10, PollTimeout: MaxPollTimeout, NumElements: 255, LPNCounter: 0xFFFF}, nil},
	{"request RFU criteria", OpRequest, "81 64 00012c 0000 01 0001", nil, ErrProhibited},
	{"request MinQueueSizeLog 0", OpRequest, "00 64 00012c 0000 01 0001", nil, ErrProhibited},
	{"request ReceiveDelay 9", OpRequest, "01 09 00012c 0000 01 0001", nil, ErrProhibited},
	{"request PollTimeout 9", OpRequest, "01 64 000009 0000 01 0001", nil, ErrProhibited},
	{"request PollTimeout too long", OpRequest, "01 64 34bc00 0000 01 0001", nil, ErrProhibited},
	{"request group previous", OpRequest, "01 64 00012c c000 01 0001", nil, ErrProhibited},
	{"request NumElements 0", OpRequest, "01 64 00012c 0000 00 0001", nil, ErrProhibited},
	{"request short", OpRequest, "01 64 00012c 0000 01 00", nil, ErrLength},
	{"request long", OpRequest, "01 64 00012c 0000 01 0001 00", nil, ErrLength},

	{"msg03 offer", OpOffer, "fa 02 05 a6 000a", &Offer{ReceiveWindow: 250, QueueSize: 2, SubscriptionListSize: 5, RSSI: -90, FriendCounter: 10}, nil},
	{"E6 offer", OpOffer, "ff 10 03 c4 000b", &Offer{ReceiveWindow: 255, QueueSize: 16, SubscriptionListSize: 3, RSSI: -60, FriendCounter: 11}, nil},
	{"offer RSSI unavailable", OpOffer, "01 02 00 7f 0000", &Offer{ReceiveWindow: 1, QueueSize: 2, RSSI: RSSIUnavailable}, nil},
	{"offer window 0", OpOffer, "00 10 03 c4 000b", nil, ErrProhibited},
	{"offer short", OpOffer, "ff 10 03 c4 00", nil, ErrLength},

	{"E9 clear", OpClear, "1201 0001", &Clear{LPNAddress: 0x1201, LPNCounter: 1}, nil},
	{"E13 clear by LPN", OpClear, "1201 0000", &Clear{LPNAddress: 0x1201}, nil},
	{"clear group LPN", OpClear, "c001 0000", nil, ErrProhibited},
	{"clear unassigned LPN", OpClear, "0000 0000", nil, ErrProhibited},
	{"clear short", OpClear, "1201 00", nil, ErrLength},
	{"E10 clear confirm", OpClearConfirm, "1201 0001", &ClearConfirm{LPNAddress: 0x1201, LPNCounter: 1}, nil},
	{"clear confirm long", OpClearConfirm, "1201 0001 00", nil, ErrLength},

	{"E1 sub add", OpSubListAdd, "00 c000 c001", &SubListAdd{TransactionNumber: 0, Addresses: []mesh.Address{0xC000, 0xC001}}, nil},
	{"sub add five", OpSubListAdd, "07 c000 c001 c002 8001 ffff", &SubListAdd{TransactionNumber: 7, Addresses: []mesh.Address{0xC000, 0xC001, 0xC002, 0x8001, 0xFFFF}}, nil},
	{"sub add six", OpSubListAdd, "07 c000 c001 c002 c003 c004 c005", nil, ErrLength},
	{"sub add none", OpSubListAdd, "07", nil, ErrLength},
	{"sub add odd", OpSubListAdd, "07 c0", nil, ErrLength},
	{"sub add unicast", OpSubListAdd, "07 0001", nil, ErrProhibited},
	{"E3 sub remove", OpSubListRemove, "01 c001", &SubListRemove{TransactionNumber: 1, Addresses: []mesh.Address{0xC001}}, nil},
	{"sub remove unassigned", OpSubListRemove, "01 0000", nil, ErrProhibited},
	{"E2 sub confirm", OpSubListConfirm, "00", &SubListConfirm{}, nil},
	{"E4 sub confirm", OpSubListConfirm, "01", &SubListConfirm{TransactionNumber: 1}, nil},
	{"sub confirm long", OpSubListConfirm, "01 02", nil, ErrLength},
}

func TestCodec(t *testing.T) {
	t.Parallel()
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			p := mustHex(t, c.hex)
			m, err := Decode(c.op, p)
			if !errors.Is(err, c.err) {
				t.Fatalf("Decode: %v, want %v", err, c.err)
			}
			if c.err != nil {
				return
			}
			if !reflect.DeepEqual(m, c.want) {
				t.Fatalf("Decode = %+v, want %+v", m, c.want)
			}
			out, err := c.want.AppendBinary(nil)
			if err != nil || hex.EncodeToString(out) != hex.EncodeToString(p) {
				t.Fatalf("AppendBinary = %x, %v; want %x", out, err, p)
			}
			lp, err := Marshal(c.want)
			if err != nil || lp[0] != c.op || string(lp[1:]) != string(p) {
				t.Fatalf("Marshal = %x, %v", lp, err)
			}
			list := c.op == OpSubListAdd || c.op == OpSubListRemove
			for n := range len(p) { // no strict prefix parses (but a shorter list is a list)
				if list && n%2 == 1 {
					continue
				}
				if _, err := Decode(c.op, p[:n]); err == nil {
					t.Fatalf("prefix of %d octets parsed", n)
				}
			}
		})
	}
}

func TestCodec_EncodeRejects(t *testing.T) {
	t.Parallel()
	bad := []Message{
		&Poll{FSN: 2},
		&Request{MinQueueSizeLog: 0, ReceiveDelay: 100, PollTimeout: 300, NumElements: 1},
		&Request{MinQueueSizeLog: 1, ReceiveDelay: 100, PollTimeout: 300, NumElements: 1, RSSIFactor: 4},
		&Offer{},
		&Clear{LPNAddress: 0xC000},
		&ClearConfirm{},
		&SubListAdd{},
		&SubListRemove{Addresses: []mesh.Address{1}},
	}
	for _, m := range bad {
		if _, err := m.AppendBinary(nil); err == nil {
			t.Errorf("%T %+v encoded", m, m)
		}
	}
	if _, err := Decode(0x0A, []byte{0}); !errors.Is(err, ErrOpcode) {
		t.Errorf("heartbeat opcode: %v", err)
	}
}

func TestControlFitsUnsegmented(t *testing.T) {
	t.Parallel()
	// Every friendship message is an Unsegmented Control message: at most
	// 11 parameter octets (§3.6.5, Table 3.26).
	largest := []Message{
		&Request{MinQueueSizeLog: 7, ReceiveDelay: 255, PollTimeout: MaxPollTimeout, NumElements: 255},
		&SubListAdd{Addresses: make([]mesh.Address, MaxSubListAddresses)},
	}
	for i := range largest[1].(*SubListAdd).Addresses {
		largest[1].(*SubListAdd).Addresses[i] = 0xC000
	}
	for _, m := range largest {
		b, err := m.AppendBinary(nil)
		if err != nil || len(b) > 11 {
			t.Errorf("%T: %d octets, %v", m, len(b), err)
		}
	}
}

func TestOfferDelay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		rwf, rssif Factor
		window     int
		rssi       int8
		want       string
	}{
		{1, 2, 50, -70, "215ms"},    // friend-lpn.md §13, Offer #2
		{1, 2, 250, -90, "555ms"},   // Offer #3
		{3, 0, 255, -60, "697.5ms"}, // E6
		{0, 0, 255, RSSIUnavailable, "128ms"},
		{0, 0, 10, -20, "100ms"}, // below the floor
		{3, 3, 255, -128, "957.5ms"},
	}
	for _, c := range cases {
		got := OfferDelay(c.rwf, c.rssif, msDur(c.window), c.rssi)
		if got.String() != c.want {
			t.Errorf("OfferDelay(%v, %v, %d ms, %d) = %v, want %s", c.rwf, c.rssif, c.window, c.rssi, got, c.want)
		}
	}
	if Factor(3).String() != "2.5" || Factor(2).String() != "2" {
		t.Error("Factor.String")
	}
}

func msDur(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
