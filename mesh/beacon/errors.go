package beacon

import "errors"

// Sentinel errors. Decoders wrap them with context; test with errors.Is.
var (
	// ErrLength reports a beacon or service data of the wrong length.
	ErrLength = errors.New("beacon: bad length")
	// ErrType reports a beacon type or identification type other than the
	// one being decoded, or one that is RFU.
	ErrType = errors.New("beacon: wrong type")
	// ErrAuth reports a beacon whose authentication value or tag does not
	// verify with the given key.
	ErrAuth = errors.New("beacon: authentication failed")
	// ErrNoSubnet reports a beacon that no candidate subnet authenticates.
	ErrNoSubnet = errors.New("beacon: no subnet authenticates the beacon")
	// ErrRFU reports a field with reserved bits set.
	ErrRFU = errors.New("beacon: reserved bits set")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("beacon: invalid config")
	// ErrTooSoon reports an IV Update transition the timing rules forbid now.
	ErrTooSoon = errors.New("beacon: IV Update transition not allowed yet")
)
