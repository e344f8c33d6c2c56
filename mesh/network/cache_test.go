package network

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
)

func TestCacheBasics(t *testing.T) {
	c := NewCache(0)
	if c.Size() != 2 {
		t.Fatalf("size %d, want the minimum 2", c.Size())
	}
	c = NewCache(3)
	if !c.Add(1, 10, 0) || c.Add(1, 10, 0) || !c.Contains(1, 10, 0) {
		t.Fatal("Add/Contains of one entry")
	}
	if c.Contains(1, 10, 1) || c.Contains(2, 10, 0) || c.Contains(1, 11, 0) {
		t.Fatal("key must combine SRC, SEQ and IV Index")
	}
	c.Add(1, 11, 0)
	c.Add(1, 12, 0)
	c.Add(1, 13, 0) // evicts (1, 10)
	if c.Len() != 3 || c.Contains(1, 10, 0) || !c.Contains(1, 11, 0) || !c.Contains(1, 13, 0) {
		t.Fatal("oldest entry not evicted")
	}
	c.Reset()
	if c.Len() != 0 || c.Contains(1, 11, 0) {
		t.Fatal("Reset kept entries")
	}
}

// TestCacheModel checks the hash table against a plain FIFO under heavy
// collisions and eviction.
func TestCacheModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{2, 3, 7, 16, 100, -100} {
		c := NewCache(max(size, -size))
		if size < 0 {
			// Insertion numbers about to be renumbered.
			size = -size
			c.next = renumberAt - 3*uint32(size)
		}
		var fifo []cacheKey
		for range 20000 {
			k := cacheKey{mesh.Address(r.IntN(4) + 1), uint32(r.IntN(3 * size)), uint32(r.IntN(2))}
			want := !slices.Contains(fifo, k)
			if got := c.Add(k.src, k.seq, k.iv); got != want {
				t.Fatalf("size %d: Add(%v) = %v, want %v", size, k, got, want)
			}
			if want {
				fifo = append(fifo, k)
				if len(fifo) > size {
					fifo = fifo[1:]
				}
			}
			probe := cacheKey{mesh.Address(r.IntN(4) + 1), uint32(r.IntN(3 * size)), uint32(r.IntN(2))}
			if c.Contains(probe.src, probe.seq, probe.iv) != slices.Contains(fifo, probe) {
				t.Fatalf("size %d: Contains(%v) disagrees", size, probe)
			}
			if c.Len() != len(fifo) {
				t.Fatalf("size %d: Len %d, want %d", size, c.Len(), len(fifo))
			}
		}
	}
}

func TestCacheAllocs(t *testing.T) {
	c := NewCache(64)
	seq := uint32(0)
	if n := testing.AllocsPerRun(1000, func() {
		seq++
		c.Add(0x0101, seq, 5)
		c.Contains(0x0101, seq-1, 5)
	}); n != 0 {
		t.Fatalf("%v allocations per Add+Contains, want 0", n)
	}
}
