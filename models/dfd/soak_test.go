package dfd_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/mesh/transport"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// The hostile-air soak: a distributor node (Firmware Distribution Server
// with its upload BLOB Transfer Server on element 0, a Firmware Update
// Server with its BLOB Transfer Server on element 1) takes hundreds of
// thousands of PDUs from the air: random octets, valid PDUs with bits
// flipped, PDUs sealed with the network key whose transport layer is
// random (segments of messages that never complete among them), replays,
// and access messages sealed with the AppKey carrying every server opcode
// with random or mutated parameters. The heap in use after GC must stay
// within soakHeapBound of where it began, nothing may panic, and
// afterwards a client that was there before still gets its answers, the
// stored image is intact and the target still runs its firmware.

const (
	soakDist   = mesh.Address(0x0100) // element 0: dfd.Server; element 1: dfu.Server
	soakTarget = soakDist + 1
	soakClient = mesh.Address(0x0001)
	// soakHeapBound is the most the heap in use (after GC) may grow
	// during the soak. Measured: +1.4 MiB after 300 000 inputs and after
	// 3 000 000 (MESHDFU_LONG=1); with the transport's reassembly and
	// replay list unbounded it grows by 6 MiB in the short run
	// (docs/reliability.md).
	soakHeapBound = 4 << 20
)

var (
	soakNetKey = crypto.Key{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}
	soakAppKey = crypto.Key{0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90}
)

type soakWorld struct {
	clk     *faketime.Clock
	dist    *node.Node
	srv     *dfd.Server
	tgt     *dfu.Server
	store   *fw.MemStore
	cliPort *node.HubPort
	cli     *dfd.Client
	ucli    *dfu.Client
	stored  image
}

