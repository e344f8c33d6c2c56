package topology

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/meshdfu/meshdfu/sim"
)

// ErrTopology reports an invalid topology.
var ErrTopology = errors.New("topology: invalid")

// Node is a node's place. Positions are in metres; a topology without
// geometry leaves them zero.
type Node struct {
	ID    int     `json:"id"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Floor int     `json:"floor,omitempty"`
}

// Link is a directed radio link: To hears From with the given loss.
type Link struct {
	From int      `json:"from"`
	To   int      `json:"to"`
	Loss sim.Loss `json:"loss"`
}

// Topology is a set of nodes 0..len(Nodes)-1 and directed links between them.
type Topology struct {
	Name  string `json:"name,omitempty"`
	Nodes []Node `json:"nodes"`
	Links []Link `json:"links"`
}

// Len returns the number of nodes.
func (t *Topology) Len() int { return len(t.Nodes) }

// Validate checks node IDs are 0..n-1 in order and links are between
// distinct known nodes with valid loss.
func (t *Topology) Validate() error {
	for i, n := range t.Nodes {
		if n.ID != i {
			return fmt.Errorf("%w: node %d has id %d (ids must be 0..n-1 in order)", ErrTopology, i, n.ID)
		}
	}
	for _, l := range t.Links {
		if l.From < 0 || l.From >= len(t.Nodes) || l.To < 0 || l.To >= len(t.Nodes) || l.From == l.To {
			return fmt.Errorf("%w: link %d→%d", ErrTopology, l.From, l.To)
		}
		if err := l.Loss.Validate(); err != nil {
			return fmt.Errorf("topology: link %d→%d: %w", l.From, l.To, err)
		}
	}
	return nil
}

// Apply adds the nodes and links to m.
func (t *Topology) Apply(m *sim.Medium) error {
	if err := t.Validate(); err != nil {
		return err
	}
	m.AddNodes(len(t.Nodes))
	for _, l := range t.Links {
		if err := m.SetLink(sim.NodeID(l.From), sim.NodeID(l.To), l.Loss); err != nil {
			return err
		}
	}
	return nil
}

// connect adds links both ways.
func (t *Topology) connect(a, b int, loss sim.Loss) {
	t.Links = append(t.Links, Link{From: a, To: b, Loss: loss}, Link{From: b, To: a, Loss: loss})
}

func nodes(n int) []Node {
	out := make([]Node, n)
	for i := range out {
		out[i].ID = i
	}
	return out
}

// SingleHop returns n nodes that all hear each other.
func SingleHop(n int, loss sim.Loss) *Topology {
	t := &Topology{Name: fmt.Sprintf("single-hop-%d", n), Nodes: nodes(n)}
	for i := 0; i < n; i++ {
		t.Nodes[i].X = float64(i)
		for j := i + 1; j < n; j++ {
			t.connect(i, j, loss)
		}
	}
	return t
}

// Line returns n nodes in a row 1 m apart, each hearing only its neighbours:
// node 0 is n-1 hops from node n-1.
func Line(n int, loss sim.Loss) *Topology {
	t := &Topology{Name: fmt.Sprintf("line-%d", n), Nodes: nodes(n)}
	for i := 0; i < n; i++ {
		t.Nodes[i].X = float64(i)
		if i > 0 {
			t.connect(i-1, i, loss)
		}
	}
	return t
}

// Grid returns rows×cols nodes 1 m apart (node r*cols+c at x=c, y=r), linked
// when their distance is at most rng: 1 gives the 4-neighbourhood, 1.5 the
// 8-neighbourhood (0 means 1).
func Grid(rows, cols int, rng float64, loss sim.Loss) *Topology {
	if rng <= 0 {
		rng = 1
	}
	t := &Topology{Name: fmt.Sprintf("grid-%dx%d", rows, cols), Nodes: nodes(rows * cols)}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			t.Nodes[r*cols+c].X, t.Nodes[r*cols+c].Y = float64(c), float64(r)
		}
	}
	reach := int(math.Floor(rng))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			a := r*cols + c
			for dr := 0; dr <= reach; dr++ {
				for dc := -reach; dc <= reach; dc++ {
					if dr == 0 && dc <= 0 {
						continue
					}
					r2, c2 := r+dr, c+dc
					if r2 >= rows || c2 < 0 || c2 >= cols || math.Hypot(float64(dr), float64(dc)) > rng+1e-9 {
						continue
					}
					t.connect(a, r2*cols+c2, loss)
				}
			}
		}
	}
	return t
}

// Building configures a random building.
type Building struct {
	Nodes       int      // number of nodes
	Width       float64  // metres (x)
	Height      float64  // metres (y)
	Floors      int      // 0 means 1
	FloorHeight float64  // metres between floors; 0 means 4
	Range       float64  // radio range in metres (3-D distance)
	Loss        sim.Loss // loss of every link (at distance 0 if EdgeLoss is set)
	// EdgeLoss, when above Loss.P, makes independent loss rise with distance:
	// p(d) = Loss.P + (EdgeLoss − Loss.P)·(d/Range)².
	EdgeLoss float64
}

// RandomBuilding places b.Nodes nodes uniformly at random (from seed) on the
// floors of a Width×Height building and links every pair within Range.
func RandomBuilding(b Building, seed uint64) *Topology {
	floors := max(b.Floors, 1)
	fh := b.FloorHeight
	if fh == 0 {
		fh = 4
	}
	r := rand.New(rand.NewPCG(seed, 0x6275696c64696e67)) // "building"
	t := &Topology{Name: fmt.Sprintf("building-%d", b.Nodes), Nodes: nodes(b.Nodes)}
	for i := range t.Nodes {
		t.Nodes[i].X = r.Float64() * b.Width
		t.Nodes[i].Y = r.Float64() * b.Height
		t.Nodes[i].Floor = r.IntN(floors)
	}
	t.linkInRange(b.Range, fh, b.Loss, b.EdgeLoss)
	return t
}

// linkInRange links every pair of nodes within rng metres.
func (t *Topology) linkInRange(rng, floorHeight float64, loss sim.Loss, edge float64) {
	for i := range t.Nodes {
		for j := i + 1; j < len(t.Nodes); j++ {
			d := distance(t.Nodes[i], t.Nodes[j], floorHeight)
			if d > rng {
				continue
			}
			l := loss
			if !l.IsBursty() && edge > l.P && rng > 0 {
				f := d / rng
				l.P += (edge - l.P) * f * f
			}
			t.connect(i, j, l)
		}
	}
}

func distance(a, b Node, floorHeight float64) float64 {
	dz := float64(a.Floor-b.Floor) * floorHeight
	return math.Sqrt((a.X-b.X)*(a.X-b.X) + (a.Y-b.Y)*(a.Y-b.Y) + dz*dz)
}

// Adjacency returns each node's out-neighbours, sorted.
func (t *Topology) Adjacency() [][]int {
	adj := make([][]int, len(t.Nodes))
	for _, l := range t.Links {
		if !slices.Contains(adj[l.From], l.To) {
			adj[l.From] = append(adj[l.From], l.To)
		}
	}
	for _, a := range adj {
		slices.Sort(a)
	}
	return adj
}

// Hops returns the hop distance from src to every node along directed
// links (BFS); unreachable nodes get -1.
func (t *Topology) Hops(src int) []int {
	adj := t.Adjacency()
	dist := make([]int, len(t.Nodes))
	for i := range dist {
		dist[i] = -1
	}
	if src < 0 || src >= len(dist) {
		return dist
	}
	dist[src] = 0
	queue := []int{src}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range adj[u] {
			if dist[v] < 0 {
				dist[v] = dist[u] + 1
				queue = append(queue, v)
			}
		}
	}
	return dist
}

// Eccentricity returns the largest hop distance from src, or -1 if some
// node is unreachable from it.
func (t *Topology) Eccentricity(src int) int {
	m := 0
	for _, d := range t.Hops(src) {
		if d < 0 {
			return -1
		}
		m = max(m, d)
	}
	return m
}

// Connected reports whether every node reaches every other.
func (t *Topology) Connected() bool {
	for i := range t.Nodes {
		if t.Eccentricity(i) < 0 {
			return false
		}
	}
	return true
}

// AllRelays returns a relay set with every node relaying.
func (t *Topology) AllRelays() []bool {
	out := make([]bool, len(t.Nodes))
	for i := range out {
		out[i] = true
	}
	return out
}

// DominatingRelays returns a connected dominating set of the undirected
// graph of the links (a link either way counts), chosen greedily: start at
// the node with most neighbours, then repeatedly add the covered node that
// covers the most uncovered ones. Every node is a relay or next to one, and
// the relays of a connected component are connected, so flooding through
// them alone reaches everyone. Ties break by lower ID, so the result is
// deterministic. Not minimal, but usually close (a log-factor bound).
func (t *Topology) DominatingRelays() []bool {
	n := len(t.Nodes)
	adj := make([][]int, n)
	for _, l := range t.Links {
		if !slices.Contains(adj[l.From], l.To) {
			adj[l.From] = append(adj[l.From], l.To)
			adj[l.To] = append(adj[l.To], l.From)
		}
	}
	const (
		white = iota // uncovered
		gray         // covered, not a relay
		black        // relay
	)
	color := make([]int, n)
	relay := make([]bool, n)
	gain := func(u int) int {
		g := 0
		if color[u] == white {
			g++
		}
		for _, v := range adj[u] {
			if color[v] == white {
				g++
			}
		}
		return g
	}
	blacken := func(u int) {
		color[u], relay[u] = black, true
		for _, v := range adj[u] {
			if color[v] == white {
				color[v] = gray
			}
		}
	}
	for {
		// Seed a component: the uncovered node with the most neighbours.
		seed, best := -1, -1
		for u := 0; u < n; u++ {
			if color[u] == white && len(adj[u]) > best {
				seed, best = u, len(adj[u])
			}
		}
		if seed < 0 {
			break
		}
		if len(adj[seed]) == 0 {
			color[seed] = gray // isolated: nothing to relay to
			continue
		}
		blacken(seed)
		for {
			pick, bestGain := -1, 0
			for u := 0; u < n; u++ {
				if color[u] == gray {
					if g := gain(u); g > bestGain {
						pick, bestGain = u, g
					}
				}
			}
			if pick < 0 {
				break
			}
			blacken(pick)
		}
	}
	return relay
}
