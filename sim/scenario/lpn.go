package scenario

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/models/blob"
)

// Low Power targets (Config.LPNs, docs/friend-lpn.md). Each has a Friend
// among the relays; its BLOB Transfer Server asks for chunks in Pull mode,
// as many as its Friend Queue holds, and the distributor's one transfer
// serves it in Pull beside the Push targets.
const (
	// lpnPollTimeout and lpnAttempts are the LPNs' PollTimeout and Poll
	// attempts before a friendship counts as lost. A Friend is a relay,
	// and while it forwards a burst its answer to a Poll waits behind
	// dozens of PDUs, past the 255 ms receive window: ten attempts
	// (4.6 s) ride such bursts out where the default six give up, and an
	// abandoned friendship would go on queueing until it times out.
	lpnPollTimeout = 10 * time.Second
	lpnAttempts    = 10
	// lpnUpdateTimeout and lpnUpdateRetries space the distributor's
	// Firmware Update requests 12 s apart, longer than an LPN takes to
	// poll one out of its Friend's queue: each copy of a segmented
	// request is a new message that the Friend queues whole.
	lpnUpdateTimeout = time.Minute
	lpnUpdateRetries = 4
	// lpnEstablishLimit bounds the wait for every LPN's friendship before
	// the upload starts.
	lpnEstablishLimit = 2 * time.Minute
	// startPerLPN is the distributor's Start step per Low Power target: a
	// request waits for the LPN's next poll.
	startPerLPN = 15 * time.Second
)

// chooseLPNs marks cfg.LPNs targets as Low Power nodes: targets that are
// not relays and are next to a Friend, at most friend.DefaultMaxLPNs per
// Friend (each LPN is counted against one Friend next to it), drawn from
// the seed. Friends are the relays other than the Initiator and the
// distributor. Without such relays (single-hop), a quarter of the targets
// become relays and Friends first. relays is updated in place; adj is the
// topology's adjacency.
func (w *world) chooseLPNs(adj [][]int, relays []bool) ([]bool, error) {
	n := len(relays)
	lpn := make([]bool, n)
	if w.cfg.LPNs == 0 {
		return lpn, nil
	}
	r := rand.New(rand.NewPCG(w.cfg.Seed, 0x6c706e)) // "lpn"
	order := r.Perm(n - firstTarget)
	friends := 0
	for i := firstTarget; i < n; i++ {
		if relays[i] {
			friends++
		}
	}
	if friends == 0 {
		want := (w.cfg.LPNs + friend.DefaultMaxLPNs - 1) / friend.DefaultMaxLPNs
		if want+w.cfg.LPNs > n-firstTarget {
			return nil, fmt.Errorf("%w: %d Low Power targets need %d more targets as Friends; %d targets in all", ErrConfig, w.cfg.LPNs, want, n-firstTarget)
		}
		for _, k := range order[:want] {
			relays[firstTarget+k] = true
		}
	}
	load := make([]int, n) // LPNs counted against each Friend
	chosen := 0
	for _, k := range order {
		i := firstTarget + k
		if chosen == w.cfg.LPNs {
			break
		}
		if relays[i] {
			continue
		}
		best := -1
		for _, j := range adj[i] {
			if j >= firstTarget && relays[j] && load[j] < friend.DefaultMaxLPNs && (best < 0 || load[j] < load[best]) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		load[best]++
		lpn[i] = true
		chosen++
	}
	if chosen < w.cfg.LPNs {
		return nil, fmt.Errorf("%w: --lpn %d: only %d targets of this network are next to a Friend with room (at most %d LPNs per Friend); try fewer or another topology",
			ErrConfig, w.cfg.LPNs, chosen, friend.DefaultMaxLPNs)
	}
	return lpn, nil
}

// friendMask is relays without the Initiator and the distributor: the
// targets that relay offer friendship.
func friendMask(relays []bool) []bool {
	out := append([]bool(nil), relays...)
	for i := 0; i < firstTarget && i < len(out); i++ {
		out[i] = false
	}
	return out
}

// lpnsEstablished reports whether every Low Power target that is on has a
// Friend.
func (w *world) lpnsEstablished() bool {
	for _, t := range w.tg {
		if !t.lpn || !w.f.IsOn(t.idx) {
			continue
		}
		if l := w.f.Node(t.idx).LPN(); l == nil || !l.Established() {
			return false
		}
	}
	return true
}

// hasLPNs reports whether some target is a Low Power node.
func (w *world) hasLPNs() bool { return w.cfg.LPNs > 0 }

// modeName is a Transfer Mode for the JSON: "push", "pull", "" before any
// Transfer Start.
func modeName(m blob.TransferMode) string {
	switch m {
	case blob.ModePush:
		return "push"
	case blob.ModePull:
		return "pull"
	}
	return ""
}
