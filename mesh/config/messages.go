package config

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/internal/wire"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Model IDs of the Configuration models (Mesh Protocol v1.1 §4.4).
const (
	ServerModelID access.ModelID = 0x0000
	ClientModelID access.ModelID = 0x0001
)

// Opcodes of the Configuration messages handled here (Mesh Protocol v1.1
// §4.3.4; confirmed against Zephyr subsys/bluetooth/mesh/foundation.h).
const (
	OpAppKeyAdd                                access.Opcode = 0x00
	OpAppKeyUpdate                             access.Opcode = 0x01
	OpCompositionDataStatus                    access.Opcode = 0x02
	OpModelPublicationSet                      access.Opcode = 0x03
	OpAppKeyDelete                             access.Opcode = 0x8000
	OpAppKeyGet                                access.Opcode = 0x8001
	OpAppKeyList                               access.Opcode = 0x8002
	OpAppKeyStatus                             access.Opcode = 0x8003
	OpCompositionDataGet                       access.Opcode = 0x8008
	OpBeaconGet                                access.Opcode = 0x8009
	OpBeaconSet                                access.Opcode = 0x800a
	OpBeaconStatus                             access.Opcode = 0x800b
	OpDefaultTTLGet                            access.Opcode = 0x800c
	OpDefaultTTLSet                            access.Opcode = 0x800d
	OpDefaultTTLStatus                         access.Opcode = 0x800e
	OpModelPublicationGet                      access.Opcode = 0x8018
	OpModelPublicationStatus                   access.Opcode = 0x8019
	OpModelPublicationVirtualAddressSet        access.Opcode = 0x801a
	OpModelSubscriptionAdd                     access.Opcode = 0x801b
	OpModelSubscriptionDelete                  access.Opcode = 0x801c
	OpModelSubscriptionDeleteAll               access.Opcode = 0x801d
	OpModelSubscriptionOverwrite               access.Opcode = 0x801e
	OpModelSubscriptionStatus                  access.Opcode = 0x801f
	OpModelSubscriptionVirtualAddressAdd       access.Opcode = 0x8020
	OpModelSubscriptionVirtualAddressDelete    access.Opcode = 0x8021
	OpModelSubscriptionVirtualAddressOverwrite access.Opcode = 0x8022
	OpNetworkTransmitGet                       access.Opcode = 0x8023
	OpNetworkTransmitSet                       access.Opcode = 0x8024
	OpNetworkTransmitStatus                    access.Opcode = 0x8025
	OpRelayGet                                 access.Opcode = 0x8026
	OpRelaySet                                 access.Opcode = 0x8027
	OpRelayStatus                              access.Opcode = 0x8028
	OpSIGModelSubscriptionGet                  access.Opcode = 0x8029
	OpSIGModelSubscriptionList                 access.Opcode = 0x802a
	OpVendorModelSubscriptionGet               access.Opcode = 0x802b
	OpVendorModelSubscriptionList              access.Opcode = 0x802c
	OpModelAppBind                             access.Opcode = 0x803d
	OpModelAppStatus                           access.Opcode = 0x803e
	OpModelAppUnbind                           access.Opcode = 0x803f
	OpNetKeyAdd                                access.Opcode = 0x8040
	OpNetKeyDelete                             access.Opcode = 0x8041
	OpNetKeyGet                                access.Opcode = 0x8042
	OpNetKeyList                               access.Opcode = 0x8043
	OpNetKeyStatus                             access.Opcode = 0x8044
	OpNetKeyUpdate                             access.Opcode = 0x8045
	OpNodeReset                                access.Opcode = 0x8049
	OpNodeResetStatus                          access.Opcode = 0x804a
	OpSIGModelAppGet                           access.Opcode = 0x804b
	OpSIGModelAppList                          access.Opcode = 0x804c
	OpVendorModelAppGet                        access.Opcode = 0x804d
	OpVendorModelAppList                       access.Opcode = 0x804e
)

// NewMessage returns a zero message of the Configuration message with
// opcode op, or nil if op is not one this package knows.
func NewMessage(op access.Opcode) access.Message {
	if f, ok := messageTypes[op]; ok {
		return f()
	}
	return nil
}

