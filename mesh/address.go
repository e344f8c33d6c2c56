package mesh

import (
	"fmt"
	"log/slog"
)

// Address is a 16-bit mesh address (Mesh Protocol v1.1 §3.4.2).
//
//	0x0000            unassigned
//	0x0001 – 0x7FFF   unicast
//	0x8000 – 0xBFFF   virtual
//	0xC000 – 0xFFFF   group (0xFF00 – 0xFFFF fixed groups)
type Address uint16

// Fixed and special addresses.
const (
	AddrUnassigned      Address = 0x0000
	AddrAllDirectedFwd  Address = 0xFFFB // all-directed-forwarding-nodes
	AddrAllProxies      Address = 0xFFFC // all-proxies
	AddrAllFriends      Address = 0xFFFD // all-friends
	AddrAllRelays       Address = 0xFFFE // all-relays
	AddrAllNodes        Address = 0xFFFF // all-nodes
	firstFixedGroup     Address = 0xFF00
	firstVirtualAddress Address = 0x8000
	firstGroupAddress   Address = 0xC000
)

// IsUnassigned reports whether a is the unassigned address 0x0000.
func (a Address) IsUnassigned() bool { return a == AddrUnassigned }

// IsUnicast reports whether a is a unicast (element) address.
func (a Address) IsUnicast() bool { return a != 0 && a < firstVirtualAddress }

// IsVirtual reports whether a is a virtual address (hash of a Label UUID).
func (a Address) IsVirtual() bool { return a >= firstVirtualAddress && a < firstGroupAddress }

// IsGroup reports whether a is a group address, fixed or dynamic.
func (a Address) IsGroup() bool { return a >= firstGroupAddress }

// IsFixedGroup reports whether a is in the fixed-group range 0xFF00–0xFFFF.
func (a Address) IsFixedGroup() bool { return a >= firstFixedGroup }

// String prints the address as 0x%04x.
func (a Address) String() string { return fmt.Sprintf("0x%04x", uint16(a)) }

// LogValue makes slog print the address as 0x%04x.
func (a Address) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Kind names the address type: "unassigned", "unicast", "virtual" or "group".
func (a Address) Kind() string {
	switch {
	case a.IsUnassigned():
		return "unassigned"
	case a.IsUnicast():
		return "unicast"
	case a.IsVirtual():
		return "virtual"
	default:
		return "group"
	}
}
