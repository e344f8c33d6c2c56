package network

import "github.com/meshdfu/meshdfu/mesh"

// DefaultCacheSize is the Network Message Cache size when Config.CacheSize
// is 0. The spec asks for at least 2 entries, sized to the network's
// density (§3.4.6.5); Zephyr defaults to 32. DFU traffic is dense (many
// segments in flight through relays), hence a larger default.
const DefaultCacheSize = 128

// minCacheSize is the spec's minimum number of entries.
const minCacheSize = 2

type cacheKey struct {
	src mesh.Address
	seq uint32
	iv  uint32
}

// Cache is the Network Message Cache (§3.4.6.5): a bounded set of
// (SRC, SEQ, IV Index) keys that forgets the oldest entry when full. Keys
// do not involve TTL or NetMIC, which change when a PDU is relayed. It is
// an open-addressing hash table (linear probing, backward-shift deletion)
// over a ring of entries in insertion order, so Contains and Add allocate
// nothing.
type Cache struct {
	ring  []cacheKey // insertion order; ring[head] is the oldest when full
	head  int
	n     int
	slots []int32 // index into ring plus one; 0 is empty
	mask  uint32
}

// NewCache returns a cache of size entries (at least 2).
func NewCache(size int) *Cache {
	size = max(size, minCacheSize)
	tableSize := 1
	for tableSize < 2*size {
		tableSize <<= 1
	}
	return &Cache{ring: make([]cacheKey, size), slots: make([]int32, tableSize), mask: uint32(tableSize - 1)}
}

// Size returns the capacity.
func (c *Cache) Size() int { return len(c.ring) }

// Len returns the number of entries.
func (c *Cache) Len() int { return c.n }

func (c *Cache) home(k cacheKey) uint32 {
	h := uint32(k.src)<<16 ^ k.seq*0x9e3779b1 ^ k.iv*0x85ebca6b
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return h & c.mask
}

// find returns the slot holding k, or -1.
func (c *Cache) find(k cacheKey) int {
	for i := c.home(k); ; i = (i + 1) & c.mask {
		s := c.slots[i]
		if s == 0 {
			return -1
		}
		if c.ring[s-1] == k {
			return int(i)
		}
	}
}

// Contains reports whether the PDU (src, seq, iv) is in the cache.
func (c *Cache) Contains(src mesh.Address, seq, iv uint32) bool {
	return c.find(cacheKey{src, seq, iv}) >= 0
}

// Add records the PDU (src, seq, iv) and reports true, or reports false
// and changes nothing if it was already there. When the cache is full the
// oldest entry goes.
func (c *Cache) Add(src mesh.Address, seq, iv uint32) bool {
	k := cacheKey{src, seq, iv}
	if c.find(k) >= 0 {
		return false
	}
	var pos int
	if c.n == len(c.ring) {
		pos = c.head
		c.remove(c.find(c.ring[pos]))
		c.head = (c.head + 1) % len(c.ring)
	} else {
		pos = (c.head + c.n) % len(c.ring)
		c.n++
	}
	c.ring[pos] = k
	i := c.home(k)
	for c.slots[i] != 0 {
		i = (i + 1) & c.mask
	}
	c.slots[i] = int32(pos + 1)
	return true
}

// remove empties slot i and shifts later entries of its probe run back so
// that every entry stays reachable from its home slot.
func (c *Cache) remove(i int) {
	hole := uint32(i)
	for j := (hole + 1) & c.mask; c.slots[j] != 0; j = (j + 1) & c.mask {
		h := c.home(c.ring[c.slots[j]-1])
		// The entry at j may move to hole if its home is not in (hole, j]
		// cyclically.
		if (j-h)&c.mask >= (j-hole)&c.mask {
			c.slots[hole] = c.slots[j]
			hole = j
		}
	}
	c.slots[hole] = 0
}

// Reset empties the cache.
func (c *Cache) Reset() {
	clear(c.slots)
	c.head, c.n = 0, 0
}
