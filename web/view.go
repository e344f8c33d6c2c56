package web

import (
	"encoding/hex"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// The JSON the API answers with. Phases and statuses are given in words,
// as the specification names them ("Transfer Active", "Apply Success"),
// with their numeric code beside.

// Status is the JSON of GET /api/status.
type Status struct {
	Node         string        `json:"node"`
	Phase        string        `json:"phase"`
	PhaseCode    int           `json:"phase_code"`
	Running      bool          `json:"running"`
	Distribution *Distribution `json:"distribution,omitempty"`
	Upload       Upload        `json:"upload"`
	Receivers    []Receiver    `json:"receivers"`
	Images       []Image       `json:"images"`
	Counters     Counters      `json:"counters"`
}

// Distribution is the JSON of a running distribution's parameters.
type Distribution struct {
	ImageIndex  int    `json:"image_index"`
	FirmwareID  string `json:"firmware_id,omitempty"`
	Group       string `json:"group"`
	TTL         int    `json:"ttl"`
	TimeoutBase int    `json:"timeout_base"`
	Mode        string `json:"mode"`
	Policy      string `json:"policy"`
	AppKeyIndex int    `json:"app_key_index"`
}

// Upload is the JSON of the Upload state.
type Upload struct {
	Phase      string `json:"phase"`
	PhaseCode  int    `json:"phase_code"`
	Progress   int    `json:"progress"`
	OOB        bool   `json:"oob"`
	FirmwareID string `json:"firmware_id,omitempty"`
	// Source is "mesh" for an upload through the Distribution Server
	// (in-band or OOB), "http" while POST /api/images receives a file.
	Source string `json:"source,omitempty"`
	// Octets and Total are the octets received so far and expected, for
	// an HTTP upload.
	Octets int64 `json:"octets,omitempty"`
	Total  int64 `json:"total,omitempty"`
}

// Receiver is the JSON of one entry of the Distribution Receivers List.
type Receiver struct {
	Address        string `json:"address"`
	ImageIndex     int    `json:"image_index"`
	Phase          string `json:"phase"`
	PhaseCode      int    `json:"phase_code"`
	UpdateStatus   string `json:"update_status"`
	TransferStatus string `json:"transfer_status"`
	Progress       int    `json:"progress"`
	Failed         bool   `json:"failed"`
	Reason         string `json:"reason,omitempty"`
}

// Image is the JSON of one entry of the Firmware Images List.
type Image struct {
	Index      int    `json:"index"`
	FirmwareID string `json:"firmware_id"`
	Version    string `json:"version,omitempty"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	Signed     bool   `json:"signed"`
	Corrupt    bool   `json:"corrupt,omitempty"`
}

// Running reports whether a distribution in phase p still goes on.
func Running(p dfd.Phase) bool {
	switch p {
	case dfd.PhaseTransferActive, dfd.PhaseTransferSuspended, dfd.PhaseApplyingUpdate, dfd.PhaseCancelingUpdate:
		return true
	}
	return false
}

// ModeName is the API's word for a transfer mode: "push", "pull", or
// "auto" (the distributor chooses).
func ModeName(m blob.TransferMode) string {
	switch m {
	case blob.ModePush:
		return "push"
	case blob.ModePull:
		return "pull"
	}
	return "auto"
}

// PolicyName is the API's word for an Update Policy: "verify" (Verify
// Only) or "apply" (Verify And Apply).
func PolicyName(p dfd.Policy) string {
	if p == dfd.PolicyVerifyAndApply {
		return "apply"
	}
	return "verify"
}

// NewStatus renders a snapshot as the API's JSON.
func NewStatus(s *Snapshot) *Status {
	out := &Status{
		Node: s.Node.String(), Phase: s.Phase.String(), PhaseCode: int(s.Phase), Running: Running(s.Phase),
		Upload:    newUpload(s.Upload),
		Receivers: make([]Receiver, 0, len(s.Receivers)),
		Images:    make([]Image, 0, len(s.Images)),
		Counters:  s.Counters,
	}
	if d := s.Distribution; d != nil {
		out.Distribution = &Distribution{
			ImageIndex: int(d.ImageIndex), FirmwareID: hexOrEmpty(s.FirmwareID), Group: groupName(d.Group),
			TTL: int(d.TTL), TimeoutBase: int(d.TimeoutBase), Mode: ModeName(d.Mode), Policy: PolicyName(d.Policy),
			AppKeyIndex: int(d.AppKeyIndex),
		}
	}
	for _, r := range s.Receivers {
		out.Receivers = append(out.Receivers, NewReceiver(r))
	}
	for i, in := range s.Images {
		out.Images = append(out.Images, NewImage(i, in))
	}
	return out
}

func newUpload(u UploadState) Upload {
	out := Upload{Phase: u.Phase.String(), PhaseCode: int(u.Phase), Progress: int(u.Progress), OOB: u.OOB, FirmwareID: hexOrEmpty(u.FirmwareID)}
	if u.Phase != dfd.UploadIdle {
		out.Source = "mesh"
	}
	return out
}

// NewReceiver renders a receiver of a Distribution Server.
func NewReceiver(r dfd.Receiver) Receiver {
	return Receiver{
		Address: r.Address.String(), ImageIndex: int(r.ImageIndex),
		Phase: r.Phase.String(), PhaseCode: int(r.Phase),
		UpdateStatus: r.UpdateStatus.String(), TransferStatus: r.TransferStatus.String(),
		Progress: int(r.Progress), Failed: r.Failed, Reason: r.Reason,
	}
}

// NewNodeEntry renders an Updating Node Entry of a Receivers List (what a
// Distribution Client sees; it carries no reason).
func NewNodeEntry(e dfd.NodeEntry) Receiver {
	return Receiver{
		Address: e.Address.String(), ImageIndex: int(e.ImageIndex),
		Phase: e.Phase.String(), PhaseCode: int(e.Phase),
		UpdateStatus: e.UpdateStatus.String(), TransferStatus: e.TransferStatus.String(),
		Progress: int(e.Progress),
		Failed:   e.Phase == dfu.PhaseTransferError || e.Phase == dfu.PhaseVerificationFailed || e.Phase == dfu.PhaseApplyFailed,
	}
}

// NewImage renders the slot at index of a Firmware Images List; the
// version comes from meshdfu metadata when the image has it.
func NewImage(index int, in fw.SlotInfo) Image {
	im := Image{Index: index, FirmwareID: hex.EncodeToString(in.FirmwareID), Size: in.Size,
		SHA256: hex.EncodeToString(in.SHA256[:]), Corrupt: in.Corrupt}
	if m, err := fw.ParseMetadata(in.Metadata); err == nil {
		im.Version, im.Signed = m.Version, m.Signature != nil
	}
	return im
}

func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return hex.EncodeToString(b)
}

func groupName(a mesh.Address) string {
	if a == mesh.AddrUnassigned {
		return "unicast"
	}
	return a.String()
}
