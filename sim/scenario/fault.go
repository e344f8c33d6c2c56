package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FaultKind is a kind of sabotage a scenario plans.
type FaultKind uint8

// Fault kinds, with the --fault names.
const (
	// FaultTargetReboot power-cycles targets once the transfer reached At;
	// they resume and are expected to apply the image.
	FaultTargetReboot FaultKind = iota + 1
	// FaultTargetOffline keeps targets powered off from the start; they
	// are expected to end in Transfer Error (no answer).
	FaultTargetOffline
	// FaultTamper corrupts the image each chosen target received; it is
	// expected to end in Verification Failed.
	FaultTamper
	// FaultDistributorRestart power-cycles the distributor once the
	// transfer reached At; it resumes the distribution from its persisted
	// state and every healthy target is expected to apply.
	FaultDistributorRestart
	// FaultLossBurst raises the loss of every link to BurstLoss for For,
	// once the transfer reached At; the update is expected to ride it out.
	FaultLossBurst
)

var faultNames = map[FaultKind]string{
	FaultTargetReboot: "target-reboot", FaultTargetOffline: "target-offline", FaultTamper: "tamper",
	FaultDistributorRestart: "distributor-restart", FaultLossBurst: "loss-burst",
}

// String returns the --fault name.
func (k FaultKind) String() string {
	if s, ok := faultNames[k]; ok {
		return s
	}
	return fmt.Sprintf("FaultKind(%d)", uint8(k))
}

// Fault defaults.
const (
	DefaultFaultAt  = 0.5             // half of the transfer
	DefaultBurstFor = 2 * time.Second // loss-burst duration
	// BurstLoss is the loss of every link during a loss-burst.
	BurstLoss = 0.5
)

// Fault is one planned sabotage. Its text form (ParseFault, String) is
// the --fault flag's:
//
//	target-reboot[@P%][:count=N]   target-offline[:count=N]   tamper[:count=N]
//	distributor-restart@P%         loss-burst@P%[:for=DURATION]
type Fault struct {
	Kind FaultKind
	// At is the share of the image the targets hold on average (0–1)
	// when the fault strikes (reboot, restart, burst).
	At float64
	// Count is how many targets are affected (reboot, offline, tamper).
	Count int
	// For is how long a loss burst lasts.
	For time.Duration
}

// String returns the canonical text form, which ParseFault reads back.
func (f Fault) String() string {
	s := f.Kind.String()
	switch f.Kind {
	case FaultTargetReboot, FaultDistributorRestart, FaultLossBurst:
		s += "@" + strconv.FormatFloat(f.At*100, 'f', -1, 64) + "%"
	}
	switch f.Kind {
	case FaultTargetReboot, FaultTargetOffline, FaultTamper:
		s += ":count=" + strconv.Itoa(f.Count)
	case FaultLossBurst:
		s += ":for=" + f.For.String()
	}
	return s
}

// ParseFault reads a --fault value. Every error wraps ErrConfig and says
// what the accepted forms are.
func ParseFault(s string) (Fault, error) {
	bad := func(why string) (Fault, error) {
		return Fault{}, fmt.Errorf("%w: --fault %q: %s (forms: target-reboot[@P%%][:count=N], target-offline[:count=N], tamper[:count=N], distributor-restart@P%%, loss-burst@P%%[:for=DURATION])", ErrConfig, s, why)
	}
	parts := strings.Split(strings.TrimSpace(s), ":")
	head, at, hasAt := strings.Cut(parts[0], "@")
	var f Fault
	for k, name := range faultNames {
		if head == name {
			f.Kind = k
		}
	}
	if f.Kind == 0 {
		return bad(fmt.Sprintf("unknown fault %q", head))
	}
	f.At, f.Count, f.For = DefaultFaultAt, 1, DefaultBurstFor
	if hasAt {
		switch f.Kind {
		case FaultTargetOffline, FaultTamper:
			return bad(f.Kind.String() + " takes no @P%")
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(at, "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return bad(fmt.Sprintf("@%s: want a percentage of the transfer, 0%%–100%%", at))
		}
		f.At = v / 100
	} else if f.Kind == FaultDistributorRestart || f.Kind == FaultLossBurst {
		return bad(f.Kind.String() + " needs @P% (when, as a share of the transfer)")
	}
	for _, opt := range parts[1:] {
		key, val, ok := strings.Cut(opt, "=")
		switch {
		case !ok:
			return bad(fmt.Sprintf("option %q: want key=value", opt))
		case key == "count" && (f.Kind == FaultTargetReboot || f.Kind == FaultTargetOffline || f.Kind == FaultTamper):
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return bad(fmt.Sprintf("count=%s: want a number of targets ≥ 1", val))
			}
			f.Count = n
		case key == "for" && f.Kind == FaultLossBurst:
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return bad(fmt.Sprintf("for=%s: want a duration such as 5s", val))
			}
			f.For = d
		default:
			return bad(fmt.Sprintf("%s takes no option %q", f.Kind, key))
		}
	}
	return f, nil
}

func (f Fault) validate() error {
	if _, ok := faultNames[f.Kind]; !ok {
		return fmt.Errorf("%w: fault kind %d", ErrConfig, f.Kind)
	}
	if f.At < 0 || f.At > 1 {
		return fmt.Errorf("%w: fault %s at %v (want 0–1)", ErrConfig, f.Kind, f.At)
	}
	if (f.Kind == FaultTargetReboot || f.Kind == FaultTargetOffline || f.Kind == FaultTamper) && f.Count < 1 {
		return fmt.Errorf("%w: fault %s count %d", ErrConfig, f.Kind, f.Count)
	}
	if f.Kind == FaultLossBurst && f.For <= 0 {
		return fmt.Errorf("%w: loss-burst for %v", ErrConfig, f.For)
	}
	return nil
}
