package config

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// validDefaultTTL reports whether t is an allowed Default TTL: 0x00 or
// 0x02–0x7F (Mesh Protocol v1.1 §4.2.8; Zephyr default_ttl_set).
func validDefaultTTL(t uint8) bool { return t != 0x01 && t <= access.MaxTTL }

func oneOctet(name string, p []byte) (byte, error) {
	if err := exactLen(name, p, 1); err != nil {
		return 0, err
	}
	return p[0], nil
}

// DefaultTTLGet is Config Default TTL Get (0x80 0x0C), without parameters.
type DefaultTTLGet struct{}

// Opcode returns OpDefaultTTLGet.
func (*DefaultTTLGet) Opcode() access.Opcode { return OpDefaultTTLGet }

// AppendBinary appends nothing.
func (*DefaultTTLGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*DefaultTTLGet) Unmarshal(p []byte) error { return emptyParams("Default TTL Get", p) }

// DefaultTTLSet is Config Default TTL Set (0x80 0x0D).
//
//	TTL (1): 0x00 or 0x02–0x7F
type DefaultTTLSet struct{ TTL uint8 }

// Opcode returns OpDefaultTTLSet.
func (*DefaultTTLSet) Opcode() access.Opcode { return OpDefaultTTLSet }

// AppendBinary appends the parameters to b.
func (m *DefaultTTLSet) AppendBinary(b []byte) ([]byte, error) { return appendTTL(b, m.TTL) }

// Unmarshal decodes exactly 1 allowed octet.
func (m *DefaultTTLSet) Unmarshal(p []byte) error { return unmarshalTTL("Default TTL Set", p, &m.TTL) }

// DefaultTTLStatus is Config Default TTL Status (0x80 0x0E), laid out as
// DefaultTTLSet.
type DefaultTTLStatus struct{ TTL uint8 }

// Opcode returns OpDefaultTTLStatus.
func (*DefaultTTLStatus) Opcode() access.Opcode { return OpDefaultTTLStatus }

// AppendBinary appends the parameters to b.
func (m *DefaultTTLStatus) AppendBinary(b []byte) ([]byte, error) { return appendTTL(b, m.TTL) }

// Unmarshal decodes exactly 1 allowed octet.
func (m *DefaultTTLStatus) Unmarshal(p []byte) error {
	return unmarshalTTL("Default TTL Status", p, &m.TTL)
}

func appendTTL(b []byte, t uint8) ([]byte, error) {
	if !validDefaultTTL(t) {
		return b, fmt.Errorf("%w: Default TTL 0x%02x", access.ErrProhibited, t)
	}
	return append(b, t), nil
}

func unmarshalTTL(name string, p []byte, t *uint8) error {
	v, err := oneOctet(name, p)
	if err != nil {
		return err
	}
	if !validDefaultTTL(v) {
		return fmt.Errorf("%w: %s 0x%02x", access.ErrProhibited, name, v)
	}
	*t = v
	return nil
}

// NetworkTransmitGet is Config Network Transmit Get (0x80 0x23), without
// parameters.
type NetworkTransmitGet struct{}

// Opcode returns OpNetworkTransmitGet.
func (*NetworkTransmitGet) Opcode() access.Opcode { return OpNetworkTransmitGet }

// AppendBinary appends nothing.
func (*NetworkTransmitGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*NetworkTransmitGet) Unmarshal(p []byte) error { return emptyParams("Network Transmit Get", p) }

// NetworkTransmitSet is Config Network Transmit Set (0x80 0x24).
//
//	NetworkTransmitCount (3 bits) | NetworkTransmitIntervalSteps (5 bits)
type NetworkTransmitSet struct{ Transmit mesh.Transmit }

// Opcode returns OpNetworkTransmitSet.
func (*NetworkTransmitSet) Opcode() access.Opcode { return OpNetworkTransmitSet }

