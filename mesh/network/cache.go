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
// that holds the keys themselves, plus a ring of slot numbers in insertion
// order, so Contains and Add allocate nothing and a lookup reads one
// or two cache lines (a simulator runs a thousand of these, each cold).
type Cache struct {
	slots []cacheSlot
	ring  []int32 // slot of each entry in insertion order; ring[head] is the oldest when full
	head  int
	n     int
	mask  uint32
}

// cacheSlot is one hash table slot: a key, and its place in the ring plus
// one (0: the slot is empty).
type cacheSlot struct {
	key cacheKey
	pos int32
}

// NewCache returns a cache of size entries (at least 2).
func NewCache(size int) *Cache {
	size = max(size, minCacheSize)
	tableSize := 1
	for tableSize < 2*size {
		tableSize <<= 1
	}
	return &Cache{ring: make([]int32, size), slots: make([]cacheSlot, tableSize), mask: uint32(tableSize - 1)}
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

// find returns the slot holding k, or -1 and the first empty slot of
// k's probe run.
func (c *Cache) find(k cacheKey) (int, uint32) {
	for i := c.home(k); ; i = (i + 1) & c.mask {
		s := &c.slots[i]
		if s.pos == 0 {
			return -1, i
		}
		if s.key == k {
			return int(i), i
		}
	}
}

// Contains reports whether the PDU (src, seq, iv) is in the cache.
func (c *Cache) Contains(src mesh.Address, seq, iv uint32) bool {
	i, _ := c.find(cacheKey{src, seq, iv})
	return i >= 0
}

// Add records the PDU (src, seq, iv) and reports true, or reports false
// and changes nothing if it was already there. When the cache is full the
// oldest entry goes.
func (c *Cache) Add(src mesh.Address, seq, iv uint32) bool {
	k := cacheKey{src, seq, iv}
	i, empty := c.find(k)
	if i >= 0 {
		return false
	}
	var pos int
	if c.n == len(c.ring) {
		pos = c.head
		c.remove(uint32(c.ring[pos]))
		// The removal may have emptied or moved slots of k's probe run.
		_, empty = c.find(k)
		c.head = (c.head + 1) % len(c.ring)
	} else {
		pos = (c.head + c.n) % len(c.ring)
		c.n++
	}
	c.slots[empty] = cacheSlot{key: k, pos: int32(pos + 1)}
	c.ring[pos] = int32(empty)
	return true
}

// remove empties slot i and shifts later entries of its probe run back so
// that every entry stays reachable from its home slot.
func (c *Cache) remove(i uint32) {
	hole := i
	for j := (hole + 1) & c.mask; c.slots[j].pos != 0; j = (j + 1) & c.mask {
		h := c.home(c.slots[j].key)
		// The entry at j may move to hole if its home is not in (hole, j]
		// cyclically.
		if (j-h)&c.mask >= (j-hole)&c.mask {
			c.slots[hole] = c.slots[j]
			c.ring[c.slots[hole].pos-1] = int32(hole)
			hole = j
		}
	}
	c.slots[hole] = cacheSlot{}
}

// Reset empties the cache.
func (c *Cache) Reset() {
	clear(c.slots)
	c.head, c.n = 0, 0
}
