package transport

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Defaults for Config fields left zero.
const (
	// DefaultMaxRxMessages is how many segmented messages a Layer
	// reassembles at once; a new one beyond that is rejected.
	DefaultMaxRxMessages = 8
	// DefaultMaxTxMessages is how many segmented messages a Layer holds for
	// sending (in progress plus queued) before SendAccess fails.
	DefaultMaxTxMessages = 32
	// DefaultAckTTL is the TTL of Segment Acknowledgments when
	// Config.DefaultTTL is nil and the segments did not arrive with TTL 0.
	DefaultAckTTL = 7
	// MaxTTL is the largest TTL a transport PDU may be sent with.
	MaxTTL = 0x7F
)

// NetPDU is what the transport exchanges with the network layer: the
// cleartext fields of one Network PDU and its Lower Transport PDU. Whoever
// receives a NetPDU copies what it keeps: the pointer and LowerPDU are valid
// only during the call.
type NetPDU struct {
	NetKeyIndex uint16
	CTL         bool
	TTL         uint8
	SEQ         uint32
	SRC, DST    mesh.Address
	LowerPDU    []byte
	// Sent is set on segments: the callee must run it on the executor once
	// the PDU has gone out (or will never go out), never inside Send. The
	// next segment and the SAR retransmission timers wait for it.
	Sent func()
	// FromFriend marks a PDU received by a Low Power node in a friendship
	// (from its Friend's queue, or heard directly): it reassembles such
	// segments without acknowledging them, since the Friend acknowledges
	// on its behalf (Mesh Protocol v1.1 §3.5.3.5; Zephyr sends no
	// acknowledgment while an LPN is established).
	FromFriend bool
}

// AppKey is an application key as the transport needs it.
type AppKey struct {
	Index       uint16 // AppKey Index
	NetKeyIndex uint16 // the NetKey Index it is bound to
	AID         uint8  // k4(Key)
	Key         crypto.Key
}

// KeyStore gives the transport the keys it secures messages with. During
// Key Refresh a store returns both the old and the new key of an index where
// the spec allows either.
type KeyStore interface {
	// DevKey returns the device key shared with addr: for one of this
	// node's element addresses the node's own DevKey, for a peer the peer's
	// DevKey if this node knows it (a Configuration Client does).
	DevKey(addr mesh.Address) (crypto.Key, bool)
	// AppKeysByAID appends to dst every AppKey whose AID is aid.
	AppKeysByAID(aid uint8, dst []AppKey) []AppKey
	// AppKey returns the AppKey with index to send with.
	AppKey(index uint16) (AppKey, bool)
	// LabelUUIDs appends to dst the known Label UUIDs whose virtual address
	// is addr.
	LabelUUIDs(addr mesh.Address, dst [][16]byte) [][16]byte
}

// AccessMessage is an access message delivered upward. It and Payload are
// valid only during the DeliverAccess call.
type AccessMessage struct {
	Src, Dst    mesh.Address
	Label       *[16]byte // Label UUID of a virtual Dst
	NetKeyIndex uint16
	AppKeyIndex uint16 // meaningful when DevKey is false
	DevKey      bool
	DevKeyAddr  mesh.Address // whose DevKey secured it (Src or Dst), when DevKey
	TTL         uint8
	IVIndex     uint32
	SeqAuth     uint64 // IV Index ‖ SEQ of the message (its first segment)
	Payload     []byte // opcode and parameters
}

// ControlMessage is a transport control message (other than a Segment
// Acknowledgment) delivered upward. It and Params are valid only during the
// DeliverControl call.
type ControlMessage struct {
	Src, Dst    mesh.Address
	NetKeyIndex uint16
	TTL         uint8
	IVIndex     uint32
	Seq         uint32 // SEQ of the PDU (of the first segment if segmented)
	Opcode      uint8
	Params      []byte
}

// AccessTx is an access message to send.
type AccessTx struct {
	Src mesh.Address
	// Dst is the destination; for a virtual destination it may be zero
	// when Label is set, and is then computed from Label.
	Dst   mesh.Address
	Label *[16]byte
	// NetKeyIndex is the subnet for DevKey messages; AppKey messages use the
	// NetKey their AppKey is bound to.
	NetKeyIndex uint16
	AppKeyIndex uint16
	DevKey      bool
	// DevKeyAddr names whose DevKey to use: Dst (the default when zero)
	// for a Configuration Client request, Src for a server's response.
	DevKeyAddr mesh.Address
	TTL        uint8
	// Payload is the access message, opcode and parameters, 1–380 octets.
	// The layer copies it.
	Payload []byte
	// ForceSegmented sends even a short message as a segmented one, so a
	// unicast destination acknowledges it.
	ForceSegmented bool
}

