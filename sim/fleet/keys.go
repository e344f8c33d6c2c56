package fleet

import (
	"encoding/hex"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/dissect"
)

// Keys are the network's secrets in the form Wireshark's Bluetooth Mesh
// dissector wants them: lower-case hex with a 0x prefix (docs/simulator.md,
// "Giving Wireshark the keys").
type Keys struct {
	NetKey  string   `json:"net_key"`  // "0x" + 32 hex digits
	AppKeys []string `json:"app_keys"` // one per AppKey, index order
	IVIndex string   `json:"iv_index"` // "0x" + 8 hex digits
	DevKeys []DevKey `json:"dev_keys"`
}

// DevKey is one node's device key and primary address.
type DevKey struct {
	Address string `json:"address"` // "0x" + 4 hex digits
	Key     string `json:"key"`
}

// Keys returns the network's keys (NetKey 0, every AppKey, the IV Index,
// every node's device key).
func (f *Fleet) Keys() Keys {
	nk, _ := f.db.NetKey(0)
	k := Keys{NetKey: "0x" + hex.EncodeToString(nk[:]), IVIndex: fmt.Sprintf("0x%08x", f.cfg.IVIndex)}
	for _, a := range f.db.AppKeys {
		if a.Key != nil {
			k.AppKeys = append(k.AppKeys, "0x"+hex.EncodeToString(a.Key[:]))
		}
	}
	for _, m := range f.members {
		dk := f.devKey[m.addr]
		k.DevKeys = append(k.DevKeys, DevKey{Address: fmt.Sprintf("0x%04x", uint16(m.addr)), Key: "0x" + hex.EncodeToString(dk[:])})
	}
	return k
}

// TsharkOptions returns the -o arguments that give tshark these keys: one
// btmesh_nw_keys row per AppKey (an all-zero AppKey when there is none) and
// one btmesh_dev_keys row per node.
func (k Keys) TsharkOptions() []string {
	var out []string
	apps := k.AppKeys
	if len(apps) == 0 {
		apps = []string{"0x00000000000000000000000000000000"}
	}
	for _, a := range apps {
		out = append(out, "-o", fmt.Sprintf(`uat:btmesh_nw_keys:"%s","%s","%s"`, k.NetKey, a, k.IVIndex))
	}
	for _, d := range k.DevKeys {
		out = append(out, "-o", fmt.Sprintf(`uat:btmesh_dev_keys:"%s","%s"`, d.Key, d.Address))
	}
	return out
}

// DissectKeys returns the keys for a mesh/dissect Dissector.
func (f *Fleet) DissectKeys() dissect.Keys {
	nk, _ := f.db.NetKey(0)
	k := dissect.Keys{NetKeys: []crypto.Key{nk}, IVIndex: f.cfg.IVIndex}
	for _, a := range f.db.AppKeys {
		if a.Key != nil {
			k.AppKeys = append(k.AppKeys, a.Key.Crypto())
		}
	}
	for _, m := range f.members {
		k.DevKeys = append(k.DevKeys, f.devKey[m.addr])
	}
	return k
}

// PreconfigureApp returns a Config.Preconfigure that gives every node but
// node 0 AppKey appIdx, binds every model listed in its network-file entry
// to it and subscribes each to groups (models that cannot subscribe or bind
// are the scenario's to leave out of Models).
func PreconfigureApp(appIdx uint16, groups ...mesh.Address) func(db *cdb.Database, i int, n *cdb.Node) error {
	return func(db *cdb.Database, i int, n *cdb.Node) error {
		if i != Provisioner {
			n.AppKeys = append(n.AppKeys, cdb.NodeKey{Index: appIdx})
		}
		for e := range n.Elements {
			for j := range n.Elements[e].Models {
				m := &n.Elements[e].Models[j]
				m.Bind = append(m.Bind, appIdx)
				for _, g := range groups {
					m.Subscribe = append(m.Subscribe, cdb.Target{Address: g})
				}
			}
		}
		return nil
	}
}
