package mesh

// ADType is the advertising data type that carries a mesh PDU (Mesh Protocol
// v1.1 §3.3.1; Bluetooth Assigned Numbers).
type ADType uint8

// AD types of the mesh advertising bearer.
const (
	ADProvisioning ADType = 0x29 // «PB-ADV»
	ADMessage      ADType = 0x2A // «Mesh Message»: a Network PDU
	ADBeacon       ADType = 0x2B // «Mesh Beacon»
)

// String names the AD type.
func (t ADType) String() string {
	switch t {
	case ADProvisioning:
		return "pb-adv"
	case ADMessage:
		return "message"
	case ADBeacon:
		return "beacon"
	}
	return "ADType(0x" + hex2(uint8(t)) + ")"
}

func hex2(b uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}

// Bearer moves a node's PDUs to the air (or the simulated medium, or UDP).
// Send queues payload (a Network PDU or a beacon, without the AD length and
// type octets) for tx.Transmissions() advertising events spaced by
// tx.Interval(); it copies payload and never blocks. Received PDUs reach the
// node through the function the node gave its bearer, on the node's executor.
type Bearer interface {
	Send(kind ADType, payload []byte, tx Transmit)
}

// ReceiveFunc is how a bearer hands a received PDU to a node. It runs on the
// node's executor; the node must not retain payload after it returns.
type ReceiveFunc func(kind ADType, payload []byte)

// RelayBearer is a Bearer that counts relayed PDUs apart from the node's
// own. The network layer uses SendRelay for relayed PDUs when its bearer
// has it.
type RelayBearer interface {
	Bearer
	SendRelay(kind ADType, payload []byte, tx Transmit)
}

// NotifyBearer is a Bearer that reports when a queued PDU has gone out
// for the last time, so that timers which count from a transmission (the
// SAR retransmission timers) start when the PDU left, not when it was
// queued behind others. sent runs later on the node's executor; it also
// runs when the PDU is dropped unsent (radio off, queue full).
type NotifyBearer interface {
	Bearer
	SendNotify(kind ADType, payload []byte, tx Transmit, sent func())
}
