package access

import "errors"

// Sentinel errors. Codecs of every model wrap them with context, so callers
// can branch with errors.Is.
var (
	// ErrLength reports parameters (or a whole access message) of a length
	// the message does not allow.
	ErrLength = errors.New("access: bad length")
	// ErrOpcode reports an opcode that is malformed, out of range or not
	// the one expected.
	ErrOpcode = errors.New("access: bad opcode")
	// ErrRFU reports a field that uses a value or bits reserved for future
	// use.
	ErrRFU = errors.New("access: reserved value")
	// ErrProhibited reports a field value the specification prohibits, on
	// decode or on encode.
	ErrProhibited = errors.New("access: prohibited value")
	// ErrTooLong reports an access message longer than the 380 octets an
	// upper transport PDU can carry.
	ErrTooLong = errors.New("access: message too long")
	// ErrNotBound reports a send with an AppKey the model is not bound to,
	// or a DevKey send from a model that does not use the device key.
	ErrNotBound = errors.New("access: key not bound to model")
	// ErrNoPublication reports a publish from a model whose publication is
	// not configured (unassigned Publish Address) or not supported.
	ErrNoPublication = errors.New("access: publication not configured")
	// ErrFull reports a binding or subscription list that has no room.
	ErrFull = errors.New("access: list full")
	// ErrDuplicate reports an element holding two models with one ID.
	ErrDuplicate = errors.New("access: duplicate model")
	// ErrNotAdded reports a model that was not added to a Layer's element.
	ErrNotAdded = errors.New("access: model not in a layer")
)
