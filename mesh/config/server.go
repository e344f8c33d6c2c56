package config

import (
	"context"
	"errors"
	"log/slog"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// ServerConfig configures a Server. Layer and State are required.
type ServerConfig struct {
	Layer  *access.Layer
	State  NodeState
	Logger *slog.Logger // nil: discard
}

// ServerStats counts the Server's requests.
type ServerStats struct {
	Handled uint64 // requests answered
	Dropped uint64 // requests that failed to decode (ignored, as the spec asks)
}

// Server is the Configuration Server model (SIG model 0x0000). Add
// Server.Model() to the primary element.
type Server struct {
	layer *access.Layer
	state NodeState
	log   *slog.Logger
	model *access.Model
	stats ServerStats
}

// requests lists the opcodes the Server answers.
var requests = []access.Opcode{
	OpCompositionDataGet, OpAppKeyAdd, OpAppKeyUpdate, OpAppKeyDelete, OpAppKeyGet,
	OpNetKeyAdd, OpNetKeyUpdate, OpNetKeyDelete, OpNetKeyGet,
	OpModelAppBind, OpModelAppUnbind, OpSIGModelAppGet, OpVendorModelAppGet,
	OpModelSubscriptionAdd, OpModelSubscriptionDelete, OpModelSubscriptionOverwrite, OpModelSubscriptionDeleteAll,
	OpModelSubscriptionVirtualAddressAdd, OpModelSubscriptionVirtualAddressDelete, OpModelSubscriptionVirtualAddressOverwrite,
	OpSIGModelSubscriptionGet, OpVendorModelSubscriptionGet,
	OpModelPublicationGet, OpModelPublicationSet, OpModelPublicationVirtualAddressSet,
	OpDefaultTTLGet, OpDefaultTTLSet, OpNetworkTransmitGet, OpNetworkTransmitSet,
	OpRelayGet, OpRelaySet, OpBeaconGet, OpBeaconSet, OpNodeReset,
}

// NewServer returns a Server; add its Model to the primary element.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Layer == nil || cfg.State == nil {
		return nil, errors.New("config: ServerConfig needs Layer and State")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{layer: cfg.Layer, state: cfg.State, log: cfg.Logger}
	s.model = &access.Model{ID: ServerModelID, DevKey: true, NoSubscriptions: true, NoPublication: true}
	for _, op := range requests {
		s.model.Ops = append(s.model.Ops, access.Op{Opcode: op, Handler: s.receive(op)})
	}
	return s, nil
}

// Model returns the Server's model instance.
func (s *Server) Model() *access.Model { return s.model }

// Stats returns the request counters.
func (s *Server) Stats() ServerStats { return s.stats }

func (s *Server) receive(op access.Opcode) access.Handler {
	return func(ctx *access.Context, params []byte) {
		req := NewMessage(op)
		if err := req.Unmarshal(params); err != nil {
			s.stats.Dropped++
			s.log.LogAttrs(context.Background(), slog.LevelDebug, "config: dropped request",
				slog.Any("src", ctx.Src), slog.Any("opcode", op), slog.Any("err", err))
			return
		}
		resp := s.Handle(ctx, req)
		if resp == nil {
			return
		}
		s.stats.Handled++
		var done func(error)
		if op == OpNodeReset {
			done = func(error) { s.state.Reset() } // reset once the status has left
		}
		if err := s.layer.Reply(s.model, ctx, resp, done); err != nil {
			s.log.Warn("config: reply failed", "src", ctx.Src, "opcode", op, "err", err)
		}
	}
}

