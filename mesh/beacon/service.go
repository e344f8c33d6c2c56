package beacon

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Beacon cadence (Mesh Protocol v1.1 §3.10.3.1; fact sheet §8): about one
// beacon per subnet every 10 s network-wide, each node sending every
// ObservationPeriod × (Observed + 1) / Expected, clamped to 10–600 s.
const (
	// DefaultObservationPeriod is twice the 10 s typical interval, as in
	// Zephyr (a 20 s observation window over a 10 s beacon timer).
	DefaultObservationPeriod = 20 * time.Second
	// TargetInterval is the network-wide beacon interval the rule aims at.
	TargetInterval = 10 * time.Second
	// MinInterval and MaxInterval clamp a node's beacon interval.
	MinInterval = 10 * time.Second
	MaxInterval = 600 * time.Second
)

// KeySet is one candidate for authenticating a received beacon: the
// derived beacon material of one NetKey of one subnet. During Key Refresh a
// subnet has two key sets (old and new); in phase 2 the node passes only the
// new one, since beacons are then accepted only on the new key.
type KeySet struct {
	NetKeyIndex      uint16
	NewKey           bool // the subnet's new key during Key Refresh
	NetworkID        [8]byte
	BeaconKey        crypto.Key
	PrivateBeaconKey crypto.Key
}

// NewKeySet derives a KeySet from a NetKey.
func NewKeySet(netKeyIndex uint16, netKey crypto.Key, newKey bool) KeySet {
	return KeySet{
		NetKeyIndex:      netKeyIndex,
		NewKey:           newKey,
		NetworkID:        crypto.K3(netKey),
		BeaconKey:        crypto.BeaconKey(netKey),
		PrivateBeaconKey: crypto.PrivateBeaconKey(netKey),
	}
}

// SecureNetworkBeacon returns the authenticated Secure Network beacon of ks.
func (ks *KeySet) SecureNetworkBeacon(flags Flags, ivIndex uint32) SecureNetwork {
	b := SecureNetwork{Flags: flags, NetworkID: ks.NetworkID, IVIndex: ivIndex}
	b.Authenticate(ks.BeaconKey)
	return b
}

// PrivateBeacon returns the Mesh Private beacon of ks with random.
func (ks *KeySet) PrivateBeacon(random [13]byte, flags Flags, ivIndex uint32) Private {
	return NewPrivate(ks.PrivateBeaconKey, random, flags, ivIndex)
}

// Received describes a handled beacon.
type Received struct {
	Type Type
	// For network beacons: the subnet and key that authenticated it, and
	// its content.
	NetKeyIndex uint16
	NewKey      bool
	Flags       Flags
	IVIndex     uint32
	// IV is what the IV Update machine did with it (IVIgnored when the
	// Service has none or the subnet does not count).
	IV IVOutcome
	// Unprovisioned is the decoded beacon for TypeUnprovisioned.
	Unprovisioned Unprovisioned
}

// Config configures a Service. Zero fields take the documented defaults.
type Config struct {
	Clock  mesh.Clock   // required
	Logger *slog.Logger // nil: discard
	// Rand jitters the first beacon tick; nil: no jitter.
	Rand *rand.Rand
	// IV receives the IV Index and flag of beacons from the primary subnet.
	// nil: beacons do not drive the IV Index.
	IV *IVUpdate
	// Subnets returns the NetKey indexes the node beacons for. Required for
	// sending.
	Subnets func() []uint16
	// Send builds and sends the beacon of one subnet (Secure Network or
	// Mesh Private, with the subnet's current key, flags and IV Index),
	// typically through KeySet.SecureNetworkBeacon and Bearer.Send with
	// mesh.ADBeacon. Required for sending.
	Send func(netKeyIndex uint16)
	// OnKeyRefresh reports the Key Refresh flag of every authenticated
	// network beacon, with the subnet and whether the new key
	// authenticated it; Key Refresh phase changes are the network layer's.
	OnKeyRefresh func(netKeyIndex uint16, newKey, keyRefresh bool)
	// OnUnprovisioned reports Unprovisioned Device beacons (provisioners).
	OnUnprovisioned func(Unprovisioned)
	// ObservationPeriod is the window over which received beacons are
	// counted; 0: DefaultObservationPeriod.
	ObservationPeriod time.Duration
}

