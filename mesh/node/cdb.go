package node

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/config"
)

// ProvisioningFromCDB builds the Provisioning of the node at addr from a
// Mesh Configuration Database: its address, device key, the NetKeys and
// AppKeys the file says it has, its feature states, and the bindings,
// subscriptions and publications of its models. The IV Index comes from
// the file when it carries one (bluez's ivIndex), else from ivIndex; the
// standard leaves it and sequence numbers out, so the node keeps both in its
// own state from then on.
func ProvisioningFromCDB(db *cdb.Database, addr mesh.Address, ivIndex uint32) (*Provisioning, error) {
	n := db.Node(addr)
	if n == nil {
		return nil, fmt.Errorf("node: no node with address %v in the network file", addr)
	}
	dev, err := n.DevKey()
	if err != nil {
		return nil, fmt.Errorf("node: %v: %w", addr, err)
	}
	p := &Provisioning{Address: mesh.Address(n.UnicastAddress), DevKey: dev, IVIndex: ivIndex}
	if db.IVIndex != 0 {
		p.IVIndex = db.IVIndex
	}
	for _, k := range n.NetKeys {
		key, err := db.NetKey(k.Index)
		if err != nil {
			return nil, fmt.Errorf("node: %v: NetKey %d: %w", addr, k.Index, err)
		}
		p.NetKeys = append(p.NetKeys, NetKeyState{Index: k.Index, Key: Key(key)})
	}
	if len(p.NetKeys) == 0 {
		return nil, fmt.Errorf("node: %v has no NetKey in the network file", addr)
	}
	for _, k := range n.AppKeys {
		key, bound, err := db.AppKey(k.Index)
		if err != nil {
			return nil, fmt.Errorf("node: %v: AppKey %d: %w", addr, k.Index, err)
		}
		p.AppKeys = append(p.AppKeys, AppKeyState{Index: k.Index, NetKeyIndex: bound, Key: Key(key)})
	}
	f := config.DefaultFeatures
	if n.DefaultTTL != nil {
		f.DefaultTTL = uint8(*n.DefaultTTL)
	}
	if n.NetworkTransmit != nil {
		f.NetworkTransmit = n.NetworkTransmit.Mesh()
	}
	if n.RelayRetransmit != nil {
		f.RelayRetransmit = n.RelayRetransmit.Mesh()
	}
	if n.SecureNetworkBeacon != nil {
		f.Beacon = *n.SecureNetworkBeacon
	}
	if n.Features != nil && n.Features.Relay != nil {
		f.Relay = config.FeatureState(*n.Features.Relay)
	}
	p.Features = &f
	for _, e := range n.Elements {
		for _, m := range e.Models {
			ms := ModelState{Element: e.Index, ID: access.ModelID(m.ModelID.ID), Bindings: m.Bind}
			for _, s := range m.Subscribe {
				ms.Subscriptions = append(ms.Subscriptions, subscriptionFromCDB(s))
			}
			if pub := m.Publish; pub != nil {
				s := subscriptionFromCDB(pub.Address)
				ms.Publication = &PublicationState{
					Address: s.Address, Label: s.Label, AppKeyIndex: pub.Index, CredentialFlag: pub.Credentials == 1,
					TTL:        uint8(pub.TTL),
					Period:     uint8(access.NewPublishPeriod(uint8(pub.Period.NumberOfSteps), resolutionCode(pub.Period.Resolution))),
					Retransmit: access.PublishRetransmit{Count: uint8(pub.Retransmit.Count), IntervalSteps: uint8(max(pub.Retransmit.Interval/50-1, 0))}.Byte(),
				}
			}
			p.Models = append(p.Models, ms)
		}
	}
	return p, nil
}

func subscriptionFromCDB(t cdb.Target) SubscriptionState {
	if t.Label != nil {
		k := Key(*t.Label)
		return SubscriptionState{Address: t.Address, Label: &k}
	}
	return SubscriptionState{Address: t.Address}
}

// resolutionCode maps a publish period resolution in ms to its 2-bit code.
func resolutionCode(ms int) uint8 {
	switch ms {
	case 1000:
		return 1
	case 10000:
		return 2
	case 600000:
		return 3
	}
	return 0
}