func newSoakWorld(t *testing.T) *soakWorld {
	t.Helper()
	w := &soakWorld{clk: faketime.New(), store: fw.NewMemStore(64 << 10)}
	hub := &node.Hub{Clock: w.clk}
	keys := func(addr mesh.Address, dev byte) *node.Provisioning {
		return &node.Provisioning{Address: addr, DevKey: crypto.Key{dev},
			NetKeys: []node.NetKeyState{{Index: 0, Key: node.Key(soakNetKey)}},
			AppKeys: []node.AppKeyState{{Index: 0, NetKeyIndex: 0, Key: node.Key(soakAppKey)}}}
	}
	pub, priv, err := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	w.stored = makeImage(t, 5, newFWID, priv, 3000)
	if err := w.store.Put(dfd.SlotName(newFWID), newFWID, w.stored.meta, w.stored.data); err != nil {
		t.Fatal(err)
	}
	w.srv, err = dfd.NewServer(dfd.ServerConfig{Clock: w.clk, Store: w.store, Rand: rand.New(rand.NewPCG(1, 2)),
		MaxReceivers: 16, MaxImages: 4, MaxImageSize: 16 << 10,
		Update: dfu.ClientConfig{Timeout: 10 * time.Second, Retries: 2}})
	if err != nil {
		t.Fatal(err)
	}
	tstore := &blob.MemoryStorage{}
	tcfg := dfu.ServerConfig{Clock: w.clk, Images: []dfu.FirmwareInformation{{FirmwareID: oldFWID}},
		BLOB: blob.ServerConfig{Storage: tstore, Rand: rand.New(rand.NewPCG(3, 4)),
			MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxBLOBSize: 1 << 16}}
	(&dfu.Firmware{PublicKey: pub, Data: tstore.Data}).Install(&tcfg)
	if w.tgt, err = dfu.NewServer(tcfg); err != nil {
		t.Fatal(err)
	}
	dport := hub.Attach()
	w.dist, err = node.New(node.Config{Clock: w.clk, Bearer: dport, Rand: rand.New(rand.NewPCG(5, 6)),
		Provisioning: keys(soakDist, 1), NoBeacons: true,
		Elements: []node.Element{{Models: w.srv.Models()}, {Models: w.tgt.Models()}}})
	if err != nil {
		t.Fatal(err)
	}
	dport.SetReceiver(w.dist.Receive)
	w.srv.SetLayer(w.dist.Access())
	w.tgt.SetLayer(w.dist.Access())

	if w.cli, err = dfd.NewClient(dfd.ClientConfig{Clock: w.clk}); err != nil {
		t.Fatal(err)
	}
	if w.ucli, err = dfu.NewClient(dfu.ClientConfig{Clock: w.clk}); err != nil {
		t.Fatal(err)
	}
	w.cliPort = hub.Attach()
	cnode, err := node.New(node.Config{Clock: w.clk, Bearer: w.cliPort, Rand: rand.New(rand.NewPCG(7, 8)),
		Provisioning: keys(soakClient, 2), NoBeacons: true,
		Elements: []node.Element{{Models: append(w.cli.Models(), w.ucli.Model())}}})
	if err != nil {
		t.Fatal(err)
	}
	w.cliPort.SetReceiver(cnode.Receive)
	w.cli.SetLayer(cnode.Access())
	w.ucli.SetLayer(cnode.Access())
	for _, m := range append(append(w.srv.Models(), w.tgt.Models()...), append(w.cli.Models(), w.ucli.Model())...) {
		if err := m.Bind(0); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// check asks the distributor and the target what a user asks and checks
// the answers: the capabilities, the stored image and the target's
// firmware.
func (w *soakWorld) check(t *testing.T, when string) {
	t.Helper()
	var (
		caps *dfd.CapabilitiesStatus
		fst  *dfd.FirmwareStatus
		info *dfu.InformationStatus
		errs []error
	)
	if err := w.cli.Capabilities(soakDist, func(s *dfd.CapabilitiesStatus, err error) { caps, errs = s, append(errs, err) }); err != nil {
		t.Fatal(err)
	}
	w.clk.RunUntilIdle(time.Minute)
	if err := w.cli.FirmwareGet(soakDist, newFWID, func(s *dfd.FirmwareStatus, err error) { fst, errs = s, append(errs, err) }); err != nil {
		t.Fatal(err)
	}
	w.clk.RunUntilIdle(time.Minute)
	if err := w.ucli.Request(soakTarget, &dfu.InformationGet{EntriesLimit: 1}, func(m access.Message, err error) {
		info, _ = m.(*dfu.InformationStatus)
		errs = append(errs, err)
	}); err != nil {
		t.Fatal(err)
	}
	w.clk.RunUntilIdle(time.Minute)
	for _, err := range errs {
		var se *dfd.StatusError
		if err != nil && !errors.As(err, &se) { // a status is checked below
			t.Fatalf("%s: a valid request failed: %v", when, err)
		}
	}
	if caps == nil || caps.MaxReceivers != 16 {
		t.Fatalf("%s: capabilities %+v", when, caps)
	}
	if info == nil || len(info.Entries) != 1 || !bytes.Equal(info.Entries[0].FirmwareID, oldFWID) {
		t.Fatalf("%s: target information %+v (nothing signed was sent: the target keeps its firmware)", when, info)
	}
	// Every slot reads back whole, and the image stored before is intact
	// and listed.
	for _, si := range w.store.List() {
		if _, _, err := w.store.Get(si.Name); err != nil || si.Corrupt {
			t.Fatalf("%s: slot %s: %v", when, si.Name, err)
		}
	}
	_, data, err := w.store.Get(dfd.SlotName(newFWID))
	if err != nil || !bytes.Equal(data, w.stored.data) {
		t.Fatalf("%s: stored image changed (%v)", when, err)
	}
	if fst == nil || fst.Status != dfd.StatusSuccess || !bytes.Equal(fst.FirmwareID, newFWID) {
		t.Fatalf("%s: stored image reported %+v", when, fst)
	}
}

// heapInUse returns the heap in use after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// soakAttacker makes hostile PDUs. It holds the network key and the AppKey
// (a node of the network that misbehaves, the strongest attacker the mesh
// layers face); an outsider's PDUs are the random and flipped ones.
type soakAttacker struct {
	r     *rand.Rand
	creds *network.Credentials
	ccm   *crypto.CCM
	aid   uint8
	seq   map[mesh.Address]uint32
	valid [][]byte // sealed PDUs that were accepted once: replays, and bases to flip
}

func newSoakAttacker(seed uint64) *soakAttacker {
	return &soakAttacker{r: rand.New(rand.NewPCG(seed, 0x50a4)), creds: network.NewCredentials(soakNetKey, []byte{0}),
		ccm: crypto.NewCCM(soakAppKey), aid: crypto.K4(soakAppKey), seq: map[mesh.Address]uint32{}}
}

func (a *soakAttacker) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(a.r.Uint32())
	}
	return b
}

