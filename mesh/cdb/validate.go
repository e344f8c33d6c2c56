package cdb

import (
	"fmt"
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
)

// Limits from the CDB schema and the Mesh Protocol.
const (
	MaxKeyIndex     = 4095   // 12-bit NetKey / AppKey Index
	lastUnicast     = 0x7FFF // highest unicast address
	firstGroup      = 0xC000
	lastDynamicGrp  = 0xFEFF
	maxElements     = 255
	ttlUseDefault   = 255
	maxPublishTTL   = 127
	maxPeriodSteps  = 63
	maxRetransmit   = 7
	retransmitStep  = 50
	maxRetransmitMs = 1600
	transmitStep    = 10
	maxTransmitMs   = 320
)

// invalid wraps ErrInvalid with a path and message.
func invalid(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, args...))
}

// Validate checks the rules a reader relies on: key index ranges and
// uniqueness, Key Refresh phase, AppKey bindings, node unicast ranges
// (inside the unicast space, not overlapping), node key references,
// element indexes, provisioner ranges, groups and publication fields.
// Errors wrap ErrInvalid and name the offending field.
func (d *Database) Validate() error {
	if d.Version != "" && d.Version != Version100 && d.Version != Version101 {
		return invalid("version", "%q is not 1.0.0 or 1.0.1", d.Version)
	}
	netIdx := map[uint16]bool{}
	for i, k := range d.NetKeys {
		p := fmt.Sprintf("netKeys[%d]", i)
		if k.Index > MaxKeyIndex {
			return invalid(p, "index %d out of range 0–%d", k.Index, MaxKeyIndex)
		}
		if netIdx[k.Index] {
			return invalid(p, "duplicate netKey index %d", k.Index)
		}
		netIdx[k.Index] = true
		if k.Phase < 0 || k.Phase > 2 {
			return invalid(p, "phase %d out of range 0–2", k.Phase)
		}
	}
	appIdx := map[uint16]bool{}
	for i, k := range d.AppKeys {
		p := fmt.Sprintf("appKeys[%d]", i)
		if k.Index > MaxKeyIndex {
			return invalid(p, "index %d out of range 0–%d", k.Index, MaxKeyIndex)
		}
		if appIdx[k.Index] {
			return invalid(p, "duplicate appKey index %d", k.Index)
		}
		appIdx[k.Index] = true
		if !netIdx[k.BoundNetKey] {
			return invalid(p, "appKey %d bound to unknown netKey %d", k.Index, k.BoundNetKey)
		}
	}
	for i, pr := range d.Provisioners {
		p := fmt.Sprintf("provisioners[%d]", i)
		for j, r := range pr.AllocatedUnicastRange {
			if r.LowAddress == 0 || r.LowAddress > r.HighAddress || r.HighAddress > lastUnicast {
				return invalid(fmt.Sprintf("%s.allocatedUnicastRange[%d]", p, j), "%04X–%04X is not a unicast range", r.LowAddress, r.HighAddress)
			}
		}
		for j, r := range pr.AllocatedGroupRange {
			if r.LowAddress < firstGroup || r.LowAddress > r.HighAddress || r.HighAddress > lastDynamicGrp {
				return invalid(fmt.Sprintf("%s.allocatedGroupRange[%d]", p, j), "%04X–%04X is not a group range", r.LowAddress, r.HighAddress)
			}
		}
		for j, r := range pr.AllocatedSceneRange {
			if r.FirstScene == 0 || r.FirstScene > r.LastScene {
				return invalid(fmt.Sprintf("%s.allocatedSceneRange[%d]", p, j), "%04X–%04X is not a scene range", r.FirstScene, r.LastScene)
			}
		}
	}
	for i, g := range d.Groups {
		if !g.Address.Address.IsGroup() && !g.Address.Address.IsVirtual() {
			return invalid(fmt.Sprintf("groups[%d]", i), "address %v is not a group or virtual address", g.Address.Address)
		}
	}
	type span struct {
		lo, hi int
		at     int
	}
	var spans []span
	uuids := map[UUID]int{}
	for i, n := range d.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		if n == nil {
			return invalid(p, "null node")
		}
		if err := n.validate(p, netIdx, appIdx); err != nil {
			return err
		}
		lo := int(n.UnicastAddress)
		spans = append(spans, span{lo, lo + n.ElementCount() - 1, i})
		if j, dup := uuids[n.UUID]; dup && n.UUID != (UUID{}) {
			return invalid(p, "UUID %v already used by nodes[%d]", n.UUID, j)
		}
		uuids[n.UUID] = i
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo <= spans[i-1].hi {
			a, b := spans[i-1], spans[i]
			return invalid(fmt.Sprintf("nodes[%d]", b.at), "duplicate addresses: %04X–%04X overlaps nodes[%d] %04X–%04X",
				b.lo, b.hi, a.at, a.lo, a.hi)
		}
	}
	return nil
}

