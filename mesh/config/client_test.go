package config

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

// pair joins a configuring node (Client at 0x0001) and a configured node
// (the fixture, Server at 0x0100) through their access layers: each Send
// reaches the other layer's Receive 5 ms later on the shared fake clock.
type pair struct {
	*fixture
	cli      *Client
	cliLayer *access.Layer
	drop     int // drop this many messages from the client
	toServer int
}

const linkDelay = 5 * time.Millisecond

func newPair(t *testing.T, cfg ClientConfig) *pair {
	t.Helper()
	p := &pair{fixture: newFixture(t)}
	deliver := func(to **access.Layer) func(ctx *access.Context, payload []byte, done func(error)) error {
		return func(ctx *access.Context, payload []byte, done func(error)) error {
			rx := access.Context{Src: ctx.Src, Dst: ctx.Dst, Label: ctx.Label, NetKeyIndex: ctx.NetKeyIndex,
				AppKeyIndex: ctx.AppKeyIndex, DevKey: ctx.DevKey, RecvTTL: ctx.TTL}
			b := append([]byte(nil), payload...)
			dst := *to
			p.clk.AfterFunc(linkDelay, func() { dst.Receive(&rx, b) })
			if done != nil {
				done(nil)
			}
			return nil
		}
	}
	// The server side's Send goes to the client layer.
	srvLayer := p.layer
	var err error
	p.cliLayer, err = access.New(access.Config{
		Clock: p.clk, Rand: rand.New(rand.NewPCG(3, 4)),
		Primary: func() mesh.Address { return 0x0001 },
		Send: func(ctx *access.Context, payload []byte, done func(error)) error {
			p.toServer++
			if p.drop > 0 {
				p.drop--
				return nil
			}
			return deliver(&srvLayer)(ctx, payload, done)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the server layer's Send to reach the client.
	p.fixture.sendHook = deliver(&p.cliLayer)
	cfg.Layer, cfg.Clock = p.cliLayer, p.clk
	if p.cli, err = NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := p.cliLayer.AddElement(0, p.cli.Model()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientServer(t *testing.T) {
	p := newPair(t, ClientConfig{})
	var log []string
	note := func(what string, err error) {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		log = append(log, what)
	}
	newKey := [16]byte{0xaa}
	must(t, p.cli.AddAppKey(0x0100, 0, 5, newKey, func(s *AppKeyStatus, err error) {
		note("appkey", err)
		if s == nil || s.AppKeyIndex != 5 || s.Status != StatusSuccess {
			t.Errorf("AppKey Status %+v", s)
		}
	}))
	p.clk.Advance(time.Second)
	must(t, p.cli.Bind(0x0100, 0x0101, 5, 0x1001, func(s *ModelAppStatus, err error) { note("bind", err) }))
	p.clk.Advance(time.Second)
	must(t, p.cli.Subscribe(0x0100, 0x0101, 0x1001, SubscriptionAdd, 0xc007, nil, func(s *ModelSubscriptionStatus, err error) {
		note("subscribe", err)
	}))
	p.clk.Advance(time.Second)
	must(t, p.cli.SetPublication(0x0100, 0x0101, 0x1001, access.Publication{Address: 0xc008, AppKeyIndex: 5, TTL: 3},
		func(s *ModelPublicationStatus, err error) {
			note("publication", err)
			if s == nil || s.PublishAddress != 0xc008 || s.TTL != 3 {
				t.Errorf("Publication Status %+v", s)
			}
		}))
	p.clk.Advance(time.Second)
	must(t, p.cli.SetDefaultTTL(0x0100, 10, func(s *DefaultTTLStatus, err error) {
		note("ttl", err)
		if s == nil || s.TTL != 10 {
			t.Errorf("TTL Status %+v", s)
		}
	}))
	must(t, p.cli.SetNetworkTransmit(0x0100, mesh.Transmit{Count: 3}, func(s *NetworkTransmitStatus, err error) { note("nettx", err) }))
	must(t, p.cli.SetRelay(0x0100, true, mesh.Transmit{Count: 1}, func(s *RelayStatus, err error) { note("relay", err) }))
	must(t, p.cli.SetBeacon(0x0100, false, func(s *BeaconStatus, err error) { note("beacon", err) }))
	must(t, p.cli.GetComposition(0x0100, 0, func(s *CompositionDataStatus, err error) {
		note("composition", err)
		if c, err := s.Composition(); err != nil || len(c.Elements) != 2 {
			t.Errorf("composition %+v %v", c, err)
		}
	}))
	p.clk.Advance(time.Second)

	if len(log) != 9 || p.cli.Pending() != 0 {
		t.Fatalf("completed %v, pending %d", log, p.cli.Pending())
	}
	if !p.b.IsBound(5) || !p.b.IsSubscribed(0xc007, nil) || p.b.Publication().Address != 0xc008 {
		t.Fatal("server state not applied")
	}
	ft := p.state.Features()
	if ft.DefaultTTL != 10 || ft.NetworkTransmit.Count != 3 || ft.Relay != FeatureEnabled || ft.Beacon {
		t.Fatalf("features %+v", ft)
	}
	// The configured subscription now routes messages to the model.
	got := 0
	p.b.Ops = append(p.b.Ops, access.Op{Opcode: 0x8201, Handler: func(*access.Context, []byte) { got++ }})
	p.layer.Receive(&access.Context{Src: 0x0001, Dst: 0xc007, AppKeyIndex: 5}, []byte{0x82, 0x01})
	if got != 1 {
		t.Fatal("subscribed group message not delivered")
	}
}

func TestClientStatusError(t *testing.T) {
	p := newPair(t, ClientConfig{})
	var gotErr error
	var st *ModelAppStatus
	must(t, p.cli.Bind(0x0100, 0x0100, 9, 0x1000, func(s *ModelAppStatus, err error) { st, gotErr = s, err }))
	p.clk.Advance(time.Second)
	var se *StatusError
	if !errors.As(gotErr, &se) || se.Status != StatusInvalidAppKeyIndex || se.Target != 0x0100 || se.Op != OpModelAppBind || st == nil {
		t.Fatalf("err %v, status %+v", gotErr, st)
	}
	if se.Error() != "config: 0x803d to 0x0100: Invalid AppKey Index" {
		t.Fatalf("message %q", se.Error())
	}
}

func TestClientRetryAndTimeout(t *testing.T) {
	p := newPair(t, ClientConfig{})
	p.drop = 1
	var done error = errors.New("not done")
	start := p.clk.Now()
	var at time.Duration
	must(t, p.cli.SetBeacon(0x0100, false, func(_ *BeaconStatus, err error) { done, at = err, p.clk.Now().Sub(start) }))
	p.clk.Advance(time.Minute)
	if done != nil || p.toServer != 2 || at < DefaultTimeout/3 || at > DefaultTimeout/3+time.Second {
		t.Fatalf("retry: err %v after %v, %d sends", done, at, p.toServer)
	}

	p.drop, p.toServer = 100, 0
	done = nil
	start = p.clk.Now()
	must(t, p.cli.SetBeacon(0x0100, true, func(_ *BeaconStatus, err error) { done, at = err, p.clk.Now().Sub(start) }))
	p.clk.Advance(time.Minute)
	if !errors.Is(done, ErrTimeout) || at != DefaultTimeout || p.toServer != 3 {
		t.Fatalf("timeout: err %v after %v, %d sends", done, at, p.toServer)
	}

	q := newPair(t, ClientConfig{Timeout: 2 * time.Second, Retries: -1})
	q.drop = 100
	must(t, q.cli.SetBeacon(0x0100, true, func(_ *BeaconStatus, err error) { done, at = err, q.clk.Now().Sub(faketime.Epoch) }))
	q.clk.Advance(time.Minute)
	if !errors.Is(done, ErrTimeout) || at != 2*time.Second || q.toServer != 1 {
		t.Fatalf("no retries: err %v after %v, %d sends", done, at, q.toServer)
	}
	must(t, q.cli.SetBeacon(0x0100, true, func(_ *BeaconStatus, err error) { done = err }))
	q.cli.Cancel(0x0100)
	if !errors.Is(done, ErrCanceled) || q.cli.Pending() != 0 {
		t.Fatalf("cancel: %v", done)
	}
	if err := q.cli.Request(0x0100, &BeaconStatus{}, nil); !errors.Is(err, ErrNotRequest) {
		t.Fatalf("status as request: %v", err)
	}
}

func TestClientIgnoresOtherStatus(t *testing.T) {
	p := newPair(t, ClientConfig{})
	calls := 0
	must(t, p.cli.Bind(0x0100, 0x0101, 0, 0x1001, func(*ModelAppStatus, error) { calls++ }))
	// A status for another model and one from another node do not match.
	p.cliLayer.Receive(&access.Context{Src: 0x0100, Dst: 0x0001, DevKey: true}, []byte{0x80, 0x3e, 0, 0, 1, 0, 0, 0, 0x10})
	p.cliLayer.Receive(&access.Context{Src: 0x0200, Dst: 0x0001, DevKey: true}, []byte{0x80, 0x3e, 0, 1, 1, 0, 0, 0, 0x10})
	if calls != 0 {
		t.Fatal("matched a foreign status")
	}
	p.clk.Advance(time.Second)
	if calls != 1 || !p.b.IsBound(0) {
		t.Fatal("bind did not complete")
	}
}

func TestClientReset(t *testing.T) {
	p := newPair(t, ClientConfig{})
	var done error = errors.New("not done")
	must(t, p.cli.Reset(0x0100, func(err error) { done = err }))
	p.clk.Advance(time.Second)
	if done != nil {
		t.Fatal(done)
	}
	if len(p.state.NetKeyIndexes()) != 0 {
		t.Fatal("node not reset")
	}
}