// src is a unicast source other than the distributor and the client.
func (a *soakAttacker) src(pool bool) mesh.Address {
	if pool { // authentic senders: few, so the replay list has room for them
		return mesh.Address(0x0010 + a.r.IntN(32))
	}
	return mesh.Address(0x0200 + a.r.IntN(0x7dff))
}

func (a *soakAttacker) dst() mesh.Address {
	switch a.r.IntN(6) {
	case 0:
		return mesh.Address(a.r.Uint32())
	case 1:
		return 0xFFFF
	case 2, 3:
		return soakTarget
	}
	return soakDist
}

func (a *soakAttacker) seal(ctl bool, src, dst mesh.Address, seq uint32, tp []byte) []byte {
	h := network.Header{CTL: ctl, TTL: uint8(a.r.IntN(8)), SEQ: seq & 0xFFFFFF, SRC: src, DST: dst}
	out, err := a.creds.Seal(nil, &h, tp, 0)
	if err != nil {
		return nil
	}
	return out
}

// serverOps are the opcodes of the models under attack: the servers, and
// the statuses the distributor's own Firmware Update and BLOB Transfer
// Clients take. Firmware Delete All is left out: it needs no parameters,
// so the flood would soon send a valid one, and an AppKey holder may
// delete the images (the check after the soak wants the stored image
// back).
var serverOps = func() []access.Opcode {
	ops := []access.Opcode{blob.OpChunkTransfer, blob.OpChunkTransfer, blob.OpChunkTransfer,
		blob.OpBlockStatus, blob.OpPartialBlockReport}
	for op := blob.OpTransferGet; op <= dfd.OpFirmwareStatus; op++ {
		if op != dfd.OpFirmwareDeleteAll {
			ops = append(ops, op)
		}
	}
	return ops
}()

