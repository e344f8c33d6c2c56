package dissect

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
)

func keysFor(v *vectors.NetworkPDU) Keys {
	k := Keys{NetKeys: []vectors.KeyT{vectors.Key(v.NetKey)}, IVIndex: vectors.Uint(v.IVIndex)}
	if v.AppKey != "" {
		k.AppKeys = append(k.AppKeys, vectors.Key(v.AppKey))
	}
	if v.DevKey != "" {
		k.DevKeys = append(k.DevKeys, vectors.Key(v.DevKey))
	}
	if v.LabelUUID != "" {
		k.LabelUUIDs = append(k.LabelUUIDs, vectors.Key(v.LabelUUID))
	}
	if f := v.Friendship; f != nil {
		k.Friendships = append(k.Friendships, Friendship{
			LPN: mesh.Address(vectors.Uint(f.LPNAddress)), Friend: mesh.Address(vectors.Uint(f.FriendAddress)),
			LPNCounter: uint16(vectors.Uint(f.LPNCounter)), FriendCounter: uint16(vectors.Uint(f.FriendCounter)),
		})
	}
	return k
}

// Every published sample PDU decodes to its cleartext fields, and every
// sample access message is reassembled and decrypted.
func TestVectors(t *testing.T) {
	for _, v := range vectors.MustLoad().NetworkPDUs {
		t.Run(v.ID, func(t *testing.T) {
			d := New(keysFor(&v))
			var last *Message
			for i, p := range v.PDUs {
				got, msg, err := d.DecodeHex(p.NetworkPDU)
				if err != nil {
					t.Fatalf("pdu %d: %v", i, err)
				}
				want := PDU{IVI: v.IVI, NID: v.NID, CTL: p.CTL, TTL: p.TTL, SEQ: p.SEQ, SRC: v.SRC, DST: v.DST, LowerTransportPDU: p.LowerTransportPDU}
				if v.Credentials == "friendship" {
					want.Credentials = "friendship"
				}
				if s := p.Segment; s != nil {
					want.Seg = &Segment{SZMIC: s.SZMIC, SeqZero: s.SeqZero, SegO: s.SegO, SegN: s.SegN}
				}
				if gj, wj := jsonOf(t, got), jsonOf(t, &want); gj != wj {
					t.Errorf("pdu %d:\n got %s\nwant %s", i, gj, wj)
				}
				if msg != nil {
					last = msg
				}
			}
			switch {
			case v.Access != nil:
				if last == nil {
					t.Fatal("no access message")
				}
				if last.AccessMessage != v.Access.AccessMessage || last.Opcode != v.Access.Opcode {
					t.Errorf("access %s opcode %s, want %s %s", last.AccessMessage, last.Opcode, v.Access.AccessMessage, v.Access.Opcode)
				}
				wantKey := "app"
				if v.Access.KeyType == "device" {
					wantKey = "dev"
				}
				if last.Key != wantKey {
					t.Errorf("key %s, want %s", last.Key, wantKey)
				}
			case v.Control != nil:
				if last == nil || last.Control == nil {
					t.Fatal("no control message")
				}
				if last.Control.Opcode != v.Control.Opcode {
					t.Errorf("control opcode %s, want %s", last.Control.Opcode, v.Control.Opcode)
				}
				if v.Control.Parameters != "" && last.Control.Parameters != v.Control.Parameters {
					t.Errorf("control parameters %s, want %s", last.Control.Parameters, v.Control.Parameters)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	v := vectors.MustLoad().NetworkPDUs[0]
	d := New(Keys{NetKeys: []vectors.KeyT{vectors.Key(v.NetKey)}, IVIndex: vectors.Uint(v.IVIndex)})
	if _, _, err := d.DecodeHex("zz"); !errors.Is(err, ErrHex) {
		t.Errorf("bad hex: %v", err)
	}
	if _, _, err := d.DecodeHex("6801"); err == nil {
		t.Error("short PDU decoded")
	}
	bad := []byte(v.PDUs[0].NetworkPDU)
	bad[len(bad)-1] = "10"[map[bool]int{true: 1}[bad[len(bad)-1] == '1']] // change the NetMIC's last digit
	if _, _, err := d.DecodeHex(string(bad)); !errors.Is(err, ErrNoKey) {
		t.Errorf("bad NetMIC: %v", err)
	}
	// A segmented access message whose key is not given completes, but no
	// message comes out.
	for _, v := range vectors.MustLoad().NetworkPDUs {
		if v.ID != "msg24" {
			continue
		}
		d := New(Keys{NetKeys: []vectors.KeyT{vectors.Key(v.NetKey)}, IVIndex: vectors.Uint(v.IVIndex)})
		d.DecodeHex(v.PDUs[0].NetworkPDU)
		_, msg, err := d.DecodeHex(v.PDUs[1].NetworkPDU)
		if msg != nil || !errors.Is(err, ErrNoAppKey) {
			t.Errorf("without the AppKey: %v %v", msg, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	v := vectors.MustLoad()
	for _, m := range v.NetworkPDUs {
		for _, p := range m.PDUs {
			f.Add(vectors.Hex(p.NetworkPDU))
		}
	}
	d := New(keysFor(&v.NetworkPDUs[len(v.NetworkPDUs)-1]))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d.Decode(raw)
	})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
