package dfd

import (
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// A receiver silent to a step's request is asked again for the budget
// and at least minSilentRounds rounds: over relays one round (a request
// and its resends) can outlast the budget, which then gave a target two
// chances. Rounds that took a minute each still reach the third, where
// the target answers; a target that never answers ends with its timeout
// after exactly minSilentRounds rounds.
func TestPersist_MinRounds(t *testing.T) {
	clk := faketime.New()
	h := newSrv(t, ServerConfig{Clock: clk})
	s := h.srv
	r := &distRun{gen: s.gen}
	s.run = r
	const late, gone = mesh.Address(0x0010), mesh.Address(0x0011)
	asked := map[mesh.Address]int{}
	outcome := map[mesh.Address]error{}
	ended := false
	send := func(ts []mesh.Address, cb func(mesh.Address, int, error), done func()) {
		clk.AfterFunc(time.Minute, func() { // a round over relays
			for _, a := range ts {
				asked[a]++
				if a == late && asked[a] == minSilentRounds {
					cb(a, 1, nil)
					continue
				}
				cb(a, 0, dfu.ErrTimeout)
			}
			done()
		})
	}
	persist(s, r, []mesh.Address{late, gone}, 10*time.Second, time.Time{}, nil, send,
		func(a mesh.Address, _ int, err error) { outcome[a] = err }, func() { ended = true })
	for i := 0; i < 60 && !ended; i++ {
		clk.Advance(10 * time.Second)
	}
	if !ended {
		t.Fatal("persist did not end")
	}
	if err, ok := outcome[late]; !ok || err != nil || asked[late] != minSilentRounds {
		t.Errorf("late target: outcome %v (given %v), asked %d times; want an answer in round %d", err, ok, asked[late], minSilentRounds)
	}
	if err := outcome[gone]; err != dfu.ErrTimeout || asked[gone] != minSilentRounds {
		t.Errorf("silent target: outcome %v, asked %d times; want its timeout after %d", err, asked[gone], minSilentRounds)
	}
}
