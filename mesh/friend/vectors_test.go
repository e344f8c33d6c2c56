package friend

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/mesh/network"
)

// sample returns the network PDUs of sample message id (§8.3).
func sample(t *testing.T, id string) vectors.NetworkPDU {
	t.Helper()
	for _, p := range vectors.MustLoad().NetworkPDUs {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no sample %s", id)
	return vectors.NetworkPDU{}
}

func TestVectors_FriendshipCredentials(t *testing.T) {
	t.Parallel()
	n := 0
	for _, v := range vectors.MustLoad().K2 {
		if v.Friendship == nil {
			continue
		}
		n++
		fs := v.Friendship
		subnets := network.NewSubnets()
		if _, err := subnets.Add(0, crypto.Key(vectors.Key(v.N))); err != nil {
			t.Fatal(err)
		}
		f, err := subnets.AddFriendship(0, mesh.Address(vectors.Uint(fs.LPNAddress)), mesh.Address(vectors.Uint(fs.FriendAddress)),
			uint16(vectors.Uint(fs.LPNCounter)), uint16(vectors.Uint(fs.FriendCounter)))
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		c := f.Tx()
		if c.NID() != uint8(vectors.Uint(v.NID)) || c.EncryptionKey() != crypto.Key(vectors.Key(v.EncryptionKey)) ||
			c.PrivacyKey() != crypto.Key(vectors.Key(v.PrivacyKey)) {
			t.Errorf("%s: NID %02x", v.ID, c.NID())
		}
	}
	if n != 2 {
		t.Fatalf("%d friendship k2 samples, want 2 (§8.1.4, §8.2.3)", n)
	}
}

// capture is a bearer that keeps what is sent.
type capture struct {
	pdus [][]byte
	tx   []mesh.Transmit
}

func (c *capture) Send(_ mesh.ADType, p []byte, tx mesh.Transmit) {
	c.pdus = append(c.pdus, bytes.Clone(p))
	c.tx = append(c.tx, tx)
}

func (c *capture) take(t *testing.T) []byte {
	t.Helper()
	if len(c.pdus) != 1 {
		t.Fatalf("%d PDUs sent, want 1", len(c.pdus))
	}
	p := c.pdus[0]
	c.pdus, c.tx = nil, nil
	return p
}

// sampleNode is one node of the §8.3 story: a network layer and a Friend
// or an LPN on a manual clock, with SEQs handed out from a list.
type sampleNode struct {
	clk     *faketime.Clock
	subnets *network.Subnets
	net     *network.Layer
	air     *capture
	seqs    []uint32
	addr    mesh.Address
}

func newSampleNode(t *testing.T, addr mesh.Address, seqs ...uint32) *sampleNode {
	t.Helper()
	s := &sampleNode{clk: faketime.New(), subnets: network.NewSubnets(), air: &capture{}, seqs: seqs, addr: addr}
	if _, err := s.subnets.Add(0, crypto.Key(vectors.Key("7dd7364cd842ad18c17c2b820c84c3d6"))); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sampleNode) stack() Stack {
	return Stack{
		Clock: s.clk, Subnets: s.subnets,
		Primary: func() mesh.Address { return s.addr },
		NextSeq: func() (uint32, error) {
			q := s.seqs[0]
			s.seqs = s.seqs[1:]
			return q, nil
		},
		IV: func() network.IVState { return network.IVState{Index: 0x12345678} },
		Send: func(p []byte, tx mesh.Transmit, sent func()) {
			s.air.Send(mesh.ADMessage, p, tx)
			if sent != nil {
				s.clk.AfterFunc(0, sent)
			}
		},
		NetworkTransmit: func() mesh.Transmit { return mesh.Transmit{Count: 2, IntervalSteps: 1} },
		DefaultTTL:      func() uint8 { return 11 },
	}
}

func (s *sampleNode) layer(deliver func(*network.Rx), forLPN func(mesh.Address) bool) {
	s.net = network.New(network.Config{
		Clock: s.clk, Bearer: s.air, Subnets: s.subnets,
		IV:      func() network.IVState { return network.IVState{Index: 0x12345678} },
		IsLocal: func(a mesh.Address) bool { return a == s.addr },
		Deliver: deliver, ForLPN: forLPN,
	})
}

// TestVectors_FriendQueue plays the Friend 0x2345 of the §8.3 story with
// the published PDUs: Request #1, Poll #4, segment 1 of #6, the OBO
// acknowledgment #7 (byte for byte), the retransmitted segment 0 #8, and
// Polls #10, #12, #14 answered with the stored segments #11, #13, #15
// (byte for byte, in queue order, with the SEQ of the stored copies).
func TestVectors_FriendQueue(t *testing.T) {
	t.Parallel()
	s := newSampleNode(t, 0x2345, 0x014820, 0x014834, 0x014835, 0x014836)
	f, err := NewFriend(FriendConfig{Stack: s.stack(), FriendParams: FriendParams{
		QueueSize: 8, ReceiveWindow: 50 * time.Millisecond,
		RSSI: func(mesh.Address) (int8, bool) { return -70, true },
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.counter = 0x072F
	s.layer(func(rx *network.Rx) { f.Receive(rx) }, f.ForLPN)
	feed := func(id string, i int) {
		t.Helper()
		s.net.Receive(vectors.Hex(sample(t, id).PDUs[i].NetworkPDU))
	}

	feed("msg01", 0)
	s.clk.Advance(214 * time.Millisecond)
	if len(s.air.pdus) != 0 {
		t.Fatal("Offer before the Friend Offer Delay of 215 ms")
	}
	s.clk.Advance(time.Millisecond)
	offer := s.air.take(t)
	k, _ := s.subnets.Get(0)
	h, lp, err := k.Credentials().Open(nil, offer, 0x12345678)
	if err != nil || h.DST != 0x1201 || h.TTL != 0 || h.SEQ != 0x014820 || hex.EncodeToString(lp) != "04320808ba072f" {
		t.Fatalf("offer %+v %x %v", h, lp, err)
	}
	feed("msg04", 0) // first Poll: established, answered with a Friend Update
	s.clk.Advance(79 * time.Millisecond)
	if len(s.air.pdus) != 0 {
		t.Fatal("answer before ReceiveDelay (80 ms)")
	}
	s.clk.Advance(time.Millisecond)
	cred := f.lpns[0].cred
	h, lp, err = cred.Tx().Open(nil, s.air.take(t), 0x12345678)
	if err != nil || h.SEQ != 0x014834 || hex.EncodeToString(lp) != "02001234567800" {
		t.Fatalf("update %+v %x %v (msg05)", h, lp, err)
	}
	feed("msg06", 1) // segment 1 only
	s.clk.Advance(time.Second)
	msg07 := sample(t, "msg07").PDUs[0].NetworkPDU
	if got := hex.EncodeToString(s.air.take(t)); got != msg07 {
		t.Fatalf("OBO ack\n got %s\nwant %s (msg07)", got, msg07)
	}
	feed("msg08", 0) // segment 0 again, new SEQ: complete
	h, lp, err = k.Credentials().Open(nil, s.air.take(t), 0x12345678)
	if err != nil || h.DST != 0x0003 || hex.EncodeToString(lp) != "00a6ac00000003" {
		t.Fatalf("final ack %+v %x %v (msg09)", h, lp, err)
	}
	if st := f.Stats(); st.Queued != 2 || st.OBOAcks != 2 || st.Segmented != 1 {
		t.Fatalf("stats %+v", st)
	}
	poll := func(seq uint32, fsn uint8) {
		t.Helper()
		lp, _ := Marshal(&Poll{FSN: fsn})
		pdu, err := cred.Tx().Seal(nil, &network.Header{CTL: true, SEQ: seq, SRC: 0x1201, DST: 0x2345}, lp, 0x12345678)
		if err != nil {
			t.Fatal(err)
		}
		s.net.Receive(pdu)
		s.clk.Advance(80 * time.Millisecond)
	}
	msg11 := sample(t, "msg11").PDUs[0].NetworkPDU
	msg15 := sample(t, "msg15").PDUs[0].NetworkPDU
	feed("msg10", 0)
	s.clk.Advance(80 * time.Millisecond)
	if got := hex.EncodeToString(s.air.take(t)); got != msg11 {
		t.Fatalf("stored segment 0\n got %s\nwant %s (msg11)", got, msg11)
	}
	poll(4, 1) // #12: the LPN missed #11
	if got := hex.EncodeToString(s.air.take(t)); got != msg11 {
		t.Fatalf("resend %s, want msg13 = msg11", got)
	}
	poll(5, 0) // #14
	if got := hex.EncodeToString(s.air.take(t)); got != msg15 {
		t.Fatalf("stored segment 1\n got %s\nwant %s (msg15)", got, msg15)
	}
	if st := f.Stats(); st.Delivered != 2 || st.Resends != 1 || st.QueueOverflows != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestVectors_LPN plays the LPN 0x1201: its Friend Request is #1 and, once
// it accepts the Offer of 0x2345 (FriendCounter 0x072F), its Polls are #4
// and #10, byte for byte.
func TestVectors_LPN(t *testing.T) {
	t.Parallel()
	s := newSampleNode(t, 0x1201, 1, 2, 3)
	l, err := NewLPN(LPNConfig{Stack: s.stack(), LPNParams: LPNParams{
		RSSIFactor: 2, ReceiveWindowFactor: 1, MinQueueSizeLog: 3,
		ReceiveDelay: 80 * time.Millisecond, PollTimeout: 0x057E40 * 100 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.layer(func(rx *network.Rx) { l.Receive(rx) }, nil)
	if !l.Listening() {
		t.Fatal("an LPN that is off must listen")
	}
	l.Start()
	if got, want := hex.EncodeToString(s.air.take(t)), sample(t, "msg01").PDUs[0].NetworkPDU; got != want {
		t.Fatalf("request\n got %s\nwant %s (msg01)", got, want)
	}
	s.clk.Advance(time.Millisecond)
	if l.Listening() {
		t.Fatal("listening before the Offer window")
	}
	s.clk.Advance(150 * time.Millisecond)
	if !l.Listening() {
		t.Fatal("deaf inside the Offer window")
	}
	// Offer from 0x2345: window 50 ms, queue 8, list 8, RSSI −70.
	k, _ := s.subnets.Get(0)
	lp, _ := Marshal(&Offer{ReceiveWindow: 50, QueueSize: 8, SubscriptionListSize: 8, RSSI: -70, FriendCounter: 0x072F})
	pdu, _ := k.Credentials().Seal(nil, &network.Header{CTL: true, SEQ: 0x014820, SRC: 0x2345, DST: 0x1201}, lp, 0x12345678)
	s.net.Receive(pdu)
	if got, want := hex.EncodeToString(s.air.take(t)), sample(t, "msg04").PDUs[0].NetworkPDU; got != want {
		t.Fatalf("first poll\n got %s\nwant %s (msg04)", got, want)
	}
	if l.State() != LPNEstablishing || l.Listening() {
		t.Fatalf("state %v listening %v", l.State(), l.Listening())
	}
	s.clk.Advance(80 * time.Millisecond)
	if !l.Listening() {
		t.Fatal("deaf in the receive window")
	}
	// Friend Update #5 (flags 0, IV 0x12345678, MD 0) from 0x2345.
	lp, _ = Marshal(&Update{IVIndex: 0x12345678})
	pdu, _ = l.cred.Tx().Seal(nil, &network.Header{CTL: true, SEQ: 0x014834, SRC: 0x2345, DST: 0x1201}, lp, 0x12345678)
	s.clk.Advance(5 * time.Millisecond)
	l.Heard(pdu)
	s.net.Receive(pdu)
	if !l.Established() || l.Listening() || l.QueueSize() != 8 || l.Friend() != 0x2345 {
		t.Fatalf("state %v listening %v queue %d", l.State(), l.Listening(), l.QueueSize())
	}
	if st := l.Stats(); st.ListenTime != 5*time.Millisecond+150*time.Millisecond-100*time.Millisecond+time.Millisecond {
		t.Fatalf("listen time %v", st.ListenTime)
	}
	if err := l.Poll(); err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(s.air.take(t)), sample(t, "msg10").PDUs[0].NetworkPDU; got != want {
		t.Fatalf("second poll\n got %s\nwant %s (msg10)", got, want)
	}
}
