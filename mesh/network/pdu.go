package network

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Network PDU sizes (Mesh Protocol v1.1 §3.4.4).
const (
	// HeaderSize is the cleartext header: IVI‖NID, CTL‖TTL, SEQ, SRC, DST.
	HeaderSize = 9
	// MaxPDUSize is the largest network PDU: 9 + 16 + 4 = 9 + 12 + 8.
	MaxPDUSize = 29
	// MinPDUSize is the smallest network PDU: CTL=0 with a 1-octet
	// transport PDU and a 4-octet NetMIC.
	MinPDUSize = HeaderSize + 1 + 4
	// MaxAccessTransportSize is the largest lower transport PDU when CTL=0.
	MaxAccessTransportSize = 16
	// MaxControlTransportSize is the largest lower transport PDU when CTL=1.
	MaxControlTransportSize = 12
	// MaxTTL is the largest TTL value (7 bits).
	MaxTTL = 127
	// MaxSEQ is the largest sequence number (24 bits).
	MaxSEQ = 1<<24 - 1
)

// obfuscatedOffset/obfuscatedEnd delimit CTL‖TTL‖SEQ‖SRC in a PDU; the
// privacy random is the 7 octets after them.
const (
	obfuscatedOffset = 1
	obfuscatedEnd    = 7
	privacyRandomLen = 7
)

// MICSize returns the NetMIC size: 8 octets for a control message (CTL=1),
// 4 for an access message.
func MICSize(ctl bool) int {
	if ctl {
		return 8
	}
	return 4
}

// MaxTransportSize returns the largest lower transport PDU for the CTL.
func MaxTransportSize(ctl bool) int {
	if ctl {
		return MaxControlTransportSize
	}
	return MaxAccessTransportSize
}

// Header is the cleartext network PDU header (Mesh Protocol v1.1 §3.4.4),
// big-endian on the wire:
//
//	IVI(1) NID(7) | CTL(1) TTL(7) | SEQ(24) | SRC(16) | DST(16) | TransportPDU | NetMIC(32/64)
//
// CTL, TTL, SEQ and SRC travel obfuscated; DST and the transport PDU are
// encrypted.
type Header struct {
	IVI uint8 // least significant bit of the IV Index (0 or 1)
	NID uint8 // 7-bit network identifier from k2
	CTL bool  // true: transport control message, 64-bit NetMIC
	TTL uint8 // 0–127
	SEQ uint32
	SRC mesh.Address
	DST mesh.Address
}

// ctlTTL packs CTL and TTL into their octet.
func (h *Header) ctlTTL() uint8 {
	if h.CTL {
		return 0x80 | h.TTL&0x7f
	}
	return h.TTL & 0x7f
}

// check validates the fields Seal encodes and the transport PDU length.
func (h *Header) check(transportLen int) error {
	if transportLen < 1 {
		return fmt.Errorf("%w: empty transport PDU", ErrTooShort)
	}
	if max := MaxTransportSize(h.CTL); transportLen > max {
		return fmt.Errorf("%w: transport PDU of %d octets, at most %d with CTL=%t", ErrTooLong, transportLen, max, h.CTL)
	}
	if h.TTL > MaxTTL {
		return fmt.Errorf("%w: TTL %d", ErrTTL, h.TTL)
	}
	if h.SEQ > MaxSEQ {
		return fmt.Errorf("%w: SEQ 0x%x", ErrSEQ, h.SEQ)
	}
	if !h.SRC.IsUnicast() {
		return fmt.Errorf("%w: %v", ErrBadSRC, h.SRC)
	}
	return checkDST(h.DST, h.CTL)
}

// checkDST applies §3.4.2: DST is never unassigned, and a control message
// never goes to a virtual address.
func checkDST(dst mesh.Address, ctl bool) error {
	if dst.IsUnassigned() {
		return fmt.Errorf("%w: unassigned", ErrBadDST)
	}
	if ctl && dst.IsVirtual() {
		return fmt.Errorf("%w: control message to virtual address %v", ErrBadDST, dst)
	}
	return nil
}

