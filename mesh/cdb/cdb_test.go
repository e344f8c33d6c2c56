package cdb

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

func mustLoad(t *testing.T, name string) *Database {
	t.Helper()
	d, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoad_NRFMesh(t *testing.T) {
	d := mustLoad(t, "nrf-mesh.json")
	if d.MeshName != "Warehouse Lighting" || d.Version != Version101 || d.MeshUUID.String() != "8F6A3B2C-1D4E-4F50-9A6B-7C8D9E0F1A2B" {
		t.Fatalf("header: %q %q %v", d.MeshName, d.Version, d.MeshUUID)
	}
	if want := time.Date(2025, 11, 3, 13, 22, 7, 0, time.UTC); !d.Timestamp.Equal(want) {
		t.Errorf("timestamp %v", d.Timestamp)
	}
	nk, err := d.NetKey(0)
	if err != nil || nk != (crypto.Key{0x7d, 0xd7, 0x36, 0x4c, 0xd8, 0x42, 0xad, 0x18, 0xc1, 0x7c, 0x2b, 0x82, 0x0c, 0x84, 0xc3, 0xd6}) {
		t.Fatalf("NetKey(0) = %x, %v", nk, err)
	}
	if d.NetKeys[1].Phase != 1 || d.NetKeys[1].OldKey == nil || d.NetKeys[1].MinSecurity != SecurityInsecure {
		t.Errorf("netKey 1: %+v", d.NetKeys[1])
	}
	ak, bound, err := d.AppKey(1)
	if err != nil || bound != 1 || ak[0] != 0x5a {
		t.Fatalf("AppKey(1) = %x %d %v", ak, bound, err)
	}
	if _, err := d.NetKey(9); !errors.Is(err, ErrNotFound) {
		t.Errorf("NetKey(9): %v", err)
	}
	if _, _, err := d.AppKey(9); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppKey(9): %v", err)
	}

	n := d.Node(0x0003)
	if n == nil || n.UnicastAddress != 0x0002 || n.ElementCount() != 2 || n.Name != "Aisle 1 Light" {
		t.Fatalf("Node(0x0003) = %+v", n)
	}
	if d.Node(0x0005) != nil || d.Node(0x0004) == nil {
		t.Error("Node lookup beyond elements")
	}
	dk, err := n.DevKey()
	if err != nil || dk[0] != 0x37 {
		t.Fatalf("DevKey = %x %v", dk, err)
	}
	if *n.CID != 0x0059 || *n.CRPL != 0x28 || *n.Features.Friend != FeatureUnsupported || *n.Features.Relay != FeatureEnabled {
		t.Errorf("composition: %+v %+v", n, n.Features)
	}
	if got := n.NetworkTransmit.Mesh(); got != (mesh.Transmit{Count: 2, IntervalSteps: 1}) {
		t.Errorf("networkTransmit %v", got)
	}
	md := n.Elements[0].Models[2]
	if md.ModelID != SIGModel(0x1000) || len(md.Subscribe) != 2 || md.Subscribe[1].Label == nil || md.Subscribe[1].Address != 0xb529 {
		t.Fatalf("model: %+v", md)
	}
	if p := md.Publish; p == nil || p.Address.Address != 0xC001 || p.TTL != 255 || p.Period != (Period{10, 1000}) || p.Retransmit != (Retransmit{2, 100}) {
		t.Fatalf("publish: %+v", md.Publish)
	}
	if v := n.Elements[0].Models[3].ModelID; v != VendorModel(0x1400, 0x0000) || v.String() != "14000000" {
		t.Errorf("vendor model %v", v)
	}
	if len(n.HeartbeatPub) == 0 {
		t.Error("heartbeatPub dropped")
	}
	if d.NodeByUUID(n.UUID) != n || d.NodeByUUID(UUID{1}) != nil {
		t.Error("NodeByUUID")
	}
	if len(d.NetworkExclusions) != 1 || d.NetworkExclusions[0].Addresses[0] != 3 {
		t.Errorf("exclusions %+v", d.NetworkExclusions)
	}
	if g := d.Groups[2].Address; g.Label == nil || g.Address != 0xb529 {
		t.Errorf("virtual group %+v", g)
	}
}

