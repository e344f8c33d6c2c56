package scenario

import (
	"bytes"
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// Image is what the Initiator uploads: the image file (the BLOB the
// targets receive), its Firmware ID and metadata, and the BLOB ID of the
// distribution.
type Image struct {
	FirmwareID []byte
	Metadata   []byte
	File       []byte
	BLOBID     uint64
}

// events are what a distributor reports to the scenario, on the loop.
type events struct {
	onStep   func(step string)
	onTarget func(r dfu.TargetResult)
	onEnd    func(err error)
}

// distributor is the role that takes the image from the Initiator and
// updates the targets. The scenario talks to it only through this
// interface, so the direct implementation below (a Firmware Update
// Client on the distributor node, the image placed there) and a
// Firmware Distribution Server driven by a Distribution Client on an
// Initiator node are interchangeable.
type distributor interface {
	// name labels the role in the results: "direct" or "dfd".
	name() string
	// elements returns the models of fleet node i when the distributor
	// owns it (nil otherwise); called at every boot of that node.
	elements(i int) []node.Element
	// attach runs after the fleet is built and after every reboot of a
	// node the distributor owns.
	attach()
	// upload gets img onto the distributor; done runs on the loop.
	upload(img *Image, how string, done func(error))
	// distribute updates targets with the uploaded image.
	distribute(targets []mesh.Address, ev events) error
	// restart power-cycles the distributor node; it carries on with the
	// distribution it persisted.
	restart() error
	// progress is the BLOB transfer's view of each target (what the
	// targets confirmed), nil before the transfer.
	progress() []blob.TargetProgress
}

// restartDelay is how long a restarted distributor takes to boot before
// it resumes the distribution.
const restartDelay = 2 * time.Second

// The Firmware Update Client's requests wait requestTimeout in all and are
// sent requestRetries+1 times: the interval between copies stays above
// the SAR budget of a segmented Start several hops away, so copies do not
// pile up behind each other on the relays (see sim/fleet's package doc).
const (
	requestTimeout = 20 * time.Second
	requestRetries = 2
)

// direct is the distributor role played by a Firmware Update Client and
// its BLOB Transfer Client on fleet node 0: the upload places the image in
// the node's storage, and distribute runs dfu.Client.Update.
type direct struct {
	w     *world
	idx   int
	strat blob.Strategy
	cli   *dfu.Client
	bcli  *blob.Client

	// persisted across restarts: the image and the distribution
	img     *Image
	targets []mesh.Address
	ev      events
	failed  map[mesh.Address]bool
	gen     int // bumped on restart: callbacks of an older run are ignored
}

var _ distributor = (*direct)(nil)

func (d *direct) name() string { return "direct" }

func (d *direct) elements(i int) []node.Element {
	if i != d.idx {
		return nil
	}
	clk := lazyClock{d.w, i}
	log := d.w.logger(i)
	var err error
	d.bcli, err = blob.NewClient(blob.ClientConfig{Clock: clk, Strategy: d.strat, TimeoutBase: timeoutBase, Logger: log,
		TxBacklog: func() int { return d.w.f.Bearer(d.idx).Metrics().QueueLen }})
	if err != nil {
		panic(err) // the strategies are constants; validated by tests
	}
	d.cli, err = dfu.NewClient(dfu.ClientConfig{Clock: clk, BLOB: d.bcli, Logger: log, Timeout: requestTimeout, Retries: requestRetries})
	if err != nil {
		panic(err)
	}
	return []node.Element{{Models: []*access.Model{d.cli.Model(), d.bcli.Model()}}}
}

func (d *direct) attach() {
	l := d.w.f.Node(d.idx).Access()
	d.bcli.SetLayer(l)
	d.cli.SetLayer(l)
}

// upload: the direct role has no Distribution Server, so the image is
// simply placed on the node (both upload methods are instantaneous).
func (d *direct) upload(img *Image, how string, done func(error)) {
	d.img = img
	d.w.f.Post(d.idx, func() { done(nil) })
}

func (d *direct) distribute(targets []mesh.Address, ev events) error {
	if d.img == nil {
		return fmt.Errorf("scenario: distribute before upload")
	}
	d.targets, d.ev, d.failed = targets, ev, map[mesh.Address]bool{}
	d.run()
	return nil
}

// run starts the update of every target that has not failed (again,
// after a restart).
func (d *direct) run() {
	gen := d.gen
	var ts []dfu.Target
	for _, a := range d.targets {
		if !d.failed[a] {
			ts = append(ts, dfu.Target{Address: a})
		}
	}
	mode := blob.ModeNone
	switch d.w.cfg.Mode {
	case "push":
		mode = blob.ModePush
	case "pull":
		mode = blob.ModePull
	}
	group := d.w.group
	if d.w.cfg.Unicast {
		group = mesh.AddrUnassigned
	}
	u := dfu.Update{
		Targets: ts, FirmwareID: d.img.FirmwareID, Metadata: d.img.Metadata,
		BLOB: bytes.NewReader(d.img.File), Size: uint32(len(d.img.File)), BLOBID: d.img.BLOBID,
		TTL: access.DefaultTTL, TimeoutBase: timeoutBase, Mode: mode, Group: group,
		OnStep: func(step string) {
			if gen == d.gen && d.ev.onStep != nil {
				d.ev.onStep(step)
			}
		},
		OnTarget: func(r dfu.TargetResult) {
			if gen != d.gen {
				return
			}
			if r.Err != nil {
				d.failed[r.Address] = true
			}
			d.ev.onTarget(r)
		},
		OnEnd: func(_ []dfu.TargetResult, err error) {
			if gen == d.gen {
				d.ev.onEnd(err)
			}
		},
	}
	d.w.f.Post(d.idx, func() {
		if err := d.cli.Update(u); err != nil && gen == d.gen {
			d.ev.onEnd(err)
		}
	})
}

func (d *direct) progress() []blob.TargetProgress {
	if d.bcli == nil || d.bcli.State() == blob.ClientIdle {
		return nil
	}
	return d.bcli.Progress()
}

func (d *direct) restart() error {
	d.gen++
	if err := d.w.f.Reboot(d.idx); err != nil {
		return err
	}
	d.attach()
	if d.ev.onStep != nil {
		d.ev.onStep("restart")
	}
	// Resuming a transfer mid-block after the client lost its state was
	// seen to fail (targets answer Block Start with Wrong Phase), so the
	// restarted distributor cancels the update on every target still in
	// it and starts the distribution again from the beginning.
	d.w.f.Clock(d.idx).AfterFunc(restartDelay, func() {
		var active []mesh.Address
		for _, a := range d.targets {
			if !d.failed[a] {
				active = append(active, a)
			}
		}
		d.cli.Cancel(active, func(mesh.Address, *dfu.UpdateStatus, error) {}, d.run)
	})
	return nil
}
