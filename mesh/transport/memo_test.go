package transport

import (
	"bytes"
	"testing"

	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// TestAccessMemo checks that decrypting through a shared memo gives what
// decrypting alone gives: the same message for two nodes with the key,
// nothing for a node with another key or for a tampered PDU, a Label UUID
// and a DevKey nonce kept apart, and more messages than the memo holds.
func TestAccessMemo(t *testing.T) {
	var k1, k2 crypto.Key
	k1[0], k2[0] = 1, 2
	var lbl1, lbl2 [16]byte
	lbl1[0], lbl2[0] = 7, 8
	node := &Layer{ccms: map[crypto.Key]*crypto.CCM{}}
	type msg struct {
		c     AccessCrypto
		upper []byte
	}
	var msgs []msg
	for i := range 3 * accessMemoSize {
		c := AccessCrypto{Seq: uint32(100 + i), IVIndex: 3, Src: 0x0002, Dst: 0xc000, SZMIC: i%2 == 1}
		switch i % 3 {
		case 1:
			c.Dst, c.Label = 0x8123, &lbl1
		case 2:
			c.Dst, c.DevKey = 0x0005, true
		}
		up, err := EncryptAccess(nil, crypto.NewCCM(k1), &c, bytes.Repeat([]byte{byte(i)}, 5+i*7))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, msg{c, up})
		bad := bytes.Clone(up)
		bad[0] ^= 1
		msgs = append(msgs, msg{c, bad})
		if c.Label != nil {
			other := c
			other.Label = &lbl2
			msgs = append(msgs, msg{other, up})
		}
	}
	var memo AccessMemo
	opened := 0
	for round := range 2 {
		for i, m := range msgs {
			for n, k := range []crypto.Key{k1, k1, k2} {
				want, wantErr := DecryptAccess([]byte{0xAA}, crypto.NewCCM(k), &m.c, m.upper)
				got, gotErr := memo.decrypt(node, []byte{0xAA}, k, &m.c, m.upper)
				if !bytes.Equal(got, want) || (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("round %d, message %d, node %d: memo gave %x, %v; want %x, %v", round, i, n, got, gotErr, want, wantErr)
				}
				if gotErr == nil {
					opened++
				}
			}
		}
	}
	if opened != 2*2*3*accessMemoSize {
		t.Fatalf("%d messages opened, want the untampered ones by the two nodes with the key", opened)
	}
	if memo.Hits == 0 {
		t.Fatal("no message was taken from the memo")
	}
}
