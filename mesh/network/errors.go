package network

import (
	"errors"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Sentinel errors. Callers branch on them with errors.Is; the errors the
// package returns wrap them with context.
var (
	// ErrTooShort: a network PDU or transport PDU is shorter than the
	// smallest allowed for its CTL.
	ErrTooShort = errors.New("network: PDU too short")
	// ErrTooLong: a network PDU or transport PDU is longer than the largest
	// allowed for its CTL.
	ErrTooLong = errors.New("network: PDU too long")
	// ErrAuth: the NetMIC does not verify under the credentials tried. It
	// wraps crypto.ErrAuth.
	ErrAuth = fmt.Errorf("network: %w", crypto.ErrAuth)
	// ErrBadSRC: SRC is not a unicast address.
	ErrBadSRC = errors.New("network: SRC is not a unicast address")
	// ErrBadDST: DST is unassigned, or virtual in a control message.
	ErrBadDST = errors.New("network: invalid DST")
	// ErrTTL: TTL above 127.
	ErrTTL = errors.New("network: TTL out of range")
	// ErrSEQ: SEQ does not fit in 24 bits.
	ErrSEQ = errors.New("network: SEQ out of range")
	// ErrNID: the PDU's NID is not the one of the credentials.
	ErrNID = errors.New("network: NID does not match the credentials")
	// ErrIVI: the PDU's IVI is not the LSB of the IV Index given.
	ErrIVI = errors.New("network: IVI does not match the IV Index")
	// ErrKeyIndex: a NetKey Index does not fit in 12 bits.
	ErrKeyIndex = errors.New("network: NetKey Index out of range")
	// ErrUnknownNetKey: no NetKey is stored at that index.
	ErrUnknownNetKey = errors.New("network: unknown NetKey Index")
	// ErrKeyExists: Add found a different key already at that index.
	ErrKeyExists = errors.New("network: NetKey Index already in use")
	// ErrCannotUpdate: a NetKey Update is not allowed in the current Key
	// Refresh phase, or names a different new key in phase 1.
	ErrCannotUpdate = errors.New("network: NetKey cannot be updated in this phase")
	// ErrPhase: a Key Refresh phase transition that is not allowed.
	ErrPhase = errors.New("network: prohibited Key Refresh phase transition")
	// ErrUnknownFriendship: the friendship credentials are not registered.
	ErrUnknownFriendship = errors.New("network: unknown friendship")
)
