package transport_test

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/transport"
)

// The first segment of sample message #6 (Mesh Protocol v1.1 §8.3.6).
func ExampleSegAccess_AppendBinary() {
	seg := transport.SegAccess{SeqZero: 0x9ab, SegO: 0, SegN: 1,
		Segment: []byte{0xee, 0x9d, 0xdd, 0xfd, 0x21, 0x69, 0x32, 0x6d, 0x23, 0xf3, 0xaf, 0xdf}}
	b, err := seg.AppendBinary(nil)
	fmt.Printf("%x %v\n", b, err)
	// Output: 8026ac01ee9dddfd2169326d23f3afdf <nil>
}

func ExampleDecode() {
	pdu, err := transport.Decode(true, []byte{0x00, 0xa6, 0xac, 0x00, 0x00, 0x00, 0x02})
	fmt.Printf("%+v %v\n", pdu, err)
	// Output: &{OBO:true SeqZero:2475 AckedSegments:2} <nil>
}

func ExampleRecoverSeqAuth() {
	sa, err := transport.RecoverSeqAuth(0x58437AF2, 0x647262, 0x1849)
	fmt.Println(sa, err)
	// Output: 0x58437af2645849 <nil>
}

func ExampleSARTransmitter_AppendBinary() {
	b, _ := transport.DefaultSARTransmitter.AppendBinary(nil)
	fmt.Printf("%x %v %v\n", b, transport.DefaultSARTransmitter.SegmentInterval(),
		transport.DefaultSARTransmitter.UnicastRetransmissionsInterval(5))
	// Output: 25722109 60ms 400ms
}
