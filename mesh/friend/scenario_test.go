package friend_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/friend"
)

const (
	senderAddr = mesh.Address(0x0001)
	friendA    = mesh.Address(0x0010)
	friendB    = mesh.Address(0x0020)
	lpnAddr    = mesh.Address(0x0100)
)

func lpnParams() *friend.LPNParams {
	return &friend.LPNParams{
		PollTimeout:  10 * time.Second,
		RequestRetry: 2 * time.Second,
	}
}

func TestScenario_Establish(t *testing.T) {
	w := newWorld(t, 1, 0,
		role{addr: senderAddr},
		role{addr: friendA, friend: &friend.FriendParams{}},
		role{addr: lpnAddr, lpn: lpnParams(), subGroup: true},
	)
	lpn := w.m[2].node.LPN()
	if lpn.Listening() {
		t.Fatal("LPN listens before it sent anything")
	}
	if !w.runUntil(10*time.Second, func() bool { return lpn.Established() && len(lpn.Subscriptions()) == 1 }) {
		t.Fatalf("no friendship: LPN %v %+v; %s", lpn.State(), lpn.Stats(), w.replay())
	}
	if lpn.Friend() != friendA || lpn.QueueSize() != friend.DefaultQueueSize {
		t.Fatalf("friend %v queue %d", lpn.Friend(), lpn.QueueSize())
	}
	fr := w.m[1].node.Friend()
	infos := fr.LPNs()
	if len(infos) != 1 || !infos[0].Established || infos[0].Address != lpnAddr || infos[0].Subscriptions[0] != testGroup {
		t.Fatalf("friend holds %+v", infos)
	}
	// A minute of idle polling: the friendship holds and the radio sleeps.
	start := lpn.Stats()
	w.eng.RunFor(time.Minute)
	s := lpn.Stats()
	if !lpn.Established() || s.Lost != 0 {
		t.Fatalf("friendship lost while idle: %+v", s)
	}
	polls := s.Polls - start.Polls
	if polls < 7 || polls > 12 {
		t.Errorf("%d polls in a minute with a 10 s PollTimeout", polls)
	}
	listen := s.ListenTime - start.ListenTime
	if duty := float64(listen) / float64(time.Minute); duty > 0.01 {
		t.Errorf("listening %v of a minute (duty %.4f)", listen, duty)
	}
	t.Logf("idle minute: %d polls, listening %v, radio on %v in total", polls, listen, lpn.RadioOnTime())
	// Unacknowledged traffic the LPN does not listen to stays away; a
	// message to its unicast address arrives through the friend.
	w.send(0, lpnAddr, []byte("hello"), nil)
	if !w.runUntil(20*time.Second, func() bool { return len(w.m[2].got) == 1 }) {
		t.Fatalf("message not delivered through the friend; %s", w.replay())
	}
	if fs := fr.Stats(); fs.Queued == 0 || fs.Delivered == 0 || fs.QueueOverflows != 0 {
		t.Fatalf("friend stats %+v", fs)
	}
}

