package config

import (
	"errors"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Status is a Foundation model status code (Mesh Protocol v1.1 §4.3.5,
// Table 4.230; numbers confirmed against Zephyr foundation.h).
type Status uint8

// Status codes.
const (
	StatusSuccess                        Status = 0x00
	StatusInvalidAddress                 Status = 0x01
	StatusInvalidModel                   Status = 0x02
	StatusInvalidAppKeyIndex             Status = 0x03
	StatusInvalidNetKeyIndex             Status = 0x04
	StatusInsufficientResources          Status = 0x05
	StatusKeyIndexAlreadyStored          Status = 0x06
	StatusInvalidPublishParameters       Status = 0x07
	StatusNotASubscribeModel             Status = 0x08
	StatusStorageFailure                 Status = 0x09
	StatusFeatureNotSupported            Status = 0x0a
	StatusCannotUpdate                   Status = 0x0b
	StatusCannotRemove                   Status = 0x0c
	StatusCannotBind                     Status = 0x0d
	StatusTemporarilyUnableToChangeState Status = 0x0e
	StatusCannotSet                      Status = 0x0f
	StatusUnspecifiedError               Status = 0x10
	StatusInvalidBinding                 Status = 0x11
)

var statusNames = [...]string{
	"Success", "Invalid Address", "Invalid Model", "Invalid AppKey Index", "Invalid NetKey Index",
	"Insufficient Resources", "Key Index Already Stored", "Invalid Publish Parameters",
	"Not a Subscribe Model", "Storage Failure", "Feature Not Supported", "Cannot Update",
	"Cannot Remove", "Cannot Bind", "Temporarily Unable to Change State", "Cannot Set",
	"Unspecified Error", "Invalid Binding",
}

// String returns the spec name, or Status(0x12) for other values.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(0x%02x)", uint8(s))
}

// StatusError is the error a Client reports when a server answered with a
// status other than Success.
type StatusError struct {
	Op     access.Opcode // the request's opcode
	Target mesh.Address  // the node asked
	Status Status
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("config: %s to %s: %s", e.Op, e.Target, e.Status)
}

// Client errors.
var (
	// ErrTimeout reports a request that got no matching status in time.
	ErrTimeout = errors.New("config: no response")
	// ErrCanceled reports a request dropped by Client.Cancel.
	ErrCanceled = errors.New("config: canceled")
)

// ErrInsufficientResources is what a NodeState returns when it has no room
// for a key; the Server answers Insufficient Resources. Any other error
// from a NodeState setter is answered with Storage Failure.
var ErrInsufficientResources = errors.New("config: insufficient resources")
