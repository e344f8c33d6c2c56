package network

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// TestOpenMemo checks that opening through a shared memo gives exactly
// what each node's own credentials give: for nodes with the same key, a
// node with another key (no result of the first key may leak to it),
// tampered PDUs, and more distinct PDUs than the memo holds.
func TestOpenMemo(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var k1, k2 crypto.Key
	k1[0], k2[0] = 1, 2
	sender := NewCredentials(k1, []byte{0})
	nodes := []*Credentials{NewCredentials(k1, []byte{0}), NewCredentials(k1, []byte{0}), NewCredentials(k2, []byte{0})}
	var memo OpenMemo
	var pdus [][]byte
	for i := range 3 * openMemoSize {
		h := Header{NID: sender.NID(), TTL: 3, SEQ: uint32(i + 1), SRC: 0x0002, DST: mesh.Address(0xc000 + i)}
		tp := make([]byte, 1+r.IntN(MaxAccessTransportSize))
		for j := range tp {
			tp[j] = byte(r.Uint32())
		}
		pdu, err := sender.Seal(nil, &h, tp, 5)
		if err != nil {
			t.Fatal(err)
		}
		pdus = append(pdus, pdu)
		bad := bytes.Clone(pdu)
		bad[len(bad)-1] ^= 1
		pdus = append(pdus, bad)
	}
	opened := 0
	for round := range 2 {
		for i, pdu := range pdus {
			for n, c := range nodes {
				wantH, wantTP, wantErr := c.Open([]byte{0xAA}, pdu, 5)
				gotH, gotTP, gotErr := memo.open(c, []byte{0xAA}, pdu, 5)
				if gotH != wantH || !bytes.Equal(gotTP, wantTP) || gotErr != wantErr {
					t.Fatalf("round %d, pdu %d, node %d: memo gave %+v %x %v, want %+v %x %v", round, i, n, gotH, gotTP, gotErr, wantH, wantTP, wantErr)
				}
				if gotErr == nil {
					opened++
				}
			}
		}
	}
	if opened != 2*2*3*openMemoSize {
		t.Fatalf("%d PDUs opened, want the untampered ones by the two nodes with the key", opened)
	}
	if memo.Hits == 0 {
		t.Fatal("no PDU was taken from the memo")
	}
}