func TestLoad_Bluez(t *testing.T) {
	d := mustLoad(t, "bluez-mesh-cfgclient.json")
	if d.MeshName != "bluez-test" || d.MeshUUID.String() != "C3A9F1E2-B4D5-4A6B-8C7D-9E0F1A2B3C4D" || d.IVIndex != 5 || d.Token != "3f8b1c2d4e5a6b7c" {
		t.Fatalf("header: %q %v iv %d token %q", d.MeshName, d.MeshUUID, d.IVIndex, d.Token)
	}
	if _, err := d.NetKey(0); !errors.Is(err, ErrNoKey) {
		t.Errorf("NetKey(0): %v, want ErrNoKey", err)
	}
	if _, _, err := d.AppKey(0); !errors.Is(err, ErrNoKey) {
		t.Errorf("AppKey(0): %v, want ErrNoKey", err)
	}
	n := d.Node(0x00ab)
	if n == nil || n.UUID.String() != "70CF7C97-32A3-45B6-9149-4810D2E9CBF4" || n.Security != SecuritySecure || n.Excluded {
		t.Fatalf("node: %+v", n)
	}
	if _, err := n.DevKey(); !errors.Is(err, ErrNoKey) {
		t.Errorf("DevKey: %v", err)
	}
	if v := n.Elements[0].Models[3].ModelID; !v.Vendor || v.ID != 0x05f10001 {
		t.Errorf("vendor model %+v", v)
	}
	if n2 := d.Node(0x00ac); n2 == nil || !n2.Excluded || n2.Security != SecurityInsecure {
		t.Errorf("blacklisted node: %+v", n2)
	}
	if len(d.NetworkExclusions) != 1 || d.NetworkExclusions[0].IVIndex != 2 || len(d.NetworkExclusions[0].Addresses) != 2 {
		t.Errorf("blacklistedAddresses: %+v", d.NetworkExclusions)
	}
	if len(d.Provisioners) != 1 || d.Provisioners[0].AllocatedUnicastRange[0] != (Range{0x00a0, 0x00ff}) {
		t.Fatalf("low/high: %+v", d.Provisioners)
	}
	// Allocation skips excluded addresses 00a0, 00a1 and nodes 00aa–00ac.
	a, err := d.FreeUnicast(3)
	if err != nil || a != 0x00a2 {
		t.Fatalf("FreeUnicast(3) = %v %v", a, err)
	}
	a, err = d.FreeUnicast(8)
	if err != nil || a != 0x00a2 {
		t.Fatalf("FreeUnicast(8) = %v %v", a, err)
	}
	a, err = d.FreeUnicast(9)
	if err != nil || a != 0x00ad {
		t.Fatalf("FreeUnicast(9) = %v %v", a, err)
	}
	if _, err := d.FreeUnicast(100); !errors.Is(err, ErrFull) {
		t.Fatalf("FreeUnicast(100): %v", err)
	}
}

