package access

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// SetPublication replaces the model's Model Publication state and
// (re)starts or stops its periodic publishing. An unassigned Address clears
// the whole state and cancels pending retransmissions. A non-nil Label sets
// Address to its virtual address. It fails with ErrProhibited for a TTL in
// 0x80–0xFE, an AppKey Index above 0xFFF, or a virtual Address without a
// Label; with ErrNoPublication when the model does not support publication;
// and with ErrNotAdded before the model is on an element.
func (m *Model) SetPublication(p Publication) error {
	if m.elem == nil {
		return fmt.Errorf("%w: model %s", ErrNotAdded, m.ID)
	}
	if p.Label != nil {
		l := *p.Label
		p.Label = &l
		p.Address = mesh.Address(crypto.VirtualAddress(l))
	}
	if p.Address == mesh.AddrUnassigned {
		m.pub = Publication{}
		m.stopPeriod()
		m.stopRetransmit()
		return nil
	}
	switch {
	case m.NoPublication:
		return fmt.Errorf("%w: model %s does not publish", ErrNoPublication, m.ID)
	case p.TTL > MaxTTL && p.TTL != DefaultTTL:
		return fmt.Errorf("%w: Publish TTL 0x%02x", ErrProhibited, p.TTL)
	case p.AppKeyIndex > 0xfff:
		return fmt.Errorf("%w: Publish AppKey Index 0x%x", ErrProhibited, p.AppKeyIndex)
	case p.Address.IsVirtual() && p.Label == nil:
		return fmt.Errorf("%w: virtual Publish Address %s without Label UUID", ErrProhibited, p.Address)
	}
	m.pub = p
	m.stopPeriod()
	if d := p.Period.Duration(); d > 0 && m.PeriodicPublish != nil {
		m.armPeriod()
	}
	return nil
}

func (m *Model) stopPeriod() {
	m.periodGen++
	if m.periodTimer != nil {
		m.periodTimer.Stop()
		m.periodTimer = nil
	}
}

func (m *Model) stopRetransmit() {
	m.retxGen++
	if m.retxTimer != nil {
		m.retxTimer.Stop()
		m.retxTimer = nil
	}
}

func (m *Model) armPeriod() {
	gen := m.periodGen
	m.periodTimer = m.elem.layer.cfg.Clock.AfterFunc(m.pub.Period.Duration(), func() {
		if gen != m.periodGen || m.pub.Period.Duration() == 0 {
			return // superseded by a new publication state
		}
		m.armPeriod()
		m.PeriodicPublish()
	})
}

// Publish sends msg from model m with its Model Publication state
// (Mesh Protocol v1.1 §3.7.3.2): DST the Publish Address (with its Label
// UUID), the Publish AppKey and the NetKey it is bound to, the Publish TTL
// and friendship credentials per the flag, then Publish Retransmit Count
// retransmissions spaced by the retransmit interval on the Clock. A new
// publication cancels retransmissions still pending from the previous one.
// done reports the first transmission only.
func (l *Layer) Publish(m *Model, msg Message, done func(error)) error {
	if m.elem == nil || m.elem.layer != l {
		return fmt.Errorf("%w: model %s", ErrNotAdded, m.ID)
	}
	p := m.pub
	if p.Address == mesh.AddrUnassigned {
		return fmt.Errorf("%w: model %s", ErrNoPublication, m.ID)
	}
	if !m.IsBound(p.AppKeyIndex) {
		return fmt.Errorf("%w: model %s, Publish AppKey Index 0x%03x", ErrNotBound, m.ID, p.AppKeyIndex)
	}
	payload, err := Marshal(msg)
	if err != nil {
		return err
	}
	ctx := Context{
		Src:         m.Address(),
		Dst:         p.Address,
		Label:       p.Label,
		AppKeyIndex: p.AppKeyIndex,
		TTL:         l.resolveTTL(p.TTL),
		Friendship:  p.CredentialFlag,
	}
	if l.cfg.BoundNetKey != nil {
		ctx.NetKeyIndex = l.cfg.BoundNetKey(p.AppKeyIndex)
	}
	m.stopRetransmit()
	c := ctx
	if err := l.cfg.Send(&c, payload, done); err != nil {
		return err
	}
	if p.Retransmit.Count > 0 {
		m.scheduleRetransmit(ctx, payload, int(p.Retransmit.Count&0x07), p.Retransmit)
	}
	return nil
}

func (m *Model) scheduleRetransmit(ctx Context, payload []byte, left int, r PublishRetransmit) {
	gen := m.retxGen
	l := m.elem.layer
	m.retxTimer = l.cfg.Clock.AfterFunc(r.Interval(), func() {
		if gen != m.retxGen {
			return // a newer publication cancelled this one
		}
		m.retxTimer = nil
		c := ctx
		if err := l.cfg.Send(&c, payload, nil); err != nil {
			l.debug("publish retransmission failed", &ctx)
			return
		}
		if left > 1 {
			m.scheduleRetransmit(ctx, payload, left-1, r)
		}
	})
}
