package dfu_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/sim/fleet"
)

// Simulator scenarios: a Firmware Update Client (with its BLOB client) on
// node 0 updates Firmware Update Servers on the other nodes of a sim/fleet
// network, with real fw images, signatures and reboots.

const (
	simGroup  = mesh.Address(0xC0DF)
	simBLOBID = uint64(0x0D0F0D0F12345678)
)

var (
	simOldFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x02, 0x00}
	simNewFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x03, 0x00}
)

type simCase struct {
	seed     uint64
	targets  int
	flags    fw.Flags
	wrongKey []int                   // targets configured with another public key
	tamper   []int                   // targets whose received image is corrupted
	during   func(w *simWorld)       // runs once the BLOB transfer is under way
	check    func(w *simWorld) error // metadata check before the update
}

type simWorld struct {
	t       *testing.T
	sc      simCase
	f       *fleet.Fleet
	client  *dfu.Client
	bcli    *blob.Client
	servers []*dfu.Server
	stores  []*blob.MemoryStorage
	bstate  []*blob.MemoryStateStore
	dstate  []*blob.MemoryStateStore
	images  [][]dfu.FirmwareInformation
	pub     ed25519.PublicKey
	other   ed25519.PublicKey
	file    []byte
	meta    []byte
	results []dfu.TargetResult
	err     error
	ended   bool
	reboots int
}

type lazyClock struct {
	w *simWorld
	i int
}

func (c lazyClock) Now() time.Time { return c.w.f.Clock(c.i).Now() }
func (c lazyClock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.w.f.Clock(c.i).AfterFunc(d, f)
}

