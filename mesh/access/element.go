package access

import "github.com/meshdfu/meshdfu/mesh"

// Element is one addressable entity of a node (Mesh Protocol v1.1 §2.3.4):
// its address is the node's primary address plus its index, Loc is its GATT
// Namespace Descriptor location, and Models are its model instances.
type Element struct {
	Loc    uint16
	Models []*Model

	index int
	layer *Layer
}

// Index returns the element's index; 0 is the primary element.
func (e *Element) Index() int { return e.index }

// Address returns the element's unicast address.
func (e *Element) Address() mesh.Address {
	if e.layer == nil {
		return mesh.AddrUnassigned
	}
	return e.layer.cfg.Primary() + mesh.Address(e.index)
}

// Model returns the element's model with ID id, or nil.
func (e *Element) Model(id ModelID) *Model {
	for _, m := range e.Models {
		if m.ID == id {
			return m
		}
	}
	return nil
}
