// Package dissect decodes captured network PDUs given the network's keys, the
// way a sniffer does: it opens each PDU with the NetKey, decodes the lower
// transport PDU, reassembles segmented messages from the segments it has
// seen, and decrypts access messages with whichever AppKey or DevKey (and
// Label UUID, for virtual destinations) authenticates them.
//
// It keeps no timers and sends nothing: it is a pure function of the PDUs fed
// to it, in order. `meshdfu pdu decode` is built on it.
package dissect

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Keys are what a Dissector may try on each PDU.
type Keys struct {
	NetKeys    []crypto.Key
	IVIndex    uint32
	AppKeys    []crypto.Key
	DevKeys    []crypto.Key
	LabelUUIDs [][16]byte
	// Friendships adds friendship credentials (k2 with the LPN and Friend
	// addresses and counters) for each NetKey.
	Friendships []Friendship
}

// Friendship names one friendship's credential inputs.
type Friendship struct {
	LPN, Friend               mesh.Address
	LPNCounter, FriendCounter uint16
}

// Segment is the segmentation header of a segmented PDU.
type Segment struct {
	SZMIC   int    `json:"szmic"`
	SeqZero string `json:"seq_zero"`
	SegO    int    `json:"seg_o"`
	SegN    int    `json:"seg_n"`
}

// PDU is the network-layer view of one decoded PDU.
type PDU struct {
	IVI               int      `json:"ivi"`
	NID               string   `json:"nid"`
	CTL               int      `json:"ctl"`
	TTL               int      `json:"ttl"`
	SEQ               string   `json:"seq"`
	SRC               string   `json:"src"`
	DST               string   `json:"dst"`
	LowerTransportPDU string   `json:"lower_transport_pdu"`
	Seg               *Segment `json:"seg,omitempty"`
	Credentials       string   `json:"credentials,omitempty"`
}

// Control is a transport control message.
type Control struct {
	Opcode     string `json:"opcode"`
	Parameters string `json:"parameters"`
}

// Message is a complete upper-layer message: an access message decrypted
// with one of the keys, or a transport control message.
type Message struct {
	AccessMessage string   `json:"access_message,omitempty"`
	Opcode        string   `json:"opcode,omitempty"`
	Parameters    *string  `json:"parameters,omitempty"`
	Key           string   `json:"key,omitempty"`
	Label         string   `json:"label_uuid,omitempty"`
	Control       *Control `json:"control,omitempty"`
	SRC           string   `json:"src"`
	DST           string   `json:"dst"`
}

// Errors a Dissector reports.
var (
	ErrHex      = errors.New("dissect: not hex")
	ErrNoKey    = errors.New("dissect: NetMIC does not verify under any given NetKey")
	ErrNoAppKey = errors.New("dissect: no given AppKey or DevKey opens the access message")
)

type creds struct {
	c          *network.Credentials
	friendship bool
}

type reassembly struct {
	ctl      bool
	akf      bool
	aid      uint8
	szmic    bool
	opcode   uint8
	seqAuth  transport.SeqAuth
	segN     uint8
	segs     map[uint8][]byte
	ivIndex  uint32
	complete bool
}

type flowKey struct {
	src, dst mesh.Address
	ctl      bool
	seqZero  uint16
}

// Dissector decodes a sequence of PDUs. It is not safe for concurrent use.
type Dissector struct {
	keys  Keys
	creds []creds
	flows map[flowKey]*reassembly
}

// New returns a Dissector for keys.
func New(keys Keys) *Dissector {
	d := &Dissector{keys: keys, flows: map[flowKey]*reassembly{}}
	for _, k := range keys.NetKeys {
		d.creds = append(d.creds, creds{c: network.NewCredentials(k, []byte{0x00})})
		for _, f := range keys.Friendships {
			p := crypto.FriendshipP(uint16(f.LPN), uint16(f.Friend), f.LPNCounter, f.FriendCounter)
			d.creds = append(d.creds, creds{c: network.NewCredentials(k, p), friendship: true})
		}
	}
	return d
}

// DecodeHex decodes one PDU given in hex; see Decode.
func (d *Dissector) DecodeHex(s string) (*PDU, *Message, error) {
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHex, err)
	}
	return d.Decode(raw)
}