// subnetObs is the beacon observation of one subnet.
type subnetObs struct {
	cur, last int // beacons seen in this window, in the last one
	lastSent  time.Time
	sent      bool
}

// Service sends a node's network beacons at the adaptive interval and
// handles received beacons: it authenticates them against the candidate
// subnets, counts them for the interval, reports Key Refresh flags and
// drives the IV Update machine. Call every method on the node's executor.
type Service struct {
	clk      mesh.Clock
	log      *slog.Logger
	cfg      Config
	subs     map[uint16]*subnetObs
	running  bool
	ticks    int
	timer    mesh.Timer
	timerGen uint64
}

// NewService returns a stopped Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Clock == nil {
		return nil, fmt.Errorf("%w: Config.Clock is nil", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ObservationPeriod == 0 {
		cfg.ObservationPeriod = DefaultObservationPeriod
	}
	if cfg.ObservationPeriod < TargetInterval {
		return nil, fmt.Errorf("%w: observation period %s is shorter than %s", ErrConfig, cfg.ObservationPeriod, TargetInterval)
	}
	return &Service{clk: cfg.Clock, log: cfg.Logger, cfg: cfg, subs: make(map[uint16]*subnetObs)}, nil
}

// tick is the beacon timer period: half the observation period.
func (s *Service) tick() time.Duration { return s.cfg.ObservationPeriod / 2 }

// Start begins periodic sending (the Secure Network Beacon or Private
// Beacon state turned on). It fails if Subnets or Send is nil.
func (s *Service) Start() error {
	if s.cfg.Subnets == nil || s.cfg.Send == nil {
		return fmt.Errorf("%w: sending needs Config.Subnets and Config.Send", ErrConfig)
	}
	if s.running {
		return nil
	}
	s.running = true
	var first time.Duration
	if s.cfg.Rand != nil {
		first = time.Duration(s.cfg.Rand.Int64N(int64(s.tick())))
	}
	s.arm(first)
	return nil
}

