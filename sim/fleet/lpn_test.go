package fleet_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/sim/fleet"
)

// TestLowPowerMetrics: a Friend and two Low Power nodes; the metrics say
// which nodes are LPNs, their radio-on time (kept over a reboot), the
// Friend's queue figures and the overflow total.
func TestLowPowerMetrics(t *testing.T) {
	t.Parallel()
	lpn := []bool{false, false, true, true}
	friends := []bool{false, true, false, false}
	var f *fleet.Fleet
	f, err := fleet.New(fleet.Config{Seed: 3, Nodes: 4,
		NodeOptions: fleet.LowPowerOptions(lpn, friends, friend.LPNParams{PollTimeout: 10 * time.Second}, friend.FriendParams{})})
	if err != nil {
		t.Fatal(err)
	}
	hook := fleet.LowPowerHook{Node: func() *node.Node { return f.Node(2) }}
	f.RunFor(30 * time.Second)
	if q := hook.QueueSize(); q != friend.DefaultQueueSize {
		t.Errorf("hook queue size %d", q)
	}
	if err := hook.Poll(); err != nil {
		t.Errorf("hook poll: %v", err)
	}
	if err := (fleet.LowPowerHook{Node: func() *node.Node { return f.Node(0) }}).Poll(); !errors.Is(err, friend.ErrNoFriend) {
		t.Errorf("poll on a node without the feature: %v", err)
	}
	m := f.Metrics()
	if m.LPNs != 2 || m.FriendQueueOverflows != 0 || m.Totals.Friend == nil || m.Totals.Friend.LPNs != 2 {
		t.Fatalf("metrics: %d LPNs, %d overflows, friend totals %+v", m.LPNs, m.FriendQueueOverflows, m.Totals.Friend)
	}
	for i, nm := range m.Nodes {
		if nm.LowPower != lpn[i] || (nm.LPN != nil) != lpn[i] || (nm.Friend != nil) != friends[i] {
			t.Errorf("node %d: low power %v, lpn %+v, friend %+v", i, nm.LowPower, nm.LPN, nm.Friend)
		}
		if lpn[i] && (nm.LPN.RadioOn <= 0 || nm.LPN.RadioOn < nm.LPN.ListenTime || nm.LPN.Friend != f.Address(1) || nm.LPN.QueueSize == 0) {
			t.Errorf("node %d LPN metrics %+v", i, nm.LPN)
		}
	}
	before := m.Nodes[2].LPN.RadioOn
	if err := f.Reboot(2); err != nil {
		t.Fatal(err)
	}
	f.RunFor(30 * time.Second)
	m2 := f.Metrics()
	if got := m2.Nodes[2].LPN; got.RadioOn <= before || got.Established < 2 {
		t.Errorf("after a reboot: %+v (radio on before %v)", got, before)
	}
	if m.Nodes[2].LPN.RadioOn != before {
		t.Error("a snapshot changed after it was taken")
	}
	if m2.Totals.LPN.RadioOn != m2.Nodes[2].LPN.RadioOn+m2.Nodes[3].LPN.RadioOn {
		t.Errorf("total radio on %v", m2.Totals.LPN.RadioOn)
	}
	b, err := json.Marshal(m2)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		LPNs      int    `json:"lpns"`
		Overflows uint64 `json:"friend_queue_overflows"`
		Nodes     []struct {
			LowPower bool `json:"low_power"`
			LPN      *struct {
				RadioOn int64 `json:"radio_on_ns"`
			} `json:"lpn"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.LPNs != 2 || !back.Nodes[3].LowPower || back.Nodes[3].LPN.RadioOn <= 0 {
		t.Errorf("JSON: %v %+v", err, back)
	}
}
