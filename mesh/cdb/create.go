package cdb

import (
	"fmt"
	"io"

	"github.com/meshdfu/meshdfu/mesh"
)

// NewNetwork returns a fresh network named name: a random mesh UUID, one
// NetKey (index 0) and one AppKey (index 0, bound to it), and one
// provisioner owning the whole unicast (0001–7FFF), dynamic group
// (C000–FEFF) and scene (0001–FFFF) spaces. Key material and UUIDs are read
// from rand (crypto/rand.Reader in tools; a seeded reader in the
// simulator). The provisioner is not a node: add it with AddNode if it
// takes part. The timestamp is left zero; set it with Touch.
func NewNetwork(name string, rand io.Reader) (*Database, error) {
	var meshUUID, provUUID UUID
	var netKey, appKey Key
	for _, b := range [][]byte{meshUUID[:], provUUID[:], netKey[:], appKey[:]} {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, fmt.Errorf("cdb: new network: %w", err)
		}
	}
	versionUUID(&meshUUID)
	versionUUID(&provUUID)
	return &Database{
		Schema:   JSONSchema,
		ID:       SchemaID101,
		Version:  Version101,
		MeshUUID: meshUUID,
		MeshName: name,
		NetKeys:  []NetKey{{Name: "Primary Network Key", Index: 0, Key: &netKey, MinSecurity: SecuritySecure}},
		AppKeys:  []AppKey{{Name: "Application Key 1", Index: 0, BoundNetKey: 0, Key: &appKey}},
		Provisioners: []Provisioner{{
			Name:                  name + " provisioner",
			UUID:                  provUUID,
			AllocatedUnicastRange: []Range{{0x0001, lastUnicast}},
			AllocatedGroupRange:   []Range{{firstGroup, lastDynamicGrp}},
			AllocatedSceneRange:   []SceneRange{{0x0001, 0xFFFF}},
		}},
		Nodes:  []*Node{},
		Groups: []Group{},
		Scenes: []Scene{},
	}, nil
}

// versionUUID marks 16 random octets as an RFC 4122 version 4 UUID.
func versionUUID(u *UUID) {
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
}

// NewNode describes a node for AddNode. Zero fields take the documented
// defaults.
type NewNode struct {
	Name     string
	Elements int          // 0: 1
	UUID     *UUID        // nil: random
	Address  mesh.Address // 0: the lowest free range of the first provisioner
	NetKeys  []uint16     // nil: [0]
	AppKeys  []uint16     // nil: every AppKey bound to one of NetKeys
	Models   [][]ModelID  // per element, optional
}

// AddNode adds a provisioned node with a fresh device key (and UUID) read
// from rand, Elements consecutive unicast addresses, and the NetKeys and
// AppKeys it holds. It returns the node, already in d.Nodes.
func (d *Database) AddNode(rand io.Reader, nn NewNode) (*Node, error) {
	count := max(nn.Elements, 1)
	if count > maxElements {
		return nil, fmt.Errorf("%w: %d elements, at most %d", ErrInvalid, count, maxElements)
	}
	addr := nn.Address
	if addr == 0 {
		var err error
		if addr, err = d.FreeUnicast(count); err != nil {
			return nil, err
		}
	}
	n := &Node{
		UnicastAddress: Address(addr),
		Security:       SecuritySecure,
		Name:           nn.Name,
		ConfigComplete: false,
	}
	if nn.UUID != nil {
		n.UUID = *nn.UUID
	} else {
		if _, err := io.ReadFull(rand, n.UUID[:]); err != nil {
			return nil, fmt.Errorf("cdb: add node: %w", err)
		}
		versionUUID(&n.UUID)
	}
	var dk Key
	if _, err := io.ReadFull(rand, dk[:]); err != nil {
		return nil, fmt.Errorf("cdb: add node: %w", err)
	}
	n.DeviceKey = &dk
	nets := nn.NetKeys
	if nets == nil {
		nets = []uint16{0}
	}
	for _, i := range nets {
		n.NetKeys = append(n.NetKeys, NodeKey{Index: i})
	}
	if nn.AppKeys != nil {
		for _, i := range nn.AppKeys {
			n.AppKeys = append(n.AppKeys, NodeKey{Index: i})
		}
	} else {
		for _, k := range d.AppKeys {
			for _, ni := range nets {
				if k.BoundNetKey == ni {
					n.AppKeys = append(n.AppKeys, NodeKey{Index: k.Index})
				}
			}
		}
	}
	if n.AppKeys == nil {
		n.AppKeys = []NodeKey{}
	}
	for e := range count {
		el := Element{Index: e, Models: []Model{}}
		if e < len(nn.Models) {
			for _, id := range nn.Models[e] {
				el.Models = append(el.Models, Model{ModelID: id, Subscribe: []Target{}, Bind: []uint16{}})
			}
		}
		n.Elements = append(n.Elements, el)
	}
	d.Nodes = append(d.Nodes, n)
	if err := d.Validate(); err != nil {
		d.Nodes = d.Nodes[:len(d.Nodes)-1]
		return nil, fmt.Errorf("cdb: add node: %w", err)
	}
	return n, nil
}

// FreeUnicast returns the lowest address that starts count free consecutive
// unicast addresses inside the first provisioner's allocated unicast ranges
// (the whole unicast space if there is none) and outside every
// networkExclusions entry.
func (d *Database) FreeUnicast(count int) (mesh.Address, error) {
	ranges := []Range{{0x0001, lastUnicast}}
	if len(d.Provisioners) > 0 && len(d.Provisioners[0].AllocatedUnicastRange) > 0 {
		ranges = d.Provisioners[0].AllocatedUnicastRange
	}
	used := func(a int) int { // returns the last used address of a span covering a, or -1
		for _, n := range d.Nodes {
			lo := int(n.UnicastAddress)
			if hi := lo + n.ElementCount() - 1; a >= lo && a <= hi {
				return hi
			}
		}
		for _, ex := range d.NetworkExclusions {
			for _, x := range ex.Addresses {
				if int(x) == a {
					return a
				}
			}
		}
		return -1
	}
	for _, r := range ranges {
		start := int(r.LowAddress)
		for a := start; a <= int(r.HighAddress); a++ {
			if hi := used(a); hi >= 0 {
				start = hi + 1
				a = hi
				continue
			}
			if a-start+1 == count {
				return mesh.Address(start), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: need %d consecutive", ErrFull, count)
}
