package config

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

type fixture struct {
	clk   *faketime.Clock
	layer *access.Layer
	state *MemoryState
	srv   *Server
	a     *access.Model // 0x1000 on the primary element, bound to AppKey 0
	b     *access.Model // 0x1001 on the second element, 1 subscription max, periodic
	v     *access.Model // vendor, no subscriptions, no publication
	sent  []sentMsg

	sendHook func(ctx *access.Context, p []byte, done func(error)) error // replaces recording
}

type sentMsg struct {
	ctx     access.Context
	payload []byte
}

var key1 = [16]byte{1}

// newFixture builds a node at 0x0100 with two elements, NetKeys 0 (normal)
// and 1 (Key Refresh Phase 1), AppKey 0 on NetKey 0 and AppKey 1 on NetKey 1.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clk: faketime.New(), state: NewMemoryState()}
	l, err := access.New(access.Config{
		Clock: f.clk, Rand: rand.New(rand.NewPCG(1, 1)),
		Primary:    func() mesh.Address { return 0x0100 },
		DefaultTTL: func() uint8 { return f.state.Features().DefaultTTL },
		Send: func(ctx *access.Context, p []byte, done func(error)) error {
			if f.sendHook != nil {
				return f.sendHook(ctx, p, done)
			}
			f.sent = append(f.sent, sentMsg{*ctx, append([]byte(nil), p...)})
			if done != nil {
				done(nil)
			}
			return nil
		},
		Composition: access.CompositionHeader{CID: 0x05f1, PID: 1, VID: 1, CRPL: 16},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.layer = l
	f.srv, err = NewServer(ServerConfig{Layer: l, State: f.state})
	if err != nil {
		t.Fatal(err)
	}
	f.a = &access.Model{ID: 0x1000}
	f.v = &access.Model{ID: vnd, NoSubscriptions: true, NoPublication: true}
	f.b = &access.Model{ID: 0x1001, MaxSubscriptions: 1, MaxBindings: 1, PeriodicPublish: func() {}}
	if _, err := l.AddElement(0, f.srv.Model(), f.a, f.v); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddElement(1, f.b); err != nil {
		t.Fatal(err)
	}
	nk := [16]byte{9}
	must(t, f.state.SetNetKey(0, NetKey{Key: testKey}))
	must(t, f.state.SetNetKey(1, NetKey{Key: testKey, New: &nk, Phase: 1}))
	must(t, f.state.SetAppKey(0, AppKey{NetKeyIndex: 0, Key: testKey}))
	must(t, f.state.SetAppKey(1, AppKey{NetKeyIndex: 1, Key: testKey}))
	must(t, f.a.Bind(0))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestServerStatus(t *testing.T) {
	t.Parallel()
	virt := mesh.Address(crypto.VirtualAddress(testLabel))
	pub := func(addr mesh.Address, app uint16) *ModelPublicationSet {
		return &ModelPublicationSet{0x0100, addr, PublishParams{AppKeyIndex: app, TTL: 5}, 0x1000}
	}
	for _, tc := range []struct {
		name  string
		setup func(*fixture)
		req   access.Message
		want  access.Message
		check func(*testing.T, *fixture)
	}{
		// AppKeys
		{"AppKey Add", nil, &AppKeyAdd{0, 2, key1}, &AppKeyStatus{StatusSuccess, 0, 2}, func(t *testing.T, f *fixture) {
			if k, ok := f.state.AppKey(2); !ok || k.Key != key1 {
				t.Error("key not stored")
			}
		}},
		{"AppKey Add same again", nil, &AppKeyAdd{0, 0, testKey}, &AppKeyStatus{StatusSuccess, 0, 0}, nil},
		{"AppKey Add other key", nil, &AppKeyAdd{0, 0, key1}, &AppKeyStatus{StatusKeyIndexAlreadyStored, 0, 0}, nil},
		{"AppKey Add other NetKey", nil, &AppKeyAdd{1, 0, testKey}, &AppKeyStatus{StatusInvalidNetKeyIndex, 1, 0}, nil},
		{"AppKey Add unknown NetKey", nil, &AppKeyAdd{7, 2, key1}, &AppKeyStatus{StatusInvalidNetKeyIndex, 7, 2}, nil},
		{"AppKey Add full", func(f *fixture) { f.state.MaxAppKeys = 2 }, &AppKeyAdd{0, 2, key1}, &AppKeyStatus{StatusInsufficientResources, 0, 2}, nil},
		{"AppKey Update phase 1", nil, &AppKeyUpdate{1, 1, key1}, &AppKeyStatus{StatusSuccess, 1, 1}, func(t *testing.T, f *fixture) {
			if k, _ := f.state.AppKey(1); k.New == nil || *k.New != key1 {
				t.Error("new key not stored")
			}
		}},
		{"AppKey Update same new key", func(f *fixture) { f.srv.Handle(&access.Context{}, &AppKeyUpdate{1, 1, key1}) },
			&AppKeyUpdate{1, 1, key1}, &AppKeyStatus{StatusSuccess, 1, 1}, nil},
		{"AppKey Update other new key", func(f *fixture) { f.srv.Handle(&access.Context{}, &AppKeyUpdate{1, 1, key1}) },
			&AppKeyUpdate{1, 1, testKey}, &AppKeyStatus{StatusCannotUpdate, 1, 1}, nil},
		{"AppKey Update normal phase", nil, &AppKeyUpdate{0, 0, key1}, &AppKeyStatus{StatusCannotUpdate, 0, 0}, nil},
		{"AppKey Update unknown AppKey", nil, &AppKeyUpdate{0, 5, key1}, &AppKeyStatus{StatusInvalidAppKeyIndex, 0, 5}, nil},
		{"AppKey Update wrong binding", nil, &AppKeyUpdate{1, 0, key1}, &AppKeyStatus{StatusInvalidBinding, 1, 0}, nil},
		{"AppKey Update unknown NetKey", nil, &AppKeyUpdate{9, 0, key1}, &AppKeyStatus{StatusInvalidNetKeyIndex, 9, 0}, nil},
		{"AppKey Delete unbinds", nil, &AppKeyDelete{0, 0}, &AppKeyStatus{StatusSuccess, 0, 0}, func(t *testing.T, f *fixture) {
			if _, ok := f.state.AppKey(0); ok || f.a.IsBound(0) {
				t.Error("key or binding survived")
			}
		}},
		{"AppKey Delete absent", nil, &AppKeyDelete{0, 9}, &AppKeyStatus{StatusSuccess, 0, 9}, nil},
		{"AppKey Delete wrong binding", nil, &AppKeyDelete{0, 1}, &AppKeyStatus{StatusInvalidBinding, 0, 1}, nil},
		{"AppKey Delete unknown NetKey", nil, &AppKeyDelete{5, 1}, &AppKeyStatus{StatusInvalidNetKeyIndex, 5, 1}, nil},
		{"AppKey Get", nil, &AppKeyGet{0}, &AppKeyList{StatusSuccess, 0, []uint16{0}}, nil},
		{"AppKey Get unknown NetKey", nil, &AppKeyGet{3}, &AppKeyList{StatusInvalidNetKeyIndex, 3, nil}, nil},
		// NetKeys
		{"NetKey Add", nil, &NetKeyAdd{2, key1}, &NetKeyStatus{StatusSuccess, 2}, nil},
		{"NetKey Add same", nil, &NetKeyAdd{0, testKey}, &NetKeyStatus{StatusSuccess, 0}, nil},
		{"NetKey Add other key", nil, &NetKeyAdd{0, key1}, &NetKeyStatus{StatusKeyIndexAlreadyStored, 0}, nil},
		{"NetKey Add full", func(f *fixture) { f.state.MaxNetKeys = 2 }, &NetKeyAdd{2, key1}, &NetKeyStatus{StatusInsufficientResources, 2}, nil},
		{"NetKey Update", nil, &NetKeyUpdate{0, key1}, &NetKeyStatus{StatusSuccess, 0}, func(t *testing.T, f *fixture) {
			if k, _ := f.state.NetKey(0); k.Phase != 1 || *k.New != key1 {
				t.Errorf("NetKey %+v", k)
			}
		}},
		{"NetKey Update phase 1 same", nil, &NetKeyUpdate{1, [16]byte{9}}, &NetKeyStatus{StatusSuccess, 1}, nil},
		{"NetKey Update phase 1 other", nil, &NetKeyUpdate{1, key1}, &NetKeyStatus{StatusCannotUpdate, 1}, nil},
		{"NetKey Update unknown", nil, &NetKeyUpdate{4, key1}, &NetKeyStatus{StatusInvalidNetKeyIndex, 4}, nil},
		{"NetKey Delete", nil, &NetKeyDelete{1}, &NetKeyStatus{StatusSuccess, 1}, func(t *testing.T, f *fixture) {
			if _, ok := f.state.AppKey(1); ok {
				t.Error("AppKey of deleted NetKey survived")
			}
		}},
		{"NetKey Delete the key in use", nil, &NetKeyDelete{0}, &NetKeyStatus{StatusCannotRemove, 0}, nil},
		{"NetKey Delete absent", nil, &NetKeyDelete{6}, &NetKeyStatus{StatusSuccess, 6}, nil},
		{"NetKey Get", nil, &NetKeyGet{}, &NetKeyList{[]uint16{0, 1}}, nil},
		// Bindings
		{"Bind", nil, &ModelAppBind{0x0101, 1, 0x1001}, &ModelAppStatus{StatusSuccess, 0x0101, 1, 0x1001}, func(t *testing.T, f *fixture) {
			if !f.b.IsBound(1) {
				t.Error("not bound")
			}
		}},
		{"Bind again", nil, &ModelAppBind{0x0100, 0, 0x1000}, &ModelAppStatus{StatusSuccess, 0x0100, 0, 0x1000}, nil},
		{"Bind no element", nil, &ModelAppBind{0x0105, 0, 0x1000}, &ModelAppStatus{StatusInvalidAddress, 0x0105, 0, 0x1000}, nil},
		{"Bind no model", nil, &ModelAppBind{0x0101, 0, 0x1000}, &ModelAppStatus{StatusInvalidModel, 0x0101, 0, 0x1000}, nil},
		{"Bind Configuration Server", nil, &ModelAppBind{0x0100, 0, ServerModelID}, &ModelAppStatus{StatusCannotBind, 0x0100, 0, ServerModelID}, nil},
		{"Bind unknown AppKey", nil, &ModelAppBind{0x0100, 7, 0x1000}, &ModelAppStatus{StatusInvalidAppKeyIndex, 0x0100, 7, 0x1000}, nil},
		{"Bind full", func(f *fixture) { must(t, f.b.Bind(0)) }, &ModelAppBind{0x0101, 1, 0x1001}, &ModelAppStatus{StatusInsufficientResources, 0x0101, 1, 0x1001}, nil},
		{"Unbind", nil, &ModelAppUnbind{0x0100, 0, 0x1000}, &ModelAppStatus{StatusSuccess, 0x0100, 0, 0x1000}, func(t *testing.T, f *fixture) {
			if f.a.IsBound(0) {
				t.Error("still bound")
			}
		}},
		{"Unbind unknown AppKey", nil, &ModelAppUnbind{0x0100, 7, 0x1000}, &ModelAppStatus{StatusInvalidAppKeyIndex, 0x0100, 7, 0x1000}, nil},
		{"SIG Model App Get", nil, &SIGModelAppGet{0x0100, 0x1000}, &SIGModelAppList{StatusSuccess, 0x0100, 0x1000, []uint16{0}}, nil},
		{"SIG Model App Get no model", nil, &SIGModelAppGet{0x0100, 0x1001}, &SIGModelAppList{StatusInvalidModel, 0x0100, 0x1001, nil}, nil},
		{"Vendor Model App Get", nil, &VendorModelAppGet{0x0100, vnd}, &VendorModelAppList{StatusSuccess, 0x0100, vnd, nil}, nil},
		// Subscriptions
		{"Subscription Add", nil, &ModelSubscriptionAdd{0x0100, 0xc000, 0x1000}, &ModelSubscriptionStatus{StatusSuccess, 0x0100, 0xc000, 0x1000}, func(t *testing.T, f *fixture) {
			if !f.a.IsSubscribed(0xc000, nil) {
				t.Error("not subscribed")
			}
		}},
		{"Subscription Add unicast", nil, &ModelSubscriptionAdd{0x0100, 0x0005, 0x1000}, &ModelSubscriptionStatus{StatusInvalidAddress, 0x0100, 0x0005, 0x1000}, nil},
		{"Subscription Add all-nodes", nil, &ModelSubscriptionAdd{0x0100, 0xffff, 0x1000}, &ModelSubscriptionStatus{StatusInvalidAddress, 0x0100, 0xffff, 0x1000}, nil},
		{"Subscription Add virtual hash", nil, &ModelSubscriptionAdd{0x0100, 0x8001, 0x1000}, &ModelSubscriptionStatus{StatusInvalidAddress, 0x0100, 0x8001, 0x1000}, nil},
		{"Subscription Add no element", nil, &ModelSubscriptionAdd{0x0200, 0xc000, 0x1000}, &ModelSubscriptionStatus{StatusInvalidAddress, 0x0200, 0xc000, 0x1000}, nil},
		{"Subscription Add no model", nil, &ModelSubscriptionAdd{0x0100, 0xc000, 0x1002}, &ModelSubscriptionStatus{StatusInvalidModel, 0x0100, 0xc000, 0x1002}, nil},
		{"Subscription Add not a subscribe model", nil, &ModelSubscriptionAdd{0x0100, 0xc000, vnd}, &ModelSubscriptionStatus{StatusNotASubscribeModel, 0x0100, 0xc000, vnd}, nil},
		{"Subscription Add full", func(f *fixture) { must(t, f.b.Subscribe(0xc001, nil)) },
			&ModelSubscriptionAdd{0x0101, 0xc000, 0x1001}, &ModelSubscriptionStatus{StatusInsufficientResources, 0x0101, 0xc000, 0x1001}, nil},
		{"Subscription Overwrite", func(f *fixture) { must(t, f.b.Subscribe(0xc001, nil)) },
			&ModelSubscriptionOverwrite{0x0101, 0xc000, 0x1001}, &ModelSubscriptionStatus{StatusSuccess, 0x0101, 0xc000, 0x1001}, func(t *testing.T, f *fixture) {
				if s := f.b.Subscriptions(); len(s) != 1 || s[0].Address != 0xc000 {
					t.Errorf("subs %+v", s)
				}
			}},
		{"Subscription Delete absent", nil, &ModelSubscriptionDelete{0x0100, 0xc000, 0x1000}, &ModelSubscriptionStatus{StatusSuccess, 0x0100, 0xc000, 0x1000}, nil},
		{"Subscription Delete All", func(f *fixture) { must(t, f.a.Subscribe(0xc001, nil)) },
			&ModelSubscriptionDeleteAll{0x0100, 0x1000}, &ModelSubscriptionStatus{StatusSuccess, 0x0100, 0, 0x1000}, func(t *testing.T, f *fixture) {
				if len(f.a.Subscriptions()) != 0 {
					t.Error("not cleared")
				}
			}},
		{"Subscription VA Add", nil, &ModelSubscriptionVirtualAddressAdd{0x0100, testLabel, 0x1000}, &ModelSubscriptionStatus{StatusSuccess, 0x0100, virt, 0x1000}, func(t *testing.T, f *fixture) {
			if !f.a.IsSubscribed(virt, &testLabel) {
				t.Error("label not subscribed")
			}
		}},
		{"Subscription VA Delete", func(f *fixture) { must(t, f.a.Subscribe(0, &testLabel)) },
			&ModelSubscriptionVirtualAddressDelete{0x0100, testLabel, 0x1000}, &ModelSubscriptionStatus{StatusSuccess, 0x0100, virt, 0x1000}, func(t *testing.T, f *fixture) {
				if f.a.IsSubscribed(virt, nil) {
					t.Error("label still subscribed")
				}
			}},
		{"Subscription VA Overwrite", func(f *fixture) { must(t, f.a.Subscribe(0xc000, nil)) },
			&ModelSubscriptionVirtualAddressOverwrite{0x0100, testLabel, 0x1000}, &ModelSubscriptionStatus{StatusSuccess, 0x0100, virt, 0x1000}, nil},
		{"SIG Subscription Get", func(f *fixture) { must(t, f.a.Subscribe(0xc003, nil)) },
			&SIGModelSubscriptionGet{0x0100, 0x1000}, &SIGModelSubscriptionList{StatusSuccess, 0x0100, 0x1000, []mesh.Address{0xc003}}, nil},
		{"SIG Subscription Get no element", nil, &SIGModelSubscriptionGet{0x0102, 0x1000}, &SIGModelSubscriptionList{StatusInvalidAddress, 0x0102, 0x1000, nil}, nil},
		{"Vendor Subscription Get not a subscribe model", nil, &VendorModelSubscriptionGet{0x0100, vnd}, &VendorModelSubscriptionList{StatusNotASubscribeModel, 0x0100, vnd, nil}, nil},
		// Publication
		{"Publication Set", nil, pub(0xc000, 0), &ModelPublicationStatus{StatusSuccess, 0x0100, 0xc000, PublishParams{AppKeyIndex: 0, TTL: 5}, 0x1000}, func(t *testing.T, f *fixture) {
			if p := f.a.Publication(); p.Address != 0xc000 || p.TTL != 5 {
				t.Errorf("publication %+v", p)
			}
		}},
		{"Publication Set unbound AppKey", nil, pub(0xc000, 1), &ModelPublicationStatus{StatusInvalidAppKeyIndex, 0x0100, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Set unknown AppKey", nil, pub(0xc000, 9), &ModelPublicationStatus{StatusInvalidAppKeyIndex, 0x0100, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Set virtual hash", nil, pub(0x8123, 0), &ModelPublicationStatus{StatusInvalidAddress, 0x0100, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Set friendship", nil, &ModelPublicationSet{0x0100, 0xc000, PublishParams{CredentialFlag: true}, 0x1000},
			&ModelPublicationStatus{StatusFeatureNotSupported, 0x0100, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Set period without periodic support", nil, &ModelPublicationSet{0x0100, 0xc000, PublishParams{Period: 0x41}, 0x1000},
			&ModelPublicationStatus{StatusInvalidPublishParameters, 0x0100, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Set on model without publication", nil, &ModelPublicationSet{0x0100, 0xc000, PublishParams{}, vnd},
			&ModelPublicationStatus{StatusInvalidPublishParameters, 0x0100, 0, PublishParams{}, vnd}, nil},
		{"Publication Set no element", nil, &ModelPublicationSet{0x0109, 0xc000, PublishParams{}, 0x1000},
			&ModelPublicationStatus{StatusInvalidAddress, 0x0109, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Set no model", nil, &ModelPublicationSet{0x0100, 0xc000, PublishParams{}, 0x1001},
			&ModelPublicationStatus{StatusInvalidModel, 0x0100, 0, PublishParams{}, 0x1001}, nil},
		{"Publication Set periodic", func(f *fixture) { must(t, f.b.Bind(1)) },
			&ModelPublicationSet{0x0101, 0xc000, PublishParams{AppKeyIndex: 1, TTL: 0xff, Period: 0x41}, 0x1001},
			&ModelPublicationStatus{StatusSuccess, 0x0101, 0xc000, PublishParams{AppKeyIndex: 1, TTL: 0xff, Period: 0x41}, 0x1001}, nil},
		{"Publication Set unassigned clears", func(f *fixture) { f.srv.Handle(&access.Context{}, pub(0xc000, 0)) },
			pub(0, 0), &ModelPublicationStatus{StatusSuccess, 0x0100, 0, PublishParams{}, 0x1000}, func(t *testing.T, f *fixture) {
				if f.a.Publication().Address != 0 {
					t.Error("not cleared")
				}
			}},
		{"Publication VA Set", nil, &ModelPublicationVirtualAddressSet{0x0100, testLabel, PublishParams{TTL: 3}, 0x1000},
			&ModelPublicationStatus{StatusSuccess, 0x0100, virt, PublishParams{TTL: 3}, 0x1000}, nil},
		{"Publication Get", func(f *fixture) { f.srv.Handle(&access.Context{}, pub(0xc000, 0)) },
			&ModelPublicationGet{0x0100, 0x1000}, &ModelPublicationStatus{StatusSuccess, 0x0100, 0xc000, PublishParams{TTL: 5}, 0x1000}, nil},
		{"Publication Get not publishing", nil, &ModelPublicationGet{0x0100, 0x1000}, &ModelPublicationStatus{StatusSuccess, 0x0100, 0, PublishParams{}, 0x1000}, nil},
		{"Publication Get unsupported", nil, &ModelPublicationGet{0x0100, vnd}, &ModelPublicationStatus{StatusInvalidPublishParameters, 0x0100, 0, PublishParams{}, vnd}, nil},
		// Node states
		{"Default TTL Get", nil, &DefaultTTLGet{}, &DefaultTTLStatus{7}, nil},
		{"Default TTL Set", nil, &DefaultTTLSet{0x20}, &DefaultTTLStatus{0x20}, nil},
		{"Network Transmit Set", nil, &NetworkTransmitSet{mesh.Transmit{Count: 4, IntervalSteps: 2}}, &NetworkTransmitStatus{mesh.Transmit{Count: 4, IntervalSteps: 2}}, nil},
		{"Network Transmit Get", nil, &NetworkTransmitGet{}, &NetworkTransmitStatus{mesh.DefaultNetworkTransmit}, nil},
		{"Relay Set", nil, &RelaySet{FeatureEnabled, mesh.Transmit{Count: 1}}, &RelayStatus{FeatureEnabled, mesh.Transmit{Count: 1}}, nil},
		{"Relay Set not supported", func(f *fixture) {
			ft := f.state.Features()
			ft.Relay = FeatureNotSupported
			must(t, f.state.SetFeatures(ft))
		}, &RelaySet{FeatureEnabled, mesh.Transmit{Count: 1}}, &RelayStatus{FeatureNotSupported, mesh.DefaultNetworkTransmit}, nil},
		{"Relay Get", nil, &RelayGet{}, &RelayStatus{FeatureDisabled, mesh.DefaultNetworkTransmit}, nil},
		{"Beacon Set", nil, &BeaconSet{false}, &BeaconStatus{false}, nil},
		{"Beacon Get", nil, &BeaconGet{}, &BeaconStatus{true}, nil},
		{"Node Reset", nil, &NodeReset{}, &NodeResetStatus{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			got := f.srv.Handle(&access.Context{Src: 0x0001, Dst: 0x0100, DevKey: true, NetKeyIndex: 0}, tc.req)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if _, err := access.Marshal(got); err != nil {
				t.Fatalf("response does not encode: %v", err)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestServerComposition(t *testing.T) {
	f := newFixture(t)
	st, ok := f.srv.Handle(&access.Context{}, &CompositionDataGet{Page: 3}).(*CompositionDataStatus)
	if !ok || st.Page != 0 {
		t.Fatalf("got %+v", st)
	}
	c, err := st.Composition()
	if err != nil {
		t.Fatal(err)
	}
	want := access.CompositionData{
		CompositionHeader: access.CompositionHeader{CID: 0x05f1, PID: 1, VID: 1, CRPL: 16},
		Elements: []access.CompositionElement{
			{Loc: 0, SIG: []uint16{0x0000, 0x1000}, Vendor: []access.ModelID{vnd}},
			{Loc: 1, SIG: []uint16{0x1001}},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("composition %+v", c)
	}
}

// TestServerReceive drives the Server through the access layer: bad
// parameters are dropped, good ones answered with the DevKey after a delay,
// and Node Reset resets the state once the status has left.
func TestServerReceive(t *testing.T) {
	f := newFixture(t)
	resets := 0
	f.state.OnReset = func() { resets++ }
	ctx := access.Context{Src: 0x0001, Dst: 0x0100, DevKey: true, RecvTTL: 5}
	c := ctx
	f.layer.Receive(&c, []byte{0x80, 0x0d, 0x01}) // Default TTL Set 0x01: prohibited
	c = ctx
	f.layer.Receive(&c, []byte{0x80, 0x0d, 0x09})
	c = ctx
	c.DevKey, c.AppKeyIndex = false, 0
	f.layer.Receive(&c, []byte{0x80, 0x0c}) // AppKey-secured: not for the Server
	f.clk.Advance(100e6)
	if f.srv.Stats().Dropped != 1 || f.srv.Stats().Handled != 1 || len(f.sent) != 1 {
		t.Fatalf("stats %+v, %d sent", f.srv.Stats(), len(f.sent))
	}
	if s := f.sent[0]; s.ctx.Dst != 0x0001 || !s.ctx.DevKey || string(s.payload) != "\x80\x0e\x09" || s.ctx.TTL != 9 {
		t.Fatalf("reply %+v %x", s.ctx, s.payload)
	}
	c = ctx
	f.layer.Receive(&c, []byte{0x80, 0x49})
	if resets != 0 {
		t.Fatal("reset before the status was sent")
	}
	f.clk.Advance(100e6)
	if resets != 1 || string(f.sent[1].payload) != "\x80\x4a" {
		t.Fatalf("resets %d, sent %x", resets, f.sent[1].payload)
	}
	if _, ok := f.state.NetKey(0); ok {
		t.Fatal("keys survived reset")
	}
}