func keyPair(t *testing.T, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func newSimWorld(t *testing.T, sc simCase) *simWorld {
	t.Helper()
	n := sc.targets + 1
	w := &simWorld{t: t, sc: sc, servers: make([]*dfu.Server, n), stores: make([]*blob.MemoryStorage, n),
		bstate: make([]*blob.MemoryStateStore, n), dstate: make([]*blob.MemoryStateStore, n),
		images: make([][]dfu.FirmwareInformation, n)}
	pub, priv := keyPair(t, 1)
	w.pub = pub
	w.other, _ = keyPair(t, 2)

	// The new image, its signed metadata and the image file the targets
	// receive as the BLOB.
	image := make([]byte, 3000)
	r := rand.New(rand.NewPCG(sc.seed, 5))
	for i := range image {
		image[i] = byte(r.Uint32())
	}
	m, err := fw.NewMetadata("1.0.3", image, sc.flags)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(priv, simNewFWID); err != nil {
		t.Fatal(err)
	}
	if w.meta, err = m.Marshal(); err != nil {
		t.Fatal(err)
	}
	file := fw.ImageFile{FirmwareID: simNewFWID, Metadata: w.meta, Image: image}
	if w.file, err = file.MarshalBinary(); err != nil {
		t.Fatal(err)
	}

	for i := 1; i < n; i++ {
		w.stores[i] = &blob.MemoryStorage{}
		w.bstate[i] = &blob.MemoryStateStore{}
		w.dstate[i] = &blob.MemoryStateStore{}
		w.images[i] = []dfu.FirmwareInformation{{FirmwareID: simOldFWID, UpdateURI: "https://fw.example.com/mesh"}}
	}
	strat := blob.StrategyMeshdfu
	ntx := strat.NetworkTransmit
	w.bcli, err = blob.NewClient(blob.ClientConfig{Clock: lazyClock{w, 0}, Strategy: strat, TimeoutBase: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.client, err = dfu.NewClient(dfu.ClientConfig{Clock: lazyClock{w, 0}, BLOB: w.bcli})
	if err != nil {
		t.Fatal(err)
	}
	w.f, err = fleet.New(fleet.Config{
		Seed: sc.seed, Nodes: n, Relays: fleet.RelaysNone,
		NetworkTransmit: &ntx, SARTx: strat.SAR, SARRx: strat.TargetSARRx,
		Preconfigure: fleet.PreconfigureApp(0, simGroup),
		Models: func(i int) []node.Element {
			if i == 0 {
				return []node.Element{{Models: []*access.Model{w.client.Model(), w.bcli.Model()}}}
			}
			return []node.Element{{Models: w.newServer(i).Models()}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.bcli.SetLayer(w.f.Node(0).Access())
	w.client.SetLayer(w.f.Node(0).Access())
	for i := 1; i < n; i++ {
		w.servers[i].SetLayer(w.f.Node(i).Access())
	}
	return w
}

func contains(list []int, i int) bool {
	for _, v := range list {
		if v == i {
			return true
		}
	}
	return false
}

// newServer builds target i's server from its durable state (at boot and
// after every reboot).
func (w *simWorld) newServer(i int) *dfu.Server {
	store := w.stores[i]
	fwh := &dfu.Firmware{PublicKey: w.pub, Data: store.Data}
	if contains(w.sc.wrongKey, i) {
		fwh.PublicKey = w.other
	}
	cfg := dfu.ServerConfig{
		Clock:  lazyClock{w, i},
		Images: w.images[i],
		State:  w.dstate[i],
		BLOB: blob.ServerConfig{
			Storage: store, State: w.bstate[i],
			Rand:            rand.New(rand.NewPCG(w.sc.seed, uint64(i))),
			MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxBLOBSize: 1 << 16,
		},
		OnApplied: func(_ uint8, _ dfu.AdditionalInfo, images []dfu.FirmwareInformation) {
			w.images[i] = images
			// The emulated device reboots into the new firmware.
			w.f.Clock(0).AfterFunc(20*time.Millisecond, func() { w.reboot(i) })
		},
	}
	if contains(w.sc.tamper, i) {
		cfg.BLOB.OnComplete = func(id uint64) {
			if d := store.Data(id); len(d) > 100 {
				d[100] ^= 0xff // corrupted on the way in
			}
		}
	}
	fwh.Install(&cfg)
	s, err := dfu.NewServer(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.servers[i] = s
	return s
}

func (w *simWorld) reboot(i int) {
	w.reboots++
	if err := w.f.Reboot(i); err != nil {
		w.t.Fatal(err)
	}
	w.servers[i].SetLayer(w.f.Node(i).Access())
}

func (w *simWorld) targets() []dfu.Target {
	var out []dfu.Target
	for i := 1; i <= w.sc.targets; i++ {
		out = append(out, dfu.Target{Address: w.f.Address(i)})
	}
	return out
}

func (w *simWorld) run() {
	w.t.Helper()
	if w.sc.check != nil {
		if err := w.sc.check(w); err != nil {
			w.t.Fatal(err)
		}
	}
	u := dfu.Update{
		Targets: w.targets(), FirmwareID: simNewFWID, Metadata: w.meta,
		BLOB: bytes.NewReader(w.file), Size: uint32(len(w.file)), BLOBID: simBLOBID,
		TTL: access.DefaultTTL, TimeoutBase: 1, Mode: blob.ModePush, Group: simGroup,
		OnEnd: func(res []dfu.TargetResult, err error) { w.results, w.err, w.ended = res, err, true },
	}
	w.f.Post(0, func() {
		if err := w.client.Update(u); err != nil {
			w.t.Error(err)
		}
	})
	if w.sc.during != nil {
		w.f.RunUntil(func() bool { return w.bcli.State() == blob.ClientBlock || w.ended }, time.Hour)
		w.sc.during(w)
	}
	w.f.RunUntil(func() bool { return w.ended }, 2*time.Hour)
	if !w.ended {
		w.t.Fatalf("seed %d: no end after %v; results %+v", w.sc.seed, w.f.Elapsed(), w.client.UpdateResults())
	}
	w.f.RunFor(time.Second) // let the last reboots happen
}

// expect checks every target: the failed ones ended Verification Failed
// with want as the server's reason, the others run the new firmware.
func (w *simWorld) expect(failed map[int]error) {
	w.t.Helper()
	if w.err != nil {
		w.t.Fatalf("seed %d: update: %v; %+v", w.sc.seed, w.err, w.results[0])
	}
	for i := 1; i <= w.sc.targets; i++ {
		res := w.results[i-1]
		srv := w.servers[i]
		if want, bad := failed[i]; bad {
			if !errors.Is(res.Err, dfu.ErrVerificationFailed) || res.Phase != dfu.PhaseVerificationFailed {
				w.t.Errorf("seed %d: target %d: %+v, want Verification Failed", w.sc.seed, i, res)
			}
			if !errors.Is(srv.VerifyError(), want) || srv.Phase() != dfu.PhaseVerificationFailed {
				w.t.Errorf("seed %d: target %d: phase %s, reason %v, want %v", w.sc.seed, i, srv.Phase(), srv.VerifyError(), want)
			}
			if !bytes.Equal(srv.Images()[0].FirmwareID, simOldFWID) {
				w.t.Errorf("target %d: applied a rejected image", i)
			}
			continue
		}
		if res.Err != nil || res.Phase != dfu.PhaseApplySuccess {
			w.t.Errorf("seed %d: target %d: %+v (%v)", w.sc.seed, i, res, res.Err)
		}
		if !bytes.Equal(srv.Images()[0].FirmwareID, simNewFWID) || srv.Phase() != dfu.PhaseIdle {
			w.t.Errorf("seed %d: target %d runs %x in phase %s", w.sc.seed, i, srv.Images()[0].FirmwareID, srv.Phase())
		}
	}
}

func TestSim_Update20Targets(t *testing.T) {
	w := newSimWorld(t, simCase{seed: 1, targets: 20})
	w.run()
	w.expect(nil)
	if w.reboots != 20 {
		t.Fatalf("%d reboots, want 20", w.reboots)
	}
	t.Logf("20 targets updated in %v of virtual time", w.f.Elapsed())
}

func TestSim_TamperedAndWrongKey(t *testing.T) {
	w := newSimWorld(t, simCase{seed: 2, targets: 6, tamper: []int{2}, wrongKey: []int{5}})
	w.run()
	w.expect(map[int]error{2: fw.ErrImageFile, 5: fw.ErrBadSignature})
}

func TestSim_RebootDuringTransfer(t *testing.T) {
	w := newSimWorld(t, simCase{seed: 3, targets: 4, during: func(w *simWorld) {
		w.f.RunFor(300 * time.Millisecond)
		w.reboot(3)
		if p := w.servers[3].Phase(); p != dfu.PhaseTransferError {
			w.t.Errorf("target 3 after reboot mid-transfer: %s", p)
		}
	}})
	w.run()
	w.expect(nil)
}

func TestSim_CompositionChange(t *testing.T) {
	var checked []*dfu.MetadataStatus
	sc := simCase{seed: 4, targets: 3, flags: fw.FlagCompositionChange | fw.FlagRemoteProvisioning}
	sc.check = func(w *simWorld) error {
		done := false
		w.f.Post(0, func() {
			w.client.MetadataCheck(w.targets(), w.meta, func(a mesh.Address, st *dfu.MetadataStatus, err error) {
				if err != nil {
					w.t.Errorf("%s: %v", a, err)
					return
				}
				checked = append(checked, st)
			}, func() { done = true })
		})
		w.f.RunUntil(func() bool { return done }, time.Minute)
		return nil
	}
	w := newSimWorld(t, sc)
	w.run()
	w.expect(nil)
	if len(checked) != 3 {
		t.Fatalf("%d metadata statuses", len(checked))
	}
	for _, st := range checked {
		if st.Status != dfu.StatusSuccess || st.AdditionalInfo != dfu.InfoCompositionChange {
			t.Errorf("metadata status %+v", st)
		}
	}
	for _, r := range w.results {
		if r.AdditionalInfo != dfu.InfoCompositionChange {
			t.Errorf("target %s: additional info %s", r.Address, r.AdditionalInfo)
		}
	}
}

// TestSim_GroupRequests: with a group and every target a neighbour, the
// Firmware Update requests go to the group once per step and most
// statuses answer it; every target still applies.
func TestSim_GroupRequests(t *testing.T) {
	w := newSimWorld(t, simCase{seed: 6, targets: 6})
	w.run()
	w.expect(nil)
	st := w.client.Stats()
	// Get (hops), Start, at least one verification Get, Apply, Information.
	t.Logf("stats %+v", st)
	if st.GroupSends < 5 || st.GroupAnswers == 0 {
		t.Fatalf("stats %+v", st)
	}
	if got := w.client.MaxHops(); got != 1 {
		t.Fatalf("max hops %d", got)
	}
}

// TestSim_SilentTargetAndCancel: a powered-off target fails with a timeout
// while the others apply; then Information pages and Cancel answers.
func TestSim_SilentTargetAndCancel(t *testing.T) {
	w := newSimWorld(t, simCase{seed: 5, targets: 3})
	w.f.PowerOff(2)
	w.run()
	if w.err != nil {
		t.Fatalf("%v %+v", w.err, w.results)
	}
	for i, r := range w.results {
		if i == 1 {
			if !errors.Is(r.Err, dfu.ErrTimeout) {
				t.Errorf("silent target: %+v", r)
			}
			continue
		}
		if r.Err != nil || r.Phase != dfu.PhaseApplySuccess {
			t.Errorf("target %d: %+v", i+1, r)
		}
	}
	var lists [][]dfu.FirmwareInformation
	var cancels []*dfu.UpdateStatus
	done := 0
	w.f.Post(0, func() {
		w.client.Information([]mesh.Address{w.f.Address(1), w.f.Address(3)}, func(a mesh.Address, l []dfu.FirmwareInformation, err error) {
			if err != nil {
				t.Error(err)
			}
			lists = append(lists, l)
		}, func() { done++ })
		w.client.Cancel([]mesh.Address{w.f.Address(1)}, func(a mesh.Address, st *dfu.UpdateStatus, err error) {
			if err != nil {
				t.Error(err)
			}
			cancels = append(cancels, st)
		}, func() { done++ })
	})
	w.f.RunUntil(func() bool { return done == 2 }, time.Minute)
	if len(lists) != 2 || !bytes.Equal(lists[0][0].FirmwareID, simNewFWID) || lists[0][0].UpdateURI == "" {
		t.Fatalf("lists %+v", lists)
	}
	if len(cancels) != 1 || cancels[0].Phase != dfu.PhaseIdle || cancels[0].Details {
		t.Fatalf("cancel %+v", cancels)
	}
}
