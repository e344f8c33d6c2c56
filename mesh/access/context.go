package access

import "github.com/meshdfu/meshdfu/mesh"

// DefaultTTL is the TTL sentinel 0xFF: "use the node's Default TTL state".
// The Layer replaces it before a message leaves (Publish TTL uses the same
// value, Mesh Protocol v1.1 §4.2.3.5).
const DefaultTTL uint8 = 0xFF

// MaxTTL is the largest TTL a message may carry (0x7F).
const MaxTTL uint8 = 0x7F

// Context is the message context of an access message, on receive and on
// send (Mesh Protocol v1.1 §3.7.3).
//
// On receive, the upper transport layer fills every field it learned: the
// addresses, the Label UUID when DST is virtual, the NetKey Index of the
// subnet, the AppKey Index or DevKey flag of the key that decrypted the
// message, and RecvTTL. On send, the caller fills Dst, Label (virtual DST),
// the keys and TTL; the Layer sets Src to the sending model's element and
// resolves TTL == DefaultTTL.
type Context struct {
	Src, Dst    mesh.Address
	Label       *[16]byte // Label UUID when Dst is a virtual address
	NetKeyIndex uint16
	AppKeyIndex uint16 // meaningful when DevKey is false
	DevKey      bool   // secured with a device key (own on receive / target's on send)
	RecvTTL     uint8  // TTL the message arrived with (receive only)
	TTL         uint8  // TTL to send with; DefaultTTL means the Default TTL state
	Friendship  bool   // send with friendship credentials (Publish Friendship Credential Flag)
}
