package node

import (
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/beacon"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// keyStore is the transport's view of the node's keys.
type keyStore struct{ n *Node }

var _ transport.KeyStore = keyStore{}

func (k keyStore) DevKey(addr mesh.Address) (crypto.Key, bool) {
	if k.n.IsLocal(addr) {
		return crypto.Key(k.n.st.DevKey), true
	}
	return k.n.peerDevKey(addr)
}

func (k keyStore) AppKeysByAID(aid uint8, dst []transport.AppKey) []transport.AppKey {
	for _, a := range k.n.appKeys {
		if a.aid == aid {
			dst = append(dst, transport.AppKey{Index: a.index, NetKeyIndex: a.netKeyIndex, AID: a.aid, Key: a.key})
		}
		if a.newKey != nil && a.newAID == aid {
			dst = append(dst, transport.AppKey{Index: a.index, NetKeyIndex: a.netKeyIndex, AID: a.newAID, Key: *a.newKey})
		}
	}
	return dst
}

func (k keyStore) AppKey(index uint16) (transport.AppKey, bool) {
	a, ok := k.n.appKeys[index]
	if !ok {
		return transport.AppKey{}, false
	}
	// In Key Refresh phase 2 the new key transmits.
	if a.newKey != nil {
		if nk, ok := k.n.subnets.Get(a.netKeyIndex); ok && nk.Phase() == network.Phase2 {
			return transport.AppKey{Index: a.index, NetKeyIndex: a.netKeyIndex, AID: a.newAID, Key: *a.newKey}, true
		}
	}
	return transport.AppKey{Index: a.index, NetKeyIndex: a.netKeyIndex, AID: a.aid, Key: a.key}, true
}

func (k keyStore) LabelUUIDs(addr mesh.Address, dst [][16]byte) [][16]byte {
	for _, e := range k.n.acc.Elements() {
		for _, m := range e.Models {
			for _, s := range m.Subscriptions() {
				if s.Label != nil && s.Address == addr && !slices.Contains(dst, *s.Label) {
					dst = append(dst, *s.Label)
				}
			}
			if p := m.Publication(); p.Label != nil && p.Address == addr && !slices.Contains(dst, *p.Label) {
				dst = append(dst, *p.Label)
			}
		}
	}
	return dst
}

// nodeState is the Configuration Server's view of the node.
type nodeState struct{ n *Node }

var _ config.NodeState = nodeState{}

func (s nodeState) NetKey(idx uint16) (config.NetKey, bool) {
	for _, k := range s.n.st.NetKeys {
		if k.Index == idx {
			c := config.NetKey{Key: [16]byte(k.Key), Phase: k.Phase}
			if k.New != nil {
				nk := [16]byte(*k.New)
				c.New = &nk
			}
			return c, true
		}
	}
	return config.NetKey{}, false
}

func (s nodeState) NetKeyIndexes() []uint16 {
	var out []uint16
	for _, k := range s.n.st.NetKeys {
		out = append(out, k.Index)
	}
	slices.Sort(out)
	return out
}

func (s nodeState) SetNetKey(idx uint16, k config.NetKey) error {
	n := s.n
	ns := NetKeyState{Index: idx, Key: Key(k.Key), Phase: k.Phase}
	if k.New != nil {
		nk := Key(*k.New)
		ns.New = &nk
	}
	i := slices.IndexFunc(n.st.NetKeys, func(e NetKeyState) bool { return e.Index == idx })
	if i < 0 {
		if len(n.st.NetKeys) >= config.DefaultMaxNetKeys {
			return config.ErrInsufficientResources
		}
		if err := n.loadNetKey(ns); err != nil {
			return err
		}
		n.st.NetKeys = append(n.st.NetKeys, ns)
	} else {
		old := n.st.NetKeys[i]
		switch {
		case old.New == nil && ns.New != nil:
			if _, err := n.subnets.Update(idx, crypto.Key(*ns.New)); err != nil {
				return err
			}
		case ns.Phase == 2 && old.Phase != 2:
			if _, err := n.subnets.SetPhase(idx, network.Phase2); err != nil {
				return err
			}
		case old.New != nil && ns.New == nil:
			if _, err := n.subnets.SetPhase(idx, network.Phase3); err != nil {
				return err
			}
		}
		n.st.NetKeys[i] = ns
	}
	n.rebuildKeySets()
	return n.save()
}

func (s nodeState) DeleteNetKey(idx uint16) {
	n := s.n
	i := slices.IndexFunc(n.st.NetKeys, func(e NetKeyState) bool { return e.Index == idx })
	if i < 0 {
		return
	}
	_ = n.subnets.Delete(idx)
	n.st.NetKeys = slices.Delete(n.st.NetKeys, i, i+1)
	n.rebuildKeySets()
	n.persist()
}

func (s nodeState) AppKey(idx uint16) (config.AppKey, bool) {
	for _, k := range s.n.st.AppKeys {
		if k.Index == idx {
			c := config.AppKey{NetKeyIndex: k.NetKeyIndex, Key: [16]byte(k.Key)}
			if k.New != nil {
				nk := [16]byte(*k.New)
				c.New = &nk
			}
			return c, true
		}
	}
	return config.AppKey{}, false
}

func (s nodeState) AppKeyIndexes() []uint16 {
	var out []uint16
	for _, k := range s.n.st.AppKeys {
		out = append(out, k.Index)
	}
	slices.Sort(out)
	return out
}

func (s nodeState) SetAppKey(idx uint16, k config.AppKey) error {
	n := s.n
	as := AppKeyState{Index: idx, NetKeyIndex: k.NetKeyIndex, Key: Key(k.Key)}
	if k.New != nil {
		nk := Key(*k.New)
		as.New = &nk
	}
	i := slices.IndexFunc(n.st.AppKeys, func(e AppKeyState) bool { return e.Index == idx })
	if i < 0 {
		if len(n.st.AppKeys) >= config.DefaultMaxAppKeys {
			return config.ErrInsufficientResources
		}
		n.st.AppKeys = append(n.st.AppKeys, as)
	} else {
		n.st.AppKeys[i] = as
	}
	n.putAppKey(as)
	return n.save()
}

func (s nodeState) DeleteAppKey(idx uint16) {
	n := s.n
	i := slices.IndexFunc(n.st.AppKeys, func(e AppKeyState) bool { return e.Index == idx })
	if i < 0 {
		return
	}
	n.st.AppKeys = slices.Delete(n.st.AppKeys, i, i+1)
	delete(n.appKeys, idx)
	// Bindings to a deleted AppKey go with it.
	for _, e := range n.acc.Elements() {
		for _, m := range e.Models {
			m.Unbind(idx)
		}
	}
	n.persist()
}

func (s nodeState) Features() config.Features { return s.n.st.Features }

func (s nodeState) SetFeatures(f config.Features) error {
	n := s.n
	old := n.st.Features
	n.st.Features = f
	n.net.SetNetworkTransmit(f.NetworkTransmit)
	n.net.SetRelayRetransmit(f.RelayRetransmit)
	n.net.SetRelay(f.Relay == config.FeatureEnabled)
	if f.Beacon != old.Beacon && !n.cfg.NoBeacons {
		if f.Beacon {
			if err := n.beacons.Start(); err != nil {
				return err
			}
		} else {
			n.beacons.Stop()
		}
	}
	return n.save()
}

func (s nodeState) Reset() {
	n := s.n
	n.log.Info("node: reset by its Configuration Client", "node", n.st.Address)
	n.st = State{Elements: n.st.Elements, SeqLimit: n.st.SeqLimit}
	for _, idx := range n.subnets.List(nil) {
		_ = n.subnets.Delete(idx)
	}
	clear(n.appKeys)
	n.rebuildKeySets()
	n.beacons.Stop()
	n.persist()
	n.closed = true
}

// rebuildKeySets refreshes the beacon key candidates after a key change:
// in Key Refresh phase 2 beacons are accepted only on the new key.
func (n *Node) rebuildKeySets() {
	n.keySets = n.keySets[:0]
	for _, idx := range n.subnets.List(nil) {
		k, _ := n.subnets.Get(idx)
		if k.Phase() != network.Phase2 {
			n.keySets = append(n.keySets, keySet(idx, k.Old(), false))
		}
		if nk := k.New(); nk != nil {
			n.keySets = append(n.keySets, keySet(idx, nk, true))
		}
	}
}

func keySet(idx uint16, k *network.Keys, newKey bool) beacon.KeySet {
	return beacon.KeySet{NetKeyIndex: idx, NewKey: newKey, NetworkID: k.NetworkID, BeaconKey: k.BeaconKey, PrivateBeaconKey: k.PrivateBeaconKey}
}

// sendBeacon sends the Secure Network beacon of one subnet.
func (n *Node) sendBeacon(idx uint16) {
	k, ok := n.subnets.Get(idx)
	if !ok {
		return
	}
	ks := keySet(idx, k.Tx(), k.Phase() == network.Phase2)
	b := ks.SecureNetworkBeacon(n.iv.Flags(k.Phase() == network.Phase2), n.iv.Index())
	p, err := b.Marshal()
	if err != nil {
		return
	}
	n.cfg.Bearer.Send(mesh.ADBeacon, p, mesh.Transmit{})
}

// onKeyRefresh follows the Key Refresh flag of authenticated beacons on a
// subnet's new key (Mesh Protocol v1.1 §3.11.4): flag 1 in phase 1 moves to
// phase 2; flag 0 in phase 1 or 2 revokes the old key.
func (n *Node) onKeyRefresh(idx uint16, newKey, kr bool) {
	if !newKey {
		return
	}
	k, ok := n.subnets.Get(idx)
	if !ok {
		return
	}
	var err error
	switch {
	case kr && k.Phase() == network.Phase1:
		_, err = n.subnets.SetPhase(idx, network.Phase2)
	case !kr && (k.Phase() == network.Phase1 || k.Phase() == network.Phase2):
		_, err = n.subnets.SetPhase(idx, network.Phase3)
	default:
		return
	}
	if err != nil {
		n.log.Warn("node: key refresh from beacon", "err", err)
		return
	}
	n.syncNetKeyState(idx)
}

// syncNetKeyState copies a subnet's keys and phase back into n.st.
func (n *Node) syncNetKeyState(idx uint16) {
	k, ok := n.subnets.Get(idx)
	if !ok {
		return
	}
	i := slices.IndexFunc(n.st.NetKeys, func(e NetKeyState) bool { return e.Index == idx })
	if i < 0 {
		return
	}
	ns := NetKeyState{Index: idx, Key: Key(k.Old().NetKey), Phase: uint8(k.Phase())}
	if nk := k.New(); nk != nil {
		key := Key(nk.NetKey)
		ns.New = &key
	}
	n.st.NetKeys[i] = ns
	// AppKeys switch to their new keys when the old NetKey is revoked.
	if ns.New == nil {
		for j, a := range n.st.AppKeys {
			if a.NetKeyIndex == idx && a.New != nil {
				n.st.AppKeys[j] = AppKeyState{Index: a.Index, NetKeyIndex: idx, Key: *a.New}
				n.putAppKey(n.st.AppKeys[j])
			}
		}
	}
	n.rebuildKeySets()
	n.persist()
}