// Credentials are one set of network security material derived with k2
// from a NetKey: managed flooding, friendship or directed credentials. They
// keep an expanded AES-CCM for the EncryptionKey, an AES block cipher for
// the PrivacyKey and scratch space, so Seal and Open allocate nothing; they
// are not safe for concurrent use (a node uses them on its executor only).
type Credentials struct {
	nid     uint8
	encKey  crypto.Key
	privKey crypto.Key
	ccm     *crypto.CCM
	privacy cipher.Block

	// scratch
	nonce [crypto.NonceSize]byte
	plain [2 + MaxAccessTransportSize + 8]byte // DST ‖ TransportPDU
	ppt   [16]byte                             // privacy plaintext
	pecb  [16]byte
	hdr   [obfuscatedEnd - obfuscatedOffset]byte
}

// NewCredentials derives credentials from netKey with k2(netKey, p):
// p = {0x00} for managed flooding, crypto.FriendshipP(...) for friendship
// credentials, {0x02} for directed credentials.
func NewCredentials(netKey crypto.Key, p []byte) *Credentials {
	nid, enc, priv := crypto.K2(netKey, p)
	b, err := aes.NewCipher(priv[:])
	if err != nil { // impossible: the key is 16 octets
		panic(err)
	}
	return &Credentials{nid: nid, encKey: enc, privKey: priv, ccm: crypto.NewCCM(enc), privacy: b}
}

// ManagedFloodingP is the k2 P parameter of managed-flooding credentials.
var ManagedFloodingP = []byte{0x00}

// DirectedP is the k2 P parameter of directed-forwarding credentials.
var DirectedP = []byte{0x02}

// NID returns the 7-bit NID.
func (c *Credentials) NID() uint8 { return c.nid }

// EncryptionKey returns the EncryptionKey.
func (c *Credentials) EncryptionKey() crypto.Key { return c.encKey }

// PrivacyKey returns the PrivacyKey.
func (c *Credentials) PrivacyKey() crypto.Key { return c.privKey }

// pecbFor computes PECB = e(PrivacyKey, 0x0000000000 ‖ IV Index ‖
// PrivacyRandom) into c.pecb (§3.9.6.3).
func (c *Credentials) pecbFor(privacyRandom []byte, ivIndex uint32) {
	c.ppt = [16]byte{}
	c.ppt[5], c.ppt[6], c.ppt[7], c.ppt[8] = byte(ivIndex>>24), byte(ivIndex>>16), byte(ivIndex>>8), byte(ivIndex)
	copy(c.ppt[9:], privacyRandom[:privacyRandomLen])
	c.privacy.Encrypt(c.pecb[:], c.ppt[:])
}

// Seal encrypts and obfuscates one network PDU and appends it to dst:
// IVI‖NID, the obfuscated CTL‖TTL‖SEQ‖SRC, EncDST‖EncTransportPDU and the
// NetMIC (4 octets, 8 when h.CTL). IVI comes from ivIndex and NID from c;
// h.IVI and h.NID are ignored. transportPDU is the lower transport PDU,
// 1–16 octets (CTL=0) or 1–12 (CTL=1). Seal allocates nothing when dst
// has MaxPDUSize octets of spare capacity.
func (c *Credentials) Seal(dst []byte, h *Header, transportPDU []byte, ivIndex uint32) ([]byte, error) {
	if err := h.check(len(transportPDU)); err != nil {
		return dst, err
	}
	start := len(dst)
	ctlTTL := h.ctlTTL()
	dst = append(dst, uint8(ivIndex&1)<<7|c.nid, ctlTTL,
		byte(h.SEQ>>16), byte(h.SEQ>>8), byte(h.SEQ), byte(h.SRC>>8), byte(h.SRC))
	c.plain[0], c.plain[1] = byte(h.DST>>8), byte(h.DST)
	n := 2 + copy(c.plain[2:], transportPDU)
	c.nonce = crypto.NetworkNonce(ctlTTL, h.SEQ, uint16(h.SRC), ivIndex)
	dst, err := c.ccm.Seal(dst, &c.nonce, c.plain[:n], nil, MICSize(h.CTL))
	if err != nil { // impossible: MIC size and length are checked
		return dst[:start], fmt.Errorf("network: seal: %w", err)
	}
	pdu := dst[start:]
	c.pecbFor(pdu[obfuscatedEnd:], ivIndex)
	subtle.XORBytes(pdu[obfuscatedOffset:obfuscatedEnd], pdu[obfuscatedOffset:obfuscatedEnd], c.pecb[:])
	return dst, nil
}

