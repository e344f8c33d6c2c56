package fleet

import (
	"errors"
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/config"
)

// Plan defaults.
const (
	// DefaultParallel is how many nodes a Plan configures at once.
	DefaultParallel = 4
	// DefaultAttempts is how often a Plan sends a step that timed out
	// before it gives the node up.
	DefaultAttempts = 3
)

// Plan is a configuration that node 0's Configuration Client applies to
// target nodes, one node's steps in order: AppKey Add (the AppKey of
// AppKeyIndex from the network file), then for every model in Models on
// element Element: Model App Bind, a Model Subscription Add per group of
// Subscribe, and Model Publication Set when Publication is not nil.
type Plan struct {
	AppKeyIndex uint16
	Element     int // element index of Models on each target
	Models      []access.ModelID
	Subscribe   []mesh.Address
	Publication *access.Publication

	// Parallel is how many nodes are configured at once; 0:
	// DefaultParallel.
	Parallel int
	// Attempts is how many times a step is requested when the Client
	// reports config.ErrTimeout (each request itself is retried within the
	// Client's timeout); 0: DefaultAttempts.
	Attempts int
}

// Result is what a Plan did to one node.
type Result struct {
	Node     int           `json:"node"`
	Address  mesh.Address  `json:"address"`
	Steps    int           `json:"steps"`    // steps that succeeded
	Requests int           `json:"requests"` // step requests made (attempts)
	Done     time.Duration `json:"done_ns"`  // virtual time when the node finished
	Err      error         `json:"-"`        // nil, or why a step failed
}

// step is one request of a plan.
type step struct {
	name string
	run  func(cc *config.Client, dst mesh.Address, cb func(error)) error
}

func (p *Plan) steps(appKey [16]byte, netIdx uint16) []step {
	var out []step
	out = append(out, step{"AppKey Add", func(cc *config.Client, dst mesh.Address, cb func(error)) error {
		return cc.AddAppKey(dst, netIdx, p.AppKeyIndex, appKey, func(_ *config.AppKeyStatus, err error) { cb(err) })
	}})
	for _, id := range p.Models {
		out = append(out, step{"Model App Bind " + id.String(), func(cc *config.Client, dst mesh.Address, cb func(error)) error {
			return cc.Bind(dst, dst+mesh.Address(p.Element), p.AppKeyIndex, id, func(_ *config.ModelAppStatus, err error) { cb(err) })
		}})
		for _, g := range p.Subscribe {
			out = append(out, step{"Model Subscription Add " + id.String(), func(cc *config.Client, dst mesh.Address, cb func(error)) error {
				return cc.Subscribe(dst, dst+mesh.Address(p.Element), id, config.SubscriptionAdd, g, nil,
					func(_ *config.ModelSubscriptionStatus, err error) { cb(err) })
			}})
		}
		if p.Publication != nil {
			pub := *p.Publication
			out = append(out, step{"Model Publication Set " + id.String(), func(cc *config.Client, dst mesh.Address, cb func(error)) error {
				return cc.SetPublication(dst, dst+mesh.Address(p.Element), id, pub,
					func(_ *config.ModelPublicationStatus, err error) { cb(err) })
			}})
		}
	}
	return out
}

// Configure starts applying p to the nodes in targets (indexes, never 0)
// from node 0's Configuration Client, at most p.Parallel nodes at a time,
// and calls done once with one Result per target, in targets' order, when
// every node finished or failed. Call it on the loop (before a run or from
// an event); run the engine to make progress.
func (f *Fleet) Configure(targets []int, p Plan, done func([]Result)) error {
	cc := f.ConfigClient()
	if cc == nil {
		return fmt.Errorf("%w: node 0 has no Configuration Client", ErrConfig)
	}
	key, netIdx, err := f.db.AppKey(p.AppKeyIndex)
	if err != nil {
		return fmt.Errorf("fleet: configure: %w", err)
	}
	for _, t := range targets {
		if t <= Provisioner || t >= len(f.members) {
			return fmt.Errorf("%w: configure target %d", ErrConfig, t)
		}
	}
	if p.Parallel <= 0 {
		p.Parallel = DefaultParallel
	}
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	steps := p.steps(key, netIdx)
	results := make([]Result, len(targets))
	next, running := 0, 0
	var start func()
	finish := func() {
		running--
		if next < len(targets) {
			start()
		} else if running == 0 && done != nil {
			done(results)
		}
	}
	start = func() {
		ri := next
		next++
		running++
		r := &results[ri]
		r.Node, r.Address = targets[ri], f.members[targets[ri]].addr
		var run func(si, attempt int)
		run = func(si, attempt int) {
			if si == len(steps) {
				r.Done = f.eng.Elapsed()
				finish()
				return
			}
			r.Requests++
			// The client may answer synchronously only with an error
			// return; callbacks run later on the loop.
			cc := f.ConfigClient() // node 0 may have rebooted
			err := steps[si].run(cc, r.Address, func(err error) {
				switch {
				case err == nil:
					r.Steps++
					run(si+1, 1)
				case errors.Is(err, config.ErrTimeout) && attempt < p.Attempts:
					run(si, attempt+1)
				default:
					r.Err = fmt.Errorf("fleet: node %d %s: %w", r.Node, steps[si].name, err)
					r.Done = f.eng.Elapsed()
					finish()
				}
			})
			if err != nil {
				r.Err = fmt.Errorf("fleet: node %d %s: %w", r.Node, steps[si].name, err)
				r.Done = f.eng.Elapsed()
				finish()
			}
		}
		run(0, 1)
	}
	if len(targets) == 0 {
		if done != nil {
			f.members[Provisioner].clk.Post(func() { done(results) })
		}
		return nil
	}
	for next < len(targets) && running < p.Parallel {
		start()
	}
	return nil
}
