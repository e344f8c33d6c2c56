package scenario

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/meshdfu/meshdfu/sim/pcap"
)

// ErrConfig reports an unusable Config or a malformed flag value; the CLI
// turns it into exit status 2.
var ErrConfig = errors.New("scenario: invalid configuration")

// Defaults of a Config (what `meshdfu sim` runs with no flags).
const (
	DefaultTargets = 24
	// DefaultTopology is a random building with relays (a few hops).
	DefaultTopology  = "building"
	DefaultLoss      = 0.05
	DefaultImageSize = 32 << 10
	// DefaultLimit bounds a run in virtual time: a run over relays takes
	// one to two hours of virtual time today (docs/sim-json.md), and a
	// stuck run costs about a second of wall time per virtual hour.
	DefaultLimit = 12 * time.Hour
	// DefaultSampleInterval is the virtual time between two progress
	// samples (Observer calls and report series points).
	DefaultSampleInterval = 250 * time.Millisecond
)

// Topologies understood by Config.Topology besides a file path.
var Topologies = []string{"single-hop", "line", "grid", "building"}

// Config describes one simulated fleet update. Zero fields take the
// documented defaults, except Loss, which is used as is (0 is a lossless
// medium): start from Default() to get the CLI's defaults.
type Config struct {
	Seed uint64
	// Targets is the number of Firmware Update Servers (0: DefaultTargets).
	// With a topology file it must be 0 or the file's node count minus one
	// (the file's node 0 is the distributor; the Initiator is added next
	// to it).
	Targets int
	// Topology is "single-hop", "line", "grid", "building" or the path of
	// a topology file (sim/topology, docs/simulator.md); "":
	// DefaultTopology.
	Topology string
	// Loss is the loss probability per link and transmission (0 ≤ Loss <
	// 1) of the built-in topologies; Burst makes it bursty (Gilbert-Elliott
	// with bursts of BurstLength transmissions on average). A topology
	// file keeps its own losses; Loss is then the loss of the Initiator's
	// link to the distributor.
	Loss  float64
	Burst bool
	// ImageSize is the size in octets of the BLOB the targets receive: the
	// signed image file (firmware, Firmware ID, metadata, CRC); 0:
	// DefaultImageSize.
	ImageSize int
	// Mode is "push", "pull" or "auto" ("": auto: push when every target
	// supports it).
	Mode string
	// Unicast addresses the data to each target instead of a group.
	Unicast bool
	// Profile is the BLOB client strategy: "meshdfu" or "zephyr" ("":
	// meshdfu).
	Profile string
	// Upload is how the Initiator hands the image to the Distributor:
	// "inband" (over the mesh) or "oob" (the distributor fetches it out
	// of band from a simulated update server); "": inband.
	Upload string
	// Faults are the sabotage the scenario plans, applied in order.
	Faults []Fault
	// LPNs is how many targets are Low Power nodes (docs/friend-lpn.md),
	// each with a Friend among the relays: targets that are not relays
	// and are next to one, at most friend.DefaultMaxLPNs per Friend. They
	// take the image in Pull mode, sized to their Friend Queue.
	LPNs int

	// Capture, when set, receives every advertising event.
	Capture *pcap.Writer
	// Logger receives every node's records, stamped with virtual time.
	Logger *slog.Logger
	// Limit bounds the run in virtual time (0: DefaultLimit).
	Limit time.Duration
	// SampleInterval is the virtual time between progress samples (0:
	// DefaultSampleInterval).
	SampleInterval time.Duration
}

// Default returns the configuration `meshdfu sim` runs without flags: 24
// targets in a random building with relays, 5 % loss per link and
// transmission, a 32 KiB image, meshdfu's strategy, group push.
func Default() Config {
	return Config{Seed: 1, Targets: DefaultTargets, Topology: DefaultTopology, Loss: DefaultLoss,
		ImageSize: DefaultImageSize, Mode: "auto", Profile: "meshdfu", Upload: "inband"}
}

