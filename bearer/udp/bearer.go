package udp

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim/pcap"
)

// Defaults for zero Config fields.
const (
	// DefaultQueueLen bounds the PDUs a bearer holds to send: queued or
	// with transmissions left.
	DefaultQueueLen = 64
	// DefaultBacklog bounds the received PDUs posted to the executor and
	// not yet delivered.
	DefaultBacklog = 256
)

// Config configures a Bearer. Zero fields take the documented defaults.
type Config struct {
	// Listen is the local UDP address, host:port: "127.0.0.1:0" picks a
	// free port on loopback, ":5001" listens on every interface.
	Listen string
	// Peers are the host:port addresses of the nodes in radio range. Names
	// are resolved once, in Open or AddPeer.
	Peers []string
	// Executor runs the receive function; required (normally the node's
	// runtime.Loop).
	Executor mesh.Executor
	// Receive gets every received PDU, on Executor. It may be nil and set
	// later with SetReceiver.
	Receive mesh.ReceiveFunc
	// Logger receives debug records per PDU and warnings; nil discards.
	Logger *slog.Logger
	// Loss is the probability, in [0, 1], that a received datagram is
	// dropped as if lost on the air (for tests); 0 loses nothing.
	Loss float64
	// Rand draws the losses. It is used only by the bearer's receive
	// goroutine, so it must not be shared with other code; nil uses the
	// math/rand/v2 global source.
	Rand *rand.Rand
	// OnlyPeers drops datagrams from addresses that are not peers. By
	// default a bearer hears anyone who sends to it.
	OnlyPeers bool
	// QueueLen bounds the PDUs waiting or being transmitted; 0 means
	// DefaultQueueLen.
	QueueLen int
	// Backlog bounds the received PDUs waiting for the executor; 0 means
	// DefaultBacklog.
	Backlog int
	// Capture, if not nil, gets a pcap record of every transmission and
	// every received PDU, with the wall-clock time. The bearer writes it
	// from its goroutines (serialised); the caller closes the underlying
	// file after Close. The first write error stops the capture and is
	// reported by Stats.CaptureErr.
	Capture *pcap.Writer

	// onDrop, if set (by tests of this package), runs on the goroutine
	// that drops a PDU, after the drop is counted.
	onDrop func(DropReason)
}

// Bearer is a mesh.Bearer over UDP. Its methods may be called from any
// goroutine.
type Bearer struct {
	conn     *net.UDPConn
	local    netip.AddrPort
	exec     mesh.Executor
	log      *slog.Logger
	loss     float64
	uniform  func() float64
	only     bool
	queueLen int64
	backlog  int64
	onDrop   func(DropReason)

	recv  atomic.Pointer[mesh.ReceiveFunc]
	peers atomic.Pointer[[]netip.AddrPort] // copy on write, under peersMu
	// peersMu serialises AddPeer and RemovePeer.
	peersMu sync.Mutex

	jobs    chan *job
	pending atomic.Int64 // jobs queued or with transmissions left
	waiting atomic.Int64 // received PDUs posted, not yet delivered
	stats   counters

	captureMu  sync.Mutex
	capture    *pcap.Writer
	captureErr error

	closed    atomic.Bool
	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ mesh.Bearer = (*Bearer)(nil)

// Open listens on cfg.Listen and starts the bearer's send and receive
// goroutines.
func Open(cfg Config) (*Bearer, error) {
	if cfg.Executor == nil {
		return nil, fmt.Errorf("%w: no Executor", ErrConfig)
	}
	if cfg.Loss < 0 || cfg.Loss > 1 || cfg.Loss != cfg.Loss {
		return nil, fmt.Errorf("%w: Loss %v outside [0, 1]", ErrConfig, cfg.Loss)
	}
	if cfg.QueueLen < 0 || cfg.Backlog < 0 {
		return nil, fmt.Errorf("%w: negative QueueLen or Backlog", ErrConfig)
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.Backlog == 0 {
		cfg.Backlog = DefaultBacklog
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	peers := make([]netip.AddrPort, 0, len(cfg.Peers))
	for _, s := range cfg.Peers {
		ap, err := resolve(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(peers, ap) {
			peers = append(peers, ap)
		}
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("udp: listen address %q: %w", cfg.Listen, err)
	}
	conn, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("udp: listen: %w", err)
	}
	b := &Bearer{
		conn:     conn,
		local:    unmap(conn.LocalAddr().(*net.UDPAddr).AddrPort()),
		exec:     cfg.Executor,
		loss:     cfg.Loss,
		uniform:  rand.Float64,
		only:     cfg.OnlyPeers,
		queueLen: int64(cfg.QueueLen),
		backlog:  int64(cfg.Backlog),
		onDrop:   cfg.onDrop,
		jobs:     make(chan *job, cfg.QueueLen),
		capture:  cfg.Capture,
		quit:     make(chan struct{}),
	}
	if cfg.Rand != nil {
		b.uniform = cfg.Rand.Float64
	}
	b.log = log.With("bearer", b.local.String())
	b.peers.Store(&peers)
	if cfg.Receive != nil {
		b.SetReceiver(cfg.Receive)
	}
	b.wg.Add(2)
	go b.sendLoop()
	go b.recvLoop()
	b.log.Debug("udp: open", "peers", len(peers))
	return b, nil
}

// LocalAddr returns the address the bearer listens on (with the port the
// system chose for port 0).
func (b *Bearer) LocalAddr() netip.AddrPort { return b.local }

// SetReceiver replaces the receive function; nil drops received PDUs
// (counted as DropNoReceiver).
func (b *Bearer) SetReceiver(f mesh.ReceiveFunc) {
	if f == nil {
		b.recv.Store(nil)
		return
	}
	b.recv.Store(&f)
}

// Close stops the bearer: it closes the socket, discards transmissions
// not yet sent and waits for the bearer's goroutines to end. No delivery to
// the receive function starts after Close returns. Close is idempotent.
func (b *Bearer) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		close(b.quit)
		if err := b.conn.Close(); err != nil {
			b.closeErr = fmt.Errorf("udp: close: %w", err)
		}
		b.wg.Wait()
		b.log.Debug("udp: closed")
	})
	return b.closeErr
}

