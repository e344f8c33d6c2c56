package topology

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/sim"
)

func TestLine_Hops(t *testing.T) {
	tp := Line(6, sim.Loss{})
	if got, want := tp.Hops(0), []int{0, 1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("Hops = %v, want %v", got, want)
	}
	if tp.Eccentricity(2) != 3 || !tp.Connected() {
		t.Fatal("eccentricity or connectivity wrong")
	}
	relays := tp.DominatingRelays()
	if want := []bool{false, true, true, true, true, false}; !slices.Equal(relays, want) {
		t.Fatalf("relays %v, want %v", relays, want)
	}
}

func TestSingleHop(t *testing.T) {
	tp := SingleHop(5, sim.Loss{})
	if len(tp.Links) != 20 || tp.Eccentricity(3) != 1 {
		t.Fatalf("links %d ecc %d", len(tp.Links), tp.Eccentricity(3))
	}
	if n := count(tp.DominatingRelays()); n != 1 {
		t.Fatalf("%d relays in a clique, want 1", n)
	}
}

func TestGrid_Neighbourhoods(t *testing.T) {
	g4 := Grid(3, 4, 1, sim.Loss{})
	g8 := Grid(3, 4, 1.5, sim.Loss{})
	// 4-neighbourhood: 3·3 + 2·4 undirected edges; 8 adds 2·2·3 diagonals.
	if len(g4.Links) != 2*(9+8) || len(g8.Links) != 2*(9+8+12) {
		t.Fatalf("links %d and %d", len(g4.Links), len(g8.Links))
	}
	if g4.Eccentricity(0) != 5 || g8.Eccentricity(0) != 3 {
		t.Fatalf("eccentricity %d and %d", g4.Eccentricity(0), g8.Eccentricity(0))
	}
	checkDominating(t, g4)
	checkDominating(t, g8)
}

func TestRandomBuilding_Deterministic(t *testing.T) {
	b := Building{Nodes: 50, Width: 60, Height: 30, Floors: 2, Range: 15, Loss: sim.Independent(0.1), EdgeLoss: 0.4}
	a, c := RandomBuilding(b, 7), RandomBuilding(b, 7)
	if !slices.Equal(a.Nodes, c.Nodes) || len(a.Links) != len(c.Links) {
		t.Fatal("same seed, different building")
	}
	if d := RandomBuilding(b, 8); slices.Equal(a.Nodes, d.Nodes) {
		t.Fatal("different seed, same building")
	}
	for _, l := range a.Links {
		if l.Loss.P < 0.1 || l.Loss.P > 0.4 {
			t.Fatalf("link loss %v outside [0.1, 0.4]", l.Loss.P)
		}
	}
	checkDominating(t, a)
}

func TestLoadFile_Example(t *testing.T) {
	tp, err := LoadFile("testdata/office.json")
	if err != nil {
		t.Fatal(err)
	}
	if tp.Len() != 5 {
		t.Fatalf("%d nodes", tp.Len())
	}
	find := func(a, b int) *Link {
		for i := range tp.Links {
			if tp.Links[i].From == a && tp.Links[i].To == b {
				return &tp.Links[i]
			}
		}
		return nil
	}
	if l := find(2, 4); l == nil || !l.Loss.IsBursty() {
		t.Fatalf("2→4 = %+v, want explicit bursty link", l)
	}
	if l := find(0, 4); l == nil || l.Loss.P != 0.5 {
		t.Fatalf("0→4 = %+v", l)
	}
	if l := find(0, 1); l == nil || l.Loss.P <= 0.05 {
		t.Fatalf("range link 0→1 = %+v", l)
	}
	m := sim.NewMedium(sim.New(1), sim.MediumConfig{})
	if err := tp.Apply(m); err != nil || m.Len() != 5 {
		t.Fatalf("Apply: %v, %d nodes", err, m.Len())
	}
}

func TestLoad_Errors(t *testing.T) {
	for name, js := range map[string]string{
		"format":        `{"format":"x","nodes":[]}`,
		"duplicate id":  `{"format":"meshdfu-topology/1","nodes":[{"id":0},{"id":0}]}`,
		"id range":      `{"format":"meshdfu-topology/1","nodes":[{"id":1}]}`,
		"unknown node":  `{"format":"meshdfu-topology/1","nodes":[{"id":0}],"links":[{"from":0,"to":3}]}`,
		"self link":     `{"format":"meshdfu-topology/1","nodes":[{"id":0}],"links":[{"from":0,"to":0}]}`,
		"bad loss":      `{"format":"meshdfu-topology/1","nodes":[{"id":0},{"id":1}],"links":[{"from":0,"to":1,"loss":{"p":2}}]}`,
		"unknown field": `{"format":"meshdfu-topology/1","nodes":[],"extra":1}`,
	} {
		if _, err := Load(strings.NewReader(js)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := Load(strings.NewReader(`{"format":"meshdfu-topology/1","nodes":[{"id":1}]}`))
	if !errors.Is(err, ErrTopology) {
		t.Errorf("err = %v, want ErrTopology", err)
	}
}

func FuzzLoad(f *testing.F) {
	b, _ := os.ReadFile("testdata/office.json")
	f.Add(b)
	f.Add([]byte(`{"format":"meshdfu-topology/1","range":1,"nodes":[{"id":0},{"id":1,"x":0.5}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tp, err := Load(bytes.NewReader(b))
		if err != nil {
			return
		}
		if err := tp.Validate(); err != nil {
			t.Fatalf("Load returned an invalid topology: %v", err)
		}
	})
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// checkDominating asserts the relays dominate the graph and that flooding
// through relays alone reaches every node reachable at all.
func checkDominating(t *testing.T, tp *Topology) {
	t.Helper()
	relays := tp.DominatingRelays()
	adj := tp.Adjacency()
	for u := range adj {
		if relays[u] || len(adj[u]) == 0 {
			continue
		}
		if !slices.ContainsFunc(adj[u], func(v int) bool { return relays[v] }) {
			t.Fatalf("node %d has no relay neighbour", u)
		}
	}
	for src := range adj {
		full := tp.Hops(src)
		seen := make([]bool, len(adj))
		seen[src] = true
		frontier := []int{src}
		for len(frontier) > 0 {
			u := frontier[0]
			frontier = frontier[1:]
			for _, v := range adj[u] {
				if !seen[v] {
					seen[v] = true
					if relays[v] {
						frontier = append(frontier, v)
					}
				}
			}
		}
		for v, d := range full {
			if d >= 0 && !seen[v] {
				t.Fatalf("flooding from %d through relays misses %d", src, v)
			}
		}
	}
}
