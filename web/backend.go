package web

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
)

// Errors a Backend returns (wrapped) to choose the HTTP status of an API
// answer. A *dfd.StatusError (the Distribution Server refused) answers
// 409 Conflict with the status name; any other error 500, or 504 when the
// context ended.
var (
	// ErrBadRequest reports an argument the distributor cannot use: 400.
	ErrBadRequest = errors.New("web: bad request")
	// ErrNotFound reports an image index or receiver that does not exist:
	// 404.
	ErrNotFound = errors.New("web: not found")
	// ErrConflict reports an operation the distributor's state forbids now
	// (an image upload while one runs, a resume that is not suspended):
	// 409.
	ErrConflict = errors.New("web: conflict")
)

// Backend is the distributor the API drives: in meshdfu a Firmware
// Distribution Server on a runtime.Loop (cmd/meshdfu distributor), in
// tests a fake. Every method may be called from several goroutines at
// once; the implementation serializes what it must (the node's executor).
type Backend interface {
	// Snapshot returns the distributor's state now.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// AddReceivers adds receivers to the Distribution Receivers List
	// (Firmware Distribution Receivers Add).
	AddReceivers(ctx context.Context, entries []dfd.ReceiverEntry) error
	// DeleteReceivers empties the list (Receivers Delete All).
	DeleteReceivers(ctx context.Context) error
	// AddImage stores an image file in the Firmware Images List; it
	// returns the image's index. The image was already checked for
	// consistency (fw.ImageFile parsed it).
	AddImage(ctx context.Context, f *fw.ImageFile) (index int, err error)
	// DeleteImage deletes the image at index (Firmware Delete), or every
	// image when index is negative (Firmware Delete All).
	DeleteImage(ctx context.Context, index int) error
	// Start starts a distribution (Firmware Distribution Start).
	Start(ctx context.Context, req StartRequest) error
	// Suspend suspends the running distribution.
	Suspend(ctx context.Context) error
	// Resume continues a suspended distribution (Start with the same
	// parameters).
	Resume(ctx context.Context) error
	// Cancel cancels the distribution.
	Cancel(ctx context.Context) error
	// Apply applies a distribution that ended verified (Verify Only).
	Apply(ctx context.Context) error
}

// StartRequest holds the parameters of a distribution.
type StartRequest struct {
	ImageIndex  uint16
	Group       mesh.Address // unassigned: unicast to each receiver
	TTL         uint8        // 0xFF: the distributor's Default TTL
	TimeoutBase uint16
	Mode        blob.TransferMode // ModeNone: the distributor chooses
	Policy      dfd.Policy
	AppKeyIndex uint16
}

// Snapshot is a distributor's state at one moment.
type Snapshot struct {
	// Node is the distributor's primary address.
	Node mesh.Address
	// Phase is the Distribution Phase.
	Phase dfd.Phase
	// Distribution holds the running distribution's parameters (nil when
	// Idle) and FirmwareID the Firmware ID of the image it sends.
	Distribution *StartRequest
	FirmwareID   []byte
	// Upload is the Upload state of the Distribution Server.
	Upload UploadState
	// Receivers is the Distribution Receivers List.
	Receivers []dfd.Receiver
	// Images is the Firmware Images List, by index.
	Images []fw.SlotInfo
	// Counters are the distributor's traffic counters.
	Counters Counters
}

// UploadState is the Upload Phase of a Distribution Server and what it
// uploads.
type UploadState struct {
	Phase      dfd.UploadPhase
	Progress   uint8 // percent
	OOB        bool
	FirmwareID []byte
}

// Counters are the distributor's traffic counters.
type Counters struct {
	// PDUsSent counts network PDUs the node handed to its bearer since
	// the process started (each is one advertising event, or more with
	// Network Transmit).
	PDUsSent uint64 `json:"pdus_sent"`
	// PDUsReceived counts network PDUs the bearer delivered.
	PDUsReceived uint64 `json:"pdus_received"`
	// OctetsSent counts the octets of those PDUs.
	OctetsSent uint64 `json:"octets_sent"`
	// BytesTransferred is how much BLOB data the receivers of the current
	// distribution have confirmed, summed over receivers (a receiver that
	// holds the whole image counts its size once).
	BytesTransferred uint64 `json:"bytes_transferred"`
}

// String describes the request for logs.
func (r StartRequest) String() string {
	return fmt.Sprintf("image %d to %v, TTL %d, timeout base %d, %v, %v", r.ImageIndex, r.Group, r.TTL, r.TimeoutBase, r.Mode, r.Policy)
}
