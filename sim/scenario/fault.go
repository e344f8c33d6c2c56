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
	// FaultTargetRebootVerify power-cycles targets while they verify the
	// image (Verifying Update); they verify again and apply.
	FaultTargetRebootVerify
	// FaultTargetRebootApply cuts the power of targets inside the Apply
	// hook; they come back Idle on the old firmware, and the distributor
	// names the failure.
	FaultTargetRebootApply
	// FaultUploadInterrupt breaks the upload to the distributor once At of
	// the image is there: in band the Initiator goes down and starts the
	// upload again once it is back; out of band the update server cuts
	// the body and the Initiator asks for the upload again.
	FaultUploadInterrupt
	// FaultTargetStorageFull makes the BLOB storage of targets refuse the
	// image (no space): they answer Transfer Start with Internal Error
	// (blob.md, Transfer Start row 9) and end in Transfer Error.
	FaultTargetStorageFull
	// FaultDistributorStorageFull gives the distributor a firmware store
	// smaller than the image: the upload is refused with Insufficient
	// Resources and no target is updated (they stay Idle).
	FaultDistributorStorageFull
	// FaultPowerCut cuts the power of targets in the middle of writing a
	// chunk to their BLOB storage once the transfer reached At (a torn
	// write: half the chunk lands, the rest reads as erased flash); they
	// reboot, recover from their last durable state and apply.
	FaultPowerCut
)

var faultNames = map[FaultKind]string{
	FaultTargetReboot: "target-reboot", FaultTargetOffline: "target-offline", FaultTamper: "tamper",
	FaultDistributorRestart: "distributor-restart", FaultLossBurst: "loss-burst",
	FaultTargetRebootVerify: "target-reboot@verify", FaultTargetRebootApply: "target-reboot@apply",
	FaultUploadInterrupt: "upload-interrupt", FaultTargetStorageFull: "target-storage-full",
	FaultDistributorStorageFull: "distributor-storage-full", FaultPowerCut: "power-cut",
}

// perTarget reports whether the fault kind picks targets (Count).
func (k FaultKind) perTarget() bool {
	switch k {
	case FaultTargetReboot, FaultTargetOffline, FaultTamper, FaultTargetRebootVerify, FaultTargetRebootApply,
		FaultTargetStorageFull, FaultPowerCut:
		return true
	}
	return false
}

// timed reports whether the fault kind strikes at a share of the transfer
// (At).
func (k FaultKind) timed() bool {
	switch k {
	case FaultTargetReboot, FaultDistributorRestart, FaultLossBurst, FaultUploadInterrupt, FaultPowerCut:
		return true
	}
	return false
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
//	target-reboot@verify[:count=N] target-reboot@apply[:count=N]
//	upload-interrupt@P%            target-storage-full[:count=N]
//	distributor-storage-full       power-cut@P%[:count=N]
//
// For upload-interrupt, P% is a share of the upload to the distributor.
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
	if f.Kind.timed() {
		s += "@" + strconv.FormatFloat(f.At*100, 'f', -1, 64) + "%"
	}
	switch {
	case f.Kind.perTarget():
		s += ":count=" + strconv.Itoa(f.Count)
	case f.Kind == FaultLossBurst:
		s += ":for=" + f.For.String()
	}
	return s
}

// ParseFault reads a --fault value. Every error wraps ErrConfig and says
// what the accepted forms are.
func ParseFault(s string) (Fault, error) {
	bad := func(why string) (Fault, error) {
		return Fault{}, fmt.Errorf("%w: --fault %q: %s (forms: target-reboot[@P%%][:count=N], target-offline[:count=N], tamper[:count=N], distributor-restart@P%%, loss-burst@P%%[:for=DURATION], target-reboot@verify|@apply[:count=N], upload-interrupt@P%%, target-storage-full[:count=N], distributor-storage-full, power-cut@P%%[:count=N])", ErrConfig, s, why)
	}
	parts := strings.Split(strings.TrimSpace(s), ":")
	head, at, hasAt := strings.Cut(parts[0], "@")
	var f Fault
	for k, name := range faultNames {
		if parts[0] == name { // target-reboot@verify, target-reboot@apply
			f.Kind = k
		}
	}
	for k, name := range faultNames {
		if f.Kind == 0 && head == name {
			f.Kind = k
		}
	}
	if f.Kind == 0 {
		return bad(fmt.Sprintf("unknown fault %q", head))
	}
	f.At, f.Count, f.For = DefaultFaultAt, 1, DefaultBurstFor
	if f.Kind == FaultTargetRebootVerify || f.Kind == FaultTargetRebootApply {
		hasAt = false // the phase is part of the name
	}
	if hasAt {
		if !f.Kind.timed() {
			return bad(f.Kind.String() + " takes no @P%")
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(at, "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return bad(fmt.Sprintf("@%s: want a percentage of the transfer, 0%%–100%%", at))
		}
		f.At = v / 100
	} else if f.Kind == FaultDistributorRestart || f.Kind == FaultLossBurst || f.Kind == FaultUploadInterrupt || f.Kind == FaultPowerCut {
		return bad(f.Kind.String() + " needs @P% (when, as a share of the transfer)")
	}
	for _, opt := range parts[1:] {
		key, val, ok := strings.Cut(opt, "=")
		switch {
		case !ok:
			return bad(fmt.Sprintf("option %q: want key=value", opt))
		case key == "count" && f.Kind.perTarget():
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
	if f.Kind.perTarget() && f.Count < 1 {
		return fmt.Errorf("%w: fault %s count %d", ErrConfig, f.Kind, f.Count)
	}
	if f.Kind == FaultLossBurst && f.For <= 0 {
		return fmt.Errorf("%w: loss-burst for %v", ErrConfig, f.For)
	}
	return nil
}
