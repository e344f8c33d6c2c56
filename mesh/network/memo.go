package network

import "github.com/meshdfu/meshdfu/mesh/crypto"

// openMemoSize is how many recent results an OpenMemo keeps. A simulated
// medium hands one PDU to every listener before the next, and a few
// transmissions overlap at most, so a handful of entries catch them all.
const openMemoSize = 8

// OpenMemo remembers the last few results of Credentials.Open (network
// PDU deobfuscation and decryption) so that nodes holding the same network
// keys and hearing the same PDU decrypt it once between them. Open is a
// pure function of the keys, the PDU and the IV Index, so a result taken
// from the memo is the one the node would have computed: sharing a memo
// changes how fast nodes run, never what they do.
//
// A simulator that runs many nodes on one executor shares one OpenMemo
// between them (Config.Memo); a real node has no use for it. An OpenMemo
// is not safe for concurrent use. The zero value is ready to use.
type OpenMemo struct {
	entries [openMemoSize]openMemoEntry
	next    int
	// Hits and Misses count lookups, for benchmarks.
	Hits, Misses uint64
}

type openMemoEntry struct {
	used    bool
	nid     uint8
	encKey  crypto.Key
	privKey crypto.Key
	ivIndex uint32
	n       uint8
	pdu     [MaxPDUSize]byte
	h       Header
	tn      uint8
	tp      [MaxAccessTransportSize]byte
	err     error
}

func (e *openMemoEntry) matches(c *Credentials, pdu []byte, ivIndex uint32) bool {
	return e.used && int(e.n) == len(pdu) && e.ivIndex == ivIndex && e.nid == c.nid &&
		string(e.pdu[:e.n]) == string(pdu) && e.encKey == c.encKey && e.privKey == c.privKey
}

// open is c.Open(dst, pdu, ivIndex), from the memo when it holds the
// result. A nil memo just calls c.Open.
func (m *OpenMemo) open(c *Credentials, dst, pdu []byte, ivIndex uint32) (Header, []byte, error) {
	if m == nil || len(pdu) > MaxPDUSize {
		return c.Open(dst, pdu, ivIndex)
	}
	for i := range m.entries {
		// Newest first: the PDU just handed to the previous listener.
		e := &m.entries[(m.next-1-i+2*openMemoSize)%openMemoSize]
		if e.matches(c, pdu, ivIndex) {
			m.Hits++
			return e.h, append(dst, e.tp[:e.tn]...), e.err
		}
	}
	m.Misses++
	h, tp, err := c.Open(dst, pdu, ivIndex)
	tail := tp[len(dst):]
	if len(tail) > MaxAccessTransportSize {
		return h, tp, err // cannot happen with a checked length; do not memoize
	}
	e := &m.entries[m.next]
	m.next = (m.next + 1) % openMemoSize
	*e = openMemoEntry{used: true, nid: c.nid, encKey: c.encKey, privKey: c.privKey, ivIndex: ivIndex,
		n: uint8(len(pdu)), h: h, tn: uint8(len(tail)), err: err}
	copy(e.pdu[:], pdu)
	copy(e.tp[:], tail)
	return h, tp, err
}