// Stop stops periodic sending; received beacons are still handled.
func (s *Service) Stop() {
	s.running = false
	s.timerGen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// SendNow sends every subnet's beacon at once (after an IV Index or Key
// Refresh change), and restarts each subnet's interval.
func (s *Service) SendNow() {
	if s.cfg.Subnets == nil || s.cfg.Send == nil {
		return
	}
	for _, idx := range s.cfg.Subnets() {
		s.send(idx)
	}
}

// Interval returns the current beacon interval of a subnet:
// ObservationPeriod × (Observed + 1) / Expected with Expected =
// ObservationPeriod / 10 s, clamped to 10–600 s. Observed is the number of
// beacons received for it in the last complete observation period.
func (s *Service) Interval(netKeyIndex uint16) time.Duration {
	observed := 0
	if o := s.subs[netKeyIndex]; o != nil {
		observed = o.last
	}
	return intervalFor(s.cfg.ObservationPeriod, observed)
}

func intervalFor(period time.Duration, observed int) time.Duration {
	expected := float64(period) / float64(TargetInterval)
	d := time.Duration(float64(period) * float64(observed+1) / expected)
	return min(max(d, MinInterval), MaxInterval)
}

func (s *Service) obs(netKeyIndex uint16) *subnetObs {
	o := s.subs[netKeyIndex]
	if o == nil {
		o = &subnetObs{}
		s.subs[netKeyIndex] = o
	}
	return o
}

func (s *Service) send(netKeyIndex uint16) {
	o := s.obs(netKeyIndex)
	o.lastSent, o.sent = s.clk.Now(), true
	s.cfg.Send(netKeyIndex)
}

func (s *Service) arm(d time.Duration) {
	s.timerGen++
	gen := s.timerGen
	s.timer = s.clk.AfterFunc(d, func() {
		if gen == s.timerGen {
			s.timer = nil
			s.onTick()
		}
	})
}

// onTick runs every half observation period: it closes the observation
// window every second tick and sends the beacons that are due. A beacon is
// due when its interval has passed, less half a tick of timer slack (as
// Zephyr's BEACON_THRESHOLD allows 5 s on its 10 s timer).
func (s *Service) onTick() {
	if !s.running {
		return
	}
	s.ticks++
	if s.ticks%2 == 0 {
		for _, o := range s.subs {
			o.last, o.cur = o.cur, 0
		}
	}
	now := s.clk.Now()
	for _, idx := range s.cfg.Subnets() {
		o := s.obs(idx)
		if !o.sent || now.Sub(o.lastSent) >= s.Interval(idx)-s.tick()/2 {
			s.send(idx)
		}
	}
	if s.running {
		s.arm(s.tick())
	}
}

// HandleBeacon handles a received Mesh Beacon payload (the octets after AD
// type 0x2B). keys are the candidate subnets; a Secure Network beacon is
// tried against those whose Network ID matches, a Mesh Private beacon
// against every one. Beacons on the primary subnet (NetKey Index 0) drive
// the IV Update machine; when no candidate is the primary subnet, beacons on
// any subnet do. It returns an error wrapping ErrLength, ErrType, ErrRFU or
// ErrNoSubnet for a beacon it drops.
func (s *Service) HandleBeacon(payload []byte, keys ...KeySet) (Received, error) {
	t, err := PayloadType(payload)
	if err != nil {
		return Received{}, err
	}
	r := Received{Type: t}
	var ks *KeySet
	switch t {
	case TypeUnprovisioned:
		if err := r.Unprovisioned.Unmarshal(payload); err != nil {
			return r, err
		}
		if s.cfg.OnUnprovisioned != nil {
			s.cfg.OnUnprovisioned(r.Unprovisioned)
		}
		return r, nil
	case TypeSecureNetwork:
		var b SecureNetwork
		if err := b.Unmarshal(payload); err != nil {
			return r, err
		}
		for i := range keys {
			if keys[i].NetworkID == b.NetworkID && b.Verify(keys[i].BeaconKey) == nil {
				ks = &keys[i]
				break
			}
		}
		r.Flags, r.IVIndex = b.Flags, b.IVIndex
	case TypePrivate:
		var b Private
		if err := b.Unmarshal(payload); err != nil {
			return r, err
		}
		for i := range keys {
			if f, iv, err := b.Decrypt(keys[i].PrivateBeaconKey); err == nil {
				ks = &keys[i]
				r.Flags, r.IVIndex = f, iv
				break
			}
		}
	default:
		return r, fmt.Errorf("%w: unknown %v", ErrType, t)
	}
	if ks == nil {
		s.log.Debug("beacon: no subnet authenticates it", "type", t.String())
		return r, fmt.Errorf("%w: %v beacon", ErrNoSubnet, t)
	}
	r.NetKeyIndex, r.NewKey = ks.NetKeyIndex, ks.NewKey
	if o := s.obs(ks.NetKeyIndex); o.cur < 0xff {
		o.cur++
	}
	if s.cfg.OnKeyRefresh != nil {
		s.cfg.OnKeyRefresh(ks.NetKeyIndex, ks.NewKey, r.Flags.KeyRefresh())
	}
	r.IV = IVIgnored
	if s.cfg.IV != nil {
		r.IV = s.cfg.IV.OnBeacon(r.IVIndex, r.Flags.IVUpdate(), ks.NetKeyIndex == 0 || !hasPrimary(keys))
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("beacon: received", "type", t.String(), "netkey", ks.NetKeyIndex,
			"flags", r.Flags.String(), "iv", r.IVIndex, "outcome", r.IV.String())
	}
	return r, nil
}

func hasPrimary(keys []KeySet) bool {
	for i := range keys {
		if keys[i].NetKeyIndex == 0 {
			return true
		}
	}
	return false
}
