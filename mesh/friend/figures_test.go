package friend_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh/friend"
)

var figures = flag.Bool("friend.figures", false, "print the radio-on tables of docs/friend-lpn.md")

// TestFigures prints the tables of docs/friend-lpn.md:
//
//	go test -run TestFigures -friend.figures -v ./mesh/friend/
func TestFigures(t *testing.T) {
	if !*figures {
		t.Skip("-friend.figures not set")
	}
	var b strings.Builder
	fmt.Fprintln(&b, "\nIdle LPN, one hour, single hop, no loss:")
	fmt.Fprintln(&b, "| PollTimeout | ReceiveWindow | poll interval | polls/h | listening/h | radio on/h | duty |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	for _, pt := range []time.Duration{10 * time.Second, 30 * time.Second, 300 * time.Second} {
		for _, rw := range []time.Duration{255 * time.Millisecond, 50 * time.Millisecond} {
			w := newWorld(t, 11, 0,
				role{addr: friendA, friend: &friend.FriendParams{ReceiveWindow: rw}},
				role{addr: lpnAddr, lpn: &friend.LPNParams{PollTimeout: pt}},
			)
			lpn := w.m[1].node.LPN()
			if !w.runUntil(time.Minute, lpn.Established) {
				t.Fatal("no friendship")
			}
			s0, on0 := lpn.Stats(), lpn.RadioOnTime()
			w.eng.RunFor(time.Hour)
			s, on := lpn.Stats(), lpn.RadioOnTime()-on0
			o, _ := lpn.Offer()
			interval := pt - 6*(100*time.Millisecond+time.Duration(o.ReceiveWindow)*time.Millisecond+100*time.Millisecond)
			fmt.Fprintf(&b, "| %v | %v | %v | %d | %v | %v | %.4f %% |\n", pt, rw, interval.Round(10*time.Millisecond),
				s.Polls-s0.Polls, (s.ListenTime - s0.ListenTime).Round(time.Millisecond), on.Round(time.Millisecond),
				100*float64(on)/float64(time.Hour))
		}
	}
	fmt.Fprintln(&b, "\n20 segmented messages (2–7 segments) to the LPN, paced by the LPN's receipt; PollTimeout 10 s, poll interval 1 s:")
	fmt.Fprintln(&b, "| loss | ReceiveWindow | time | polls | resends | listening | radio on | friend queue high | overflows | OBO acks |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for _, c := range []struct {
		loss float64
		rw   time.Duration
	}{{0, 255 * time.Millisecond}, {0.1, 255 * time.Millisecond}, {0.1, 50 * time.Millisecond}, {0.2, 255 * time.Millisecond}} {
		loss := c.loss
		w := newWorld(t, 12, loss,
			role{addr: senderAddr},
			role{addr: friendA, friend: &friend.FriendParams{ReceiveWindow: c.rw}},
			role{addr: lpnAddr, lpn: &friend.LPNParams{PollTimeout: 10 * time.Second, RequestRetry: 2 * time.Second, PollInterval: time.Second}},
		)
		lpn := w.m[2].node.LPN()
		if !w.runUntil(time.Minute, lpn.Established) {
			t.Fatal("no friendship")
		}
		start, s0, on0 := w.eng.Now(), lpn.Stats(), lpn.RadioOnTime()
		sent := 0
		ok := w.runUntil(30*time.Minute, func() bool {
			if len(w.m[2].got) == sent && sent < 20 {
				w.send(0, lpnAddr, payload(sent, 20+sent*4), nil)
				sent++
			}
			return len(w.m[2].got) == 20
		})
		if !ok {
			t.Fatalf("loss %v: %d messages", loss, len(w.m[2].got))
		}
		s, fs := lpn.Stats(), w.m[1].node.Friend().Stats()
		fmt.Fprintf(&b, "| %.0f %% | %v | %v | %d | %d | %v | %v | %d | %d | %d |\n", loss*100, c.rw, w.eng.Now().Sub(start).Round(100*time.Millisecond),
			s.Polls-s0.Polls, s.Resends-s0.Resends, (s.ListenTime - s0.ListenTime).Round(time.Millisecond),
			(lpn.RadioOnTime() - on0).Round(time.Millisecond), fs.QueueHigh, fs.QueueOverflows, fs.OBOAcks)
	}
	t.Log(b.String())
}
