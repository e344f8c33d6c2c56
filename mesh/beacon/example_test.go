package beacon_test

import (
	"encoding/hex"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/beacon"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// The Secure Network beacon of Mesh Protocol v1.1 sample 8.4.3.
func ExampleSecureNetwork_Authenticate() {
	netKey, _ := hex.DecodeString("7dd7364cd842ad18c17c2b820c84c3d6")
	ks := beacon.NewKeySet(0, crypto.Key(netKey), false)
	b := beacon.SecureNetwork{NetworkID: ks.NetworkID, IVIndex: 0x12345678}
	b.Authenticate(ks.BeaconKey)
	p, _ := b.Marshal()
	fmt.Printf("%x\n", p)
	fmt.Println(b.Verify(ks.BeaconKey) == nil)
	// Output:
	// 01003ecaff672f673370123456788ea261582f364f6f
	// true
}