// Handle applies request req, received with context ctx, to the node and
// returns the response to send, or nil when none is due. It is the whole
// behaviour of the Server as a function of (state, message); the model's
// handlers decode, call Handle and reply. Node Reset is answered here and
// carried out by the handler after the status was sent.
func (s *Server) Handle(ctx *access.Context, req access.Message) access.Message {
	switch m := req.(type) {
	case *CompositionDataGet:
		c := s.layer.Composition()
		data, err := c.AppendBinary(nil)
		if err != nil {
			s.log.Error("config: composition data", "err", err)
			return nil
		}
		return &CompositionDataStatus{Page: 0, Data: data} // page 0 is the only page (§4.4.1.2.1)
	case *AppKeyAdd:
		return s.appKeyAdd(m)
	case *AppKeyUpdate:
		return s.appKeyUpdate(m)
	case *AppKeyDelete:
		return s.appKeyDelete(m)
	case *AppKeyGet:
		resp := &AppKeyList{NetKeyIndex: m.NetKeyIndex}
		if _, ok := s.state.NetKey(m.NetKeyIndex); !ok {
			resp.Status = StatusInvalidNetKeyIndex
			return resp
		}
		for _, idx := range s.state.AppKeyIndexes() {
			if k, _ := s.state.AppKey(idx); k.NetKeyIndex == m.NetKeyIndex {
				resp.AppKeyIndexes = append(resp.AppKeyIndexes, idx)
			}
		}
		return resp
	case *NetKeyAdd:
		return &NetKeyStatus{Status: s.netKeyAdd(m), NetKeyIndex: m.NetKeyIndex}
	case *NetKeyUpdate:
		return &NetKeyStatus{Status: s.netKeyUpdate(m), NetKeyIndex: m.NetKeyIndex}
	case *NetKeyDelete:
		return &NetKeyStatus{Status: s.netKeyDelete(ctx, m.NetKeyIndex), NetKeyIndex: m.NetKeyIndex}
	case *NetKeyGet:
		return &NetKeyList{NetKeyIndexes: s.state.NetKeyIndexes()}
	case *ModelAppBind:
		return s.bind(m.ElementAddress, m.AppKeyIndex, m.Model, true)
	case *ModelAppUnbind:
		return s.bind(m.ElementAddress, m.AppKeyIndex, m.Model, false)
	case *SIGModelAppGet:
		return (*SIGModelAppList)(s.appList(m.ElementAddress, m.Model))
	case *VendorModelAppGet:
		return (*VendorModelAppList)(s.appList(m.ElementAddress, m.Model))
	case *ModelSubscriptionAdd:
		return s.subscribe(m.ElementAddress, m.Model, m.Address, nil, subAdd)
	case *ModelSubscriptionDelete:
		return s.subscribe(m.ElementAddress, m.Model, m.Address, nil, subDelete)
	case *ModelSubscriptionOverwrite:
		return s.subscribe(m.ElementAddress, m.Model, m.Address, nil, subOverwrite)
	case *ModelSubscriptionDeleteAll:
		return s.subscribe(m.ElementAddress, m.Model, mesh.AddrUnassigned, nil, subDeleteAll)
	case *ModelSubscriptionVirtualAddressAdd:
		return s.subscribe(m.ElementAddress, m.Model, 0, &m.Label, subAdd)
	case *ModelSubscriptionVirtualAddressDelete:
		return s.subscribe(m.ElementAddress, m.Model, 0, &m.Label, subDelete)
	case *ModelSubscriptionVirtualAddressOverwrite:
		return s.subscribe(m.ElementAddress, m.Model, 0, &m.Label, subOverwrite)
	case *SIGModelSubscriptionGet:
		return (*SIGModelSubscriptionList)(s.subList(m.ElementAddress, m.Model))
	case *VendorModelSubscriptionGet:
		return (*VendorModelSubscriptionList)(s.subList(m.ElementAddress, m.Model))
	case *ModelPublicationGet:
		return s.publication(m.ElementAddress, m.Model, nil)
	case *ModelPublicationSet:
		return s.publication(m.ElementAddress, m.Model, &access.Publication{
			Address: m.PublishAddress, AppKeyIndex: m.AppKeyIndex, CredentialFlag: m.CredentialFlag,
			TTL: m.TTL, Period: m.Period, Retransmit: m.Retransmit,
		})
	case *ModelPublicationVirtualAddressSet:
		label := m.Label
		return s.publication(m.ElementAddress, m.Model, &access.Publication{
			Address: mesh.Address(crypto.VirtualAddress(label)), Label: &label, AppKeyIndex: m.AppKeyIndex,
			CredentialFlag: m.CredentialFlag, TTL: m.TTL, Period: m.Period, Retransmit: m.Retransmit,
		})
	case *DefaultTTLGet:
		return &DefaultTTLStatus{TTL: s.state.Features().DefaultTTL}
	case *DefaultTTLSet:
		s.setFeatures(func(f *Features) { f.DefaultTTL = m.TTL })
		return &DefaultTTLStatus{TTL: s.state.Features().DefaultTTL}
	case *NetworkTransmitGet:
		return &NetworkTransmitStatus{Transmit: s.state.Features().NetworkTransmit}
	case *NetworkTransmitSet:
		s.setFeatures(func(f *Features) { f.NetworkTransmit = m.Transmit })
		return &NetworkTransmitStatus{Transmit: s.state.Features().NetworkTransmit}
	case *RelayGet:
		f := s.state.Features()
		return &RelayStatus{Relay: f.Relay, Retransmit: f.RelayRetransmit}
	case *RelaySet:
		if s.state.Features().Relay != FeatureNotSupported {
			s.setFeatures(func(f *Features) { f.Relay, f.RelayRetransmit = m.Relay, m.Retransmit })
		}
		f := s.state.Features()
		return &RelayStatus{Relay: f.Relay, Retransmit: f.RelayRetransmit}
	case *BeaconGet:
		return &BeaconStatus{Beacon: s.state.Features().Beacon}
	case *BeaconSet:
		s.setFeatures(func(f *Features) { f.Beacon = m.Beacon })
		return &BeaconStatus{Beacon: s.state.Features().Beacon}
	case *NodeReset:
		return &NodeResetStatus{}
	}
	return nil
}