var messageTypes = map[access.Opcode]func() access.Message{
	OpAppKeyAdd:                                func() access.Message { return new(AppKeyAdd) },
	OpAppKeyUpdate:                             func() access.Message { return new(AppKeyUpdate) },
	OpCompositionDataStatus:                    func() access.Message { return new(CompositionDataStatus) },
	OpModelPublicationSet:                      func() access.Message { return new(ModelPublicationSet) },
	OpAppKeyDelete:                             func() access.Message { return new(AppKeyDelete) },
	OpAppKeyGet:                                func() access.Message { return new(AppKeyGet) },
	OpAppKeyList:                               func() access.Message { return new(AppKeyList) },
	OpAppKeyStatus:                             func() access.Message { return new(AppKeyStatus) },
	OpCompositionDataGet:                       func() access.Message { return new(CompositionDataGet) },
	OpBeaconGet:                                func() access.Message { return new(BeaconGet) },
	OpBeaconSet:                                func() access.Message { return new(BeaconSet) },
	OpBeaconStatus:                             func() access.Message { return new(BeaconStatus) },
	OpDefaultTTLGet:                            func() access.Message { return new(DefaultTTLGet) },
	OpDefaultTTLSet:                            func() access.Message { return new(DefaultTTLSet) },
	OpDefaultTTLStatus:                         func() access.Message { return new(DefaultTTLStatus) },
	OpModelPublicationGet:                      func() access.Message { return new(ModelPublicationGet) },
	OpModelPublicationStatus:                   func() access.Message { return new(ModelPublicationStatus) },
	OpModelPublicationVirtualAddressSet:        func() access.Message { return new(ModelPublicationVirtualAddressSet) },
	OpModelSubscriptionAdd:                     func() access.Message { return new(ModelSubscriptionAdd) },
	OpModelSubscriptionDelete:                  func() access.Message { return new(ModelSubscriptionDelete) },
	OpModelSubscriptionDeleteAll:               func() access.Message { return new(ModelSubscriptionDeleteAll) },
	OpModelSubscriptionOverwrite:               func() access.Message { return new(ModelSubscriptionOverwrite) },
	OpModelSubscriptionStatus:                  func() access.Message { return new(ModelSubscriptionStatus) },
	OpModelSubscriptionVirtualAddressAdd:       func() access.Message { return new(ModelSubscriptionVirtualAddressAdd) },
	OpModelSubscriptionVirtualAddressDelete:    func() access.Message { return new(ModelSubscriptionVirtualAddressDelete) },
	OpModelSubscriptionVirtualAddressOverwrite: func() access.Message { return new(ModelSubscriptionVirtualAddressOverwrite) },
	OpNetworkTransmitGet:                       func() access.Message { return new(NetworkTransmitGet) },
	OpNetworkTransmitSet:                       func() access.Message { return new(NetworkTransmitSet) },
	OpNetworkTransmitStatus:                    func() access.Message { return new(NetworkTransmitStatus) },
	OpRelayGet:                                 func() access.Message { return new(RelayGet) },
	OpRelaySet:                                 func() access.Message { return new(RelaySet) },
	OpRelayStatus:                              func() access.Message { return new(RelayStatus) },
	OpSIGModelSubscriptionGet:                  func() access.Message { return new(SIGModelSubscriptionGet) },
	OpSIGModelSubscriptionList:                 func() access.Message { return new(SIGModelSubscriptionList) },
	OpVendorModelSubscriptionGet:               func() access.Message { return new(VendorModelSubscriptionGet) },
	OpVendorModelSubscriptionList:              func() access.Message { return new(VendorModelSubscriptionList) },
	OpModelAppBind:                             func() access.Message { return new(ModelAppBind) },
	OpModelAppStatus:                           func() access.Message { return new(ModelAppStatus) },
	OpModelAppUnbind:                           func() access.Message { return new(ModelAppUnbind) },
	OpNetKeyAdd:                                func() access.Message { return new(NetKeyAdd) },
	OpNetKeyDelete:                             func() access.Message { return new(NetKeyDelete) },
	OpNetKeyGet:                                func() access.Message { return new(NetKeyGet) },
	OpNetKeyList:                               func() access.Message { return new(NetKeyList) },
	OpNetKeyStatus:                             func() access.Message { return new(NetKeyStatus) },
	OpNetKeyUpdate:                             func() access.Message { return new(NetKeyUpdate) },
	OpNodeReset:                                func() access.Message { return new(NodeReset) },
	OpNodeResetStatus:                          func() access.Message { return new(NodeResetStatus) },
	OpSIGModelAppGet:                           func() access.Message { return new(SIGModelAppGet) },
	OpSIGModelAppList:                          func() access.Message { return new(SIGModelAppList) },
	OpVendorModelAppGet:                        func() access.Message { return new(VendorModelAppGet) },
	OpVendorModelAppList:                       func() access.Message { return new(VendorModelAppList) },
}

// ---- shared field codecs ----

func lenErr(name string, got int, want string) error {
	return fmt.Errorf("%w: %s has %d octets, want %s", access.ErrLength, name, got, want)
}

func exactLen(name string, p []byte, n int) error {
	if len(p) != n {
		return lenErr(name, len(p), fmt.Sprint(n))
	}
	return nil
}

// A key index travels in 2 octets with 4 RFU bits on top, or packed in pairs
// into 3 octets (§4.3.1.1):
//
//	octet 0     octet 1            octet 2
//	a[7:0]      b[3:0] a[11:8]     b[11:4]      (24 bits LE: a | b<<12)
func appendKeyIndex(b []byte, idx uint16) ([]byte, error) {
	if idx > 0xfff {
		return b, fmt.Errorf("%w: key index 0x%x", access.ErrProhibited, idx)
	}
	return binary.LittleEndian.AppendUint16(b, idx), nil
}

func keyIndex(v uint16) (uint16, error) {
	if v > 0xfff {
		return 0, fmt.Errorf("%w: key index field 0x%04x", access.ErrRFU, v)
	}
	return v, nil
}

func appendIndexPair(b []byte, a, c uint16) ([]byte, error) {
	if a > 0xfff || c > 0xfff {
		return b, fmt.Errorf("%w: key index pair 0x%x, 0x%x", access.ErrProhibited, a, c)
	}
	v := uint32(a) | uint32(c)<<12
	return append(b, byte(v), byte(v>>8), byte(v>>16)), nil
}

func indexPair(p []byte) (a, c uint16) {
	v := uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
	return uint16(v & 0xfff), uint16(v >> 12)
}

func appendIndexList(b []byte, idx []uint16) ([]byte, error) {
	var err error
	for i := 0; i+1 < len(idx); i += 2 {
		if b, err = appendIndexPair(b, idx[i], idx[i+1]); err != nil {
			return b, err
		}
	}
	if len(idx)%2 == 1 {
		return appendKeyIndex(b, idx[len(idx)-1])
	}
	return b, nil
}

