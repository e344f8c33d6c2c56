package dfd

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
	ErrMessage = errors.New("dfd: bad message")
	// ErrConfig reports an unusable Config or request argument.
	ErrConfig = errors.New("dfd: bad configuration")
	// ErrTimeout reports a request that got no status from the
	// Distribution Server within the client's timeout.
	ErrTimeout = errors.New("dfd: no response")
	// ErrBusy reports a client request of a kind that is already pending,
	// or a procedure started while another one runs.
	ErrBusy = errors.New("dfd: busy")
	// ErrCanceled reports a request or procedure dropped by the caller.
	ErrCanceled = errors.New("dfd: canceled")
	// ErrUploadFailed reports an upload that ended in Transfer Error.
	ErrUploadFailed = errors.New("dfd: upload failed")
	// ErrDistributionFailed reports a distribution that ended Failed.
	ErrDistributionFailed = errors.New("dfd: distribution failed")
	// ErrState reports a persisted state record that cannot be decoded.
	ErrState = errors.New("dfd: bad state record")
)

// StatusError is a non-Success status from a Firmware Distribution
// Server. Use errors.As to read it.
type StatusError struct {
	Op     access.Opcode // the request that was answered
	Server mesh.Address
	Status Status
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("dfd: %s to %s: %s", opName(e.Op), e.Server, e.Status)
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
