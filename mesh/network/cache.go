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
// do not involve TTL or NetMIC, which change when a PDU is relayed.
//
// It is an open-addressing hash table (linear probing) of at least four
// slots per entry that holds the keys with their insertion number: an
// entry is in the cache while fewer than Size keys were added after it.
// An entry that expired stays in its slot until a later key reuses it or
// the table, half full, is swept, so an Add reads one cache line and
// never the oldest entry's (a simulator runs a thousand caches, each
// cold), and Contains and Add allocate nothing.
type Cache struct {
	slots   []cacheSlot
	size    int    // capacity
	next    uint32 // insertion number of the next Add; from 1
	added   int    // keys added since the last Reset, up to size
	used    int    // slots not empty (live or expired)
	mask    uint32
	scratch []cacheSlot // live entries during a sweep
}

// cacheSlot is one hash table slot: a key and its insertion number (0:
// the slot is empty).
type cacheSlot struct {
	key    cacheKey
	serial uint32
}

// renumberAt is the insertion number at which a sweep renumbers the live
// entries from 1, long before uint32 wraps.
const renumberAt = 1 << 31

// NewCache returns a cache of size entries (at least 2).
func NewCache(size int) *Cache {
	size = max(size, minCacheSize)
	tableSize := 1
	for tableSize < 2*size {
		tableSize <<= 1
	}
	return &Cache{slots: make([]cacheSlot, tableSize), size: size, next: 1, mask: uint32(tableSize - 1),
		scratch: make([]cacheSlot, 0, size)}
}

// Size returns the capacity.
func (c *Cache) Size() int { return c.size }

// Len returns the number of entries.
func (c *Cache) Len() int { return c.added }

func (c *Cache) home(k cacheKey) uint32 {
	h := uint32(k.src)<<16 ^ k.seq*0x9e3779b1 ^ k.iv*0x85ebca6b
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return h & c.mask
}

// live reports whether slot s holds an entry still in the cache.
func (c *Cache) live(s *cacheSlot) bool {
	return s.serial != 0 && c.next-s.serial <= uint32(c.size)
}

// find returns the slot holding k, or -1 and the first slot of k's probe
// run that is empty or expired (where k goes).
func (c *Cache) find(k cacheKey) (int, uint32) {
	free, haveFree := uint32(0), false
	for i := c.home(k); ; i = (i + 1) & c.mask {
		s := &c.slots[i]
		if s.serial == 0 {
			if !haveFree {
				free = i
			}
			return -1, free
		}
		if c.live(s) {
			if s.key == k {
				return int(i), i
			}
		} else if !haveFree {
			free, haveFree = i, true
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
	i, free := c.find(k)
	if i >= 0 {
		return false
	}
	if c.slots[free].serial == 0 {
		c.used++
	}
	c.slots[free] = cacheSlot{key: k, serial: c.next}
	c.next++
	c.added = min(c.added+1, c.size)
	if 4*c.used > 3*len(c.slots) || c.next >= renumberAt {
		c.sweep()
	}
	return true
}

// sweep empties the slots of expired entries and puts the live ones back
// (renumbered from 1 when the insertion numbers grew large).
func (c *Cache) sweep() {
	live := c.scratch[:0]
	for i := range c.slots {
		if c.live(&c.slots[i]) {
			live = append(live, c.slots[i])
		}
	}
	clear(c.slots)
	if c.next >= renumberAt {
		// Live entries are the last len(live) added: keep their order.
		base := c.next - 1 - uint32(c.size)
		for j := range live {
			live[j].serial -= base
		}
		c.next -= base
	}
	for _, e := range live {
		i := c.home(e.key)
		for c.slots[i].serial != 0 {
			i = (i + 1) & c.mask
		}
		c.slots[i] = e
	}
	c.used = len(live)
	c.scratch = live[:0]
}

// Reset empties the cache.
func (c *Cache) Reset() {
	clear(c.slots)
	c.next, c.added, c.used = 1, 0, 0
}