func indexList(p []byte) ([]uint16, error) {
	if len(p)%3 == 1 {
		return nil, fmt.Errorf("%w: key index list of %d octets", access.ErrLength, len(p))
	}
	var out []uint16
	for ; len(p) >= 3; p = p[3:] {
		a, c := indexPair(p)
		out = append(out, a, c)
	}
	if len(p) == 2 {
		v, err := keyIndex(binary.LittleEndian.Uint16(p))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func appendElement(b []byte, a mesh.Address) ([]byte, error) {
	if !a.IsUnicast() {
		return b, fmt.Errorf("%w: element address %s is not unicast", access.ErrProhibited, a)
	}
	return binary.LittleEndian.AppendUint16(b, uint16(a)), nil
}

func element(v uint16) (mesh.Address, error) {
	a := mesh.Address(v)
	if !a.IsUnicast() {
		return 0, fmt.Errorf("%w: element address %s is not unicast", access.ErrProhibited, a)
	}
	return a, nil
}

// modelTail splits p into a fixed head of n octets and a trailing model ID
// of 2 (SIG) or 4 (vendor) octets.
func modelTail(name string, p []byte, n int) (head []byte, id access.ModelID, err error) {
	if len(p) != n+2 && len(p) != n+4 {
		return nil, 0, lenErr(name, len(p), fmt.Sprintf("%d or %d", n+2, n+4))
	}
	id, err = access.DecodeModelID(p[n:])
	return p[:n], id, err
}

// modelKind checks a model ID against the SIG-only or vendor-only form of a
// Get or List message.
func modelKind(name string, id access.ModelID, vendor bool) error {
	if id.IsVendor() != vendor {
		return fmt.Errorf("%w: %s carries model %s", access.ErrProhibited, name, id)
	}
	return nil
}

func emptyParams(name string, p []byte) error { return exactLen(name, p, 0) }

// ---- Composition Data ----

// CompositionDataGet is Config Composition Data Get (0x80 0x08).
//
//	Page (1)
type CompositionDataGet struct{ Page uint8 }

// Opcode returns OpCompositionDataGet.
func (*CompositionDataGet) Opcode() access.Opcode { return OpCompositionDataGet }

// AppendBinary appends the parameters to b.
func (m *CompositionDataGet) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Page), nil }

// Unmarshal decodes exactly 1 octet.
func (m *CompositionDataGet) Unmarshal(p []byte) error {
	if err := exactLen("Composition Data Get", p, 1); err != nil {
		return err
	}
	m.Page = p[0]
	return nil
}

// CompositionDataStatus is Config Composition Data Status (0x02).
//
//	Page (1) | Data (variable)
//
// Page 0 data is checked to be well-formed Composition Data page 0; other
// pages are kept as raw octets.
type CompositionDataStatus struct {
	Page uint8
	Data []byte
}

// Opcode returns OpCompositionDataStatus.
func (*CompositionDataStatus) Opcode() access.Opcode { return OpCompositionDataStatus }

// AppendBinary appends the parameters to b.
func (m *CompositionDataStatus) AppendBinary(b []byte) ([]byte, error) {
	return append(append(b, m.Page), m.Data...), nil
}

// Unmarshal decodes at least 1 octet; it copies the data.
func (m *CompositionDataStatus) Unmarshal(p []byte) error {
	if len(p) < 1 {
		return lenErr("Composition Data Status", 0, "at least 1")
	}
	if p[0] == 0 {
		var c access.CompositionData
		if err := c.Unmarshal(p[1:]); err != nil {
			return fmt.Errorf("config: Composition Data Status: %w", err)
		}
	}
	m.Page, m.Data = p[0], bytes.Clone(p[1:])
	return nil
}

// Composition decodes page 0 data.
func (m *CompositionDataStatus) Composition() (access.CompositionData, error) {
	var c access.CompositionData
	if m.Page != 0 {
		return c, fmt.Errorf("%w: composition data page %d is not page 0", access.ErrOpcode, m.Page)
	}
	err := c.Unmarshal(m.Data)
	return c, err
}

// ---- AppKeys ----

// AppKeyAdd is Config AppKey Add (0x00).
//
//	NetKeyIndex, AppKeyIndex (3, packed pair) | AppKey (16)
type AppKeyAdd struct {
	NetKeyIndex, AppKeyIndex uint16
	AppKey                   [16]byte
}

// Opcode returns OpAppKeyAdd.
func (*AppKeyAdd) Opcode() access.Opcode { return OpAppKeyAdd }

// AppendBinary appends the parameters to b.
func (m *AppKeyAdd) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendIndexPair(b, m.NetKeyIndex, m.AppKeyIndex)
	return append(b, m.AppKey[:]...), err
}

// Unmarshal decodes exactly 19 octets.
func (m *AppKeyAdd) Unmarshal(p []byte) error {
	if err := exactLen("AppKey Add", p, 19); err != nil {
		return err
	}
	m.NetKeyIndex, m.AppKeyIndex = indexPair(p)
	copy(m.AppKey[:], p[3:])
	return nil
}

// AppKeyUpdate is Config AppKey Update (0x01), laid out as AppKeyAdd.
type AppKeyUpdate AppKeyAdd

// Opcode returns OpAppKeyUpdate.
func (*AppKeyUpdate) Opcode() access.Opcode { return OpAppKeyUpdate }

// AppendBinary appends the parameters to b.
func (m *AppKeyUpdate) AppendBinary(b []byte) ([]byte, error) { return (*AppKeyAdd)(m).AppendBinary(b) }

// Unmarshal decodes exactly 19 octets.
func (m *AppKeyUpdate) Unmarshal(p []byte) error {
	if err := exactLen("AppKey Update", p, 19); err != nil {
		return err
	}
	return (*AppKeyAdd)(m).Unmarshal(p)
}

// AppKeyDelete is Config AppKey Delete (0x80 0x00).
//
//	NetKeyIndex, AppKeyIndex (3, packed pair)
type AppKeyDelete struct{ NetKeyIndex, AppKeyIndex uint16 }

// Opcode returns OpAppKeyDelete.
func (*AppKeyDelete) Opcode() access.Opcode { return OpAppKeyDelete }

// AppendBinary appends the parameters to b.
func (m *AppKeyDelete) AppendBinary(b []byte) ([]byte, error) {
	return appendIndexPair(b, m.NetKeyIndex, m.AppKeyIndex)
}

// Unmarshal decodes exactly 3 octets.
func (m *AppKeyDelete) Unmarshal(p []byte) error {
	if err := exactLen("AppKey Delete", p, 3); err != nil {
		return err
	}
	m.NetKeyIndex, m.AppKeyIndex = indexPair(p)
	return nil
}

