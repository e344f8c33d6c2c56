package node

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

var (
	netKey     = crypto.Key{0x7d, 0xd7, 0x36, 0x4c, 0xd8, 0x42, 0xad, 0x18, 0xc1, 0x7c, 0x2b, 0x82, 0x0c, 0x84, 0xc3, 0xd6}
	testAppKey = crypto.Key{0x63, 0x96, 0x47, 0x71, 0x73, 0x4f, 0xbd, 0x76, 0xe3, 0xb4, 0x05, 0x19, 0xd1, 0xd9, 0x4a, 0x48}
	devKey     = crypto.Key{0x9d, 0x6d, 0xd0, 0xe9, 0x6e, 0xb2, 0x5d, 0xc1, 0x9a, 0x40, 0xed, 0x99, 0x14, 0xf8, 0xf0, 0x3f}
	cliKey     = crypto.Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

const (
	opTest     access.Opcode = 0x8201 // Generic OnOff Get, used here as "some app message"
	testModel                = access.ModelID(0x1000)
	group                    = mesh.Address(0xC001)
	clientAddr               = mesh.Address(0x0001)
	targetAddr               = mesh.Address(0x0100)
)

// raw is an access message with opaque parameters.
type raw struct {
	op     access.Opcode
	params []byte
}

func (m *raw) Opcode() access.Opcode                 { return m.op }
func (m *raw) AppendBinary(b []byte) ([]byte, error) { return append(b, m.params...), nil }
func (m *raw) Unmarshal(p []byte) error              { m.params = bytes.Clone(p); return nil }

type world struct {
	clk    *faketime.Clock
	hub    *Hub
	client *Node
	target *Node
	tStore *MemoryStore
	tPort  *HubPort
	got    [][]byte
	model  *access.Model
}

func newWorld(t *testing.T, loss float64, seed uint64) *world {
	t.Helper()
	w := &world{clk: faketime.New(), tStore: &MemoryStore{}}
	w.hub = &Hub{Clock: w.clk, Rand: rand.New(rand.NewPCG(seed, 99)), Loss: loss}
	cp := w.hub.Attach()
	client, err := New(Config{
		Clock: w.clk, Bearer: cp, Rand: rand.New(rand.NewPCG(seed, 1)),
		Provisioning: &Provisioning{
			Address: clientAddr, DevKey: cliKey,
			NetKeys: []NetKeyState{{Index: 0, Key: Key(netKey)}},
			AppKeys: []AppKeyState{{Index: 0, NetKeyIndex: 0, Key: Key(testAppKey)}},
		},
		ConfigClient: true,
		PeerDevKey: func(a mesh.Address) (crypto.Key, bool) {
			return devKey, a == targetAddr
		},
		ConfigClientConfig: config.ClientConfig{Timeout: 20 * time.Second},
		NoBeacons:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	cp.SetReceiver(client.Receive)
	w.client = client
	w.tPort = w.hub.Attach()
	w.bootTarget(t)
	return w
}

// bootTarget (re)starts the target from its store.
func (w *world) bootTarget(t *testing.T) {
	t.Helper()
	w.model = &access.Model{ID: testModel, Ops: []access.Op{{Opcode: opTest, Handler: func(ctx *access.Context, params []byte) {
		w.got = append(w.got, bytes.Clone(params))
	}}}}
	target, err := New(Config{
		Clock: w.clk, Bearer: w.tPort, Store: w.tStore, Rand: rand.New(rand.NewPCG(7, 7)),
		Provisioning: &Provisioning{
			Address: targetAddr, DevKey: devKey,
			NetKeys: []NetKeyState{{Index: 0, Key: Key(netKey)}},
		},
		Elements:  []Element{{Models: []*access.Model{w.model}}, {}},
		NoBeacons: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.tPort.SetReceiver(target.Receive)
	w.target = target
}

func await[T any](t *testing.T, w *world, start func(cb func(T, error)) error) T {
	t.Helper()
	var (
		got  T
		err  error
		done bool
	)
	if e := start(func(v T, e error) { got, err, done = v, e, true }); e != nil {
		t.Fatal(e)
	}
	for i := 0; i < 1000 && !done; i++ {
		w.clk.Advance(50 * time.Millisecond)
	}
	if !done {
		t.Fatal("no answer")
	}
	var se *config.StatusError
	if err != nil && !errors.As(err, &se) {
		t.Fatal(err)
	}
	return got
}

// configure runs the DFU-relevant configuration of the target from the
// client: AppKey add, model app bind, subscription add, publication set.
func (w *world) configure(t *testing.T) {
	t.Helper()
	cc := w.client.ConfigClient()
	ak := await(t, w, func(cb func(*config.AppKeyStatus, error)) error {
		return cc.AddAppKey(targetAddr, 0, 0, testAppKey, cb)
	})
	if ak.Status != config.StatusSuccess {
		t.Fatalf("AppKey Add: %v", ak.Status)
	}
	bs := await(t, w, func(cb func(*config.ModelAppStatus, error)) error {
		return cc.Bind(targetAddr, targetAddr, 0, testModel, cb)
	})
	if bs.Status != config.StatusSuccess {
		t.Fatalf("Bind: %v", bs.Status)
	}
	ss := await(t, w, func(cb func(*config.ModelSubscriptionStatus, error)) error {
		return cc.Subscribe(targetAddr, targetAddr, testModel, config.SubscriptionAdd, group, nil, cb)
	})
	if ss.Status != config.StatusSuccess {
		t.Fatalf("Subscribe: %v", ss.Status)
	}
	ps := await(t, w, func(cb func(*config.ModelPublicationStatus, error)) error {
		return cc.SetPublication(targetAddr, targetAddr, testModel, access.Publication{
			Address: clientAddr, AppKeyIndex: 0, TTL: 5,
			Retransmit: access.PublishRetransmit{Count: 1, IntervalSteps: 1},
		}, cb)
	})
	if ps.Status != config.StatusSuccess {
		t.Fatalf("Publication Set: %v", ps.Status)
	}
	// Asking for a model the target does not have answers Invalid Model.
	bad := await(t, w, func(cb func(*config.ModelAppStatus, error)) error {
		return cc.Bind(targetAddr, targetAddr, 0, access.ModelID(0x1234), cb)
	})
	if bad.Status != config.StatusInvalidModel {
		t.Fatalf("Bind to a missing model: %v, want Invalid Model", bad.Status)
	}
}

func TestConfigureOverHub(t *testing.T) {
	w := newWorld(t, 0, 1)
	w.configure(t)
	m := w.target.Access().Model(targetAddr, testModel)
	if !m.IsBound(0) || !m.IsSubscribed(group, nil) || m.Publication().Address != clientAddr {
		t.Fatalf("target model: bound %v, subscribed %v, publication %+v", m.IsBound(0), m.IsSubscribed(group, nil), m.Publication())
	}
	// An application message to the group reaches the subscribed model.
	sendApp(t, w, group, []byte("hello group"))
	if len(w.got) != 1 || string(w.got[0]) != "hello group" {
		t.Fatalf("model received %q", w.got)
	}
}

func sendApp(t *testing.T, w *world, dst mesh.Address, params []byte) {
	t.Helper()
	sendAppFrom(t, w, w.client, dst, params)
}

func sendAppFrom(t *testing.T, w *world, from *Node, dst mesh.Address, params []byte) {
	t.Helper()
	var sendErr error
	done := false
	// The client has no model bound to the AppKey; send from the transport.
	payload, _ := access.Marshal(&raw{op: opTest, params: params})
	err := from.Transport().SendAccess(&transport.AccessTx{Src: from.Address(), Dst: dst, AppKeyIndex: 0, TTL: 5, Payload: payload}, func(err error) {
		sendErr, done = err, true
	})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.RunUntilIdle(time.Minute)
	if !done || sendErr != nil {
		t.Fatalf("send: done %v, %v", done, sendErr)
	}
}

// Configuration survives a reboot; SEQ resumes above any used before.
func TestRebootKeepsStateAndSeq(t *testing.T) {
	w := newWorld(t, 0, 2)
	w.configure(t)
	seqBefore := w.target.Seq(0)
	w.target.Close()
	w.bootTarget(t)
	if got := w.target.Seq(0); got < seqBefore {
		t.Fatalf("SEQ after reboot %d < %d before", got, seqBefore)
	}
	m := w.target.Access().Model(targetAddr, testModel)
	if !m.IsBound(0) || !m.IsSubscribed(group, nil) || m.Publication().Address != clientAddr {
		t.Fatal("configuration lost over a reboot")
	}
	sendApp(t, w, targetAddr, []byte("after reboot"))
	if len(w.got) != 1 || string(w.got[0]) != "after reboot" {
		t.Fatalf("model received %q", w.got)
	}
}

// A 380-octet access message reaches a unicast peer intact at 30 %
// loss per transmission and receiver, with DFU-sized SAR budgets.
func TestLargeMessageUnderLoss(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		w := newWorld(t, 0, seed)
		w.configure(t)
		w.hub.Loss = 0.3
		sar := transport.DefaultSARTransmitter
		sar.UnicastRetransmissionsCount, sar.UnicastRetransmissionsWithoutProgressCount = 15, 15
		if err := w.client.Transport().SetSARTransmitter(sar); err != nil {
			t.Fatal(err)
		}
		params := make([]byte, 380-2)
		for i := range params {
			params[i] = byte(i * 7)
		}
		sendApp(t, w, targetAddr, params)
		if len(w.got) != 1 || !bytes.Equal(w.got[0], params) {
			t.Fatalf("seed %d: received %d messages", seed, len(w.got))
		}
		if w.hub.Lost == 0 {
			t.Fatal("no loss happened")
		}
	}
}

// A PDU heard again is dropped: by the network cache, and by replay
// protection once the cache has forgotten it.
func TestReplayDropped(t *testing.T) {
	w := newWorld(t, 0, 3)
	w.configure(t)
	var captured [][]byte
	w.tPort.SetReceiver(func(kind mesh.ADType, p []byte) {
		captured = append(captured, bytes.Clone(p))
		w.target.Receive(kind, p)
	})
	sendApp(t, w, targetAddr, []byte("once"))
	if len(w.got) != 1 {
		t.Fatalf("got %d", len(w.got))
	}
	w.target.Network().ResetCache()
	for _, p := range captured {
		w.target.Receive(mesh.ADMessage, p)
	}
	w.clk.RunUntilIdle(time.Minute)
	if len(w.got) != 1 {
		t.Fatalf("replayed message delivered again: %d", len(w.got))
	}
	if w.target.Transport().Stats().ReplaysDropped == 0 {
		t.Fatal("replay not counted")
	}
}

func TestNotProvisioned(t *testing.T) {
	clk := faketime.New()
	h := &Hub{Clock: clk}
	if _, err := New(Config{Clock: clk, Bearer: h.Attach()}); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("got %v", err)
	}
}

func TestFileStore(t *testing.T) {
	fs := &FileStore{Path: t.TempDir() + "/node/state.json"}
	if _, err := fs.Load(); !errors.Is(err, ErrNoState) {
		t.Fatal(err)
	}
	s := &State{Address: 5, DevKey: Key(devKey), SeqLimit: []uint32{7}}
	if err := fs.Save(s); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Load()
	if err != nil || got.Address != 5 || got.DevKey != Key(devKey) || got.SeqLimit[0] != 7 {
		t.Fatalf("%+v %v", got, err)
	}
	// The state holds the keys: owner-only file in an owner-only directory.
	for path, want := range map[string]os.FileMode{fs.Path: 0o600, filepath.Dir(fs.Path): 0o700} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", path, st, err, want)
		}
	}
}