func TestScenario_LostAndReestablished(t *testing.T) {
	w := newWorld(t, 2, 0,
		role{addr: senderAddr},
		role{addr: friendA, friend: &friend.FriendParams{ReceiveWindow: 230 * time.Millisecond}},
		role{addr: friendB, friend: &friend.FriendParams{ReceiveWindow: 255 * time.Millisecond}},
		role{addr: lpnAddr, lpn: lpnParams(), subGroup: true},
	)
	lpn := w.m[3].node.LPN()
	if !w.runUntil(10*time.Second, func() bool { return lpn.Established() }) {
		t.Fatalf("no friendship; %s", w.replay())
	}
	// The smaller ReceiveWindow gives the earlier Offer (Friend Offer
	// Delay: 230 − 127 = 103 ms against 255 − 127 = 128 ms, RSSI unknown).
	if lpn.Friend() != friendA {
		t.Fatalf("LPN chose %v, want %v (earlier offer)", lpn.Friend(), friendA)
	}
	if o, _ := lpn.Offer(); o.ReceiveWindow != 230 {
		t.Fatalf("offer %+v", o)
	}
	lost := w.eng.Now()
	w.powerOff(1)
	if !w.runUntil(60*time.Second, func() bool { return lpn.Established() && lpn.Friend() == friendB }) {
		t.Fatalf("not re-established: %v %+v; %s", lpn.State(), lpn.Stats(), w.replay())
	}
	took := w.eng.Now().Sub(lost)
	s := lpn.Stats()
	if s.Lost != 1 || s.Established != 2 {
		t.Fatalf("LPN stats %+v", s)
	}
	// The new Friend clears the old one (which is off: it repeats).
	fb := w.m[2].node.Friend()
	w.eng.RunFor(5 * time.Second)
	if fb.Stats().ClearsSent < 2 {
		t.Fatalf("new friend sent %d Friend Clears", fb.Stats().ClearsSent)
	}
	if infos := fb.LPNs(); len(infos) != 1 || len(infos[0].Subscriptions) != 1 {
		t.Fatalf("subscriptions not re-sent to the new friend: %+v", infos)
	}
	t.Logf("friend lost at %v, new friendship %v later; LPN %+v", lost.Sub(w.eng.Now().Add(-w.eng.Elapsed())), took, s)
	// Group traffic reaches the LPN through its new friend.
	w.send(0, testGroup, []byte("group"), nil)
	if !w.runUntil(20*time.Second, func() bool { return len(w.m[3].got) == 1 }) {
		t.Fatalf("group message not delivered; %s", w.replay())
	}
}

func TestScenario_ClearConfirm(t *testing.T) {
	// The LPN loses its friend's answers (the friend is deaf for a while)
	// and befriends the other; the old friend is alive and confirms the
	// new friend's Friend Clear.
	w := newWorld(t, 3, 0,
		role{addr: friendA, friend: &friend.FriendParams{ReceiveWindow: 230 * time.Millisecond}},
		role{addr: friendB, friend: &friend.FriendParams{ReceiveWindow: 255 * time.Millisecond}},
		role{addr: lpnAddr, lpn: &friend.LPNParams{PollTimeout: 10 * time.Second, RequestRetry: 2 * time.Second, PollInterval: time.Second}},
	)
	lpn := w.m[2].node.LPN()
	if !w.runUntil(10*time.Second, func() bool { return lpn.Established() }) || lpn.Friend() != friendA {
		t.Fatalf("no friendship with A; %s", w.replay())
	}
	w.m[0].bearer.SetListening(func() bool { return false })
	if !w.runUntil(60*time.Second, func() bool { return lpn.Established() && lpn.Friend() == friendB }) {
		t.Fatalf("not re-established; %s", w.replay())
	}
	w.m[0].bearer.SetListening(nil)
	fa, fb := w.m[0].node.Friend(), w.m[1].node.Friend()
	if !w.runUntil(30*time.Second, func() bool { return fb.Stats().ClearConfirmed == 1 }) {
		t.Fatalf("no Clear Confirm: A %+v B %+v", fa.Stats(), fb.Stats())
	}
	if len(fa.LPNs()) != 0 {
		t.Fatalf("old friend still holds %+v", fa.LPNs())
	}
}

