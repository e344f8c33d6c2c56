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
	netBefore := w.target.Network().Stats()

	// A flipped NetMIC octet: no credentials authenticate it.
	bad := bytes.Clone(pdu)
	bad[len(bad)-1] ^= 0x01
	w.target.Receive(mesh.ADMessage, bad)
	// Too short and too long PDUs.
	w.target.Receive(mesh.ADMessage, pdu[:10])
	w.target.Receive(mesh.ADMessage, append(bytes.Clone(pdu), make([]byte, 20)...))
	// Unknown NID.
	odd := bytes.Clone(pdu)
	odd[0] ^= 0x3f
	w.target.Receive(mesh.ADMessage, odd)
	w.clk.RunUntilIdle(time.Second)
	ns := w.target.Network().Stats()
	if ns.DropAuth <= netBefore.DropAuth || ns.DropLength < netBefore.DropLength+2 {
		t.Errorf("network drops: %+v", ns)
	}

	// A well-formed network PDU whose upper transport PDU was sealed with
	// an AppKey of the same AID the target does not hold: TransMIC fails.
	trBefore := w.target.Transport().Stats()
	sub := network.NewCredentials(netKey, []byte{0})
	const forger = mesh.Address(0x0055) // a node of the network that misbehaves
	forged := func(seq uint32, key crypto.Key, aid uint8) []byte {
		access := []byte{0x82, 0x01, 'x'}
		n := crypto.ApplicationNonce(false, seq, uint16(forger), uint16(targetAddr), 0)
		up, _ := crypto.NewCCM(key).Seal(nil, &n, access, nil, 4)
		ltp := append([]byte{0x40 | aid}, up...)
		h := network.Header{TTL: 5, SEQ: seq, SRC: forger, DST: targetAddr}
		out, err := sub.Seal(nil, &h, ltp, 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	wrong := crypto.Key{0xde, 0xad}
	w.target.Receive(mesh.ADMessage, forged(0x7000, wrong, crypto.K4(testAppKey)))
	w.clk.RunUntilIdle(time.Second)
	if ts := w.target.Transport().Stats(); ts.DecryptFailures <= trBefore.DecryptFailures {
		t.Errorf("wrong AppKey not counted: %+v", ts)
	}

	// The right AppKey, but a model that is not bound to it: the target
	// has a second AppKey index the test model is not bound to.
	accBefore := w.target.Access().Stats()
	m := w.target.Access().Model(targetAddr, testModel)
	m.Unbind(0)
	w.target.Receive(mesh.ADMessage, forged(0x7001, testAppKey, crypto.K4(testAppKey)))
	w.clk.RunUntilIdle(time.Second)
	if as := w.target.Access().Stats(); as.WrongKey <= accBefore.WrongKey {
		t.Errorf("unbound AppKey not counted: %+v", as)
	}
	_ = m.Bind(0)

	// Replays of the good message are dropped even after the network
	// cache forgot it.
	w.target.Network().ResetCache()
	w.target.Receive(mesh.ADMessage, pdu)
	w.clk.RunUntilIdle(time.Second)
	if w.target.Transport().Stats().ReplaysDropped == trBefore.ReplaysDropped {
		t.Error("replay not dropped")
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