// accessPayload is an access message for a server: a well-formed request
// with random fields (from small pools, so transfers get somewhere),
// sometimes mutated, or an opcode with random parameters.
func (a *soakAttacker) accessPayload() []byte {
	r := a.r
	fwids := [][]byte{oldFWID, newFWID, a.bytes(2 + r.IntN(10))}
	var m access.Message
	switch r.IntN(12) {
	case 0:
		m = &blob.TransferStart{Mode: blob.TransferMode(r.IntN(4)), ID: uint64(r.IntN(3)), Size: uint32(r.IntN(1 << 17)),
			BlockSizeLog: uint8(r.IntN(20)), MTU: uint16(r.IntN(400))}
	case 1:
		m = &blob.BlockStart{BlockNumber: uint16(r.IntN(4)), ChunkSize: uint16(r.IntN(300))}
	case 2, 3:
		m = &blob.ChunkTransfer{Number: uint16(r.IntN(70)), Data: a.bytes(1 + r.IntN(blob.MaxChunkSize))}
	case 4:
		m = &dfd.UploadStart{TTL: uint8(r.IntN(256)), TimeoutBase: uint16(r.IntN(4)), BLOBID: uint64(r.IntN(3)),
			Size: uint32(r.IntN(1 << 15)), Metadata: a.bytes(r.IntN(40)), FirmwareID: fwids[r.IntN(3)]}
	case 5:
		var e []dfd.ReceiverEntry
		for range 1 + r.IntN(8) {
			e = append(e, dfd.ReceiverEntry{Address: mesh.Address(r.Uint32()), ImageIndex: uint8(r.IntN(3))})
		}
		m = &dfd.ReceiversAdd{Entries: e}
	case 6:
		m = &dfd.Start{TTL: uint8(r.IntN(10)), TimeoutBase: uint16(r.IntN(3)), TransferMode: blob.TransferMode(1 + r.IntN(2)),
			ImageIndex: uint16(r.IntN(3)), Multicast: mesh.Address(r.Uint32())}
	case 7:
		m = &dfu.UpdateStart{TTL: uint8(r.IntN(10)), BLOBID: uint64(r.IntN(3)), ImageIndex: uint8(r.IntN(2)), Metadata: a.bytes(r.IntN(80))}
	case 8:
		m = &dfd.UploadOOBStart{URI: "https://x.example/" + string(a.bytes(r.IntN(60))), FirmwareID: fwids[r.IntN(3)]}
	}
	var p []byte
	if m != nil {
		p, _ = access.Marshal(m)
	}
	if p == nil { // an opcode with random parameters
		p, _ = access.AppendOpcode(nil, serverOps[r.IntN(len(serverOps))])
		p = append(p, a.bytes(r.IntN(40))...)
	}
	if r.IntN(4) == 0 && len(p) > 2 { // mutate, truncate or extend
		switch r.IntN(3) {
		case 0:
			p[2+r.IntN(len(p)-2)] ^= byte(1 + r.IntN(255))
		case 1:
			p = p[:2+r.IntN(len(p)-2)]
		case 2:
			p = append(p, a.bytes(1+r.IntN(20))...)
		}
	}
	return p[:min(len(p), transport.MaxAccessLen)]
}

// authentic seals an access payload with the AppKey as the transport
// would (segmented when it does not fit one PDU); with incomplete, one
// segment is left out.
func (a *soakAttacker) authentic(payload []byte, incomplete bool) [][]byte {
	src, dst := a.src(true), a.dst()
	if dst.IsVirtual() {
		dst = soakDist
	}
	seq := a.seq[src] + 1 + uint32(a.r.IntN(4))
	ac := transport.AccessCrypto{Seq: seq, Src: src, Dst: dst}
	upper, err := transport.EncryptAccess(nil, a.ccm, &ac, payload)
	if err != nil {
		return nil
	}
	var out [][]byte
	if len(upper) <= transport.MaxUnsegAccessUpper && !incomplete {
		tp, _ := (&transport.UnsegAccess{AKF: true, AID: a.aid, UpperPDU: upper}).AppendBinary(nil)
		out = append(out, a.seal(false, src, dst, seq, tp))
	} else {
		n := (len(upper) + transport.AccessSegmentSize - 1) / transport.AccessSegmentSize
		skip := -1
		if incomplete {
			skip = a.r.IntN(n)
		}
		for i := range n {
			seg := upper[i*transport.AccessSegmentSize : min(len(upper), (i+1)*transport.AccessSegmentSize)]
			if i == skip {
				continue
			}
			tp, _ := (&transport.SegAccess{AKF: true, AID: a.aid, SeqZero: uint16(seq & 0x1FFF),
				SegO: uint8(i), SegN: uint8(n - 1), Segment: seg}).AppendBinary(nil)
			out = append(out, a.seal(false, src, dst, seq+uint32(i), tp))
		}
		seq += uint32(n - 1)
	}
	a.seq[src] = seq
	return out
}