func (s *Server) setFeatures(change func(*Features)) {
	f := s.state.Features()
	change(&f)
	if err := s.state.SetFeatures(f); err != nil {
		s.log.Warn("config: set features failed", "err", err)
	}
}

// storeStatus maps a NodeState setter error to a status.
func storeStatus(err error) Status {
	switch {
	case err == nil:
		return StatusSuccess
	case errors.Is(err, ErrInsufficientResources):
		return StatusInsufficientResources
	}
	return StatusStorageFailure
}

func (s *Server) appKeyAdd(m *AppKeyAdd) *AppKeyStatus {
	resp := &AppKeyStatus{NetKeyIndex: m.NetKeyIndex, AppKeyIndex: m.AppKeyIndex}
	if _, ok := s.state.NetKey(m.NetKeyIndex); !ok {
		resp.Status = StatusInvalidNetKeyIndex
		return resp
	}
	if k, ok := s.state.AppKey(m.AppKeyIndex); ok {
		switch {
		case k.NetKeyIndex != m.NetKeyIndex:
			resp.Status = StatusInvalidNetKeyIndex
		case k.Key != m.AppKey:
			resp.Status = StatusKeyIndexAlreadyStored
		}
		return resp // the same key again: Success (a retransmitted request)
	}
	resp.Status = storeStatus(s.state.SetAppKey(m.AppKeyIndex, AppKey{NetKeyIndex: m.NetKeyIndex, Key: m.AppKey}))
	return resp
}

func (s *Server) appKeyUpdate(m *AppKeyUpdate) *AppKeyStatus {
	resp := &AppKeyStatus{NetKeyIndex: m.NetKeyIndex, AppKeyIndex: m.AppKeyIndex}
	net, ok := s.state.NetKey(m.NetKeyIndex)
	if !ok {
		resp.Status = StatusInvalidNetKeyIndex
		return resp
	}
	k, ok := s.state.AppKey(m.AppKeyIndex)
	switch {
	case !ok:
		resp.Status = StatusInvalidAppKeyIndex
	case k.NetKeyIndex != m.NetKeyIndex:
		resp.Status = StatusInvalidBinding
	case net.Phase != 1: // AppKey Update only in Key Refresh Phase 1
		resp.Status = StatusCannotUpdate
	case k.New != nil && *k.New != m.AppKey:
		resp.Status = StatusCannotUpdate
	case k.New != nil:
		// the same new key again: Success
	default:
		nk := m.AppKey
		k.New = &nk
		resp.Status = storeStatus(s.state.SetAppKey(m.AppKeyIndex, k))
	}
	return resp
}