// AppKeyStatus is Config AppKey Status (0x80 0x03).
//
//	Status (1) | NetKeyIndex, AppKeyIndex (3, packed pair)
type AppKeyStatus struct {
	Status                   Status
	NetKeyIndex, AppKeyIndex uint16
}

// Opcode returns OpAppKeyStatus.
func (*AppKeyStatus) Opcode() access.Opcode { return OpAppKeyStatus }

// AppendBinary appends the parameters to b.
func (m *AppKeyStatus) AppendBinary(b []byte) ([]byte, error) {
	return appendIndexPair(append(b, byte(m.Status)), m.NetKeyIndex, m.AppKeyIndex)
}

// Unmarshal decodes exactly 4 octets.
func (m *AppKeyStatus) Unmarshal(p []byte) error {
	if err := exactLen("AppKey Status", p, 4); err != nil {
		return err
	}
	m.Status = Status(p[0])
	m.NetKeyIndex, m.AppKeyIndex = indexPair(p[1:])
	return nil
}

// AppKeyGet is Config AppKey Get (0x80 0x01).
//
//	NetKeyIndex (2; 12 bits, 4 RFU)
type AppKeyGet struct{ NetKeyIndex uint16 }

// Opcode returns OpAppKeyGet.
func (*AppKeyGet) Opcode() access.Opcode { return OpAppKeyGet }

// AppendBinary appends the parameters to b.
func (m *AppKeyGet) AppendBinary(b []byte) ([]byte, error) { return appendKeyIndex(b, m.NetKeyIndex) }

// Unmarshal decodes exactly 2 octets.
func (m *AppKeyGet) Unmarshal(p []byte) error {
	if err := exactLen("AppKey Get", p, 2); err != nil {
		return err
	}
	v, err := keyIndex(binary.LittleEndian.Uint16(p))
	m.NetKeyIndex = v
	return err
}

// AppKeyList is Config AppKey List (0x80 0x02).
//
//	Status (1) | NetKeyIndex (2) | AppKeyIndexes (packed pairs, then one 2-octet index if odd)
type AppKeyList struct {
	Status        Status
	NetKeyIndex   uint16
	AppKeyIndexes []uint16
}

// Opcode returns OpAppKeyList.
func (*AppKeyList) Opcode() access.Opcode { return OpAppKeyList }

// AppendBinary appends the parameters to b.
func (m *AppKeyList) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendKeyIndex(append(b, byte(m.Status)), m.NetKeyIndex)
	if err != nil {
		return b, err
	}
	return appendIndexList(b, m.AppKeyIndexes)
}

// Unmarshal decodes at least 3 octets and a well-formed index list.
func (m *AppKeyList) Unmarshal(p []byte) error {
	if len(p) < 3 {
		return lenErr("AppKey List", len(p), "at least 3")
	}
	net, err := keyIndex(binary.LittleEndian.Uint16(p[1:]))
	if err != nil {
		return err
	}
	list, err := indexList(p[3:])
	if err != nil {
		return err
	}
	m.Status, m.NetKeyIndex, m.AppKeyIndexes = Status(p[0]), net, list
	return nil
}

// ---- NetKeys ----

// NetKeyAdd is Config NetKey Add (0x80 0x40).
//
//	NetKeyIndex (2) | NetKey (16)
type NetKeyAdd struct {
	NetKeyIndex uint16
	NetKey      [16]byte
}

// Opcode returns OpNetKeyAdd.
func (*NetKeyAdd) Opcode() access.Opcode { return OpNetKeyAdd }

// AppendBinary appends the parameters to b.
func (m *NetKeyAdd) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendKeyIndex(b, m.NetKeyIndex)
	return append(b, m.NetKey[:]...), err
}

// Unmarshal decodes exactly 18 octets.
func (m *NetKeyAdd) Unmarshal(p []byte) error {
	if err := exactLen("NetKey Add", p, 18); err != nil {
		return err
	}
	v, err := keyIndex(binary.LittleEndian.Uint16(p))
	if err != nil {
		return err
	}
	m.NetKeyIndex = v
	copy(m.NetKey[:], p[2:])
	return nil
}

// NetKeyUpdate is Config NetKey Update (0x80 0x45), laid out as NetKeyAdd.
type NetKeyUpdate NetKeyAdd

// Opcode returns OpNetKeyUpdate.
func (*NetKeyUpdate) Opcode() access.Opcode { return OpNetKeyUpdate }

// AppendBinary appends the parameters to b.
func (m *NetKeyUpdate) AppendBinary(b []byte) ([]byte, error) { return (*NetKeyAdd)(m).AppendBinary(b) }

// Unmarshal decodes exactly 18 octets.
func (m *NetKeyUpdate) Unmarshal(p []byte) error {
	if err := exactLen("NetKey Update", p, 18); err != nil {
		return err
	}
	return (*NetKeyAdd)(m).Unmarshal(p)
}

// NetKeyDelete is Config NetKey Delete (0x80 0x41).
//
//	NetKeyIndex (2)
type NetKeyDelete struct{ NetKeyIndex uint16 }

// Opcode returns OpNetKeyDelete.
func (*NetKeyDelete) Opcode() access.Opcode { return OpNetKeyDelete }

// AppendBinary appends the parameters to b.
func (m *NetKeyDelete) AppendBinary(b []byte) ([]byte, error) {
	return appendKeyIndex(b, m.NetKeyIndex)
}

// Unmarshal decodes exactly 2 octets.
func (m *NetKeyDelete) Unmarshal(p []byte) error {
	if err := exactLen("NetKey Delete", p, 2); err != nil {
		return err
	}
	v, err := keyIndex(binary.LittleEndian.Uint16(p))
	m.NetKeyIndex = v
	return err
}

// NetKeyStatus is Config NetKey Status (0x80 0x44).
//
//	Status (1) | NetKeyIndex (2)
type NetKeyStatus struct {
	Status      Status
	NetKeyIndex uint16
}

