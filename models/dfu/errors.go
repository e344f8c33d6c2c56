package dfu

import (
	"errors"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Sentinel errors of the package.
var (
	// ErrMessage is wrapped by every codec error of this package, together
	// with access.ErrLength, access.ErrRFU, access.ErrProhibited or
	// access.ErrTooLong, so callers can branch on either.
	ErrMessage = errors.New("dfu: bad message")
	// ErrTimeout reports a request that got no matching status from a
	// target within the client's timeout.
	ErrTimeout = errors.New("dfu: no response")
	// ErrCanceled reports a request or procedure dropped by Cancel.
	ErrCanceled = errors.New("dfu: canceled")
	// ErrBusy reports a request to a target that already has a request of
	// the same kind pending, or an Update while another one runs.
	ErrBusy = errors.New("dfu: busy")
	// ErrBLOBID reports a Firmware Update Status whose BLOB ID is not the
	// one the client sent in Firmware Update Start: the target is busy
	// with another transfer.
	ErrBLOBID = errors.New("dfu: target reports another BLOB ID")
	// ErrVerificationFailed reports a target that ended in the
	// Verification Failed phase.
	ErrVerificationFailed = errors.New("dfu: verification failed on target")
	// ErrApplyFailed reports a target that did not run the new firmware
	// after Apply (the Confirm step of MshDFU §7.1.2.9 failed).
	ErrApplyFailed = errors.New("dfu: new firmware not running on target")
	// ErrUnexpectedPhase reports a target that answered Success in a
	// phase the procedure step does not allow.
	ErrUnexpectedPhase = errors.New("dfu: unexpected update phase")
	// ErrTransfer reports a target lost by the BLOB transfer.
	ErrTransfer = errors.New("dfu: BLOB transfer failed for target")
	// ErrConfig reports an unusable Config or request argument.
	ErrConfig = errors.New("dfu: bad configuration")
)

// StatusError is a non-Success status from a Firmware Update Server. Use
// errors.As to read it.
type StatusError struct {
	Op     access.Opcode // the request that was answered
	Target mesh.Address
	Status Status
	Phase  Phase // the phase the target reported (UpdateStatus only)
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("dfu: %s to %s: %s (phase %s)", opName(e.Op), e.Target, e.Status, e.Phase)
}

func lenErr(name string, got int, want string) error {
	return fmt.Errorf("%w: %w: %s: %d octets, want %s", ErrMessage, access.ErrLength, name, got, want)
}

func rfuErr(name, what string, v uint64) error {
	return fmt.Errorf("%w: %w: %s: %s 0x%x", ErrMessage, access.ErrRFU, name, what, v)
}

func prohibitedErr(name, what string, v uint64) error {
	return fmt.Errorf("%w: %w: %s: %s 0x%x", ErrMessage, access.ErrProhibited, name, what, v)
}

func tooLongErr(name, what string, got, max int) error {
	return fmt.Errorf("%w: %w: %s: %s of %d octets, max %d", ErrMessage, access.ErrTooLong, name, what, got, max)
}
