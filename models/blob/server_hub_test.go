package blob

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/mesh/node"
)

// A transfer between a Server on one node and a minimal, test-only client
// driver on another, over node.Hub. The driver is not the package's
// Client: it sends each step, retries acknowledged ones, and resends what
// the server reports missing.

var (
	hubNetKey = crypto.Key{0x7d, 0xd7, 0x36, 0x4c, 0xd8, 0x42, 0xad, 0x18, 0xc1, 0x7c, 0x2b, 0x82, 0x0c, 0x84, 0xc3, 0xd6}
	hubAppKey = crypto.Key{0x63, 0x96, 0x47, 0x71, 0x73, 0x4f, 0xbd, 0x76, 0xe3, 0xb4, 0x05, 0x19, 0xd1, 0xd9, 0x4a, 0x48}
)

const (
	hubClient = mesh.Address(0x0001)
	hubTarget = mesh.Address(0x0100)
	hubSize   = 2000 // 8 blocks of 256 octets at log 8 (the last 208)
	hubLog    = 8
	hubChunk  = 40 // 4 segments per Chunk Transfer; 7 chunks per full block
)

type hubWorld struct {
	t       *testing.T
	clk     *faketime.Clock
	hub     *node.Hub
	cli     *node.Node
	model   *access.Model
	inbox   []access.Message
	tPort   *node.HubPort
	tStore  *node.MemoryStore
	target  *node.Node
	srv     *Server
	storage *MemoryStorage
	state   *MemoryStateStore
	cfg     ServerConfig
	blob    []byte
	chunks  uint64 // chunks written by earlier lives of the server
	events  []string
}