// Open de-obfuscates and authenticates one network PDU under c and
// ivIndex (the value RxIndex chose for the PDU's IVI), and appends the
// lower transport PDU to dst. It returns ErrNID or ErrIVI (unwrapped) when
// the first octet does not fit c and ivIndex, ErrAuth (unwrapped) when the
// NetMIC does not verify, and after authentication ErrBadSRC or ErrBadDST
// (wrapped, with the decoded header) for addresses §3.4.2 forbids. On
// failures before authentication the header is zero. Open allocates
// nothing on success and on NID/IVI/authentication failures when dst has
// room for 16 octets.
func (c *Credentials) Open(dst []byte, pdu []byte, ivIndex uint32) (Header, []byte, error) {
	if err := checkPDULen(pdu); err != nil {
		return Header{}, dst, err
	}
	if pdu[0]&0x7f != c.nid {
		return Header{}, dst, ErrNID
	}
	if pdu[0]>>7 != uint8(ivIndex&1) {
		return Header{}, dst, ErrIVI
	}
	c.pecbFor(pdu[obfuscatedEnd:], ivIndex)
	subtle.XORBytes(c.hdr[:], pdu[obfuscatedOffset:obfuscatedEnd], c.pecb[:])
	h := Header{
		IVI: pdu[0] >> 7,
		NID: pdu[0] & 0x7f,
		CTL: c.hdr[0]&0x80 != 0,
		TTL: c.hdr[0] & 0x7f,
		SEQ: uint32(c.hdr[1])<<16 | uint32(c.hdr[2])<<8 | uint32(c.hdr[3]),
		SRC: mesh.Address(c.hdr[4])<<8 | mesh.Address(c.hdr[5]),
	}
	mic := MICSize(h.CTL)
	if len(pdu) < HeaderSize+1+mic {
		// Only CTL=1 can get here, and the CTL bit itself is not yet
		// authenticated: with the wrong keys it is random.
		return Header{}, dst, ErrAuth
	}
	c.nonce = crypto.NetworkNonce(c.hdr[0], h.SEQ, uint16(h.SRC), ivIndex)
	plain, err := c.ccm.Open(c.plain[:0], &c.nonce, pdu[obfuscatedEnd:], nil, mic)
	if err != nil {
		return Header{}, dst, ErrAuth
	}
	h.DST = mesh.Address(plain[0])<<8 | mesh.Address(plain[1])
	if !h.SRC.IsUnicast() {
		return h, dst, fmt.Errorf("%w: %v", ErrBadSRC, h.SRC)
	}
	if err := checkDST(h.DST, h.CTL); err != nil {
		return h, dst, err
	}
	return h, append(dst, plain[2:]...), nil
}

// checkPDULen rejects PDUs no CTL value allows.
func checkPDULen(pdu []byte) error {
	if len(pdu) < MinPDUSize {
		return fmt.Errorf("%w: %d octets, at least %d", ErrTooShort, len(pdu), MinPDUSize)
	}
	if len(pdu) > MaxPDUSize {
		return fmt.Errorf("%w: %d octets, at most %d", ErrTooLong, len(pdu), MaxPDUSize)
	}
	return nil
}

// PeekIVINID returns the IVI and NID of a network PDU, the only cleartext
// fields, after checking its length.
func PeekIVINID(pdu []byte) (ivi, nid uint8, err error) {
	if err := checkPDULen(pdu); err != nil {
		return 0, 0, err
	}
	return pdu[0] >> 7, pdu[0] & 0x7f, nil
}