// TestRoundTrip: Marshal writes upper-case 1.0.1; parsing it back gives
// the same database, and marshalling again is byte-identical.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"nrf-mesh.json", "bluez-mesh-cfgclient.json"} {
		t.Run(name, func(t *testing.T) {
			d := mustLoad(t, name)
			out, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			for _, want := range []string{`"version": "1.0.1"`, `"id": "` + SchemaID101 + `"`, `"$schema": "` + JSONSchema + `"`} {
				if !strings.Contains(s, want) {
					t.Errorf("output lacks %s", want)
				}
			}
			if strings.Contains(s, "blacklisted") || strings.Contains(s, `"uuid"`) || strings.Contains(s, `"high"`) {
				t.Errorf("output keeps variant names:\n%s", s)
			}
			if strings.Contains(s, "null") {
				t.Errorf("output has null lists:\n%s", s)
			}
			if strings.Contains(s, "70cf7c97") || strings.Contains(s, `"00aa"`) {
				t.Errorf("output has lower-case hex")
			}
			d2, err := Parse(out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, s)
			}
			out2, _ := d2.Marshal()
			if !bytes.Equal(out, out2) {
				t.Fatalf("second marshal differs:\n%s\n---\n%s", out, out2)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	base := func(node string) string {
		return `{"meshUUID":"8f6a3b2c1d4e4f509a6b7c8d9e0f1a2b","meshName":"x","netKeys":[{"index":0,"key":"7dd7364cd842ad18c17c2b820c84c3d6","phase":0}],
		"appKeys":[],"provisioners":[],"groups":[],"scenes":[],"nodes":[` + node + `]}`
	}
	d, err := Parse([]byte(base(`{"UUID":"70CF7C9732A345B691494810D2E9CBF4","unicastAddress":"00Ab","netKeys":[{"index":0}],"appKeys":[],
		"elements":[{"index":0,"location":"0000","models":[{"modelId":"1000","subscribe":[],"bind":[],
		"publish":{"address":"c000","index":0,"ttl":5,"period":3000,"credentials":0,"retransmit":{"count":0,"interval":0}}}]}],
		"security":"low","excluded":false}`)))
	if err != nil {
		t.Fatal(err)
	}
	if d.MeshUUID.String() != "8F6A3B2C-1D4E-4F50-9A6B-7C8D9E0F1A2B" {
		t.Errorf("32-hex meshUUID: %v", d.MeshUUID)
	}
	n := d.Nodes[0]
	if n.UnicastAddress != 0xab || n.Security != SecurityInsecure {
		t.Errorf("node %+v", n)
	}
	if p := n.Elements[0].Models[0].Publish.Period; p != (Period{30, 100}) {
		t.Errorf("integer period: %+v", p)
	}
	for _, c := range []struct{ ms, steps, res int }{{0, 0, 100}, {6300, 63, 100}, {6400, 7, 0}, {10000, 10, 1000}, {70000, 7, 10000}, {1200000, 2, 600000}} {
		var p Period
		err := p.UnmarshalJSON([]byte(strconv.Itoa(c.ms)))
		if c.res == 0 {
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("%d ms: %+v %v, want ErrSyntax", c.ms, p, err)
			}
			continue
		}
		if err != nil || p.NumberOfSteps != c.steps || p.Resolution != c.res {
			t.Errorf("%d ms: %+v %v", c.ms, p, err)
		}
	}
}