func newHubWorld(t *testing.T, loss float64, seed uint64) *hubWorld {
	t.Helper()
	w := &hubWorld{t: t, clk: faketime.New(), storage: &MemoryStorage{}, state: &MemoryStateStore{}, tStore: &node.MemoryStore{}}
	w.hub = &node.Hub{Clock: w.clk, Rand: rand.New(rand.NewPCG(seed, 99)), Loss: loss}
	w.blob = make([]byte, hubSize)
	fill := rand.New(rand.NewPCG(seed, 5))
	for i := range w.blob {
		w.blob[i] = byte(fill.Uint32())
	}
	w.model = &access.Model{ID: ClientModelID}
	for _, op := range []access.Opcode{OpTransferStatus, OpBlockStatus, OpPartialBlockReport, OpInformationStatus} {
		w.model.Ops = append(w.model.Ops, access.Op{Opcode: op, Handler: func(ctx *access.Context, p []byte) {
			m := NewMessage(op)
			if err := m.Unmarshal(p); err != nil {
				t.Errorf("client got bad %s %x: %v", op, p, err)
				return
			}
			w.inbox = append(w.inbox, m)
		}})
	}
	port := w.hub.Attach()
	cli, err := node.New(node.Config{
		Clock: w.clk, Bearer: port, Rand: rand.New(rand.NewPCG(seed, 1)),
		Provisioning: &node.Provisioning{
			Address: hubClient, DevKey: crypto.Key{1},
			NetKeys: []node.NetKeyState{{Index: 0, Key: node.Key(hubNetKey)}},
			AppKeys: []node.AppKeyState{{Index: 0, NetKeyIndex: 0, Key: node.Key(hubAppKey)}},
			Models:  []node.ModelState{{Element: 0, ID: ClientModelID, Bindings: []uint16{0}}},
		},
		Elements:  []node.Element{{Models: []*access.Model{w.model}}},
		NoBeacons: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	port.SetReceiver(cli.Receive)
	w.cli = cli
	w.tPort = w.hub.Attach()
	w.cfg = ServerConfig{Clock: w.clk, Storage: w.storage, State: w.state, Rand: rand.New(rand.NewPCG(seed, 3)),
		MinBlockSizeLog: 6, MaxBlockSizeLog: 8, MaxTotalChunks: 64, MaxChunkSize: 100,
		OnComplete:  func(uint64) { w.events = append(w.events, "complete") },
		OnSuspended: func(uint64) { w.events = append(w.events, "suspended") },
		OnCancel:    func(uint64, error) { w.events = append(w.events, "cancel") },
	}
	w.boot()
	return w
}

// boot (re)starts the target node and its server from their stores.
func (w *hubWorld) boot() {
	w.t.Helper()
	if w.srv != nil {
		w.chunks += w.srv.Stats().Chunks
		w.target.Close()
	}
	srv, err := NewServer(w.cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	target, err := node.New(node.Config{
		Clock: w.clk, Bearer: w.tPort, Store: w.tStore, Rand: rand.New(rand.NewPCG(7, 7)),
		Provisioning: &node.Provisioning{
			Address: hubTarget, DevKey: crypto.Key{2},
			NetKeys: []node.NetKeyState{{Index: 0, Key: node.Key(hubNetKey)}},
			AppKeys: []node.AppKeyState{{Index: 0, NetKeyIndex: 0, Key: node.Key(hubAppKey)}},
			Models:  []node.ModelState{{Element: 0, ID: ServerModelID, Bindings: []uint16{0}}},
		},
		Elements:  []node.Element{{Models: []*access.Model{srv.Model()}}},
		NoBeacons: true,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	srv.SetLayer(target.Access())
	w.tPort.SetReceiver(target.Receive)
	w.target, w.srv = target, srv
}

func (w *hubWorld) send(m access.Message) {
	w.t.Helper()
	done := false
	ctx := &access.Context{Dst: hubTarget, AppKeyIndex: 0, TTL: access.DefaultTTL}
	if err := w.cli.Access().Send(w.model, ctx, m, func(error) { done = true }); err != nil {
		w.t.Fatalf("send %s: %v", m.Opcode(), err)
	}
	for i := 0; i < 2000 && !done; i++ {
		w.clk.Advance(10 * time.Millisecond)
	}
}

// await runs the clock until a message of op arrives or d passes.
func (w *hubWorld) await(op access.Opcode, d time.Duration) access.Message {
	w.t.Helper()
	for end := w.clk.Now().Add(d); ; {
		for i, m := range w.inbox {
			if m.Opcode() == op {
				w.inbox = append(w.inbox[:i], w.inbox[i+1:]...)
				return m
			}
		}
		if !w.clk.Now().Before(end) {
			return nil
		}
		w.clk.Advance(20 * time.Millisecond)
	}
}

// request sends an acknowledged message until its status arrives.
func (w *hubWorld) request(m access.Message, op access.Opcode) access.Message {
	w.t.Helper()
	for range 8 {
		w.inbox = nil
		w.send(m)
		if r := w.await(op, 2*time.Second); r != nil {
			return r
		}
	}
	w.t.Fatalf("%s: no %s", m.Opcode(), op)
	return nil
}

func (w *hubWorld) sendChunks(block int, list []int) {
	bl := BlockLen(hubSize, hubLog, block)
	for _, c := range list {
		off := int(BlockOffset(hubLog, block)) + c*hubChunk
		w.send(&ChunkTransfer{Number: uint16(c), Data: w.blob[off : off+ChunkLen(bl, hubChunk, c)]})
	}
}

func setList(s ChunkSet) []int { return members(s) }

// runPush sends blocks from first on in Push mode, resending what Block
// Get reports missing; stopAfter > 0 stops after that many chunks of
// block stopBlock (to interrupt a transfer mid-block).
func (w *hubWorld) runPush(stopBlock, stopAfter int) bool {
	w.t.Helper()
	for b := range BlockCount(hubSize, hubLog) {
		bs := w.request(&BlockStart{uint16(b), hubChunk}, OpBlockStatus).(*BlockStatus)
		if bs.Status != StatusSuccess {
			w.t.Fatalf("block %d start: %s", b, bs.Status)
		}
		n := ChunkCount(BlockLen(hubSize, hubLog, b), hubChunk)
		var missing ChunkSet
		if err := bs.MissingChunks(&missing, n); err != nil {
			w.t.Fatal(err)
		}
		for round := 0; !missing.Empty(); round++ {
			list := setList(missing)
			if b == stopBlock && stopAfter > 0 {
				w.sendChunks(b, list[:stopAfter])
				return false
			}
			w.sendChunks(b, list)
			bs = w.request(&BlockGet{}, OpBlockStatus).(*BlockStatus)
			if bs.Status != StatusSuccess || bs.MissingChunks(&missing, n) != nil || round > 50 {
				w.t.Fatalf("block %d round %d: %+v", b, round, bs)
			}
		}
	}
	return true
}

// runPull sends what the server asks for, block by block.
func (w *hubWorld) runPull() {
	w.t.Helper()
	for b := range BlockCount(hubSize, hubLog) {
		bs := w.request(&BlockStart{uint16(b), hubChunk}, OpBlockStatus).(*BlockStatus)
		if bs.Status != StatusSuccess || bs.Format != FormatEncodedList {
			w.t.Fatalf("block %d start: %+v", b, bs)
		}
		list := bs.EncodedMissing
		for round := 0; len(list) > 0; round++ {
			ints := make([]int, len(list))
			for i, c := range list {
				ints[i] = int(c)
			}
			w.inbox = nil
			w.sendChunks(b, ints)
			r := w.await(OpPartialBlockReport, 2*DefaultReportInterval)
			if r == nil || round > 100 {
				w.t.Fatalf("block %d: no report (round %d)", b, round)
			}
			list = r.(*PartialBlockReport).EncodedMissing
		}
	}
}

func (w *hubWorld) start(mode TransferMode) {
	w.t.Helper()
	ts := w.request(&TransferStart{Mode: mode, ID: testID, Size: hubSize, BlockSizeLog: hubLog, MTU: 380}, OpTransferStatus).(*TransferStatus)
	if ts.Status != StatusSuccess || ts.Phase != PhaseWaitingForBlock {
		w.t.Fatalf("transfer start: %+v", ts)
	}
}

func (w *hubWorld) finish() {
	w.t.Helper()
	ts := w.request(&TransferGet{}, OpTransferStatus).(*TransferStatus)
	if ts.Phase != PhaseComplete || !ts.BlocksNotReceived.Empty() {
		w.t.Fatalf("final status %+v", ts)
	}
	if !bytes.Equal(w.storage.Data(testID), w.blob) {
		w.t.Fatal("received data differs")
	}
}

func totalChunks() int {
	n := 0
	for b := range BlockCount(hubSize, hubLog) {
		n += ChunkCount(BlockLen(hubSize, hubLog, b), hubChunk)
	}
	return n
}

func TestHub_Transfer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode TransferMode
		loss float64
	}{{ModePush, 0}, {ModePush, 0.2}, {ModePush, 0.5}, {ModePull, 0}, {ModePull, 0.1}, {ModePull, 0.5}} {
		t.Run(fmt.Sprintf("%s/loss=%v", tc.mode, tc.loss), func(t *testing.T) {
			t.Parallel()
			w := newHubWorld(t, tc.loss, 42)
			if err := w.srv.Prepare(testID, access.DefaultTTL, 1); err != nil {
				t.Fatal(err)
			}
			caps := w.request(&InformationGet{}, OpInformationStatus).(*InformationStatus)
			if caps.MaxBlockSizeLog != 8 || caps.Validate() != nil {
				t.Fatalf("capabilities %+v", caps)
			}
			w.start(tc.mode)
			if tc.mode == ModePush {
				w.runPush(-1, 0)
			} else {
				w.runPull()
			}
			w.finish()
			t.Logf("%s: %v virtual, %d PDUs sent, %d losses", t.Name(), w.clk.Now().Sub(faketime.Epoch), w.hub.Sent, w.hub.Lost)
			if tc.loss > 0 && w.hub.Lost == 0 {
				t.Error("no PDU was lost")
			}
			if fmt.Sprint(w.events) != "[complete]" {
				t.Errorf("events %v", w.events)
			}
			if got := int(w.srv.Stats().Chunks); got != totalChunks() {
				t.Errorf("chunks written %d, want %d", got, totalChunks())
			}
		})
	}
}

// TestHub_RebootMidBlock reboots the target in the middle of block 3: it
// comes back Suspended, resumes on Transfer Start and completes without
// receiving completed blocks again.
func TestHub_RebootMidBlock(t *testing.T) {
	t.Parallel()
	w := newHubWorld(t, 0, 7)
	w.srv.Prepare(testID, access.DefaultTTL, 1)
	w.start(ModePush)
	if w.runPush(3, 4) {
		t.Fatal("transfer did not stop")
	}
	w.boot()
	if w.srv.Phase() != PhaseSuspended {
		t.Fatalf("after reboot: %s", w.srv.Phase())
	}
	if st := w.request(&BlockGet{}, OpBlockStatus).(*BlockStatus).Status; st != StatusInformationUnavailable {
		t.Errorf("Block Get after reboot: %s", st)
	}
	w.start(ModePush)
	w.runPush(-1, 0)
	w.finish()
	total := w.chunks + w.srv.Stats().Chunks
	if want := uint64(totalChunks() + 4); total != want {
		t.Errorf("chunks written %d, want %d (only block 3's first 4 again)", total, want)
	}
}

// TestHub_Cancel cancels mid-block.
func TestHub_Cancel(t *testing.T) {
	t.Parallel()
	w := newHubWorld(t, 0, 8)
	w.srv.Prepare(testID, access.DefaultTTL, 1)
	w.start(ModePush)
	w.runPush(2, 3)
	ts := w.request(&TransferCancel{testID}, OpTransferStatus).(*TransferStatus)
	if ts.Status != StatusSuccess || ts.Phase != PhaseInactive || ts.HasID || w.srv.Phase() != PhaseInactive {
		t.Fatalf("cancel: %+v, phase %s", ts, w.srv.Phase())
	}
	if fmt.Sprint(w.events) != "[cancel]" {
		t.Errorf("events %v", w.events)
	}
	w.boot()
	if w.srv.Phase() != PhaseInactive {
		t.Errorf("cancelled transfer came back %s", w.srv.Phase())
	}
}

// TestHub_InactivitySuspends lets the client go silent mid-block: the
// server suspends after 10·(Timeout Base + 1) s, then resumes and
// completes.
func TestHub_InactivitySuspends(t *testing.T) {
	t.Parallel()
	w := newHubWorld(t, 0, 9)
	w.srv.Prepare(testID, access.DefaultTTL, 2)
	w.start(ModePush)
	w.runPush(5, 2)
	w.clk.Advance(29 * time.Second)
	if w.srv.Phase() != PhaseWaitingForChunk {
		t.Fatalf("suspended early: %s", w.srv.Phase())
	}
	w.clk.Advance(time.Second)
	if w.srv.Phase() != PhaseSuspended {
		t.Fatalf("after 30 s: %s", w.srv.Phase())
	}
	w.start(ModePush)
	w.runPush(-1, 0)
	w.finish()
	if fmt.Sprint(w.events) != "[suspended complete]" {
		t.Errorf("events %v", w.events)
	}
}
