package access

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Composition Data page 0 of Mesh Protocol v1.1 §4.2.2.1's example shape:
// CID 0x000c, PID 0x001a, VID 0x0001, CRPL 8, relay+friend, two elements.
var compositionTests = []struct {
	name string
	in   string
	want CompositionData
	err  error
}{
	{"two elements, SIG and vendor models",
		"0c 00 1a 00 01 00 08 00 05 00" +
			" 00 00 02 01 00 00 02 00 3f 00 2a 00" +
			" 01 01 01 00 00 10",
		CompositionData{
			CompositionHeader{CID: 0x000c, PID: 0x001a, VID: 0x0001, CRPL: 8, Features: FeatureRelay | FeatureFriend},
			[]CompositionElement{
				{Loc: 0, SIG: []uint16{0x0000, 0x0002}, Vendor: []ModelID{VendorModel(0x003f, 0x002a)}},
				{Loc: 0x0101, SIG: []uint16{0x1000}},
			},
		}, nil},
	{"element without models", "00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		CompositionData{Elements: []CompositionElement{{}}}, nil},
	{"no elements", "0c 00 1a 00 01 00 08 00 05 00", CompositionData{}, ErrLength},
	{"short header", "0c 00 1a 00 01 00 08 00 05", CompositionData{}, ErrLength},
	{"RFU feature bit", "00 00 00 00 00 00 00 00 10 00 00 00 00 00", CompositionData{}, ErrRFU},
	{"truncated element header", "00 00 00 00 00 00 00 00 00 00 00 00 00", CompositionData{}, ErrLength},
	{"missing SIG model", "00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00", CompositionData{}, ErrLength},
	{"missing vendor octet", "00 00 00 00 00 00 00 00 00 00 00 00 00 01 3f 00 2a", CompositionData{}, ErrLength},
	{"trailing octet", "00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff", CompositionData{}, ErrLength},
}

func TestCompositionData(t *testing.T) {
	t.Parallel()
	for _, tc := range compositionTests {
		t.Run(tc.name, func(t *testing.T) {
			var got CompositionData
			err := got.Unmarshal(mustHex(t, tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			b, err := got.AppendBinary(nil)
			if err != nil || !bytes.Equal(b, mustHex(t, tc.in)) {
				t.Fatalf("re-encode %x, %v", b, err)
			}
			for n := range min(len(b), 14) { // below header + one element nothing parses
				var c CompositionData
				if c.Unmarshal(b[:n]) == nil {
					t.Fatalf("prefix of %d octets parsed", n)
				}
			}
		})
	}
}

func TestCompositionAppendErrors(t *testing.T) {
	t.Parallel()
	if _, err := (&CompositionData{}).AppendBinary(nil); !errors.Is(err, ErrLength) {
		t.Errorf("no elements: %v", err)
	}
	c := CompositionData{CompositionHeader: CompositionHeader{Features: 0x100}, Elements: []CompositionElement{{}}}
	if _, err := c.AppendBinary(nil); !errors.Is(err, ErrRFU) {
		t.Errorf("RFU features: %v", err)
	}
}
