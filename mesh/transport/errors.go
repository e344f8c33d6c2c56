package transport

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers branch with errors.Is.
var (
	// ErrLength reports a PDU or field of the wrong size.
	ErrLength = errors.New("transport: bad length")
	// ErrField reports a field value the spec prohibits or marks RFU.
	ErrField = errors.New("transport: prohibited field value")
	// ErrSeqAuth reports a SeqZero that cannot be placed below the SEQ that
	// carried it, or a SeqAuth older than the one already stored.
	ErrSeqAuth = errors.New("transport: invalid SeqAuth")
	// ErrTooLong reports an access or control message above the maximum the
	// lower transport can carry.
	ErrTooLong = errors.New("transport: message too long")
	// ErrNoKey reports that no key or Label UUID is known for a message.
	ErrNoKey = errors.New("transport: no key")
	// ErrAddress reports a source or destination address the message type
	// does not allow.
	ErrAddress = errors.New("transport: invalid address")
	// ErrTimeout reports a segmented transfer to a unicast destination that
	// ran out of retransmissions before it was fully acknowledged.
	ErrTimeout = errors.New("transport: segmented transfer timed out")
	// ErrRejected reports a segmented transfer the receiver cancelled with a
	// Segment Acknowledgment whose AckedSegments is zero.
	ErrRejected = errors.New("transport: segmented transfer rejected by the receiver")
	// ErrSeqExhausted reports a segmented transfer cancelled because SEQ
	// advanced 8192 past its SeqAuth (Mesh Protocol v1.1 §3.5.3.3).
	ErrSeqExhausted = errors.New("transport: SEQ moved 8192 past SeqAuth")
	// ErrReplay reports a PDU rejected by the replay protection list.
	ErrReplay = errors.New("transport: replayed PDU")
	// ErrRPLFull reports that the replay protection list has no room for a
	// new source.
	ErrRPLFull = errors.New("transport: replay protection list full")
	// ErrBusy reports that too many segmented messages wait to be sent
	// (Config.MaxTxMessages).
	ErrBusy = errors.New("transport: too many segmented messages queued")
	// ErrClosed reports a transfer abandoned because the layer was reset.
	ErrClosed = errors.New("transport: layer reset")
)