// next returns the next hostile PDUs and their AD type.
func (a *soakAttacker) next() (mesh.ADType, [][]byte) {
	r := a.r
	switch k := r.IntN(20); {
	case k < 3: // random octets
		return mesh.ADMessage, [][]byte{a.bytes(r.IntN(40))}
	case k < 4: // a random beacon
		return mesh.ADBeacon, [][]byte{a.bytes(r.IntN(30))}
	case k < 7 && len(a.valid) > 0: // a valid PDU with bits flipped, cut or grown
		p := bytes.Clone(a.valid[r.IntN(len(a.valid))])
		switch r.IntN(3) {
		case 0:
			for range 1 + r.IntN(3) {
				p[r.IntN(len(p))] ^= 1 << r.IntN(8)
			}
		case 1:
			p = p[:r.IntN(len(p))]
		default:
			p = append(p, a.bytes(1+r.IntN(10))...)
		}
		return mesh.ADMessage, [][]byte{p}
	case k < 8 && len(a.valid) > 0: // a replay
		return mesh.ADMessage, [][]byte{a.valid[r.IntN(len(a.valid))]}
	case k < 11: // the network key, a random transport PDU
		ctl := r.IntN(2) == 0
		tp := a.bytes(1 + r.IntN(16))
		if ctl {
			tp = tp[:min(len(tp), 12)]
		}
		return mesh.ADMessage, [][]byte{a.seal(ctl, a.src(false), a.dst(), r.Uint32(), tp)}
	case k < 13: // a segment of a message that never completes
		segN := uint8(1 + r.IntN(31))
		tp, _ := (&transport.SegAccess{AKF: r.IntN(2) == 0, AID: uint8(r.IntN(64)), SeqZero: uint16(r.IntN(0x2000)),
			SegO: uint8(r.IntN(int(segN) + 1)), SegN: segN, Segment: a.bytes(1 + r.IntN(12))}).AppendBinary(nil)
		return mesh.ADMessage, [][]byte{a.seal(false, a.src(false), a.dst(), r.Uint32(), tp)}
	}
	// the AppKey: an access message to a server, now and then incomplete
	pdus := a.authentic(a.accessPayload(), r.IntN(10) == 0)
	if len(pdus) > 0 && pdus[0] != nil && len(a.valid) < 256 {
		a.valid = append(a.valid, pdus[0])
	}
	return mesh.ADMessage, pdus
}

func soakCount() int {
	if longRun() {
		return 3_000_000
	}
	return 300_000
}

func TestSoak_HostileAir(t *testing.T) {
	w := newSoakWorld(t)
	w.check(t, "before") // the client is known (replay list) before the flood
	netBefore, trBefore := w.dist.Network().Stats(), w.dist.Transport().Stats()
	base := heapInUse()
	w.cliPort.Down = true // the client is away during the soak
	a := newSoakAttacker(1)
	n, peak := soakCount(), base
	for i := range n {
		kind, pdus := a.next()
		for _, p := range pdus {
			if p != nil {
				w.dist.Receive(kind, p)
			}
		}
		if i%64 == 63 {
			w.clk.Advance(20 * time.Millisecond)
		}
		if i%(n/8) == n/8-1 {
			peak = max(peak, heapInUse())
		}
	}
	w.clk.Advance(time.Minute) // timers of whatever the flood started run out
	peak = max(peak, heapInUse())
	grew := int64(peak) - int64(base)
	ns, ts := w.dist.Network().Stats(), w.dist.Transport().Stats()
	t.Logf("%d hostile inputs over %v virtual; heap in use %d KiB before, peak growth %+d KiB (bound %d KiB)",
		n, time.Duration(n/64)*20*time.Millisecond, base>>10, grew>>10, soakHeapBound>>10)
	t.Logf("network %+v", ns)
	t.Logf("transport %+v", ts)
	t.Logf("dfd %+v; dfu %+v", w.srv.Stats(), w.tgt.Stats())
	if grew > soakHeapBound {
		t.Errorf("heap in use grew by %d KiB, bound %d KiB", grew>>10, soakHeapBound>>10)
	}
	// The flood reached every layer: the test is not vacuous.
	if ns.DropAuth == netBefore.DropAuth || ts.DecryptFailures == trBefore.DecryptFailures ||
		ts.ReplaysDropped == trBefore.ReplaysDropped || w.srv.Stats().Requests < uint64(n/200) {
		t.Errorf("the flood did not reach every layer: network %+v, transport %+v, dfd %+v", ns, ts, w.srv.Stats())
	}
	w.cliPort.Down = false
	w.check(t, "after")

}
