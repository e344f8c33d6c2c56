package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

const (
	key16   = "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"
	label16 = "f4 a0 02 c7 fb 1e 4c a0 a4 69 a0 21 de 0d b8 75"
)

var (
	testKey   = [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	testLabel = [16]byte{0xf4, 0xa0, 0x02, 0xc7, 0xfb, 0x1e, 0x4c, 0xa0, 0xa4, 0x69, 0xa0, 0x21, 0xde, 0x0d, 0xb8, 0x75}
	vnd       = access.VendorModel(0x05f1, 0x0001)
	pubParams = PublishParams{AppKeyIndex: 1, CredentialFlag: true, TTL: 0xff, Period: 0x41,
		Retransmit: access.PublishRetransmit{Count: 2, IntervalSteps: 3}}
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
	{"Composition Data Get", OpCompositionDataGet, "00", &CompositionDataGet{0}, nil, true},
	{"Composition Data Get empty", OpCompositionDataGet, "", nil, access.ErrLength, false},
	{"Composition Data Status page 0", OpCompositionDataStatus, "00 0c 00 1a 00 01 00 08 00 05 00 00 00 01 00 00 00",
		&CompositionDataStatus{0, hx("0c 00 1a 00 01 00 08 00 05 00 00 00 01 00 00 00")}, nil, false},
	{"Composition Data Status page 1 raw", OpCompositionDataStatus, "01 aa bb", &CompositionDataStatus{1, []byte{0xaa, 0xbb}}, nil, false},
	{"Composition Data Status empty", OpCompositionDataStatus, "", nil, access.ErrLength, false},
	{"Composition Data Status bad page 0", OpCompositionDataStatus, "00 01", nil, access.ErrLength, false},

	{"AppKey Add", OpAppKeyAdd, "23 61 45 " + key16, &AppKeyAdd{0x123, 0x456, testKey}, nil, true},
	{"AppKey Update", OpAppKeyUpdate, "23 61 45 " + key16, &AppKeyUpdate{0x123, 0x456, testKey}, nil, true},
	{"AppKey Delete", OpAppKeyDelete, "23 61 45", &AppKeyDelete{0x123, 0x456}, nil, true},
	{"AppKey Status", OpAppKeyStatus, "06 23 61 45", &AppKeyStatus{StatusKeyIndexAlreadyStored, 0x123, 0x456}, nil, true},
	{"AppKey Get", OpAppKeyGet, "23 01", &AppKeyGet{0x123}, nil, true},
	{"AppKey Get RFU bits", OpAppKeyGet, "23 f1", nil, access.ErrRFU, false},
	{"AppKey List three", OpAppKeyList, "00 01 00 01 20 00 03 00", &AppKeyList{StatusSuccess, 1, []uint16{1, 2, 3}}, nil, false},
	{"AppKey List two", OpAppKeyList, "00 01 00 01 20 00", &AppKeyList{StatusSuccess, 1, []uint16{1, 2}}, nil, false},
	{"AppKey List invalid NetKey", OpAppKeyList, "04 05 00", &AppKeyList{StatusInvalidNetKeyIndex, 5, nil}, nil, false},
	{"AppKey List short", OpAppKeyList, "00 01", nil, access.ErrLength, false},
	{"AppKey List dangling octet", OpAppKeyList, "00 01 00 01", nil, access.ErrLength, false},
	{"AppKey List RFU last index", OpAppKeyList, "00 01 00 03 f0", nil, access.ErrRFU, false},
	{"AppKey List RFU NetKey", OpAppKeyList, "00 01 10", nil, access.ErrRFU, false},

	{"NetKey Add", OpNetKeyAdd, "23 01 " + key16, &NetKeyAdd{0x123, testKey}, nil, true},
	{"NetKey Add RFU", OpNetKeyAdd, "23 11 " + key16, nil, access.ErrRFU, false},
	{"NetKey Update", OpNetKeyUpdate, "ff 0f " + key16, &NetKeyUpdate{0xfff, testKey}, nil, true},
	{"NetKey Delete", OpNetKeyDelete, "23 01", &NetKeyDelete{0x123}, nil, true},
	{"NetKey Status", OpNetKeyStatus, "0c 23 01", &NetKeyStatus{StatusCannotRemove, 0x123}, nil, true},
	{"NetKey Get", OpNetKeyGet, "", &NetKeyGet{}, nil, true},
	{"NetKey List", OpNetKeyList, "01 20 00 03 00", &NetKeyList{[]uint16{1, 2, 3}}, nil, false},
	{"NetKey List empty", OpNetKeyList, "", &NetKeyList{}, nil, false},
	{"NetKey List one octet", OpNetKeyList, "01", nil, access.ErrLength, false},

	{"Model App Bind SIG", OpModelAppBind, "02 01 01 00 00 10", &ModelAppBind{0x0102, 1, 0x1000}, nil, false},
	{"Model App Bind vendor", OpModelAppBind, "02 01 01 00 f1 05 01 00", &ModelAppBind{0x0102, 1, vnd}, nil, false},
	{"Model App Bind group element", OpModelAppBind, "00 c0 01 00 00 10", nil, access.ErrProhibited, false},
	{"Model App Bind RFU index", OpModelAppBind, "02 01 01 10 00 10", nil, access.ErrRFU, false},
	{"Model App Bind 5 octets", OpModelAppBind, "02 01 01 00 00", nil, access.ErrLength, false},
	{"Model App Bind 7 octets", OpModelAppBind, "02 01 01 00 00 10 00", nil, access.ErrLength, false},
	{"Model App Bind 9 octets", OpModelAppBind, "02 01 01 00 f1 05 01 00 00", nil, access.ErrLength, false},
	{"Model App Bind vendor company 0", OpModelAppBind, "02 01 01 00 00 00 01 00", nil, access.ErrRFU, false},
	{"Model App Unbind", OpModelAppUnbind, "02 01 01 00 00 10", &ModelAppUnbind{0x0102, 1, 0x1000}, nil, false},
	{"Model App Status", OpModelAppStatus, "0d 02 01 01 00 00 10", &ModelAppStatus{StatusCannotBind, 0x0102, 1, 0x1000}, nil, false},
	{"Model App Status empty", OpModelAppStatus, "", nil, access.ErrLength, false},
	{"SIG Model App Get", OpSIGModelAppGet, "02 01 00 10", &SIGModelAppGet{0x0102, 0x1000}, nil, true},
	{"SIG Model App Get vendor length", OpSIGModelAppGet, "02 01 f1 05 01 00", nil, access.ErrLength, false},
	{"Vendor Model App Get", OpVendorModelAppGet, "02 01 f1 05 01 00", &VendorModelAppGet{0x0102, vnd}, nil, true},
	{"SIG Model App List", OpSIGModelAppList, "00 02 01 00 10 01 20 00", &SIGModelAppList{StatusSuccess, 0x0102, 0x1000, []uint16{1, 2}}, nil, false},
	{"SIG Model App List short", OpSIGModelAppList, "00 02 01 00", nil, access.ErrLength, false},
	{"Vendor Model App List", OpVendorModelAppList, "00 02 01 f1 05 01 00 03 00", &VendorModelAppList{StatusSuccess, 0x0102, vnd, []uint16{3}}, nil, false},

	{"Model Subscription Add", OpModelSubscriptionAdd, "02 01 00 c0 00 10", &ModelSubscriptionAdd{0x0102, 0xc000, 0x1000}, nil, false},
	{"Model Subscription Add unicast element check", OpModelSubscriptionAdd, "00 00 00 c0 00 10", nil, access.ErrProhibited, false},
	{"Model Subscription Add 7 octets", OpModelSubscriptionAdd, "02 01 00 c0 00 10 00", nil, access.ErrLength, false},
	{"Model Subscription Delete vendor", OpModelSubscriptionDelete, "02 01 00 c0 f1 05 01 00", &ModelSubscriptionDelete{0x0102, 0xc000, vnd}, nil, false},
	{"Model Subscription Overwrite", OpModelSubscriptionOverwrite, "02 01 05 c0 00 10", &ModelSubscriptionOverwrite{0x0102, 0xc005, 0x1000}, nil, false},
	{"Model Subscription Delete All", OpModelSubscriptionDeleteAll, "02 01 00 10", &ModelSubscriptionDeleteAll{0x0102, 0x1000}, nil, false},
	{"Model Subscription Delete All 3 octets", OpModelSubscriptionDeleteAll, "02 01 00", nil, access.ErrLength, false},
	{"Model Subscription VA Add", OpModelSubscriptionVirtualAddressAdd, "02 01 " + label16 + " 00 10", &ModelSubscriptionVirtualAddressAdd{0x0102, testLabel, 0x1000}, nil, false},
	{"Model Subscription VA Delete", OpModelSubscriptionVirtualAddressDelete, "02 01 " + label16 + " f1 05 01 00", &ModelSubscriptionVirtualAddressDelete{0x0102, testLabel, vnd}, nil, false},
	{"Model Subscription VA Overwrite", OpModelSubscriptionVirtualAddressOverwrite, "02 01 " + label16 + " 00 10", &ModelSubscriptionVirtualAddressOverwrite{0x0102, testLabel, 0x1000}, nil, false},
	{"Model Subscription VA Add 19 octets", OpModelSubscriptionVirtualAddressAdd, "02 01 " + label16 + " 00", nil, access.ErrLength, false},
	{"Model Subscription Status", OpModelSubscriptionStatus, "08 02 01 00 c0 00 10", &ModelSubscriptionStatus{StatusNotASubscribeModel, 0x0102, 0xc000, 0x1000}, nil, false},
	{"SIG Model Subscription Get", OpSIGModelSubscriptionGet, "02 01 00 10", &SIGModelSubscriptionGet{0x0102, 0x1000}, nil, true},
	{"Vendor Model Subscription Get", OpVendorModelSubscriptionGet, "02 01 f1 05 01 00", &VendorModelSubscriptionGet{0x0102, vnd}, nil, true},
	{"SIG Model Subscription List", OpSIGModelSubscriptionList, "00 02 01 00 10 00 c0 01 c0", &SIGModelSubscriptionList{StatusSuccess, 0x0102, 0x1000, []mesh.Address{0xc000, 0xc001}}, nil, false},
	{"SIG Model Subscription List empty", OpSIGModelSubscriptionList, "02 02 01 00 10", &SIGModelSubscriptionList{StatusInvalidModel, 0x0102, 0x1000, nil}, nil, false},
	{"SIG Model Subscription List odd", OpSIGModelSubscriptionList, "00 02 01 00 10 00", nil, access.ErrLength, false},
	{"Vendor Model Subscription List", OpVendorModelSubscriptionList, "00 02 01 f1 05 01 00 00 c0", &VendorModelSubscriptionList{StatusSuccess, 0x0102, vnd, []mesh.Address{0xc000}}, nil, false},

	{"Model Publication Get", OpModelPublicationGet, "02 01 00 10", &ModelPublicationGet{0x0102, 0x1000}, nil, false},
	{"Model Publication Get 3 octets", OpModelPublicationGet, "02 01 00", nil, access.ErrLength, false},
	{"Model Publication Set", OpModelPublicationSet, "02 01 00 c0 01 10 ff 41 1a 00 10", &ModelPublicationSet{0x0102, 0xc000, pubParams, 0x1000}, nil, false},
	{"Model Publication Set RFU", OpModelPublicationSet, "02 01 00 c0 01 20 ff 41 1a 00 10", nil, access.ErrRFU, false},
	{"Model Publication Set TTL 0x80", OpModelPublicationSet, "02 01 00 c0 01 10 80 41 1a 00 10", nil, access.ErrProhibited, false},
	{"Model Publication Set 10 octets", OpModelPublicationSet, "02 01 00 c0 01 10 ff 41 1a 00", nil, access.ErrLength, false},
	{"Model Publication VA Set", OpModelPublicationVirtualAddressSet, "02 01 " + label16 + " 01 10 ff 41 1a f1 05 01 00",
		&ModelPublicationVirtualAddressSet{0x0102, testLabel, pubParams, vnd}, nil, false},
	{"Model Publication VA Set 24 octets", OpModelPublicationVirtualAddressSet, "02 01 " + label16 + " 01 10 ff 41 1a", nil, access.ErrLength, false},
	{"Model Publication Status", OpModelPublicationStatus, "00 02 01 00 c0 01 10 ff 41 1a 00 10", &ModelPublicationStatus{StatusSuccess, 0x0102, 0xc000, pubParams, 0x1000}, nil, false},
	{"Model Publication Status empty", OpModelPublicationStatus, "", nil, access.ErrLength, false},

	{"Default TTL Get", OpDefaultTTLGet, "", &DefaultTTLGet{}, nil, true},
	{"Default TTL Set", OpDefaultTTLSet, "07", &DefaultTTLSet{7}, nil, true},
	{"Default TTL Set 0", OpDefaultTTLSet, "00", &DefaultTTLSet{0}, nil, true},
	{"Default TTL Set 1", OpDefaultTTLSet, "01", nil, access.ErrProhibited, false},
	{"Default TTL Set 0x80", OpDefaultTTLSet, "80", nil, access.ErrProhibited, false},
	{"Default TTL Status", OpDefaultTTLStatus, "7f", &DefaultTTLStatus{0x7f}, nil, true},
	{"Network Transmit Get", OpNetworkTransmitGet, "", &NetworkTransmitGet{}, nil, true},
	{"Network Transmit Set", OpNetworkTransmitSet, "0a", &NetworkTransmitSet{mesh.Transmit{Count: 2, IntervalSteps: 1}}, nil, true},
	{"Network Transmit Status", OpNetworkTransmitStatus, "ff", &NetworkTransmitStatus{mesh.Transmit{Count: 7, IntervalSteps: 31}}, nil, true},
	{"Relay Get", OpRelayGet, "", &RelayGet{}, nil, true},
	{"Relay Set", OpRelaySet, "01 0a", &RelaySet{FeatureEnabled, mesh.Transmit{Count: 2, IntervalSteps: 1}}, nil, true},
	{"Relay Set not supported", OpRelaySet, "02 0a", nil, access.ErrProhibited, false},
	{"Relay Status", OpRelayStatus, "02 00", &RelayStatus{FeatureNotSupported, mesh.Transmit{}}, nil, true},
	{"Relay Status 3", OpRelayStatus, "03 00", nil, access.ErrProhibited, false},
	{"Beacon Get", OpBeaconGet, "", &BeaconGet{}, nil, true},
	{"Beacon Set", OpBeaconSet, "01", &BeaconSet{true}, nil, true},
	{"Beacon Set 2", OpBeaconSet, "02", nil, access.ErrProhibited, false},
	{"Beacon Status", OpBeaconStatus, "00", &BeaconStatus{false}, nil, true},
	{"Node Reset", OpNodeReset, "", &NodeReset{}, nil, true},
	{"Node Reset with parameter", OpNodeReset, "00", nil, access.ErrLength, false},
	{"Node Reset Status", OpNodeResetStatus, "", &NodeResetStatus{}, nil, true},
}

func TestMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range messageTests {
		t.Run(tc.name, func(t *testing.T) {
			in := mustHex(t, tc.in)
			m := NewMessage(tc.op)
			if m == nil {
				t.Fatalf("no message for %s", tc.op)
			}
			err := m.Unmarshal(in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Unmarshal err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("got %+v\nwant %+v", m, tc.want)
			}
			if m.Opcode() != tc.op {
				t.Fatalf("Opcode %s, want %s", m.Opcode(), tc.op)
			}
			b, err := m.AppendBinary(nil)
			if err != nil || !bytes.Equal(b, in) {
				t.Fatalf("AppendBinary = %x, %v; want %x", b, err, in)
			}
			full, err := access.Marshal(m)
			if err != nil || !bytes.Equal(full[tc.op.Size():], in) {
				t.Fatalf("Marshal = %x, %v", full, err)
			}
			if tc.fixed {
				for n := range len(in) {
					if NewMessage(tc.op).Unmarshal(in[:n]) == nil {
						t.Fatalf("prefix of %d octets parsed", n)
					}
				}
				if err := NewMessage(tc.op).Unmarshal(append(in, 0)); !errors.Is(err, access.ErrLength) {
					t.Fatalf("trailing octet: %v", err)
				}
			}
		})
	}
}
