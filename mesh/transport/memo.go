package transport

import "github.com/meshdfu/meshdfu/mesh/crypto"

// accessMemoSize is how many recent results an AccessMemo keeps (see
// network.OpenMemo: a simulated medium hands one PDU to every listener in
// turn).
const accessMemoSize = 4

// AccessMemo remembers the last few results of DecryptAccess (upper
// transport decryption with an AppKey or DevKey) so that nodes holding the
// same key and receiving the same message decrypt it once between them.
// DecryptAccess is a pure function of the key, the nonce fields, the Label
// UUID and the PDU, so a result taken from the memo is the one the node
// would have computed: sharing a memo changes how fast nodes run, never
// what they do.
//
// A simulator that runs many nodes on one executor shares one AccessMemo
// between them (Config.Memo); a real node has no use for it. An
// AccessMemo is not safe for concurrent use. The zero value is ready to
// use.
type AccessMemo struct {
	entries [accessMemoSize]accessMemoEntry
	next    int
	// Hits and Misses count lookups, for benchmarks.
	Hits, Misses uint64
}

type accessMemoEntry struct {
	used     bool
	key      crypto.Key
	c        AccessCrypto // Label nil: see label
	hasLabel bool
	label    [16]byte
	upperN   int
	upper    [MaxUpperAccessPDU]byte
	outN     int
	out      [MaxUpperAccessPDU]byte
	err      error
}

func (e *accessMemoEntry) matches(key *crypto.Key, c *AccessCrypto, upper []byte) bool {
	if !e.used || e.upperN != len(upper) || e.c.Seq != c.Seq || e.c.Src != c.Src || e.c.Dst != c.Dst ||
		e.c.IVIndex != c.IVIndex || e.c.DevKey != c.DevKey || e.c.SZMIC != c.SZMIC || e.hasLabel != (c.Label != nil) {
		return false
	}
	if c.Label != nil && *c.Label != e.label {
		return false
	}
	return e.key == *key && string(e.upper[:e.upperN]) == string(upper)
}

// decrypt is DecryptAccess(dst, l.ccm(key), c, upper), from the memo when
// it holds the result. A nil memo just decrypts.
func (m *AccessMemo) decrypt(l *Layer, dst []byte, key crypto.Key, c *AccessCrypto, upper []byte) ([]byte, error) {
	if m == nil || len(upper) > MaxUpperAccessPDU {
		return DecryptAccess(dst, l.ccm(key), c, upper)
	}
	for i := range m.entries {
		// Newest first: the message just handed to the previous listener.
		e := &m.entries[(m.next-1-i+2*accessMemoSize)%accessMemoSize]
		if e.matches(&key, c, upper) {
			m.Hits++
			return append(dst, e.out[:e.outN]...), e.err
		}
	}
	m.Misses++
	out, err := DecryptAccess(dst, l.ccm(key), c, upper)
	tail := out[len(dst):]
	if len(tail) > MaxUpperAccessPDU {
		return out, err // cannot happen: the plaintext is shorter than the PDU
	}
	e := &m.entries[m.next]
	m.next = (m.next + 1) % accessMemoSize
	e.used, e.key, e.c, e.hasLabel = true, key, *c, c.Label != nil
	e.c.Label = nil
	if c.Label != nil {
		e.label = *c.Label
	}
	e.upperN = copy(e.upper[:], upper)
	e.outN = copy(e.out[:], tail)
	e.err = err
	return out, err
}
