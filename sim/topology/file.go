package topology

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/meshdfu/meshdfu/sim"
)

// Format is the value of a topology file's "format" field.
const Format = "meshdfu-topology/1"

// File is the JSON topology file. Nodes are listed with ids 0..n-1 (in any
// order) and optional positions; links come from Range (every pair of nodes
// within Range metres, both ways, with Loss) and from Links (explicit,
// overriding a range link between the same nodes).
type File struct {
	Format      string     `json:"format"`
	Name        string     `json:"name,omitempty"`
	Range       float64    `json:"range,omitempty"`        // metres; 0: no range links
	FloorHeight float64    `json:"floor_height,omitempty"` // metres; 0: 4
	Loss        sim.Loss   `json:"loss"`                   // loss of range links
	EdgeLoss    float64    `json:"edge_loss,omitempty"`    // see Building.EdgeLoss
	Nodes       []Node     `json:"nodes"`
	Links       []FileLink `json:"links,omitempty"`
}

// FileLink is an explicit link of a topology file.
type FileLink struct {
	From          int      `json:"from"`
	To            int      `json:"to"`
	Loss          sim.Loss `json:"loss"`
	Bidirectional bool     `json:"bidirectional,omitempty"` // also To→From
}

// Load reads a topology file.
func Load(r io.Reader) (*Topology, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("topology: decode: %w", err)
	}
	return f.Topology()
}

// LoadFile reads the topology file at path.
func LoadFile(path string) (*Topology, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	defer fh.Close()
	t, err := Load(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Topology builds the topology the file describes.
func (f *File) Topology() (*Topology, error) {
	if f.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrTopology, f.Format, Format)
	}
	n := len(f.Nodes)
	t := &Topology{Name: f.Name, Nodes: make([]Node, n)}
	seen := make([]bool, n)
	for _, nd := range f.Nodes {
		if nd.ID < 0 || nd.ID >= n || seen[nd.ID] {
			return nil, fmt.Errorf("%w: node id %d (ids must be 0..%d, each once)", ErrTopology, nd.ID, n-1)
		}
		seen[nd.ID] = true
		t.Nodes[nd.ID] = nd
	}
	fh := f.FloorHeight
	if fh == 0 {
		fh = 4
	}
	if f.Range > 0 {
		t.linkInRange(f.Range, fh, f.Loss, f.EdgeLoss)
	}
	for _, l := range f.Links {
		t.setLink(l.From, l.To, l.Loss)
		if l.Bidirectional {
			t.setLink(l.To, l.From, l.Loss)
		}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Topology) setLink(from, to int, loss sim.Loss) {
	i := slices.IndexFunc(t.Links, func(l Link) bool { return l.From == from && l.To == to })
	if i >= 0 {
		t.Links[i].Loss = loss
		return
	}
	t.Links = append(t.Links, Link{From: from, To: to, Loss: loss})
}
