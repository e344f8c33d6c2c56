package network

import "fmt"

// IVState is the node's IV Index and IV Update flag (Mesh Protocol v1.1
// §3.10.5). The IV Index is network-wide, shared by every subnet:
//
//	state         Index  Updating  accepted on receive  used to transmit
//	Normal        n      false     n−1, n               n
//	In Progress   n+1    true      n, n+1               n
type IVState struct {
	Index    uint32
	Updating bool // IV Update in Progress
}

// TxIndex returns the IV Index to transmit with: Index−1 during an IV
// Update, Index otherwise.
func (s IVState) TxIndex() uint32 {
	if s.Updating && s.Index > 0 {
		return s.Index - 1
	}
	return s.Index
}

// RxIndex returns the IV Index a received PDU with IVI ivi was sent with:
// Index when ivi equals the least significant bit of Index, Index−1
// otherwise (§3.4.4.1). With Index 0 and ivi 1 the result wraps to
// 0xFFFFFFFF; use Accepts to reject that case.
func (s IVState) RxIndex(ivi uint8) uint32 {
	if uint32(ivi&1) == s.Index&1 {
		return s.Index
	}
	return s.Index - 1
}

// Accepts reports whether a PDU with IVI ivi can be from a valid IV Index:
// false only when it would need Index−1 and Index is 0.
func (s IVState) Accepts(ivi uint8) bool {
	return uint32(ivi&1) == s.Index&1 || s.Index > 0
}

// String prints "0x12345678 normal" or "0x12345678 updating".
func (s IVState) String() string {
	if s.Updating {
		return fmt.Sprintf("0x%08x updating", s.Index)
	}
	return fmt.Sprintf("0x%08x normal", s.Index)
}
