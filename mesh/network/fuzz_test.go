package network

import (
	"bytes"
	"errors"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

type nopBearer struct{ n int }

func (b *nopBearer) Send(mesh.ADType, []byte, mesh.Transmit) { b.n++ }

// FuzzOpen feeds arbitrary octets to Open and to a relaying Layer that
// holds the sample keys (managed flooding and the friendship credentials
// of message #4). Nothing may panic, and whatever Open accepts must seal
// back to the same octets.
func FuzzOpen(f *testing.F) {
	for _, m := range vectors.MustLoad().NetworkPDUs {
		for _, p := range m.PDUs {
			f.Add(vectors.Hex(p.NetworkPDU))
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, MinPDUSize))
	f.Add(make([]byte, MaxPDUSize+1))

	creds := NewCredentials(vectors.Key(msg01NetKey), ManagedFloodingP)
	clk := faketime.New()
	subnets := NewSubnets()
	subnets.Add(0, vectors.Key(msg01NetKey))
	subnets.Add(1, vectors.Key("f7a2a44f8e8a8029064f173ddc1e2b00"))
	subnets.AddFriendship(0, 0x1201, 0x2345, 0, 0x072f)
	delivered := 0
	l := New(Config{
		Clock:   clk,
		Bearer:  &nopBearer{},
		Subnets: subnets,
		IV:      func() IVState { return IVState{Index: 0x12345678} },
		Relay:   true,
		IsLocal: func(a mesh.Address) bool { return a == 0x1201 },
		Deliver: func(rx *Rx) {
			delivered++
			if len(rx.TransportPDU) == 0 || len(rx.TransportPDU) > MaxTransportSize(rx.CTL) {
				panic("delivered a bad transport PDU length")
			}
		},
	})
	f.Fuzz(func(t *testing.T, pdu []byte) {
		for _, iv := range []uint32{0x12345678, 0x12345677} {
			h, tp, err := creds.Open(nil, pdu, iv)
			if err != nil {
				continue
			}
			again, err := creds.Seal(nil, &h, tp, iv)
			if err != nil || !bytes.Equal(again, pdu) {
				t.Fatalf("Open accepted %x as %+v, but it seals to %x (%v)", pdu, h, again, err)
			}
		}
		_, _, _ = PeekIVINID(pdu)
		l.ResetCache()
		l.Receive(pdu)
		clk.RunUntilIdle(DefaultRelayDelay)
	})
}

// FuzzHeaderRoundTrip seals arbitrary header fields and transport PDUs:
// Seal either rejects them with a sentinel error or Open returns them
// unchanged.
func FuzzHeaderRoundTrip(f *testing.F) {
	for _, m := range vectors.MustLoad().NetworkPDUs {
		for _, p := range m.PDUs {
			f.Add(p.CTL == 1, uint8(p.TTL), vectors.Uint(p.SEQ), uint16(vectors.Uint(m.SRC)), uint16(vectors.Uint(m.DST)),
				vectors.Hex(p.LowerTransportPDU), vectors.Uint(m.IVIndex))
		}
	}
	f.Add(true, uint8(200), uint32(1<<24), uint16(0), uint16(0), []byte{}, uint32(0))
	creds := NewCredentials(vectors.Key(msg01NetKey), ManagedFloodingP)
	sentinels := []error{ErrTooShort, ErrTooLong, ErrTTL, ErrSEQ, ErrBadSRC, ErrBadDST}
	f.Fuzz(func(t *testing.T, ctl bool, ttl uint8, seq uint32, src, dst uint16, tp []byte, iv uint32) {
		h := Header{CTL: ctl, TTL: ttl, SEQ: seq, SRC: mesh.Address(src), DST: mesh.Address(dst)}
		pdu, err := creds.Seal(nil, &h, tp, iv)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Seal: unexpected error %v", err)
		}
		if len(pdu) != HeaderSize+len(tp)+MICSize(ctl) {
			t.Fatalf("PDU of %d octets", len(pdu))
		}
		h.IVI, h.NID = uint8(iv&1), creds.NID()
		got, gotTP, err := creds.Open(nil, pdu, iv)
		if err != nil || got != h || !bytes.Equal(gotTP, tp) {
			t.Fatalf("Open: %+v %x %v, want %+v %x", got, gotTP, err, h, tp)
		}
		if _, _, err := creds.Open(nil, pdu, iv^2); !errors.Is(err, crypto.ErrAuth) {
			t.Fatalf("Open with another IV Index: %v", err)
		}
	})
}
