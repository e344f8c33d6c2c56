package dfd

import (
	"encoding/json"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// StateStore keeps a Distribution Server's durable state (an opaque record
// the Server encodes): the Distribution Receivers List, the distribution's
// parameters and phase, and every receiver's progress. The images live in
// the fw.Store. blob.MemoryStateStore (simulator, tests) and
// blob.FileStateStore (atomic file replacement: temporary file, sync,
// rename, directory sync) implement it.
type StateStore interface {
	// LoadState returns the last saved record, or nil when there is none.
	LoadState() ([]byte, error)
	// SaveState replaces the record; nil erases it.
	SaveState(b []byte) error
}

var (
	_ StateStore = (*blob.MemoryStateStore)(nil)
	_ StateStore = blob.FileStateStore{}
)

// stateVersion is the format of the record; a record of another version
// is refused (ErrState).
const stateVersion = 1

type stateRecord struct {
	Version   int              `json:"version"`
	Receivers []receiverRecord `json:"receivers"`
	Phase     Phase            `json:"phase"`
	Dist      *distRecord      `json:"dist,omitempty"`
}

type distRecord struct {
	Start        startRecord `json:"start"`
	BLOBID       uint64      `json:"blob_id"`
	BlockSizeLog uint8       `json:"block_size_log,omitempty"`
	Slot         string      `json:"slot"`
	FirmwareID   []byte      `json:"firmware_id"`
	Metadata     []byte      `json:"metadata,omitempty"`
}

type startRecord struct {
	AppKeyIndex  uint16            `json:"app_key_index"`
	TTL          uint8             `json:"ttl"`
	TimeoutBase  uint16            `json:"timeout_base"`
	TransferMode blob.TransferMode `json:"transfer_mode"`
	Policy       Policy            `json:"policy"`
	ImageIndex   uint16            `json:"image_index"`
	Multicast    mesh.Address      `json:"multicast"`
	Label        *[16]byte         `json:"label,omitempty"`
}

type receiverRecord struct {
	Address        mesh.Address       `json:"address"`
	ImageIndex     uint8              `json:"image_index"`
	Phase          dfu.Phase          `json:"phase"`
	UpdateStatus   dfu.Status         `json:"update_status"`
	TransferStatus blob.Status        `json:"transfer_status"`
	BlocksDone     int                `json:"blocks_done,omitempty"`
	Blocks         int                `json:"blocks,omitempty"`
	AdditionalInfo dfu.AdditionalInfo `json:"additional_info,omitempty"`
	Failed         bool               `json:"failed,omitempty"`
	Reason         string             `json:"reason,omitempty"`
}

func toStartRecord(m *Start) startRecord {
	return startRecord{m.AppKeyIndex, m.TTL, m.TimeoutBase, m.TransferMode, m.Policy, m.ImageIndex, m.Multicast, m.Label}
}

func (r startRecord) start() Start {
	return Start{r.AppKeyIndex, r.TTL, r.TimeoutBase, r.TransferMode, r.Policy, r.ImageIndex, r.Multicast, r.Label}
}

func decodeState(b []byte) (*stateRecord, error) {
	var rec stateRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if rec.Version != stateVersion {
		return nil, fmt.Errorf("%w: version %d", ErrState, rec.Version)
	}
	if !rec.Phase.Valid() || (rec.Phase != PhaseIdle && rec.Dist == nil) {
		return nil, fmt.Errorf("%w: phase %v", ErrState, rec.Phase)
	}
	for _, r := range rec.Receivers {
		if !r.Address.IsUnicast() || !r.Phase.Valid() {
			return nil, fmt.Errorf("%w: receiver %+v", ErrState, r)
		}
	}
	return &rec, nil
}