// Opcode returns OpNetKeyStatus.
func (*NetKeyStatus) Opcode() access.Opcode { return OpNetKeyStatus }

// AppendBinary appends the parameters to b.
func (m *NetKeyStatus) AppendBinary(b []byte) ([]byte, error) {
	return appendKeyIndex(append(b, byte(m.Status)), m.NetKeyIndex)
}

// Unmarshal decodes exactly 3 octets.
func (m *NetKeyStatus) Unmarshal(p []byte) error {
	if err := exactLen("NetKey Status", p, 3); err != nil {
		return err
	}
	v, err := keyIndex(binary.LittleEndian.Uint16(p[1:]))
	m.Status, m.NetKeyIndex = Status(p[0]), v
	return err
}

// NetKeyGet is Config NetKey Get (0x80 0x42), without parameters.
type NetKeyGet struct{}

// Opcode returns OpNetKeyGet.
func (*NetKeyGet) Opcode() access.Opcode { return OpNetKeyGet }

// AppendBinary appends nothing.
func (*NetKeyGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*NetKeyGet) Unmarshal(p []byte) error { return emptyParams("NetKey Get", p) }

// NetKeyList is Config NetKey List (0x80 0x43).
//
//	NetKeyIndexes (packed pairs, then one 2-octet index if odd)
type NetKeyList struct{ NetKeyIndexes []uint16 }

// Opcode returns OpNetKeyList.
func (*NetKeyList) Opcode() access.Opcode { return OpNetKeyList }

// AppendBinary appends the parameters to b.
func (m *NetKeyList) AppendBinary(b []byte) ([]byte, error) {
	return appendIndexList(b, m.NetKeyIndexes)
}

// Unmarshal decodes a well-formed index list.
func (m *NetKeyList) Unmarshal(p []byte) error {
	list, err := indexList(p)
	if err != nil {
		return err
	}
	m.NetKeyIndexes = list
	return nil
}

// ---- Model App bindings ----

// ModelAppBind is Config Model App Bind (0x80 0x3D).
//
//	ElementAddress (2) | AppKeyIndex (2) | ModelIdentifier (2 or 4)
type ModelAppBind struct {
	ElementAddress mesh.Address
	AppKeyIndex    uint16
	Model          access.ModelID
}

// Opcode returns OpModelAppBind.
func (*ModelAppBind) Opcode() access.Opcode { return OpModelAppBind }

// AppendBinary appends the parameters to b.
func (m *ModelAppBind) AppendBinary(b []byte) ([]byte, error) {
	return appendModelApp(b, m.ElementAddress, m.AppKeyIndex, m.Model)
}

// Unmarshal decodes 6 or 8 octets.
func (m *ModelAppBind) Unmarshal(p []byte) error {
	return unmarshalModelApp("Model App Bind", p, &m.ElementAddress, &m.AppKeyIndex, &m.Model)
}

func appendModelApp(b []byte, elem mesh.Address, idx uint16, id access.ModelID) ([]byte, error) {
	b, err := appendElement(b, elem)
	if err != nil {
		return b, err
	}
	if b, err = appendKeyIndex(b, idx); err != nil {
		return b, err
	}
	return access.AppendModelID(b, id), nil
}

func unmarshalModelApp(name string, p []byte, elem *mesh.Address, idx *uint16, id *access.ModelID) error {
	head, mid, err := modelTail(name, p, 4)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	k, err := keyIndex(binary.LittleEndian.Uint16(head[2:]))
	if err != nil {
		return err
	}
	*elem, *idx, *id = e, k, mid
	return nil
}

// ModelAppUnbind is Config Model App Unbind (0x80 0x3F), laid out as
// ModelAppBind.
type ModelAppUnbind ModelAppBind

// Opcode returns OpModelAppUnbind.
func (*ModelAppUnbind) Opcode() access.Opcode { return OpModelAppUnbind }

// AppendBinary appends the parameters to b.
func (m *ModelAppUnbind) AppendBinary(b []byte) ([]byte, error) {
	return appendModelApp(b, m.ElementAddress, m.AppKeyIndex, m.Model)
}

// Unmarshal decodes 6 or 8 octets.
func (m *ModelAppUnbind) Unmarshal(p []byte) error {
	return unmarshalModelApp("Model App Unbind", p, &m.ElementAddress, &m.AppKeyIndex, &m.Model)
}

// ModelAppStatus is Config Model App Status (0x80 0x3E).
//
//	Status (1) | ElementAddress (2) | AppKeyIndex (2) | ModelIdentifier (2 or 4)
type ModelAppStatus struct {
	Status         Status
	ElementAddress mesh.Address
	AppKeyIndex    uint16
	Model          access.ModelID
}

// Opcode returns OpModelAppStatus.
func (*ModelAppStatus) Opcode() access.Opcode { return OpModelAppStatus }

// AppendBinary appends the parameters to b.
func (m *ModelAppStatus) AppendBinary(b []byte) ([]byte, error) {
	return appendModelApp(append(b, byte(m.Status)), m.ElementAddress, m.AppKeyIndex, m.Model)
}

// Unmarshal decodes 7 or 9 octets.
func (m *ModelAppStatus) Unmarshal(p []byte) error {
	if len(p) < 1 {
		return lenErr("Model App Status", 0, "7 or 9")
	}
	if err := unmarshalModelApp("Model App Status", p[1:], &m.ElementAddress, &m.AppKeyIndex, &m.Model); err != nil {
		return err
	}
	m.Status = Status(p[0])
	return nil
}

// modelGet is the body of the SIG/Vendor Model App/Subscription Get
// messages: ElementAddress (2) | ModelIdentifier (2 SIG / 4 vendor).
type modelGet struct {
	ElementAddress mesh.Address
	Model          access.ModelID
}