// AppendBinary appends the parameters to b.
func (m *NetworkTransmitSet) AppendBinary(b []byte) ([]byte, error) {
	return append(b, m.Transmit.Byte()), nil
}

// Unmarshal decodes exactly 1 octet.
func (m *NetworkTransmitSet) Unmarshal(p []byte) error {
	v, err := oneOctet("Network Transmit Set", p)
	m.Transmit = mesh.TransmitFromByte(v)
	return err
}

// NetworkTransmitStatus is Config Network Transmit Status (0x80 0x25), laid
// out as NetworkTransmitSet.
type NetworkTransmitStatus struct{ Transmit mesh.Transmit }

// Opcode returns OpNetworkTransmitStatus.
func (*NetworkTransmitStatus) Opcode() access.Opcode { return OpNetworkTransmitStatus }

// AppendBinary appends the parameters to b.
func (m *NetworkTransmitStatus) AppendBinary(b []byte) ([]byte, error) {
	return append(b, m.Transmit.Byte()), nil
}

// Unmarshal decodes exactly 1 octet.
func (m *NetworkTransmitStatus) Unmarshal(p []byte) error {
	v, err := oneOctet("Network Transmit Status", p)
	m.Transmit = mesh.TransmitFromByte(v)
	return err
}

// FeatureState is the state of an optional feature such as Relay
// (Mesh Protocol v1.1 §4.2.11): disabled, enabled, or not supported.
type FeatureState uint8

// Feature states.
const (
	FeatureDisabled     FeatureState = 0x00
	FeatureEnabled      FeatureState = 0x01
	FeatureNotSupported FeatureState = 0x02
)

// String names the state.
func (f FeatureState) String() string {
	switch f {
	case FeatureDisabled:
		return "disabled"
	case FeatureEnabled:
		return "enabled"
	case FeatureNotSupported:
		return "not supported"
	}
	return fmt.Sprintf("FeatureState(0x%02x)", uint8(f))
}

// RelayGet is Config Relay Get (0x80 0x26), without parameters.
type RelayGet struct{}

// Opcode returns OpRelayGet.
func (*RelayGet) Opcode() access.Opcode { return OpRelayGet }

// AppendBinary appends nothing.
func (*RelayGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*RelayGet) Unmarshal(p []byte) error { return emptyParams("Relay Get", p) }

// RelaySet is Config Relay Set (0x80 0x27).
//
//	Relay (1): 0x00 or 0x01 | RelayRetransmitCount (3 bits) | RelayRetransmitIntervalSteps (5 bits)
type RelaySet struct {
	Relay      FeatureState // FeatureDisabled or FeatureEnabled
	Retransmit mesh.Transmit
}

// Opcode returns OpRelaySet.
func (*RelaySet) Opcode() access.Opcode { return OpRelaySet }

// AppendBinary appends the parameters to b.
func (m *RelaySet) AppendBinary(b []byte) ([]byte, error) {
	if m.Relay > FeatureEnabled {
		return b, fmt.Errorf("%w: Relay Set %s", access.ErrProhibited, m.Relay)
	}
	return append(b, byte(m.Relay), m.Retransmit.Byte()), nil
}

// Unmarshal decodes exactly 2 octets.
func (m *RelaySet) Unmarshal(p []byte) error {
	if err := exactLen("Relay Set", p, 2); err != nil {
		return err
	}
	if p[0] > byte(FeatureEnabled) {
		return fmt.Errorf("%w: Relay Set 0x%02x", access.ErrProhibited, p[0])
	}
	m.Relay, m.Retransmit = FeatureState(p[0]), mesh.TransmitFromByte(p[1])
	return nil
}

// RelayStatus is Config Relay Status (0x80 0x28).
//
//	Relay (1): 0x00–0x02 | RelayRetransmitCount (3 bits) | RelayRetransmitIntervalSteps (5 bits)
type RelayStatus struct {
	Relay      FeatureState
	Retransmit mesh.Transmit
}