// BurstLength is the mean length of a loss burst, in transmissions, when
// Config.Burst is set.
const BurstLength = 8

func (c *Config) withDefaults() {
	if c.Targets == 0 && !c.isFile() {
		c.Targets = DefaultTargets
	}
	if c.Topology == "" {
		c.Topology = DefaultTopology
	}
	if c.ImageSize == 0 {
		c.ImageSize = DefaultImageSize
	}
	if c.Mode == "" {
		c.Mode = "auto"
	}
	if c.Profile == "" {
		c.Profile = "meshdfu"
	}
	if c.Upload == "" {
		c.Upload = "inband"
	}
	if c.Limit == 0 {
		c.Limit = DefaultLimit
	}
	if c.SampleInterval == 0 {
		c.SampleInterval = DefaultSampleInterval
	}
}

func (c *Config) isFile() bool {
	switch c.Topology {
	case "", "single-hop", "line", "grid", "building":
		return false
	}
	return true
}

// MaxImageSize is the largest image a run accepts (the targets' Max BLOB
// Size).
const MaxImageSize = 16 << 20

// MinImageSize is the smallest: the image file's own overhead plus a few
// octets of firmware.
const MinImageSize = 256

// validate checks the fields a caller may have set wrongly.
func (c *Config) validate() error {
	switch {
	case c.Targets < 0 || c.Targets > 4000:
		return fmt.Errorf("%w: %d targets (want 1–4000)", ErrConfig, c.Targets)
	case !(c.Loss >= 0 && c.Loss < 1):
		return fmt.Errorf("%w: loss %v (want 0 ≤ P < 1)", ErrConfig, c.Loss)
	case c.LPNs < 0 || (c.LPNs > c.Targets && !c.isFile()):
		return fmt.Errorf("%w: %d Low Power targets of %d", ErrConfig, c.LPNs, c.Targets)
	case c.ImageSize < MinImageSize || c.ImageSize > MaxImageSize:
		return fmt.Errorf("%w: image size %d (want %d octets to %d MiB)", ErrConfig, c.ImageSize, MinImageSize, MaxImageSize>>20)
	}
	switch c.Mode {
	case "push", "pull", "auto":
	default:
		return fmt.Errorf("%w: mode %q (want push, pull or auto)", ErrConfig, c.Mode)
	}
	switch c.Profile {
	case "meshdfu", "zephyr":
	default:
		return fmt.Errorf("%w: profile %q (want meshdfu or zephyr)", ErrConfig, c.Profile)
	}
	switch c.Upload {
	case "inband", "oob":
	default:
		return fmt.Errorf("%w: upload %q (want inband or oob)", ErrConfig, c.Upload)
	}
	for _, f := range c.Faults {
		if err := f.validate(); err != nil {
			return err
		}
	}
	return nil
}

// ParseLoss reads a loss probability: "0.05" or "5%".
func ParseLoss(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: loss %q: want a probability such as 0.05 or 5%%", ErrConfig, s)
	}
	if pct {
		v /= 100
	}
	if !(v >= 0 && v < 1) {
		return 0, fmt.Errorf("%w: loss %q: want 0 ≤ P < 1 (5%% is 0.05)", ErrConfig, s)
	}
	return v, nil
}

// ParseSize reads a size in octets: "32768", "64KiB", "64K", "1MiB", "1M",
// "100kB" (kB and MB are decimal, K, KiB, M and MiB binary).
func ParseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mul    int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"K", 1 << 10}, {"k", 1 << 10}, {"M", 1 << 20}, {"B", 1}}
	mul := 1
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mul = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mul
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	n := v * float64(mul)
	// !(…) also refuses NaN, and sizes that round down to no octet ("0.5").
	if err != nil || !(n >= 1 && n <= 1<<40) {
		return 0, fmt.Errorf("%w: size %q: want octets such as 32768, 64KiB or 1MiB", ErrConfig, s)
	}
	return int(n), nil
}