func (s *Server) appKeyDelete(m *AppKeyDelete) *AppKeyStatus {
	resp := &AppKeyStatus{NetKeyIndex: m.NetKeyIndex, AppKeyIndex: m.AppKeyIndex}
	if _, ok := s.state.NetKey(m.NetKeyIndex); !ok {
		resp.Status = StatusInvalidNetKeyIndex
		return resp
	}
	k, ok := s.state.AppKey(m.AppKeyIndex)
	switch {
	case !ok:
		// already gone: Success (a retransmitted request)
	case k.NetKeyIndex != m.NetKeyIndex:
		resp.Status = StatusInvalidBinding
	default:
		s.deleteAppKey(m.AppKeyIndex)
	}
	return resp
}

// deleteAppKey removes an AppKey and every binding (and publication) that
// used it.
func (s *Server) deleteAppKey(idx uint16) {
	s.state.DeleteAppKey(idx)
	for _, e := range s.layer.Elements() {
		for _, m := range e.Models {
			m.Unbind(idx)
		}
	}
}

func (s *Server) netKeyAdd(m *NetKeyAdd) Status {
	if k, ok := s.state.NetKey(m.NetKeyIndex); ok {
		if k.Key != m.NetKey {
			return StatusKeyIndexAlreadyStored
		}
		return StatusSuccess
	}
	return storeStatus(s.state.SetNetKey(m.NetKeyIndex, NetKey{Key: m.NetKey}))
}

func (s *Server) netKeyUpdate(m *NetKeyUpdate) Status {
	k, ok := s.state.NetKey(m.NetKeyIndex)
	switch {
	case !ok:
		return StatusInvalidNetKeyIndex
	case k.Phase == 1 && *k.New == m.NetKey:
		return StatusSuccess
	case k.Phase != 0:
		return StatusCannotUpdate
	}
	nk := m.NetKey
	k.New, k.Phase = &nk, 1
	return storeStatus(s.state.SetNetKey(m.NetKeyIndex, k))
}

func (s *Server) netKeyDelete(ctx *access.Context, idx uint16) Status {
	if _, ok := s.state.NetKey(idx); !ok {
		return StatusSuccess // already gone
	}
	// The key that secured this request, or the last NetKey, cannot go.
	if ctx.NetKeyIndex == idx || len(s.state.NetKeyIndexes()) <= 1 {
		return StatusCannotRemove
	}
	for _, a := range s.state.AppKeyIndexes() {
		if k, _ := s.state.AppKey(a); k.NetKeyIndex == idx {
			s.deleteAppKey(a)
		}
	}
	s.state.DeleteNetKey(idx)
	return StatusSuccess
}

func (s *Server) findModel(elem mesh.Address, id access.ModelID) (*access.Model, Status) {
	e := s.layer.Element(elem)
	if e == nil {
		return nil, StatusInvalidAddress
	}
	m := e.Model(id)
	if m == nil {
		return nil, StatusInvalidModel
	}
	return m, StatusSuccess
}

func (s *Server) bind(elem mesh.Address, idx uint16, id access.ModelID, bind bool) *ModelAppStatus {
	resp := &ModelAppStatus{ElementAddress: elem, AppKeyIndex: idx, Model: id}
	m, st := s.findModel(elem, id)
	switch {
	case st != StatusSuccess:
		resp.Status = st
	case bind && m.DevKey: // device-key models take no AppKeys
		resp.Status = StatusCannotBind
	case !s.hasAppKey(idx):
		resp.Status = StatusInvalidAppKeyIndex
	case bind:
		if err := m.Bind(idx); err != nil {
			resp.Status = StatusInsufficientResources
		}
	default:
		m.Unbind(idx) // unbinding an unbound key is Success
	}
	return resp
}

func (s *Server) hasAppKey(idx uint16) bool { _, ok := s.state.AppKey(idx); return ok }