// Opcode returns OpRelayStatus.
func (*RelayStatus) Opcode() access.Opcode { return OpRelayStatus }

// AppendBinary appends the parameters to b.
func (m *RelayStatus) AppendBinary(b []byte) ([]byte, error) {
	if m.Relay > FeatureNotSupported {
		return b, fmt.Errorf("%w: Relay Status %s", access.ErrProhibited, m.Relay)
	}
	return append(b, byte(m.Relay), m.Retransmit.Byte()), nil
}

// Unmarshal decodes exactly 2 octets.
func (m *RelayStatus) Unmarshal(p []byte) error {
	if err := exactLen("Relay Status", p, 2); err != nil {
		return err
	}
	if p[0] > byte(FeatureNotSupported) {
		return fmt.Errorf("%w: Relay Status 0x%02x", access.ErrProhibited, p[0])
	}
	m.Relay, m.Retransmit = FeatureState(p[0]), mesh.TransmitFromByte(p[1])
	return nil
}

// BeaconGet is Config Beacon Get (0x80 0x09), without parameters.
type BeaconGet struct{}

// Opcode returns OpBeaconGet.
func (*BeaconGet) Opcode() access.Opcode { return OpBeaconGet }

// AppendBinary appends nothing.
func (*BeaconGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*BeaconGet) Unmarshal(p []byte) error { return emptyParams("Beacon Get", p) }

// BeaconSet is Config Beacon Set (0x80 0x0A): the Secure Network Beacon
// state.
//
//	Beacon (1): 0x00 off, 0x01 on; others prohibited
type BeaconSet struct{ Beacon bool }

// Opcode returns OpBeaconSet.
func (*BeaconSet) Opcode() access.Opcode { return OpBeaconSet }

// AppendBinary appends the parameters to b.
func (m *BeaconSet) AppendBinary(b []byte) ([]byte, error) {
	return append(b, boolOctet(m.Beacon)), nil
}

// Unmarshal decodes exactly 1 octet, 0x00 or 0x01.
func (m *BeaconSet) Unmarshal(p []byte) error { return unmarshalBool("Beacon Set", p, &m.Beacon) }

// BeaconStatus is Config Beacon Status (0x80 0x0B), laid out as BeaconSet.
type BeaconStatus struct{ Beacon bool }

// Opcode returns OpBeaconStatus.
func (*BeaconStatus) Opcode() access.Opcode { return OpBeaconStatus }

// AppendBinary appends the parameters to b.
func (m *BeaconStatus) AppendBinary(b []byte) ([]byte, error) {
	return append(b, boolOctet(m.Beacon)), nil
}

// Unmarshal decodes exactly 1 octet, 0x00 or 0x01.
func (m *BeaconStatus) Unmarshal(p []byte) error { return unmarshalBool("Beacon Status", p, &m.Beacon) }

func boolOctet(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func unmarshalBool(name string, p []byte, v *bool) error {
	b, err := oneOctet(name, p)
	if err != nil {
		return err
	}
	if b > 1 {
		return fmt.Errorf("%w: %s 0x%02x", access.ErrProhibited, name, b)
	}
	*v = b == 1
	return nil
}

// NodeReset is Config Node Reset (0x80 0x49), without parameters.
type NodeReset struct{}

// Opcode returns OpNodeReset.
func (*NodeReset) Opcode() access.Opcode { return OpNodeReset }

// AppendBinary appends nothing.
func (*NodeReset) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*NodeReset) Unmarshal(p []byte) error { return emptyParams("Node Reset", p) }

// NodeResetStatus is Config Node Reset Status (0x80 0x4A), without
// parameters.
type NodeResetStatus struct{}

// Opcode returns OpNodeResetStatus.
func (*NodeResetStatus) Opcode() access.Opcode { return OpNodeResetStatus }

// AppendBinary appends nothing.
func (*NodeResetStatus) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*NodeResetStatus) Unmarshal(p []byte) error { return emptyParams("Node Reset Status", p) }
