package node

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Key is a 128-bit key that reads and writes itself as 32 hex digits.
type Key [16]byte

// MarshalText writes the key as lowercase hex.
func (k Key) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(k[:])), nil }

// UnmarshalText reads 32 hex digits.
func (k *Key) UnmarshalText(b []byte) error {
	var tmp [16]byte
	n, err := hex.Decode(tmp[:], b)
	if err != nil || n != 16 || len(b) != 32 {
		return fmt.Errorf("node: key %q: want 32 hex digits", b)
	}
	*k = tmp
	return nil
}

// State is a node's durable state.
type State struct {
	Address  mesh.Address  `json:"address"`
	Elements int           `json:"elements"`
	DevKey   Key           `json:"dev_key"`
	NetKeys  []NetKeyState `json:"net_keys"`
	AppKeys  []AppKeyState `json:"app_keys"`
	IV       IVState       `json:"iv"`
	// SeqLimit is, per element, a SEQ this node has not used yet and
	// above every SEQ it used: after a reboot each element starts there.
	SeqLimit []uint32        `json:"seq_limit"`
	Features config.Features `json:"features"`
	Models   []ModelState    `json:"models,omitempty"`
	// RPL is the replay protection list, so that a message heard before a
	// reboot is not accepted again after it.
	RPL []transport.RPLEntry `json:"rpl,omitempty"`
}

// NetKeyState is one NetKey List entry.
type NetKeyState struct {
	Index uint16 `json:"index"`
	Key   Key    `json:"key"`
	New   *Key   `json:"new_key,omitempty"`
	Phase uint8  `json:"phase"`
}

// AppKeyState is one AppKey List entry.
type AppKeyState struct {
	Index       uint16 `json:"index"`
	NetKeyIndex uint16 `json:"net_key_index"`
	Key         Key    `json:"key"`
	New         *Key   `json:"new_key,omitempty"`
}

// IVState is the IV Index state and when it was entered.
type IVState struct {
	Index    uint32    `json:"index"`
	Updating bool      `json:"updating"`
	Since    time.Time `json:"since"`
}

// ModelState is the configuration of one model instance.
type ModelState struct {
	Element       int                 `json:"element"`
	ID            access.ModelID      `json:"id"`
	Bindings      []uint16            `json:"bindings,omitempty"`
	Subscriptions []SubscriptionState `json:"subscriptions,omitempty"`
	Publication   *PublicationState   `json:"publication,omitempty"`
}

// SubscriptionState is one subscription list entry.
type SubscriptionState struct {
	Address mesh.Address `json:"address"`
	Label   *Key         `json:"label,omitempty"`
}

// PublicationState is a model's publication.
type PublicationState struct {
	Address        mesh.Address `json:"address"`
	Label          *Key         `json:"label,omitempty"`
	AppKeyIndex    uint16       `json:"app_key_index"`
	CredentialFlag bool         `json:"credential_flag,omitempty"`
	TTL            uint8        `json:"ttl"`
	Period         uint8        `json:"period"`
	Retransmit     uint8        `json:"retransmit"`
}

func labelPtr(k *Key) *[16]byte {
	if k == nil {
		return nil
	}
	l := [16]byte(*k)
	return &l
}

func keyPtr(l *[16]byte) *Key {
	if l == nil {
		return nil
	}
	k := Key(*l)
	return &k
}