func (s *Server) appList(elem mesh.Address, id access.ModelID) *modelAppList {
	resp := &modelAppList{ElementAddress: elem, Model: id}
	m, st := s.findModel(elem, id)
	if resp.Status = st; st == StatusSuccess {
		resp.AppKeyIndexes = m.Bindings()
	}
	return resp
}

type subOp int

const (
	subAdd subOp = iota
	subDelete
	subOverwrite
	subDeleteAll
)

func (s *Server) subscribe(elem mesh.Address, id access.ModelID, addr mesh.Address, label *[16]byte, op subOp) *ModelSubscriptionStatus {
	if label != nil {
		addr = mesh.Address(crypto.VirtualAddress(*label))
	}
	resp := &ModelSubscriptionStatus{ElementAddress: elem, Address: addr, Model: id}
	m, st := s.findModel(elem, id)
	switch {
	case st != StatusSuccess:
		resp.Status = st
		return resp
	case op != subDeleteAll && label == nil && (!addr.IsGroup() || addr == mesh.AddrAllNodes):
		// unassigned, unicast, virtual without its label, or all-nodes
		resp.Status = StatusInvalidAddress
		return resp
	case m.NoSubscriptions:
		resp.Status = StatusNotASubscribeModel
		return resp
	}
	switch op {
	case subAdd:
		if err := m.Subscribe(addr, label); err != nil {
			resp.Status = StatusInsufficientResources
		}
	case subDelete:
		m.Unsubscribe(addr, label) // deleting an absent address is Success
	case subOverwrite:
		m.ClearSubscriptions()
		if err := m.Subscribe(addr, label); err != nil {
			resp.Status = StatusInsufficientResources
		}
	case subDeleteAll:
		m.ClearSubscriptions()
	}
	return resp
}

func (s *Server) subList(elem mesh.Address, id access.ModelID) *modelSubList {
	resp := &modelSubList{ElementAddress: elem, Model: id}
	m, st := s.findModel(elem, id)
	switch {
	case st != StatusSuccess:
		resp.Status = st
	case m.NoSubscriptions:
		resp.Status = StatusNotASubscribeModel
	default:
		for _, sub := range m.Subscriptions() {
			resp.Addresses = append(resp.Addresses, sub.Address)
		}
	}
	return resp
}

// publication answers Model Publication Get (set == nil), Set and Virtual
// Address Set.
func (s *Server) publication(elem mesh.Address, id access.ModelID, set *access.Publication) *ModelPublicationStatus {
	resp := &ModelPublicationStatus{ElementAddress: elem, Model: id}
	m, st := s.findModel(elem, id)
	if st == StatusSuccess {
		st = s.setPublication(m, set)
	}
	if resp.Status = st; st != StatusSuccess {
		return resp // a failure carries zeros (as Zephyr cfg_srv.c does)
	}
	p := m.Publication()
	resp.PublishAddress = p.Address
	if p.Address != mesh.AddrUnassigned {
		resp.PublishParams = PublishParams{p.AppKeyIndex, p.CredentialFlag, p.TTL, p.Period, p.Retransmit}
	}
	return resp
}

func (s *Server) setPublication(m *access.Model, p *access.Publication) Status {
	switch {
	case m.NoPublication:
		return StatusInvalidPublishParameters
	case p == nil:
		return StatusSuccess
	case p.Address == mesh.AddrUnassigned:
		_ = m.SetPublication(access.Publication{}) // disable publication
		return StatusSuccess
	case p.Address.IsVirtual() && p.Label == nil:
		return StatusInvalidAddress // a virtual address needs the Virtual Address Set
	case p.CredentialFlag:
		return StatusFeatureNotSupported // no friendship credentials on this node
	case p.Period.Steps() != 0 && m.PeriodicPublish == nil:
		return StatusInvalidPublishParameters
	case !s.hasAppKey(p.AppKeyIndex) || !m.IsBound(p.AppKeyIndex):
		return StatusInvalidAppKeyIndex
	}
	if err := m.SetPublication(*p); err != nil {
		s.log.Warn("config: set publication", "model", m.ID, "err", err)
		return StatusUnspecifiedError
	}
	return StatusSuccess
}