// Peers returns the current peers.
func (b *Bearer) Peers() []netip.AddrPort { return slices.Clone(*b.peers.Load()) }

// AddPeer adds addr (host:port) to the peers; adding a peer twice is not
// an error. Transmissions from then on reach it.
func (b *Bearer) AddPeer(addr string) error {
	ap, err := resolve(addr)
	if err != nil {
		return err
	}
	b.peersMu.Lock()
	defer b.peersMu.Unlock()
	old := *b.peers.Load()
	if slices.Contains(old, ap) {
		return nil
	}
	peers := append(slices.Clip(old), ap)
	b.peers.Store(&peers)
	return nil
}

// RemovePeer removes addr (host:port) from the peers, or returns ErrNoPeer.
func (b *Bearer) RemovePeer(addr string) error {
	ap, err := resolve(addr)
	if err != nil {
		return err
	}
	b.peersMu.Lock()
	defer b.peersMu.Unlock()
	old := *b.peers.Load()
	i := slices.Index(old, ap)
	if i < 0 {
		return fmt.Errorf("%w: %v", ErrNoPeer, ap)
	}
	peers := slices.Delete(slices.Clone(old), i, i+1)
	b.peers.Store(&peers)
	return nil
}

// isPeer reports whether ap is a peer.
func (b *Bearer) isPeer(ap netip.AddrPort) bool { return slices.Contains(*b.peers.Load(), ap) }

// resolve turns host:port into an address, IPv4 addresses unmapped.
func resolve(s string) (netip.AddrPort, error) {
	a, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("udp: peer %q: %w", s, err)
	}
	ap := unmap(a.AddrPort())
	if !ap.IsValid() || ap.Port() == 0 || ap.Addr().IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("%w: peer %q has no host or port", ErrConfig, s)
	}
	return ap, nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// record writes one pcap record if capturing. from is the sending node.
func (b *Bearer) record(from netip.AddrPort, kind mesh.ADType, payload []byte) {
	if b.capture == nil {
		return
	}
	b.captureMu.Lock()
	defer b.captureMu.Unlock()
	if b.captureErr != nil {
		return
	}
	b.captureErr = b.capture.WritePacket(pcap.Packet{
		Time: time.Now(), Channel: 37, AdvA: pcap.AdvAddress(int(from.Port())),
		Kind: kind, Payload: payload,
	})
	if b.captureErr != nil {
		b.log.Warn("udp: capture stopped", "err", b.captureErr)
	}
}