// ControlTx is a transport control message to send.
type ControlTx struct {
	Src, Dst    mesh.Address
	NetKeyIndex uint16
	TTL         uint8
	Opcode      uint8  // 0x01–0x7F
	Params      []byte // 0–256 octets; the layer copies it
	// ForceSegmented sends short parameters as a segmented message.
	ForceSegmented bool
	// Done, if set, reports the outcome of a segmented message as for
	// SendAccess; unsegmented messages report nil once handed to Send.
	Done func(error)
}

// Config configures a Layer. Zero fields take the documented defaults.
type Config struct {
	Clock  mesh.Clock   // required
	Rand   *rand.Rand   // reserved for randomized delays (none yet); nil: a fixed seed
	Logger *slog.Logger // nil: discard

	SARTx   SARTransmitter // zero value: DefaultSARTransmitter
	SARRx   SARReceiver    // zero value: DefaultSARReceiver
	RPLSize int            // 0: DefaultRPLSize

	MaxRxMessages int // 0: DefaultMaxRxMessages
	MaxTxMessages int // 0: DefaultMaxTxMessages

	// NextSeq allocates the next SEQ of element src (the node persists it).
	NextSeq func(src mesh.Address) (uint32, error) // required
	// IVIndex returns the IV Index to transmit with.
	IVIndex func() uint32 // required
	// Send hands a PDU to the network layer, which copies it.
	Send func(p *NetPDU) error // required
	Keys KeyStore              // required
	// IsLocal reports whether addr is one of this node's element addresses.
	// nil: every unicast destination is taken as local.
	IsLocal func(addr mesh.Address) bool
	// DefaultTTL is the node's Default TTL, used for acknowledgments.
	// nil: DefaultAckTTL.
	DefaultTTL func() uint8

	// Memo, when set, shares the results of decrypting access messages
	// with the other layers that hold it (a simulator's nodes on one
	// executor; see AccessMemo). nil: every message is decrypted here.
	Memo *AccessMemo

	DeliverAccess  func(m *AccessMessage)  // nil: drop
	DeliverControl func(m *ControlMessage) // nil: drop

	// ReplayUpdated, if set, is called after each change of the replay
	// protection list, so a node can persist the entry.
	ReplayUpdated func(e RPLEntry)
}

func (c *Config) withDefaults() {
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SARTx == (SARTransmitter{}) {
		c.SARTx = DefaultSARTransmitter
	}
	if c.SARRx == (SARReceiver{}) {
		c.SARRx = DefaultSARReceiver
	}
	if c.RPLSize == 0 {
		c.RPLSize = DefaultRPLSize
	}
	if c.MaxRxMessages == 0 {
		c.MaxRxMessages = DefaultMaxRxMessages
	}
	if c.MaxTxMessages == 0 {
		c.MaxTxMessages = DefaultMaxTxMessages
	}
}

func (c *Config) validate() error {
	switch {
	case c.Clock == nil:
		return errors.New("transport: Config.Clock is required")
	case c.NextSeq == nil:
		return errors.New("transport: Config.NextSeq is required")
	case c.IVIndex == nil:
		return errors.New("transport: Config.IVIndex is required")
	case c.Send == nil:
		return errors.New("transport: Config.Send is required")
	case c.Keys == nil:
		return errors.New("transport: Config.Keys is required")
	case c.RPLSize < 0 || c.MaxRxMessages < 0 || c.MaxTxMessages < 0:
		return errors.New("transport: negative size in Config")
	}
	if _, err := c.SARTx.AppendBinary(nil); err != nil {
		return fmt.Errorf("transport: Config.SARTx: %w", err)
	}
	if _, err := c.SARRx.AppendBinary(nil); err != nil {
		return fmt.Errorf("transport: Config.SARRx: %w", err)
	}
	return nil
}

// Stats counts what a Layer did. All counters only grow.
type Stats struct {
	SegmentsSent          uint64 // segments handed to Send, first transmissions
	SegmentsRetransmitted uint64 // segments handed to Send again
	UnsegmentedSent       uint64 // unsegmented access and control PDUs sent
	AcksSent              uint64 // Segment Acknowledgments sent
	AcksReceived          uint64 // valid Segment Acknowledgments received
	TxCompleted           uint64 // segmented transfers acknowledged or (multicast) sent
	TxTimeouts            uint64 // segmented transfers that ran out of retransmissions
	TxRejected            uint64 // segmented transfers cancelled by the receiver
	RxCompleted           uint64 // reassemblies completed
	RxTimeouts            uint64 // reassemblies discarded by the Discard timer
	RxRejected            uint64 // new segmented messages rejected for lack of resources
	ReplaysDropped        uint64 // PDUs dropped by the replay protection list
	SeqAuthErrors         uint64 // segments with an old or unrecoverable SeqAuth
	DecryptFailures       uint64 // access messages no key authenticated
	Malformed             uint64 // PDUs that failed to decode or were inconsistent
	AccessDelivered       uint64
	ControlDelivered      uint64
}

