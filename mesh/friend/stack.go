package friend

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Stack is what the Friend and the Low Power features need from their
// node: time, keys, addresses, sequence numbers, the IV Index and the
// bearer. Both features seal their own network PDUs, because friendship
// PDUs are sent exactly once with credentials and (for stored messages)
// header fields the network layer would not choose.
type Stack struct {
	Clock  mesh.Clock   // required
	Rand   *rand.Rand   // nil: a fixed seed
	Logger *slog.Logger // nil: discard
	// Subnets is the node's NetKey List; friendship credentials are
	// registered on it so that the network layer accepts PDUs secured
	// with them.
	Subnets *network.Subnets // required
	// Primary returns the node's primary element address.
	Primary func() mesh.Address // required
	// Elements returns the node's element count; nil: 1.
	Elements func() int
	// NextSeq allocates a SEQ of the primary element.
	NextSeq func() (uint32, error) // required
	// IV returns the node's IV Index state.
	IV func() network.IVState // required
	// Send hands a sealed network PDU to the bearer with tx, and runs sent
	// (if not nil) on the executor when its last transmission started, or
	// at once if the bearer cannot tell.
	Send func(pdu []byte, tx mesh.Transmit, sent func()) // required
	// NetworkTransmit returns the Network Transmit state, used for the
	// messages that are not friendship-tagged (Friend Clear, Friend Clear
	// Confirm, Segment Acknowledgments on behalf of an LPN). nil: once.
	NetworkTransmit func() mesh.Transmit
	// DefaultTTL returns the node's Default TTL (Segment Acknowledgments
	// sent on behalf of an LPN). nil: 7.
	DefaultTTL func() uint8
	// Replay is the node's replay protection list, applied to received
	// friendship control messages. nil: a list of the package's own.
	Replay *transport.ReplayList
}

func (s *Stack) withDefaults() error {
	switch {
	case s.Clock == nil:
		return errors.New("friend: Stack.Clock is required")
	case s.Subnets == nil:
		return errors.New("friend: Stack.Subnets is required")
	case s.Primary == nil || s.NextSeq == nil || s.IV == nil || s.Send == nil:
		return errors.New("friend: Stack needs Primary, NextSeq, IV and Send")
	}
	if s.Rand == nil {
		s.Rand = rand.New(rand.NewPCG(3, 4))
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Elements == nil {
		s.Elements = func() int { return 1 }
	}
	if s.NetworkTransmit == nil {
		s.NetworkTransmit = func() mesh.Transmit { return mesh.Transmit{} }
	}
	if s.DefaultTTL == nil {
		s.DefaultTTL = func() uint8 { return 7 }
	}
	if s.Replay == nil {
		s.Replay = transport.NewReplayList(transport.DefaultRPLSize)
	}
	return nil
}

// isOwn reports whether a is one of the node's element addresses.
func (s *Stack) isOwn(a mesh.Address) bool {
	p := s.Primary()
	return a.IsUnicast() && a >= p && int(a-p) < s.Elements()
}

// sealer builds and sends the node's own PDUs.
type sealer struct {
	st  *Stack
	buf [network.MaxPDUSize]byte
	lp  [network.MaxControlTransportSize]byte
}

// control seals a friendship control message from the primary element
// with creds (nil: the subnet's managed-flooding credentials) under the
// transmit IV Index, sends it with tx and returns the sealed PDU (valid
// until the next call).
func (s *sealer) control(netIdx uint16, dst mesh.Address, ttl uint8, m Message, creds *network.Credentials, tx mesh.Transmit, sent func()) ([]byte, error) {
	lp := append(s.lp[:0], m.Opcode())
	lp, err := m.AppendBinary(lp)
	if err != nil {
		return nil, err
	}
	return s.lower(netIdx, dst, ttl, lp, creds, tx, sent)
}

// lower seals a control lower transport PDU from the primary element.
func (s *sealer) lower(netIdx uint16, dst mesh.Address, ttl uint8, lp []byte, creds *network.Credentials, tx mesh.Transmit, sent func()) ([]byte, error) {
	if creds == nil {
		k, ok := s.st.Subnets.Get(netIdx)
		if !ok {
			return nil, fmt.Errorf("friend: %w: 0x%03x", network.ErrUnknownNetKey, netIdx)
		}
		creds = k.Credentials()
	}
	seq, err := s.st.NextSeq()
	if err != nil {
		return nil, fmt.Errorf("friend: %w", err)
	}
	h := network.Header{CTL: true, TTL: ttl, SEQ: seq, SRC: s.st.Primary(), DST: dst}
	pdu, err := creds.Seal(s.buf[:0], &h, lp, s.st.IV().TxIndex())
	if err != nil {
		return nil, fmt.Errorf("friend: seal: %w", err)
	}
	s.st.Send(pdu, tx, sent)
	return pdu, nil
}

// gate is a timer whose callback a newer arm or a stop supersedes.
type gate struct {
	t   mesh.Timer
	gen uint64
}

func (g *gate) arm(clk mesh.Clock, d time.Duration, f func()) {
	g.stop()
	gen := g.gen
	g.t = clk.AfterFunc(d, func() {
		if gen == g.gen {
			g.t = nil
			f()
		}
	})
}

func (g *gate) stop() {
	g.gen++
	if g.t != nil {
		g.t.Stop()
		g.t = nil
	}
}

func (g *gate) armed() bool { return g.t != nil }