// TestValidation: each rule reports a clear error wrapping ErrInvalid or
// ErrSyntax.
func TestValidation(t *testing.T) {
	const node2 = `{"UUID":"70CF7C97-32A3-45B6-9149-4810D2E9CBF4","unicastAddress":"0002","netKeys":[{"index":0}],"appKeys":[],"elements":[{"index":0,"location":"0000","models":[]},{"index":1,"location":"0000","models":[]}]}`
	doc := func(netKeys, appKeys, nodes string) []byte {
		return []byte(`{"meshUUID":"8F6A3B2C-1D4E-4F50-9A6B-7C8D9E0F1A2B","meshName":"x","netKeys":[` + netKeys + `],"appKeys":[` + appKeys +
			`],"provisioners":[],"groups":[],"scenes":[],"nodes":[` + nodes + `]}`)
	}
	nk0 := `{"index":0,"key":"7DD7364CD842AD18C17C2B820C84C3D6","phase":0}`
	cases := []struct {
		name, body string
		want       error
		msg        string
	}{
		{"bad hex key length", string(doc(`{"index":0,"key":"7DD7364CD842AD18C17C2B820C84C3","phase":0}`, "", "")), ErrSyntax, "30 hex digits"},
		{"bad hex key", string(doc(`{"index":0,"key":"ZZD7364CD842AD18C17C2B820C84C3D6","phase":0}`, "", "")), ErrSyntax, "key"},
		{"netKey index out of range", string(doc(`{"index":4096,"key":"7DD7364CD842AD18C17C2B820C84C3D6","phase":0}`, "", "")), ErrInvalid, "index 4096 out of range"},
		{"duplicate netKey", string(doc(nk0+","+nk0, "", "")), ErrInvalid, "duplicate netKey index 0"},
		{"phase", string(doc(`{"index":0,"key":"7DD7364CD842AD18C17C2B820C84C3D6","phase":3}`, "", "")), ErrInvalid, "phase 3"},
		{"appKey bound to unknown netKey", string(doc(nk0, `{"index":0,"boundNetKey":2,"key":"63964771734FBD76E3B40519D1D94A48"}`, "")), ErrInvalid, "bound to unknown netKey 2"},
		{"appKey index out of range", string(doc(nk0, `{"index":5000,"boundNetKey":0}`, "")), ErrInvalid, "index 5000"},
		{"duplicate appKey", string(doc(nk0, `{"index":1,"boundNetKey":0},{"index":1,"boundNetKey":0}`, "")), ErrInvalid, "duplicate appKey"},
		{"unicast not unicast", string(doc(nk0, "", strings.Replace(node2, `"0002"`, `"C000"`, 1))), ErrInvalid, "not a unicast address"},
		{"unicast range leaves space", string(doc(nk0, "", strings.Replace(node2, `"0002"`, `"7FFF"`, 1))), ErrInvalid, "leaves the unicast space"},
		{"duplicate addresses", string(doc(nk0, "", node2+","+strings.NewReplacer(`"0002"`, `"0003"`, "70CF", "80CF").Replace(node2))), ErrInvalid, "duplicate addresses"},
		{"duplicate UUID", string(doc(nk0, "", node2+","+strings.Replace(node2, `"0002"`, `"0010"`, 1))), ErrInvalid, "UUID"},
		{"node unknown netKey", string(doc(nk0, "", strings.Replace(node2, `"netKeys":[{"index":0}]`, `"netKeys":[{"index":7}]`, 1))), ErrInvalid, "unknown netKey 7"},
		{"element index", string(doc(nk0, "", strings.Replace(node2, `"index":1,"location"`, `"index":0,"location"`, 1))), ErrInvalid, "index 0"},
		{"bad UUID", string(doc(nk0, "", strings.Replace(node2, "70CF7C97-32A3", "70CF7C97+32A3", 1))), ErrSyntax, "UUID"},
		{"bad address", string(doc(nk0, "", strings.Replace(node2, `"0002"`, `"002"`, 1))), ErrSyntax, "address"},
		{"bad security", string(doc(nk0, "", strings.Replace(node2, `"unicastAddress"`, `"security":"medium","unicastAddress"`, 1))), ErrSyntax, "security"},
		{"version", strings.Replace(string(doc(nk0, "", "")), `"meshName"`, `"version":"2.0","meshName"`, 1), ErrInvalid, "version"},
		{"not json", `{"netKeys":`, ErrSyntax, ""},
		{"wrong type", `{"netKeys":{}}`, ErrSyntax, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body))
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestPublishValidation(t *testing.T) {
	good := Publish{Address: Target{Address: 0xC000}, TTL: 5, Period: Period{1, 1000}, Retransmit: Retransmit{1, 50}}
	for _, c := range []struct {
		name string
		mod  func(*Publish)
	}{
		{"ttl", func(p *Publish) { p.TTL = 128 }},
		{"steps", func(p *Publish) { p.Period.NumberOfSteps = 64 }},
		{"resolution", func(p *Publish) { p.Period.Resolution = 500 }},
		{"credentials", func(p *Publish) { p.Credentials = 2 }},
		{"retransmit count", func(p *Publish) { p.Retransmit.Count = 8 }},
		{"retransmit interval", func(p *Publish) { p.Retransmit.Interval = 75 }},
		{"appkey", func(p *Publish) { p.Index = 4096 }},
	} {
		p := good
		c.mod(&p)
		m := Model{ModelID: SIGModel(0x1000), Publish: &p}
		if err := m.validate("m", nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	m := Model{ModelID: SIGModel(0x1000), Publish: &good, Subscribe: []Target{{Address: 0x0001}}}
	if err := m.validate("m", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("unicast subscription: %v", err)
	}
	m.Subscribe = nil
	if err := m.validate("m", nil); err != nil {
		t.Errorf("good: %v", err)
	}
}

// TestNewNetwork builds a network as the simulator does, adds nodes, and
// checks allocation, keys and a write/read round trip.
func TestNewNetwork(t *testing.T) {
	r := rand.NewChaCha8([32]byte{7})
	d, err := NewNetwork("sim", r)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.MeshUUID[6]>>4 != 4 || d.MeshUUID[8]>>6 != 2 {
		t.Errorf("mesh UUID %v is not version 4", d.MeshUUID)
	}
	nk, _ := d.NetKey(0)
	ak, bound, _ := d.AppKey(0)
	if nk == (crypto.Key{}) || ak == (crypto.Key{}) || nk == ak || bound != 0 {
		t.Fatalf("keys %x %x", nk, ak)
	}
	prov, err := d.AddNode(r, NewNode{Name: "provisioner"})
	if err != nil || prov.UnicastAddress != 1 {
		t.Fatalf("provisioner node: %+v %v", prov, err)
	}
	tgt, err := d.AddNode(r, NewNode{Name: "target", Elements: 3, Models: [][]ModelID{{SIGModel(0x0000), SIGModel(0x1400)}}})
	if err != nil || tgt.UnicastAddress != 2 || tgt.ElementCount() != 3 || len(tgt.AppKeys) != 1 {
		t.Fatalf("target: %+v %v", tgt, err)
	}
	if len(tgt.Elements[0].Models) != 2 || len(tgt.Elements[1].Models) != 0 {
		t.Errorf("models %+v", tgt.Elements)
	}
	if dk, _ := tgt.DevKey(); dk == (crypto.Key{}) {
		t.Error("zero device key")
	}
	next, err := d.AddNode(r, NewNode{Name: "next"})
	if err != nil || next.UnicastAddress != 5 {
		t.Fatalf("next: %+v %v", next, err)
	}
	if _, err := d.AddNode(r, NewNode{Address: 3}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("overlapping address: %v", err)
	}
	if len(d.Nodes) != 3 {
		t.Fatalf("failed AddNode left a node behind: %d", len(d.Nodes))
	}
	if _, err := d.AddNode(r, NewNode{Elements: 300}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("300 elements: %v", err)
	}
	if _, err := d.AddNode(bytes.NewReader(nil), NewNode{}); err == nil {
		t.Fatal("empty rand accepted")
	}
	if _, err := NewNetwork("x", bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("short rand accepted")
	}
	d.Touch(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	path := filepath.Join(t.TempDir(), "net.json")
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Node(0x0003) == nil || back.Node(0x0003).UnicastAddress != 2 || !back.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("reloaded: %+v", back)
	}
	bk, _ := back.NetKey(0)
	if bk != nk {
		t.Fatal("NetKey changed in round trip")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestTextTypes(t *testing.T) {
	var u UUID
	for _, s := range []string{"70cf7c9732a345b691494810d2e9cbf4", "70CF7C97-32A3-45B6-9149-4810D2E9CBF4", "70cf7c97-32a3-45b6-9149-4810d2e9cbf4"} {
		if err := u.UnmarshalText([]byte(s)); err != nil || u.String() != "70CF7C97-32A3-45B6-9149-4810D2E9CBF4" {
			t.Errorf("%s: %v %v", s, u, err)
		}
	}
	var m ModelID
	if err := m.UnmarshalText([]byte("123")); !errors.Is(err, ErrSyntax) {
		t.Errorf("3-digit model: %v", err)
	}
	var tg Target
	if err := tg.UnmarshalText([]byte("C0")); !errors.Is(err, ErrSyntax) {
		t.Errorf("2-digit target: %v", err)
	}
	lt := LabelTarget(UUID{0xf4, 0xa0, 0x02, 0xc7, 0xfb, 0x1e, 0x4c, 0xa0, 0xa4, 0x69, 0xa0, 0x21, 0xde, 0x0d, 0xb8, 0x75})
	if lt.Address != 0x9736 {
		t.Errorf("virtual address %v", lt.Address)
	}
	var ts Time
	if err := ts.UnmarshalText([]byte("yesterday")); !errors.Is(err, ErrSyntax) {
		t.Errorf("bad time: %v", err)
	}
	if err := ts.UnmarshalText([]byte("2025-01-02T03:04:05")); err != nil {
		t.Errorf("zoneless time: %v", err)
	}
}
