package network_test

import (
	"encoding/hex"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/network"
)

// Sample message #1 of Mesh Protocol v1.1 §8.3.1: a control PDU sealed
// with managed-flooding credentials, then opened again.
func ExampleCredentials_Seal() {
	netKey, _ := hex.DecodeString("7dd7364cd842ad18c17c2b820c84c3d6")
	creds := network.NewCredentials([16]byte(netKey), network.ManagedFloodingP)
	h := network.Header{CTL: true, TTL: 0, SEQ: 1, SRC: 0x1201, DST: 0xfffd}
	transport, _ := hex.DecodeString("034b50057e400000010000")

	pdu, err := creds.Seal(make([]byte, 0, network.MaxPDUSize), &h, transport, 0x12345678)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", pdu)

	got, tp, err := creds.Open(nil, pdu, 0x12345678)
	fmt.Printf("%v %v→%v seq %d ttl %d: %x %v\n", got.CTL, got.SRC, got.DST, got.SEQ, got.TTL, tp, err)
	// Output:
	// 68eca487516765b5e5bfdacbaf6cb7fb6bff871f035444ce83a670df
	// true 0x1201→0xfffd seq 1 ttl 0: 034b50057e400000010000 <nil>
}
