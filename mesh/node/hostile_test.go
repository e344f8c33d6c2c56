package node

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/network"
)

// Hostile input at the node: each is dropped, counted where the layer that
// saw it keeps count, never delivered, and never breaks the node (a good
// message afterwards still arrives).
func TestHostileInput(t *testing.T) {
	w := newWorld(t, 0, 9)
	w.configure(t)
	var captured [][]byte
	w.tPort.SetReceiver(func(kind mesh.ADType, p []byte) {
		captured = append(captured, bytes.Clone(p))
		w.target.Receive(kind, p)
	})
	sendApp(t, w, targetAddr, []byte("good"))
	if len(w.got) != 1 {
		t.Fatalf("baseline: got %d", len(w.got))
	}
	pdu := captured[len(captured)-1]

	// Network layer: each input moves exactly its own counter.
	for _, tc := range []struct {
		name    string
		pdu     []byte
		counter func(network.Stats) uint64
	}{
		{"bad NetMIC", flipLast(pdu), func(s network.Stats) uint64 { return s.DropAuth }},
		{"too short", pdu[:10], func(s network.Stats) uint64 { return s.DropLength }},
		{"too long", append(bytes.Clone(pdu), make([]byte, 20)...), func(s network.Stats) uint64 { return s.DropLength }},
		{"unknown NID", func() []byte { p := bytes.Clone(pdu); p[0] ^= 0x3f; return p }(), func(s network.Stats) uint64 { return s.DropUnknownNID }},
	} {
		before := tc.counter(w.target.Network().Stats())
		w.target.Receive(mesh.ADMessage, tc.pdu)
		w.clk.RunUntilIdle(time.Second)
		if got := tc.counter(w.target.Network().Stats()) - before; got != 1 {
			t.Errorf("%s: counted %d times, want once (%+v)", tc.name, got, w.target.Network().Stats())
		}
	}

	// Transport and access: well-formed network PDUs from a node of the
	// network that misbehaves (it holds the NetKey), whose upper
	// transport PDU fails.
	sub := network.NewCredentials(netKey, []byte{0})
	const forger = mesh.Address(0x0055)
	forged := func(seq uint32, key crypto.Key, aid uint8, flipMIC bool) []byte {
		access := []byte{0x82, 0x01, 'x'}
		n := crypto.ApplicationNonce(false, seq, uint16(forger), uint16(targetAddr), 0)
		up, _ := crypto.NewCCM(key).Seal(nil, &n, access, nil, 4)
		if flipMIC {
			up[len(up)-1] ^= 0x01
		}
		ltp := append([]byte{0x40 | aid}, up...)
		h := network.Header{TTL: 5, SEQ: seq, SRC: forger, DST: targetAddr}
		out, err := sub.Seal(nil, &h, ltp, 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	aid := crypto.K4(testAppKey)
	for _, tc := range []struct {
		name string
		pdu  []byte
	}{
		// The TransMIC of a message sealed with the right AppKey, one bit
		// flipped.
		{"bad TransMIC", forged(0x7000, testAppKey, aid, true)},
		// Sealed with an AppKey of the same AID the target does not hold.
		{"wrong AppKey", forged(0x7001, crypto.Key{0xde, 0xad}, aid, false)},
	} {
		before := w.target.Transport().Stats()
		w.target.Receive(mesh.ADMessage, tc.pdu)
		w.clk.RunUntilIdle(time.Second)
		after := w.target.Transport().Stats()
		if after.DecryptFailures != before.DecryptFailures+1 || after.AccessDelivered != before.AccessDelivered {
			t.Errorf("%s: decrypt failures %+d, delivered %+d; want 1, 0", tc.name,
				after.DecryptFailures-before.DecryptFailures, after.AccessDelivered-before.AccessDelivered)
		}
	}

	// The right AppKey, but a model that is not bound to it.
	accBefore := w.target.Access().Stats()
	m := w.target.Access().Model(targetAddr, testModel)
	m.Unbind(0)
	w.target.Receive(mesh.ADMessage, forged(0x7002, testAppKey, aid, false))
	w.clk.RunUntilIdle(time.Second)
	if as := w.target.Access().Stats(); as.WrongKey != accBefore.WrongKey+1 {
		t.Errorf("unbound AppKey: wrong-key count %+d, want 1 (%+v)", as.WrongKey-accBefore.WrongKey, as)
	}
	_ = m.Bind(0)

	// Replays of the good message are dropped even after the network
	// cache forgot it; a replay of the forged one too.
	for i, p := range [][]byte{pdu, forged(0x7002, testAppKey, aid, false)} {
		before := w.target.Transport().Stats().ReplaysDropped
		w.target.Network().ResetCache()
		w.target.Receive(mesh.ADMessage, p)
		w.clk.RunUntilIdle(time.Second)
		if got := w.target.Transport().Stats().ReplaysDropped - before; got != 1 {
			t.Errorf("replay %d: dropped %d times, want once", i, got)
		}
	}
	if len(w.got) != 1 {
		t.Fatalf("hostile input was delivered: %q", w.got)
	}
	// The node still works.
	sendApp(t, w, targetAddr, []byte("still good"))
	if len(w.got) != 2 || string(w.got[1]) != "still good" {
		t.Fatalf("after hostile input: %q", w.got)
	}
}

func flipLast(p []byte) []byte {
	q := bytes.Clone(p)
	q[len(q)-1] ^= 0x01
	return q
}

// The replay protection list survives a reboot: a message captured before
// the reboot is not accepted after it.
func TestReplayAfterReboot(t *testing.T) {
	w := newWorld(t, 0, 11)
	w.configure(t)
	var captured [][]byte
	w.tPort.SetReceiver(func(kind mesh.ADType, p []byte) {
		captured = append(captured, bytes.Clone(p))
		w.target.Receive(kind, p)
	})
	sendApp(t, w, targetAddr, []byte("once"))
	w.clk.Advance(RPLSaveDelay + time.Second) // let the list be written
	if len(w.got) != 1 {
		t.Fatalf("got %d", len(w.got))
	}
	w.target.Close()
	w.bootTarget(t)
	for _, p := range captured {
		w.target.Receive(mesh.ADMessage, p)
	}
	w.clk.RunUntilIdle(time.Second)
	if len(w.got) != 1 {
		t.Fatalf("a message from before the reboot was accepted again: %q", w.got)
	}
	if w.target.Transport().Stats().ReplaysDropped == 0 {
		t.Fatal("replay not counted")
	}
}