// Layer is the lower and upper transport of one node. Call every method on
// the node's executor.
type Layer struct {
	cfg   Config
	clk   mesh.Clock
	log   *slog.Logger
	rpl   *ReplayList
	stats Stats

	ccms map[crypto.Key]*crypto.CCM

	tx       map[pair]*txPair
	txCount  int
	rx       map[pair]*rxState
	rxActive int
	rxFree   [][]byte

	// receive scratch, reused so that the receive path does not allocate
	ua      UnsegAccess
	sa      SegAccess
	uc      UnsegControl
	sc      SegControl
	ack     SegmentAck
	plain   []byte
	appKeys []AppKey
	labels  [][16]byte
	label   [16]byte
	amsg    AccessMessage
	cmsg    ControlMessage

	// send scratch
	out   NetPDU
	lower []byte
	upper []byte
}

// pair is a (source, destination) pair: the unit of one segmented transfer
// at a time when sending, and of one reassembly when receiving.
type pair struct{ src, dst mesh.Address }

// New returns a Layer for cfg.
func New(cfg Config) (*Layer, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Layer{
		cfg:   cfg,
		clk:   cfg.Clock,
		log:   cfg.Logger,
		rpl:   NewReplayList(cfg.RPLSize),
		ccms:  make(map[crypto.Key]*crypto.CCM),
		tx:    make(map[pair]*txPair),
		rx:    make(map[pair]*rxState),
		plain: make([]byte, 0, MaxUpperAccessPDU),
		lower: make([]byte, 0, 16),
		upper: make([]byte, 0, MaxUpperAccessPDU),
	}, nil
}

// Stats returns the counters.
func (l *Layer) Stats() Stats { return l.stats }

// ReplayList returns the layer's replay protection list, so a node can
// export it to storage and import it after a restart.
func (l *Layer) ReplayList() *ReplayList { return l.rpl }

// SARTransmitter returns the SAR Transmitter state in use.
func (l *Layer) SARTransmitter() SARTransmitter { return l.cfg.SARTx }

// SARReceiver returns the SAR Receiver state in use.
func (l *Layer) SARReceiver() SARReceiver { return l.cfg.SARRx }

// SetSARTransmitter changes the SAR Transmitter state (SAR Configuration
// Server); transfers already running keep the budgets they started with.
func (l *Layer) SetSARTransmitter(s SARTransmitter) error {
	if _, err := s.AppendBinary(nil); err != nil {
		return err
	}
	l.cfg.SARTx = s
	return nil
}

// SetSARReceiver changes the SAR Receiver state.
func (l *Layer) SetSARReceiver(r SARReceiver) error {
	if _, err := r.AppendBinary(nil); err != nil {
		return err
	}
	l.cfg.SARRx = r
	return nil
}

// TxInProgress reports whether a segmented transfer is running or queued.
// A node defers leaving IV Update in Progress while it is true.
func (l *Layer) TxInProgress() bool { return l.txCount > 0 }

// ccm returns the cached CCM for key.
func (l *Layer) ccm(key crypto.Key) *crypto.CCM {
	c, ok := l.ccms[key]
	if !ok {
		if len(l.ccms) >= 256 { // keys were replaced many times: start over
			clear(l.ccms)
		}
		c = crypto.NewCCM(key)
		l.ccms[key] = c
	}
	return c
}

func (l *Layer) isLocal(a mesh.Address) bool {
	if l.cfg.IsLocal == nil {
		return a.IsUnicast()
	}
	return l.cfg.IsLocal(a)
}

func (l *Layer) ackTTL(rxTTL uint8) uint8 {
	if rxTTL == 0 {
		return 0 // §3.5.3.4: answer single-hop segments single-hop
	}
	if l.cfg.DefaultTTL != nil {
		return l.cfg.DefaultTTL()
	}
	return DefaultAckTTL
}

// post runs done(err) on the executor after the current call returns.
func (l *Layer) post(done func(error), err error) {
	if done == nil {
		return
	}
	l.clk.AfterFunc(0, func() { done(err) })
}

func (l *Layer) updateRPL(src mesh.Address, ivIndex, seq uint32) {
	changed, err := l.rpl.Update(src, ivIndex, seq)
	if err != nil {
		l.log.Warn("transport: replay list full", "src", src)
		return
	}
	if changed && l.cfg.ReplayUpdated != nil {
		l.cfg.ReplayUpdated(RPLEntry{Src: src, IVIndex: ivIndex, Seq: seq & 0xFFFFFF})
	}
}

// sortedPairs returns the keys of m in address order, for deterministic
// iteration.
func sortedPairs[V any](m map[pair]V) []pair {
	keys := make([]pair, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.src, b.src), cmp.Compare(a.dst, b.dst))
	})
	return keys
}