func (n *Node) validate(p string, netIdx, appIdx map[uint16]bool) error {
	a := mesh.Address(n.UnicastAddress)
	if !a.IsUnicast() {
		return invalid(p, "unicastAddress %04X is not a unicast address", uint16(a))
	}
	if len(n.Elements) > maxElements {
		return invalid(p, "%d elements, at most %d", len(n.Elements), maxElements)
	}
	if last := int(a) + n.ElementCount() - 1; last > lastUnicast {
		return invalid(p, "unicast range %04X–%04X leaves the unicast space", uint16(a), last)
	}
	for j, k := range n.NetKeys {
		if !netIdx[k.Index] && len(netIdx) > 0 {
			return invalid(fmt.Sprintf("%s.netKeys[%d]", p, j), "unknown netKey %d", k.Index)
		}
	}
	for j, k := range n.AppKeys {
		if !appIdx[k.Index] && len(appIdx) > 0 {
			return invalid(fmt.Sprintf("%s.appKeys[%d]", p, j), "unknown appKey %d", k.Index)
		}
	}
	if n.DefaultTTL != nil && (*n.DefaultTTL < 0 || *n.DefaultTTL == 1 || *n.DefaultTTL > maxPublishTTL) {
		return invalid(p, "defaultTTL %d: want 0 or 2–127", *n.DefaultTTL)
	}
	for _, t := range []struct {
		name string
		v    *Transmit
	}{{"networkTransmit", n.NetworkTransmit}, {"relayRetransmit", n.RelayRetransmit}} {
		if t.v == nil {
			continue
		}
		if t.v.Count < 1 || t.v.Count > 8 || t.v.Interval < transmitStep || t.v.Interval > maxTransmitMs || t.v.Interval%transmitStep != 0 {
			return invalid(p+"."+t.name, "count %d interval %d ms: want 1–8 and 10–320 ms in steps of 10", t.v.Count, t.v.Interval)
		}
	}
	seen := map[int]bool{}
	for j, e := range n.Elements {
		ep := fmt.Sprintf("%s.elements[%d]", p, j)
		if e.Index < 0 || e.Index >= len(n.Elements) || seen[e.Index] {
			return invalid(ep, "index %d: want each of 0–%d once", e.Index, len(n.Elements)-1)
		}
		seen[e.Index] = true
		for m, md := range e.Models {
			if err := md.validate(fmt.Sprintf("%s.models[%d]", ep, m), appIdx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Model) validate(p string, appIdx map[uint16]bool) error {
	for _, b := range m.Bind {
		if b > MaxKeyIndex {
			return invalid(p, "bind index %d out of range", b)
		}
	}
	for _, s := range m.Subscribe {
		if !s.Address.IsGroup() && !s.Address.IsVirtual() {
			return invalid(p, "subscription %v is not a group or virtual address", s.Address)
		}
	}
	pub := m.Publish
	if pub == nil {
		return nil
	}
	pp := p + ".publish"
	if pub.TTL < 0 || (pub.TTL > maxPublishTTL && pub.TTL != ttlUseDefault) {
		return invalid(pp, "ttl %d: want 0–127 or 255", pub.TTL)
	}
	if pub.Period.NumberOfSteps < 0 || pub.Period.NumberOfSteps > maxPeriodSteps {
		return invalid(pp, "period numberOfSteps %d out of range 0–63", pub.Period.NumberOfSteps)
	}
	if pub.Period.NumberOfSteps > 0 && !slices.Contains(periodResolutions, pub.Period.Resolution) {
		return invalid(pp, "period resolution %d ms: want 100, 1000, 10000 or 600000", pub.Period.Resolution)
	}
	if pub.Credentials != 0 && pub.Credentials != 1 {
		return invalid(pp, "credentials %d: want 0 or 1", pub.Credentials)
	}
	r := pub.Retransmit
	if r.Count < 0 || r.Count > maxRetransmit || (r.Count > 0 && (r.Interval < retransmitStep || r.Interval > maxRetransmitMs || r.Interval%retransmitStep != 0)) {
		return invalid(pp, "retransmit count %d interval %d ms: want 0–7 and 50–1600 ms in steps of 50", r.Count, r.Interval)
	}
	if pub.Index > MaxKeyIndex {
		return invalid(pp, "appKey index %d out of range", pub.Index)
	}
	return nil
}
