package node

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// FuzzReceive feeds a whole node (network, transport, access, the
// Configuration Server and an application model) PDUs from the air:
// raw octets, or, with sealed, octets sealed with the network key as
// the lower transport PDUs of consecutive SEQs (16 octets each), from a
// node of the network that misbehaves. Nothing may panic, and the node
// must still take a good message from another source afterwards.
func FuzzReceive(f *testing.F) {
	// Seeds: a good unsegmented message, the segments of a long one, a
	// segment acknowledgment and a heartbeat-like control message.
	good := fuzzSealApp(0x0055, targetAddr, 1, []byte{0x82, 0x01, 'h', 'i'})
	f.Add(false, false, uint16(targetAddr), good[0])
	for _, p := range fuzzSealApp(0x0055, targetAddr, 5, bytes.Repeat([]byte{0x82, 0x01}, 20)) {
		f.Add(false, false, uint16(targetAddr), p)
	}
	f.Add(true, true, uint16(targetAddr), []byte{0x00, 0x80, 0x04, 0x00, 0x00, 0x00, 0x01})
	f.Add(true, true, uint16(0xFFFF), []byte{0x0a, 0x05, 0x00, 0x00, 0x00, 0x01})
	f.Add(true, false, uint16(targetAddr), []byte{0x80 | 0x40, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Fuzz(func(t *testing.T, sealed, ctl bool, dst uint16, data []byte) {
		clk := faketime.New()
		var got [][]byte
		model := &access.Model{ID: testModel, Ops: []access.Op{{Opcode: opTest, Handler: func(_ *access.Context, p []byte) {
			got = append(got, bytes.Clone(p))
		}}}}
		n, err := New(Config{Clock: clk, Bearer: (&Hub{Clock: clk}).Attach(), Rand: rand.New(rand.NewPCG(1, 1)),
			Provisioning: &Provisioning{Address: targetAddr, DevKey: devKey,
				NetKeys: []NetKeyState{{Index: 0, Key: Key(netKey)}},
				AppKeys: []AppKeyState{{Index: 0, NetKeyIndex: 0, Key: Key(testAppKey)}}},
			Elements: []Element{{Models: []*access.Model{model}}}, NoBeacons: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := model.Bind(0); err != nil {
			t.Fatal(err)
		}
		if !sealed {
			n.Receive(mesh.ADMessage, data)
			n.Receive(mesh.ADBeacon, data)
		} else {
			creds := network.NewCredentials(netKey, []byte{0})
			for i := 0; i*16 < len(data) || i == 0; i++ {
				tp := data[i*16 : min(len(data), (i+1)*16)]
				h := network.Header{CTL: ctl, TTL: 5, SEQ: 100 + uint32(i), SRC: 0x0055, DST: mesh.Address(dst)}
				if pdu, err := creds.Seal(nil, &h, tp, 0); err == nil {
					n.Receive(mesh.ADMessage, pdu)
				}
			}
		}
		clk.RunUntilIdle(time.Minute)
		before := len(got)
		for _, p := range fuzzSealApp(0x0066, targetAddr, 1, []byte{0x82, 0x01, 'o', 'k'}) {
			n.Receive(mesh.ADMessage, p)
		}
		clk.RunUntilIdle(time.Minute)
		if len(got) != before+1 || string(got[len(got)-1]) != "ok" {
			t.Fatalf("a good message after the input: got %q", got[before:])
		}
	})
}

// fuzzSealApp seals an access payload with testAppKey and the network key
// as the transport does, segmented when it does not fit one PDU.
func fuzzSealApp(src, dst mesh.Address, seq uint32, payload []byte) [][]byte {
	ac := transport.AccessCrypto{Seq: seq, Src: src, Dst: dst}
	upper, err := transport.EncryptAccess(nil, crypto.NewCCM(testAppKey), &ac, payload)
	if err != nil {
		panic(err)
	}
	aid := crypto.K4(testAppKey)
	creds := network.NewCredentials(netKey, []byte{0})
	seal := func(seq uint32, tp []byte) []byte {
		h := network.Header{TTL: 5, SEQ: seq, SRC: src, DST: dst}
		out, err := creds.Seal(nil, &h, tp, 0)
		if err != nil {
			panic(err)
		}
		return out
	}
	if len(upper) <= transport.MaxUnsegAccessUpper {
		tp, _ := (&transport.UnsegAccess{AKF: true, AID: aid, UpperPDU: upper}).AppendBinary(nil)
		return [][]byte{seal(seq, tp)}
	}
	var out [][]byte
	segN := (len(upper) - 1) / transport.AccessSegmentSize
	for i := 0; i <= segN; i++ {
		seg := upper[i*transport.AccessSegmentSize : min(len(upper), (i+1)*transport.AccessSegmentSize)]
		tp, _ := (&transport.SegAccess{AKF: true, AID: aid, SeqZero: uint16(seq & 0x1FFF), SegO: uint8(i), SegN: uint8(segN), Segment: seg}).AppendBinary(nil)
		out = append(out, seal(seq+uint32(i), tp))
	}
	return out
}
