package friend

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers branch with errors.Is.
var (
	// ErrLength reports friendship control parameters of the wrong size.
	ErrLength = errors.New("friend: bad length")
	// ErrProhibited reports a field value the specification prohibits or
	// marks RFU (Mesh Protocol v1.1 §3.6.4.3: such a message is ignored).
	ErrProhibited = errors.New("friend: prohibited field value")
	// ErrOpcode reports a transport control opcode that is not a
	// friendship message.
	ErrOpcode = errors.New("friend: not a friendship opcode")
	// ErrNoFriend reports an LPN operation that needs an established
	// friendship.
	ErrNoFriend = errors.New("friend: no friendship")
	// ErrBusy reports an LPN request while another one is outstanding.
	ErrBusy = errors.New("friend: request outstanding")
)