func (m *modelGet) append(name string, b []byte, vendor bool) ([]byte, error) {
	if err := modelKind(name, m.Model, vendor); err != nil {
		return b, err
	}
	b, err := appendElement(b, m.ElementAddress)
	return access.AppendModelID(b, m.Model), err
}

func (m *modelGet) unmarshal(name string, p []byte, vendor bool) error {
	want := 4
	if vendor {
		want = 6
	}
	if err := exactLen(name, p, want); err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(p))
	if err != nil {
		return err
	}
	id, err := access.DecodeModelID(p[2:])
	if err != nil {
		return err
	}
	m.ElementAddress, m.Model = e, id
	return nil
}

// SIGModelAppGet is Config SIG Model App Get (0x80 0x4B).
//
//	ElementAddress (2) | ModelIdentifier (2)
type SIGModelAppGet modelGet

// Opcode returns OpSIGModelAppGet.
func (*SIGModelAppGet) Opcode() access.Opcode { return OpSIGModelAppGet }

// AppendBinary appends the parameters to b.
func (m *SIGModelAppGet) AppendBinary(b []byte) ([]byte, error) {
	return (*modelGet)(m).append("SIG Model App Get", b, false)
}

// Unmarshal decodes exactly 4 octets.
func (m *SIGModelAppGet) Unmarshal(p []byte) error {
	return (*modelGet)(m).unmarshal("SIG Model App Get", p, false)
}

// VendorModelAppGet is Config Vendor Model App Get (0x80 0x4D).
//
//	ElementAddress (2) | ModelIdentifier (4)
type VendorModelAppGet modelGet

// Opcode returns OpVendorModelAppGet.
func (*VendorModelAppGet) Opcode() access.Opcode { return OpVendorModelAppGet }

// AppendBinary appends the parameters to b.
func (m *VendorModelAppGet) AppendBinary(b []byte) ([]byte, error) {
	return (*modelGet)(m).append("Vendor Model App Get", b, true)
}

// Unmarshal decodes exactly 6 octets.
func (m *VendorModelAppGet) Unmarshal(p []byte) error {
	return (*modelGet)(m).unmarshal("Vendor Model App Get", p, true)
}

// modelAppList is the body of SIG/Vendor Model App List:
// Status (1) | ElementAddress (2) | ModelIdentifier (2/4) | AppKeyIndexes (packed).
type modelAppList struct {
	Status         Status
	ElementAddress mesh.Address
	Model          access.ModelID
	AppKeyIndexes  []uint16
}

func (m *modelAppList) append(name string, b []byte, vendor bool) ([]byte, error) {
	g := modelGet{m.ElementAddress, m.Model}
	b, err := g.append(name, append(b, byte(m.Status)), vendor)
	if err != nil {
		return b, err
	}
	return appendIndexList(b, m.AppKeyIndexes)
}

func (m *modelAppList) unmarshal(name string, p []byte, vendor bool) error {
	n := 5
	if vendor {
		n = 7
	}
	if len(p) < n {
		return lenErr(name, len(p), fmt.Sprintf("at least %d", n))
	}
	var g modelGet
	if err := g.unmarshal(name, p[1:n], vendor); err != nil {
		return err
	}
	list, err := indexList(p[n:])
	if err != nil {
		return err
	}
	*m = modelAppList{Status(p[0]), g.ElementAddress, g.Model, list}
	return nil
}

// SIGModelAppList is Config SIG Model App List (0x80 0x4C).
//
//	Status (1) | ElementAddress (2) | ModelIdentifier (2) | AppKeyIndexes (packed)
type SIGModelAppList modelAppList

// Opcode returns OpSIGModelAppList.
func (*SIGModelAppList) Opcode() access.Opcode { return OpSIGModelAppList }

// AppendBinary appends the parameters to b.
func (m *SIGModelAppList) AppendBinary(b []byte) ([]byte, error) {
	return (*modelAppList)(m).append("SIG Model App List", b, false)
}

// Unmarshal decodes at least 5 octets and a well-formed index list.
func (m *SIGModelAppList) Unmarshal(p []byte) error {
	return (*modelAppList)(m).unmarshal("SIG Model App List", p, false)
}

// VendorModelAppList is Config Vendor Model App List (0x80 0x4E).
//
//	Status (1) | ElementAddress (2) | ModelIdentifier (4) | AppKeyIndexes (packed)
type VendorModelAppList modelAppList

// Opcode returns OpVendorModelAppList.
func (*VendorModelAppList) Opcode() access.Opcode { return OpVendorModelAppList }

// AppendBinary appends the parameters to b.
func (m *VendorModelAppList) AppendBinary(b []byte) ([]byte, error) {
	return (*modelAppList)(m).append("Vendor Model App List", b, true)
}

// Unmarshal decodes at least 7 octets and a well-formed index list.
func (m *VendorModelAppList) Unmarshal(p []byte) error {
	return (*modelAppList)(m).unmarshal("Vendor Model App List", p, true)
}

// ---- Subscriptions ----

// modelSub is the body of Model Subscription Add/Delete/Overwrite:
// ElementAddress (2) | Address (2) | ModelIdentifier (2 or 4). The Address
// is checked by the server (Invalid Address), not by the codec.
type modelSub struct {
	ElementAddress mesh.Address
	Address        mesh.Address
	Model          access.ModelID
}

func (m *modelSub) append(b []byte) ([]byte, error) {
	b, err := appendElement(b, m.ElementAddress)
	b = binary.LittleEndian.AppendUint16(b, uint16(m.Address))
	return access.AppendModelID(b, m.Model), err
}

func (m *modelSub) unmarshal(name string, p []byte) error {
	head, id, err := modelTail(name, p, 4)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	*m = modelSub{e, mesh.Address(binary.LittleEndian.Uint16(head[2:])), id}
	return nil
}

// ModelSubscriptionAdd is Config Model Subscription Add (0x80 0x1B).
//
//	ElementAddress (2) | Address (2) | ModelIdentifier (2 or 4)
type ModelSubscriptionAdd modelSub

