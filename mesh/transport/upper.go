package transport

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Upper transport sizes (Mesh Protocol v1.1 §3.6.2).
const (
	// MaxAccessLen is the largest access message (opcode and parameters)
	// with a 32-bit TransMIC: 32 segments of 12 octets less 4.
	MaxAccessLen = MaxSegments*AccessSegmentSize - 4
	// MaxAccessLenLongMIC is the largest with a 64-bit TransMIC.
	MaxAccessLenLongMIC = MaxSegments*AccessSegmentSize - 8
	// MaxUnsegAccessLen is the largest access message that fits an
	// Unsegmented Access PDU.
	MaxUnsegAccessLen = MaxUnsegAccessUpper - 4
	// MaxUpperAccessPDU is the largest Upper Transport Access PDU.
	MaxUpperAccessPDU = MaxSegments * AccessSegmentSize
)

// AccessCrypto holds the parameters that secure one Upper Transport Access
// PDU: the nonce fields, the TransMIC size and the Label UUID.
type AccessCrypto struct {
	// DevKey selects the device nonce (the message is secured with a
	// DevKey); otherwise the application nonce.
	DevKey bool
	// SZMIC selects a 64-bit TransMIC; only segmented messages may set it.
	SZMIC bool
	// Seq is the SEQ of the message (for a segmented message, the SEQ part
	// of SeqAuth) and IVIndex its IV Index.
	Seq     uint32
	IVIndex uint32
	Src     mesh.Address
	Dst     mesh.Address
	// Label is the Label UUID of a virtual Dst, used as CCM additional
	// data; nil otherwise.
	Label *[16]byte
}

// MICLen returns the TransMIC size, 4 or 8 octets.
func (p *AccessCrypto) MICLen() int {
	if p.SZMIC {
		return 8
	}
	return 4
}

func (p *AccessCrypto) nonce() [crypto.NonceSize]byte {
	if p.DevKey {
		return crypto.DeviceNonce(p.SZMIC, p.Seq, uint16(p.Src), uint16(p.Dst), p.IVIndex)
	}
	return crypto.ApplicationNonce(p.SZMIC, p.Seq, uint16(p.Src), uint16(p.Dst), p.IVIndex)
}

func (p *AccessCrypto) aad() []byte {
	if p.Label == nil {
		return nil
	}
	return p.Label[:]
}

func (p *AccessCrypto) check() error {
	if p.DevKey && !p.Dst.IsUnicast() {
		return fmt.Errorf("%w: a DevKey message to %v, want a unicast address", ErrAddress, p.Dst)
	}
	if p.Dst.IsVirtual() != (p.Label != nil) {
		return fmt.Errorf("%w: destination %v with Label UUID present=%t", ErrAddress, p.Dst, p.Label != nil)
	}
	return nil
}

// EncryptAccess secures the access message (opcode and parameters) with c,
// the CCM of the AppKey or DevKey, and appends the Upper Transport Access
// PDU (EncAccessMessage ‖ TransMIC) to dst. It allocates nothing when dst has
// room (Mesh Protocol v1.1 §3.6.4.1).
func EncryptAccess(dst []byte, c *crypto.CCM, p *AccessCrypto, access []byte) ([]byte, error) {
	max := MaxAccessLen
	if p.SZMIC {
		max = MaxAccessLenLongMIC
	}
	if len(access) < 1 || len(access) > max {
		return dst, fmt.Errorf("%w: access message of %d octets, want 1–%d", ErrTooLong, len(access), max)
	}
	if err := p.check(); err != nil {
		return dst, err
	}
	n := p.nonce()
	out, err := c.Seal(dst, &n, access, p.aad(), p.MICLen())
	if err != nil {
		return dst, fmt.Errorf("transport: encrypt access: %w", err)
	}
	return out, nil
}

// DecryptAccess authenticates and decrypts an Upper Transport Access PDU
// with c and appends the access message to dst. It fails with an error
// wrapping crypto.ErrAuth when the TransMIC does not verify; it allocates
// nothing when dst has room.
func DecryptAccess(dst []byte, c *crypto.CCM, p *AccessCrypto, upper []byte) ([]byte, error) {
	if len(upper) < p.MICLen()+1 || len(upper) > MaxUpperAccessPDU {
		return dst, fmt.Errorf("%w: upper transport access PDU of %d octets", ErrLength, len(upper))
	}
	if err := p.check(); err != nil {
		return dst, err
	}
	n := p.nonce()
	out, err := c.Open(dst, &n, upper, p.aad(), p.MICLen())
	if err != nil {
		return dst, fmt.Errorf("transport: decrypt access: %w", err)
	}
	return out, nil
}

// AccessSegments returns how many segments an access message of n octets
// needs with the given TransMIC (4 or 8 octets).
func AccessSegments(n, micLen int) int {
	return (n + micLen + AccessSegmentSize - 1) / AccessSegmentSize
}

// ChooseSZMIC is meshdfu's TransMIC policy for a segmented access message of
// n octets: the 64-bit TransMIC when it fits in the same number of segments
// as the 32-bit one, the 32-bit TransMIC otherwise. The stronger MIC then
// costs no extra air time. Unsegmented messages always use the 32-bit one.
func ChooseSZMIC(n int) bool {
	return n <= MaxAccessLenLongMIC && AccessSegments(n, 8) == AccessSegments(n, 4)
}
