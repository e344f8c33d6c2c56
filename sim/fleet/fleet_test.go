package fleet_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/sim/fleet"
)

const (
	testModel = access.ModelID(0x1000) // Generic OnOff Server, as a stand-in application model
	opTest    = access.Opcode(0x8203)  // Generic OnOff Set Unacknowledged, carrying opaque bytes
	group     = mesh.Address(0xC001)
)

// raw is an access message with opaque parameters.
type raw struct {
	op     access.Opcode
	params []byte
}

func (m *raw) Opcode() access.Opcode                 { return m.op }
func (m *raw) AppendBinary(b []byte) ([]byte, error) { return append(b, m.params...), nil }
func (m *raw) Unmarshal(p []byte) error              { m.params = bytes.Clone(p); return nil }

// received is one message a test model got.
type received struct {
	src, dst mesh.Address
	params   []byte
}

// recorder gives every node a test model and records what each receives.
type recorder struct {
	got    [][]received
	count  int
	models []*access.Model
	keep   bool // keep copies of the parameters (else count only)
}

func newRecorder(n int, keep bool) *recorder {
	return &recorder{got: make([][]received, n), models: make([]*access.Model, n), keep: keep}
}

func (r *recorder) Models(i int) []node.Element {
	m := &access.Model{ID: testModel, Ops: []access.Op{{Opcode: opTest, Handler: func(ctx *access.Context, params []byte) {
		r.count++
		if r.keep {
			r.got[i] = append(r.got[i], received{ctx.Src, ctx.Dst, bytes.Clone(params)})
		} else {
			r.got[i] = append(r.got[i], received{src: ctx.Src, dst: ctx.Dst})
		}
	}}}}
	r.models[i] = m
	return []node.Element{{Models: []*access.Model{m}}}
}

// send sends params from node i's test model to dst with AppKey 0.
func (r *recorder) send(t testing.TB, f *fleet.Fleet, i int, dst mesh.Address, params []byte, done func(error)) {
	t.Helper()
	err := f.Node(i).Access().Send(r.models[i], &access.Context{Dst: dst, AppKeyIndex: 0, TTL: access.DefaultTTL}, &raw{op: opTest, params: params}, done)
	if err != nil {
		t.Fatal(err)
	}
}

// replay prints how to rerun a failing scenario.
func replay(t *testing.T, seed uint64) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			fmt.Printf("replay: go test -run '%s' ./sim/fleet/ (seed %d)\n", t.Name(), seed)
		}
	})
}

func TestReboot_KeepsConfigurationAndSeq(t *testing.T) {
	rec := newRecorder(3, true)
	f, err := fleet.New(fleet.Config{Seed: 5, Nodes: 3, Relays: fleet.RelaysNone, Models: rec.Models,
		Preconfigure: fleet.PreconfigureApp(0, group)})
	if err != nil {
		t.Fatal(err)
	}
	rec.send(t, f, 0, group, []byte("one"), nil)
	f.RunUntilIdle(time.Minute)
	seq := f.Node(1).Seq(0)
	if err := f.Reboot(1); err != nil {
		t.Fatal(err)
	}
	if f.Node(1).Seq(0) < seq {
		t.Fatalf("SEQ went back from %d to %d", seq, f.Node(1).Seq(0))
	}
	if m := f.Node(1).Access().Model(f.Address(1), testModel); m == nil || !m.IsBound(0) || !m.IsSubscribed(group, nil) {
		t.Fatal("configuration lost over the reboot")
	}
	rec.send(t, f, 0, group, []byte("two"), nil)
	f.RunUntilIdle(time.Minute)
	if len(rec.got[1]) != 2 || string(rec.got[1][1].params) != "two" {
		t.Fatalf("node 1 received %v", rec.got[1])
	}
	m := f.Metrics()
	if m.Nodes[1].Reboots != 1 || m.Nodes[1].Transport.AccessDelivered != 2 {
		t.Fatalf("metrics of node 1: reboots %d, access delivered %d", m.Nodes[1].Reboots, m.Nodes[1].Transport.AccessDelivered)
	}
	// Off, a node hears nothing; its traffic resumes once back on.
	f.PowerOff(2)
	rec.send(t, f, 0, group, []byte("three"), nil)
	f.RunUntilIdle(time.Minute)
	if len(rec.got[2]) != 2 || f.IsOn(2) {
		t.Fatalf("node 2 off received %d", len(rec.got[2]))
	}
	if err := f.PowerOn(2); err != nil {
		t.Fatal(err)
	}
	if f.Index(f.Address(2)) != 2 || f.Index(0x7000) != -1 {
		t.Fatal("Index")
	}
}

func TestNew_Errors(t *testing.T) {
	if _, err := fleet.New(fleet.Config{}); err == nil {
		t.Fatal("no nodes accepted")
	}
	if _, err := fleet.New(fleet.Config{Nodes: 3, RelaySet: []bool{true}}); err == nil {
		t.Fatal("short RelaySet accepted")
	}
}