// Opcode returns OpModelSubscriptionAdd.
func (*ModelSubscriptionAdd) Opcode() access.Opcode { return OpModelSubscriptionAdd }

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionAdd) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSub)(m).append(b)
}

// Unmarshal decodes 6 or 8 octets.
func (m *ModelSubscriptionAdd) Unmarshal(p []byte) error {
	return (*modelSub)(m).unmarshal("Model Subscription Add", p)
}

// ModelSubscriptionDelete is Config Model Subscription Delete (0x80 0x1C),
// laid out as ModelSubscriptionAdd.
type ModelSubscriptionDelete modelSub

// Opcode returns OpModelSubscriptionDelete.
func (*ModelSubscriptionDelete) Opcode() access.Opcode { return OpModelSubscriptionDelete }

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionDelete) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSub)(m).append(b)
}

// Unmarshal decodes 6 or 8 octets.
func (m *ModelSubscriptionDelete) Unmarshal(p []byte) error {
	return (*modelSub)(m).unmarshal("Model Subscription Delete", p)
}

// ModelSubscriptionOverwrite is Config Model Subscription Overwrite
// (0x80 0x1E), laid out as ModelSubscriptionAdd.
type ModelSubscriptionOverwrite modelSub

// Opcode returns OpModelSubscriptionOverwrite.
func (*ModelSubscriptionOverwrite) Opcode() access.Opcode { return OpModelSubscriptionOverwrite }

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionOverwrite) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSub)(m).append(b)
}

// Unmarshal decodes 6 or 8 octets.
func (m *ModelSubscriptionOverwrite) Unmarshal(p []byte) error {
	return (*modelSub)(m).unmarshal("Model Subscription Overwrite", p)
}

// ModelSubscriptionDeleteAll is Config Model Subscription Delete All
// (0x80 0x1D).
//
//	ElementAddress (2) | ModelIdentifier (2 or 4)
type ModelSubscriptionDeleteAll struct {
	ElementAddress mesh.Address
	Model          access.ModelID
}

// Opcode returns OpModelSubscriptionDeleteAll.
func (*ModelSubscriptionDeleteAll) Opcode() access.Opcode { return OpModelSubscriptionDeleteAll }

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionDeleteAll) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendElement(b, m.ElementAddress)
	return access.AppendModelID(b, m.Model), err
}

// Unmarshal decodes 4 or 6 octets.
func (m *ModelSubscriptionDeleteAll) Unmarshal(p []byte) error {
	head, id, err := modelTail("Model Subscription Delete All", p, 2)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	m.ElementAddress, m.Model = e, id
	return nil
}

// modelSubVirtual is the body of the Model Subscription Virtual Address
// messages: ElementAddress (2) | Label (16) | ModelIdentifier (2 or 4).
type modelSubVirtual struct {
	ElementAddress mesh.Address
	Label          [16]byte
	Model          access.ModelID
}

func (m *modelSubVirtual) append(b []byte) ([]byte, error) {
	b, err := appendElement(b, m.ElementAddress)
	b = append(b, m.Label[:]...)
	return access.AppendModelID(b, m.Model), err
}

func (m *modelSubVirtual) unmarshal(name string, p []byte) error {
	head, id, err := modelTail(name, p, 18)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	m.ElementAddress, m.Model = e, id
	copy(m.Label[:], head[2:])
	return nil
}

// ModelSubscriptionVirtualAddressAdd is Config Model Subscription Virtual
// Address Add (0x80 0x20).
//
//	ElementAddress (2) | Label (16) | ModelIdentifier (2 or 4)
type ModelSubscriptionVirtualAddressAdd modelSubVirtual

// Opcode returns OpModelSubscriptionVirtualAddressAdd.
func (*ModelSubscriptionVirtualAddressAdd) Opcode() access.Opcode {
	return OpModelSubscriptionVirtualAddressAdd
}

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionVirtualAddressAdd) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSubVirtual)(m).append(b)
}

// Unmarshal decodes 20 or 22 octets.
func (m *ModelSubscriptionVirtualAddressAdd) Unmarshal(p []byte) error {
	return (*modelSubVirtual)(m).unmarshal("Model Subscription Virtual Address Add", p)
}

// ModelSubscriptionVirtualAddressDelete is Config Model Subscription Virtual
// Address Delete (0x80 0x21), laid out as the Add.
type ModelSubscriptionVirtualAddressDelete modelSubVirtual

// Opcode returns OpModelSubscriptionVirtualAddressDelete.
func (*ModelSubscriptionVirtualAddressDelete) Opcode() access.Opcode {
	return OpModelSubscriptionVirtualAddressDelete
}

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionVirtualAddressDelete) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSubVirtual)(m).append(b)
}

// Unmarshal decodes 20 or 22 octets.
func (m *ModelSubscriptionVirtualAddressDelete) Unmarshal(p []byte) error {
	return (*modelSubVirtual)(m).unmarshal("Model Subscription Virtual Address Delete", p)
}

// ModelSubscriptionVirtualAddressOverwrite is Config Model Subscription
// Virtual Address Overwrite (0x80 0x22), laid out as the Add.
type ModelSubscriptionVirtualAddressOverwrite modelSubVirtual

// Opcode returns OpModelSubscriptionVirtualAddressOverwrite.
func (*ModelSubscriptionVirtualAddressOverwrite) Opcode() access.Opcode {
	return OpModelSubscriptionVirtualAddressOverwrite
}

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionVirtualAddressOverwrite) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSubVirtual)(m).append(b)
}

// Unmarshal decodes 20 or 22 octets.
func (m *ModelSubscriptionVirtualAddressOverwrite) Unmarshal(p []byte) error {
	return (*modelSubVirtual)(m).unmarshal("Model Subscription Virtual Address Overwrite", p)
}