func TestScenario_SegmentedUnderLoss(t *testing.T) {
	const messages = 20
	w := newWorld(t, 4, 0.10,
		role{addr: senderAddr},
		role{addr: friendA, friend: &friend.FriendParams{}},
		role{addr: lpnAddr, lpn: &friend.LPNParams{PollTimeout: 10 * time.Second, RequestRetry: 2 * time.Second, PollInterval: time.Second}},
	)
	lpn := w.m[2].node.LPN()
	if !w.runUntil(30*time.Second, func() bool { return lpn.Established() }) {
		t.Fatalf("no friendship; %s", w.replay())
	}
	start, startStats := w.eng.Now(), lpn.Stats()
	// The sender paces itself on the application's answer, as a BLOB
	// transfer in Pull mode does: the next message once the LPN has the
	// previous one; each message is 2–7 segments.
	sent, failed := 0, 0
	var next func()
	next = func() {
		k := sent
		sent++
		w.send(0, lpnAddr, payload(k, 20+k*4), func(err error) {
			if err != nil {
				failed++
			}
		})
	}
	next()
	if !w.runUntil(10*time.Minute, func() bool {
		if got := len(w.m[2].got); got == sent && sent < messages {
			next()
		}
		return len(w.m[2].got) == messages
	}) {
		t.Fatalf("LPN got %d of %d messages; %s", len(w.m[2].got), messages, w.replay())
	}
	for k, g := range w.m[2].got {
		if !bytes.Equal(g, payload(k, 20+k*4)) {
			t.Fatalf("message %d differs", k)
		}
	}
	fs := w.m[1].node.Friend().Stats()
	ls := lpn.Stats()
	if fs.QueueOverflows != 0 {
		t.Fatalf("friend queue overflowed %d times: %+v", fs.QueueOverflows, fs)
	}
	if fs.OBOAcks == 0 || fs.Segmented < messages {
		t.Fatalf("friend stats %+v", fs)
	}
	if tr := w.m[2].node.Transport().Stats(); tr.AcksSent != 0 {
		t.Fatalf("LPN sent %d segment acks", tr.AcksSent)
	}
	if failed != 0 {
		t.Fatalf("%d sends failed although the friend acknowledged", failed)
	}
	took := w.eng.Now().Sub(start)
	t.Logf("%d segmented messages at 10%% loss in %v: LPN %d polls (%d resends), listen %v, radio on %v; friend queue high %d, %d OBO acks",
		messages, took, ls.Polls-startStats.Polls, ls.Resends-startStats.Resends, ls.ListenTime-startStats.ListenTime, lpn.RadioOnTime(), fs.QueueHigh, fs.OBOAcks)
}

func TestScenario_QueueOverflowCounted(t *testing.T) {
	// Unpaced traffic into a small queue: the oldest PDUs are evicted and
	// every one is counted.
	w := newWorld(t, 5, 0,
		role{addr: senderAddr},
		role{addr: friendA, friend: &friend.FriendParams{QueueSize: 4}},
		role{addr: lpnAddr, lpn: &friend.LPNParams{PollTimeout: 20 * time.Second, RequestRetry: 2 * time.Second, MinQueueSizeLog: 2}},
	)
	lpn := w.m[2].node.LPN()
	if !w.runUntil(10*time.Second, func() bool { return lpn.Established() }) {
		t.Fatalf("no friendship; %s", w.replay())
	}
	for k := range 6 {
		w.send(0, lpnAddr, payload(k, 5), nil) // unsegmented
	}
	w.eng.RunFor(30 * time.Second)
	fs := w.m[1].node.Friend().Stats()
	if fs.QueueOverflows != 2 || len(w.m[2].got) != 4 {
		t.Fatalf("overflows %d, LPN got %d: %+v", fs.QueueOverflows, len(w.m[2].got), fs)
	}
	if !bytes.Equal(w.m[2].got[0], payload(2, 5)) {
		t.Fatalf("oldest not evicted first: got %x", w.m[2].got[0])
	}
}

func TestScenario_Deterministic(t *testing.T) {
	run := func() (uint64, friend.LPNStats) {
		w := newWorld(t, 9, 0.1,
			role{addr: senderAddr},
			role{addr: friendA, friend: &friend.FriendParams{}},
			role{addr: friendB, friend: &friend.FriendParams{}},
			role{addr: lpnAddr, lpn: lpnParams(), subGroup: true},
		)
		w.eng.RunFor(20 * time.Second)
		w.send(0, lpnAddr, payload(1, 60), nil)
		w.eng.RunFor(20 * time.Second)
		return w.eng.Digest(), w.m[3].node.LPN().Stats()
	}
	d1, s1 := run()
	d2, s2 := run()
	if d1 != d2 || s1 != s2 {
		t.Fatalf("two runs of one seed differ: %x %x\n%+v\n%+v", d1, d2, s1, s2)
	}
}