// Decode opens one network PDU. It returns the network view, and a Message
// when this PDU completes an upper-layer message (an unsegmented one, or the
// last missing segment of a segmented one) that the keys open. A complete
// access message that no key opens is reported as an error alongside the
// PDU.
func (d *Dissector) Decode(raw []byte) (*PDU, *Message, error) {
	ivi, _, err := network.PeekIVINID(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("dissect: %w", err)
	}
	iv := network.IVState{Index: d.keys.IVIndex}.RxIndex(ivi)
	var (
		hdr   network.Header
		ltp   []byte
		cr    creds
		found bool
	)
	for _, c := range d.creds {
		h, p, err := c.c.Open(nil, raw, iv)
		if err == nil {
			hdr, ltp, cr, found = h, p, c, true
			break
		}
		if errors.Is(err, network.ErrTooShort) || errors.Is(err, network.ErrTooLong) {
			return nil, nil, fmt.Errorf("dissect: %w", err)
		}
	}
	if !found {
		return nil, nil, ErrNoKey
	}
	out := &PDU{
		IVI: int(hdr.IVI), NID: fmt.Sprintf("%02x", hdr.NID), TTL: int(hdr.TTL),
		SEQ: fmt.Sprintf("%06x", hdr.SEQ), SRC: addr(hdr.SRC), DST: addr(hdr.DST),
		LowerTransportPDU: hex.EncodeToString(ltp),
	}
	if hdr.CTL {
		out.CTL = 1
	}
	if cr.friendship {
		out.Credentials = "friendship"
	}
	lp, err := transport.Decode(hdr.CTL, ltp)
	if err != nil {
		return out, nil, fmt.Errorf("dissect: lower transport: %w", err)
	}
	switch m := lp.(type) {
	case *transport.UnsegAccess:
		msg, err := d.openAccess(&hdr, iv, hdr.SEQ, m.AKF, m.AID, false, m.UpperPDU)
		return out, msg, err
	case *transport.UnsegControl:
		return out, d.control(&hdr, m.Opcode, m.Params), nil
	case *transport.SegmentAck:
		return out, d.control(&hdr, transport.OpSegmentAck, ltp[1:]), nil
	case *transport.SegAccess:
		out.Seg = &Segment{SZMIC: b2i(m.SZMIC), SeqZero: fmt.Sprintf("%x", m.SeqZero), SegO: int(m.SegO), SegN: int(m.SegN)}
		r, err := d.addSegment(&hdr, iv, false, m.SeqZero, m.SegO, m.SegN, m.Segment)
		if err != nil || r == nil {
			return out, nil, err
		}
		r.akf, r.aid, r.szmic = m.AKF, m.AID, m.SZMIC
		msg, err := d.openAccess(&hdr, r.ivIndex, r.seqAuth.Seq(), r.akf, r.aid, r.szmic, r.join())
		return out, msg, err
	case *transport.SegControl:
		out.Seg = &Segment{SeqZero: fmt.Sprintf("%x", m.SeqZero), SegO: int(m.SegO), SegN: int(m.SegN)}
		r, err := d.addSegment(&hdr, iv, true, m.SeqZero, m.SegO, m.SegN, m.Segment)
		if err != nil || r == nil {
			return out, nil, err
		}
		return out, d.control(&hdr, m.Opcode, r.join()), nil
	}
	return out, nil, nil
}

func (d *Dissector) addSegment(h *network.Header, iv uint32, ctl bool, seqZero uint16, segO, segN uint8, seg []byte) (*reassembly, error) {
	sa, err := transport.RecoverSeqAuth(iv, h.SEQ, seqZero)
	if err != nil {
		return nil, fmt.Errorf("dissect: %w", err)
	}
	k := flowKey{src: h.SRC, dst: h.DST, ctl: ctl, seqZero: seqZero}
	r := d.flows[k]
	if r == nil || r.seqAuth != sa {
		r = &reassembly{ctl: ctl, seqAuth: sa, segN: segN, segs: map[uint8][]byte{}, ivIndex: iv}
		d.flows[k] = r
	}
	if r.complete || segN != r.segN {
		return nil, nil
	}
	if _, dup := r.segs[segO]; dup {
		return nil, nil
	}
	r.segs[segO] = append([]byte(nil), seg...)
	if len(r.segs) != int(r.segN)+1 {
		return nil, nil
	}
	r.complete = true
	return r, nil
}

func (r *reassembly) join() []byte {
	idx := make([]int, 0, len(r.segs))
	for i := range r.segs {
		idx = append(idx, int(i))
	}
	sort.Ints(idx)
	var b []byte
	for _, i := range idx {
		b = append(b, r.segs[uint8(i)]...)
	}
	return b
}

func (d *Dissector) control(h *network.Header, op uint8, params []byte) *Message {
	return &Message{
		Control: &Control{Opcode: fmt.Sprintf("%02x", op), Parameters: hex.EncodeToString(params)},
		SRC:     addr(h.SRC), DST: addr(h.DST),
	}
}

// openAccess tries every fitting key (and Label UUID) on an upper
// transport access PDU.
func (d *Dissector) openAccess(h *network.Header, iv, seq uint32, akf bool, aid uint8, szmic bool, upper []byte) (*Message, error) {
	var labels []*[16]byte
	if h.DST.IsVirtual() {
		for i := range d.keys.LabelUUIDs {
			if crypto.VirtualAddress(d.keys.LabelUUIDs[i]) == uint16(h.DST) {
				labels = append(labels, &d.keys.LabelUUIDs[i])
			}
		}
		if len(labels) == 0 {
			return nil, fmt.Errorf("%w: no given Label UUID hashes to %s", ErrNoAppKey, h.DST)
		}
	} else {
		labels = []*[16]byte{nil}
	}
	try := func(key crypto.Key, dev bool) *Message {
		for _, l := range labels {
			p := &transport.AccessCrypto{DevKey: dev, SZMIC: szmic, Seq: seq, IVIndex: iv, Src: h.SRC, Dst: h.DST, Label: l}
			pt, err := transport.DecryptAccess(nil, crypto.NewCCM(key), p, upper)
			if err != nil {
				continue
			}
			m := &Message{AccessMessage: hex.EncodeToString(pt), SRC: addr(h.SRC), DST: addr(h.DST), Key: "app"}
			if dev {
				m.Key = "dev"
			}
			if l != nil {
				m.Label = hex.EncodeToString(l[:])
			}
			if op, params, err := access.DecodeOpcode(pt); err == nil {
				m.Opcode = hex.EncodeToString(pt[:op.Size()])
				ps := hex.EncodeToString(params)
				m.Parameters = &ps
			}
			return m
		}
		return nil
	}
	if akf {
		for _, k := range d.keys.AppKeys {
			if crypto.K4(k) != aid {
				continue
			}
			if m := try(k, false); m != nil {
				return m, nil
			}
		}
	} else {
		for _, k := range d.keys.DevKeys {
			if m := try(k, true); m != nil {
				return m, nil
			}
		}
	}
	return nil, ErrNoAppKey
}

func addr(a mesh.Address) string { return fmt.Sprintf("%04x", uint16(a)) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