// ModelSubscriptionStatus is Config Model Subscription Status (0x80 0x1F).
//
//	Status (1) | ElementAddress (2) | Address (2) | ModelIdentifier (2 or 4)
type ModelSubscriptionStatus struct {
	Status         Status
	ElementAddress mesh.Address
	Address        mesh.Address
	Model          access.ModelID
}

// Opcode returns OpModelSubscriptionStatus.
func (*ModelSubscriptionStatus) Opcode() access.Opcode { return OpModelSubscriptionStatus }

// AppendBinary appends the parameters to b.
func (m *ModelSubscriptionStatus) AppendBinary(b []byte) ([]byte, error) {
	s := modelSub{m.ElementAddress, m.Address, m.Model}
	return s.append(append(b, byte(m.Status)))
}

// Unmarshal decodes 7 or 9 octets.
func (m *ModelSubscriptionStatus) Unmarshal(p []byte) error {
	if len(p) < 1 {
		return lenErr("Model Subscription Status", 0, "7 or 9")
	}
	var s modelSub
	if err := s.unmarshal("Model Subscription Status", p[1:]); err != nil {
		return err
	}
	*m = ModelSubscriptionStatus{Status(p[0]), s.ElementAddress, s.Address, s.Model}
	return nil
}

// SIGModelSubscriptionGet is Config SIG Model Subscription Get (0x80 0x29).
//
//	ElementAddress (2) | ModelIdentifier (2)
type SIGModelSubscriptionGet modelGet

// Opcode returns OpSIGModelSubscriptionGet.
func (*SIGModelSubscriptionGet) Opcode() access.Opcode { return OpSIGModelSubscriptionGet }

// AppendBinary appends the parameters to b.
func (m *SIGModelSubscriptionGet) AppendBinary(b []byte) ([]byte, error) {
	return (*modelGet)(m).append("SIG Model Subscription Get", b, false)
}

// Unmarshal decodes exactly 4 octets.
func (m *SIGModelSubscriptionGet) Unmarshal(p []byte) error {
	return (*modelGet)(m).unmarshal("SIG Model Subscription Get", p, false)
}

// VendorModelSubscriptionGet is Config Vendor Model Subscription Get
// (0x80 0x2B).
//
//	ElementAddress (2) | ModelIdentifier (4)
type VendorModelSubscriptionGet modelGet

// Opcode returns OpVendorModelSubscriptionGet.
func (*VendorModelSubscriptionGet) Opcode() access.Opcode { return OpVendorModelSubscriptionGet }

// AppendBinary appends the parameters to b.
func (m *VendorModelSubscriptionGet) AppendBinary(b []byte) ([]byte, error) {
	return (*modelGet)(m).append("Vendor Model Subscription Get", b, true)
}

// Unmarshal decodes exactly 6 octets.
func (m *VendorModelSubscriptionGet) Unmarshal(p []byte) error {
	return (*modelGet)(m).unmarshal("Vendor Model Subscription Get", p, true)
}

// modelSubList is the body of the SIG/Vendor Model Subscription List:
// Status (1) | ElementAddress (2) | ModelIdentifier (2/4) | Addresses (2 each).
type modelSubList struct {
	Status         Status
	ElementAddress mesh.Address
	Model          access.ModelID
	Addresses      []mesh.Address
}

func (m *modelSubList) append(name string, b []byte, vendor bool) ([]byte, error) {
	g := modelGet{m.ElementAddress, m.Model}
	b, err := g.append(name, append(b, byte(m.Status)), vendor)
	for _, a := range m.Addresses {
		b = binary.LittleEndian.AppendUint16(b, uint16(a))
	}
	return b, err
}

func (m *modelSubList) unmarshal(name string, p []byte, vendor bool) error {
	n := 5
	if vendor {
		n = 7
	}
	if len(p) < n || (len(p)-n)%2 != 0 {
		return lenErr(name, len(p), fmt.Sprintf("%d + 2·n", n))
	}
	var g modelGet
	if err := g.unmarshal(name, p[1:n], vendor); err != nil {
		return err
	}
	out := modelSubList{Status: Status(p[0]), ElementAddress: g.ElementAddress, Model: g.Model}
	r := wire.NewReader(p[n:])
	for r.Len() > 0 {
		out.Addresses = append(out.Addresses, mesh.Address(r.U16LE()))
	}
	*m = out
	return nil
}

// SIGModelSubscriptionList is Config SIG Model Subscription List (0x80 0x2A).
//
//	Status (1) | ElementAddress (2) | ModelIdentifier (2) | Addresses (2 each)
type SIGModelSubscriptionList modelSubList

// Opcode returns OpSIGModelSubscriptionList.
func (*SIGModelSubscriptionList) Opcode() access.Opcode { return OpSIGModelSubscriptionList }

// AppendBinary appends the parameters to b.
func (m *SIGModelSubscriptionList) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSubList)(m).append("SIG Model Subscription List", b, false)
}

// Unmarshal decodes 5 + 2·n octets.
func (m *SIGModelSubscriptionList) Unmarshal(p []byte) error {
	return (*modelSubList)(m).unmarshal("SIG Model Subscription List", p, false)
}

// VendorModelSubscriptionList is Config Vendor Model Subscription List
// (0x80 0x2C).
//
//	Status (1) | ElementAddress (2) | ModelIdentifier (4) | Addresses (2 each)
type VendorModelSubscriptionList modelSubList

// Opcode returns OpVendorModelSubscriptionList.
func (*VendorModelSubscriptionList) Opcode() access.Opcode { return OpVendorModelSubscriptionList }

// AppendBinary appends the parameters to b.
func (m *VendorModelSubscriptionList) AppendBinary(b []byte) ([]byte, error) {
	return (*modelSubList)(m).append("Vendor Model Subscription List", b, true)
}

// Unmarshal decodes 7 + 2·n octets.
func (m *VendorModelSubscriptionList) Unmarshal(p []byte) error {
	return (*modelSubList)(m).unmarshal("Vendor Model Subscription List", p, true)
}
