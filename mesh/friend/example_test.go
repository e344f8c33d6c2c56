package friend_test

import (
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/mesh/friend"
)

// The Friend Request of the spec's sample friendship (§8.3.1), as the
// Lower Transport PDU an LPN sends to all-friends.
func ExampleRequest_AppendBinary() {
	req := &friend.Request{
		RSSIFactor: 2, ReceiveWindowFactor: 1, MinQueueSizeLog: 3,
		ReceiveDelay: 80, PollTimeout: 0x057E40, NumElements: 1,
	}
	lp, err := friend.Marshal(req)
	fmt.Printf("%x %v\n", lp, err)
	// Output: 034b50057e400000010000 <nil>
}

// The Friend Offer Delay of the two sample Friends (§8.3.2, §8.3.3): the
// one with the smaller window and the better signal offers first.
func ExampleOfferDelay() {
	fmt.Println(friend.OfferDelay(1, 2, 50*time.Millisecond, -70))
	fmt.Println(friend.OfferDelay(1, 2, 250*time.Millisecond, -90))
	// Output:
	// 215ms
	// 555ms
}
