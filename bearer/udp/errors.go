package udp

import "errors"

// Sentinel errors.
var (
	// ErrEmpty reports a datagram with no octets.
	ErrEmpty = errors.New("udp: empty datagram")
	// ErrTooLong reports a datagram or payload that does not fit one AD
	// structure of legacy advertising data.
	ErrTooLong = errors.New("udp: longer than one advertising AD structure")
	// ErrEmptyPayload reports a datagram with an AD type and no payload.
	ErrEmptyPayload = errors.New("udp: empty payload")
	// ErrADType reports an AD type other than Mesh Message or Mesh Beacon.
	ErrADType = errors.New("udp: unsupported AD type")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("udp: invalid config")
	// ErrNoPeer reports that RemovePeer was given an address that is not a peer.
	ErrNoPeer = errors.New("udp: not a peer")
)
