package fleet_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// A 380-octet access message (the largest there is) goes from node 0 to
// node 6 of a 7-node line whose middle 5 nodes relay: 32 segments forward
// through 5 relays, Segment Acknowledgments back through the same 5, and
// the far end gets the exact bytes; with and without link loss.
func TestLargeMessage_Crosses5Relays(t *testing.T) {
	for _, loss := range []float64{0, 0.1} {
		t.Run(fmt.Sprintf("loss=%.0f%%", loss*100), func(t *testing.T) {
			const seed = 11
			replay(t, seed)
			tp := topology.Line(7, sim.Independent(loss))
			if h := tp.Hops(0)[6]; h != 6 {
				t.Fatalf("node 6 is %d hops away, want 6", h)
			}
			rec := newRecorder(7, true)
			f, err := fleet.New(fleet.Config{
				Seed: seed, Topology: tp, RelaySet: []bool{false, true, true, true, true, true, false},
				Models: rec.Models, Preconfigure: fleet.PreconfigureApp(0), SARTx: lossySAR(),
			})
			if err != nil {
				t.Fatal(err)
			}
			params := make([]byte, 380-2) // the 2-octet opcode makes 380
			for i := range params {
				params[i] = byte(i*31 + 7)
			}
			var sendErr error
			sent := false
			rec.send(t, f, 0, f.Address(6), params, func(err error) { sendErr, sent = err, true })
			if !f.RunUntil(func() bool { return sent }, 5*time.Minute) {
				t.Fatal("transfer never ended")
			}
			if sendErr != nil {
				t.Fatalf("transfer failed: %v", sendErr)
			}
			if len(rec.got[6]) != 1 || !bytes.Equal(rec.got[6][0].params, params) || rec.got[6][0].src != f.Address(0) {
				t.Fatalf("node 6 received %d messages", len(rec.got[6]))
			}
			for i := 1; i < 6; i++ {
				if len(rec.got[i]) != 0 {
					t.Errorf("relay %d received the unicast message", i)
				}
			}
			m := f.Metrics()
			tx, rx := m.Nodes[0].Transport, m.Nodes[6].Transport
			if tx.SegmentsSent != 32 || tx.TxCompleted != 1 || tx.AcksReceived == 0 || rx.AcksSent == 0 || rx.RxCompleted != 1 {
				t.Fatalf("SAR: sender %+v, receiver %+v", tx, rx)
			}
			for i := 1; i < 6; i++ {
				if m.Nodes[i].Network.Relayed == 0 {
					t.Errorf("node %d relayed nothing", i)
				}
			}
			t.Logf("delivered after %v virtual: %d segments retransmitted, %d acks, link losses %d, collisions %d",
				f.Elapsed(), tx.SegmentsRetransmitted, tx.AcksReceived, m.Medium.Lost.Link, m.Medium.Lost.Collision)
		})
	}
}
