package access

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/internal/wire"
)

// Features is the Features field of Composition Data page 0 (Mesh Protocol
// v1.1 §4.2.2.1): which optional features the node supports. Bits 4–15 are
// RFU.
type Features uint16

// Feature bits.
const (
	FeatureRelay    Features = 1 << 0
	FeatureProxy    Features = 1 << 1
	FeatureFriend   Features = 1 << 2
	FeatureLowPower Features = 1 << 3
	featuresRFU     Features = 0xfff0
)

// CompositionHeader is the fixed part of Composition Data page 0: Company
// ID, Product ID, Version ID, the minimum number of Replay Protection List
// entries (CRPL) and Features.
type CompositionHeader struct {
	CID, PID, VID, CRPL uint16
	Features            Features
}

// CompositionElement describes one element in Composition Data page 0.
type CompositionElement struct {
	Loc    uint16
	SIG    []uint16  // SIG model IDs
	Vendor []ModelID // vendor models
}

// CompositionData is Composition Data page 0 (Mesh Protocol v1.1
// §4.2.2.1). Layout, little-endian:
//
//	CID (2) | PID (2) | VID (2) | CRPL (2) | Features (2) | Elements...
//	Element: Loc (2) | NumS (1) | NumV (1) | SIG model IDs (2·NumS) |
//	         vendor models (4·NumV: Company ID (2) | model ID (2))
type CompositionData struct {
	CompositionHeader
	Elements []CompositionElement
}

// AppendBinary appends the page 0 octets to b.
func (c *CompositionData) AppendBinary(b []byte) ([]byte, error) {
	if c.Features&featuresRFU != 0 {
		return b, fmt.Errorf("%w: Features 0x%04x", ErrRFU, uint16(c.Features))
	}
	if len(c.Elements) == 0 {
		return b, fmt.Errorf("%w: composition data without elements", ErrLength)
	}
	for _, v := range []uint16{c.CID, c.PID, c.VID, c.CRPL, uint16(c.Features)} {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	for i, e := range c.Elements {
		if len(e.SIG) > 0xff || len(e.Vendor) > 0xff {
			return b, fmt.Errorf("%w: element %d has too many models", ErrLength, i)
		}
		b = binary.LittleEndian.AppendUint16(b, e.Loc)
		b = append(b, byte(len(e.SIG)), byte(len(e.Vendor)))
		for _, id := range e.SIG {
			b = binary.LittleEndian.AppendUint16(b, id)
		}
		for _, id := range e.Vendor {
			b = binary.LittleEndian.AppendUint16(b, id.CompanyID())
			b = binary.LittleEndian.AppendUint16(b, id.Number())
		}
	}
	return b, nil
}

// Unmarshal decodes page 0 strictly: at least one element, every element
// complete, no trailing octets, no RFU feature bits. It does not retain p.
func (c *CompositionData) Unmarshal(p []byte) error {
	r := wire.NewReader(p)
	var out CompositionData
	out.CID, out.PID, out.VID, out.CRPL = r.U16LE(), r.U16LE(), r.U16LE(), r.U16LE()
	out.Features = Features(r.U16LE())
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: composition data header: %w", ErrLength, err)
	}
	if out.Features&featuresRFU != 0 {
		return fmt.Errorf("%w: Features 0x%04x", ErrRFU, uint16(out.Features))
	}
	for r.Len() > 0 {
		var e CompositionElement
		e.Loc = r.U16LE()
		ns, nv := int(r.U8()), int(r.U8())
		if r.Len() < 2*ns+4*nv {
			return fmt.Errorf("%w: element %d needs %d octets of models, has %d", ErrLength, len(out.Elements), 2*ns+4*nv, r.Len())
		}
		if ns > 0 {
			e.SIG = make([]uint16, ns)
		}
		for i := range ns {
			e.SIG[i] = r.U16LE()
		}
		if nv > 0 {
			e.Vendor = make([]ModelID, nv)
		}
		for i := range nv {
			cid := r.U16LE()
			e.Vendor[i] = VendorModel(cid, r.U16LE())
		}
		out.Elements = append(out.Elements, e)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: composition data: %w", ErrLength, err)
	}
	if len(out.Elements) == 0 {
		return fmt.Errorf("%w: composition data without elements", ErrLength)
	}
	*c = out
	return nil
}

// Composition returns Composition Data page 0 built from the Config's header
// and the elements: each element's SIG models then its vendor models, in the
// order they were added.
func (l *Layer) Composition() CompositionData {
	c := CompositionData{CompositionHeader: l.cfg.Composition}
	for _, e := range l.elements {
		ce := CompositionElement{Loc: e.Loc}
		for _, m := range e.Models {
			if m.ID.IsVendor() {
				ce.Vendor = append(ce.Vendor, m.ID)
			} else {
				ce.SIG = append(ce.SIG, uint16(m.ID))
			}
		}
		c.Elements = append(c.Elements, ce)
	}
	return c
}
