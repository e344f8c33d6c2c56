package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
)

// NonceSize is the size of every mesh CCM nonce.
const NonceSize = 13

// ErrAuth is returned when a CCM MIC does not verify.
var ErrAuth = errors.New("crypto: message authentication failed")

// ErrMICSize is returned for a MIC size other than 4 or 8 octets.
var ErrMICSize = errors.New("crypto: MIC size must be 4 or 8 octets")

// CCM is AES-CCM (RFC 3610) with a 13-octet nonce (so a 2-octet length
// field), as the mesh uses it, under one key.
type CCM struct {
	b        cipher.Block
	x, a, s  [16]byte // scratch: CBC-MAC state, counter block, keystream
	blk      [16]byte
	lastMIC  [16]byte
	maxInput int
}

// NewCCM returns a CCM keyed with key.
func NewCCM(key Key) *CCM {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	return &CCM{b: b, maxInput: 0xFFFF}
}

// tag computes the CBC-MAC T over (nonce, aad, msg) into c.x.
func (c *CCM) tag(nonce *[NonceSize]byte, msg, aad []byte, micLen int) {
	flags := byte((micLen-2)/2) << 3
	flags |= 1 // L-1 with L = 2
	if len(aad) > 0 {
		flags |= 0x40
	}
	c.x[0] = flags
	copy(c.x[1:14], nonce[:])
	c.x[14] = byte(len(msg) >> 8)
	c.x[15] = byte(len(msg))
	c.b.Encrypt(c.x[:], c.x[:])
	if len(aad) > 0 {
		// First block: 2-octet length then aad, padded with zeros.
		c.blk = [16]byte{}
		c.blk[0], c.blk[1] = byte(len(aad)>>8), byte(len(aad))
		n := copy(c.blk[2:], aad)
		c.mix()
		rest := aad[n:]
		for len(rest) > 0 {
			c.blk = [16]byte{}
			k := copy(c.blk[:], rest)
			rest = rest[k:]
			c.mix()
		}
	}
	for len(msg) > 0 {
		c.blk = [16]byte{}
		k := copy(c.blk[:], msg)
		msg = msg[k:]
		c.mix()
	}
}

func (c *CCM) mix() {
	subtle.XORBytes(c.x[:], c.x[:], c.blk[:])
	c.b.Encrypt(c.x[:], c.x[:])
}

// ctr XORs src with the CCM keystream starting at counter 1 into dst, and
// leaves S0 in c.s[:] ... the caller computes S0 separately.
func (c *CCM) ctr(nonce *[NonceSize]byte, dst, src []byte) {
	c.a[0] = 1 // L-1
	copy(c.a[1:14], nonce[:])
	for i := 0; len(src) > 0; i++ {
		ctr := i + 1
		c.a[14], c.a[15] = byte(ctr>>8), byte(ctr)
		c.b.Encrypt(c.s[:], c.a[:])
		n := subtle.XORBytes(dst, src, c.s[:])
		dst, src = dst[n:], src[n:]
	}
}

// s0 puts E(A0) in c.s.
func (c *CCM) s0(nonce *[NonceSize]byte) {
	c.a[0] = 1
	copy(c.a[1:14], nonce[:])
	c.a[14], c.a[15] = 0, 0
	c.b.Encrypt(c.s[:], c.a[:])
}

func checkMIC(micLen int) error {
	if micLen != 4 && micLen != 8 {
		return ErrMICSize
	}
	return nil
}

// Seal encrypts and authenticates plaintext with additional data aad, and
// appends ciphertext‖MIC to dst. dst may be plaintext[:0] only if it does
// not overlap otherwise.
func (c *CCM) Seal(dst []byte, nonce *[NonceSize]byte, plaintext, aad []byte, micLen int) ([]byte, error) {
	if err := checkMIC(micLen); err != nil {
		return dst, err
	}
	if len(plaintext) > c.maxInput {
		return dst, fmt.Errorf("crypto: CCM plaintext of %d octets is too long", len(plaintext))
	}
	c.tag(nonce, plaintext, aad, micLen)
	ret, out := sliceForAppend(dst, len(plaintext)+micLen)
	c.ctr(nonce, out[:len(plaintext)], plaintext)
	c.s0(nonce)
	subtle.XORBytes(out[len(plaintext):], c.x[:micLen], c.s[:micLen])
	return ret, nil
}

// Open checks and decrypts ciphertext (which ends with its MIC of micLen
// octets) and appends the plaintext to dst. On failure it returns ErrAuth
// and dst unchanged (the octets past len(dst) may have been written).
func (c *CCM) Open(dst []byte, nonce *[NonceSize]byte, ciphertext, aad []byte, micLen int) ([]byte, error) {
	if err := checkMIC(micLen); err != nil {
		return dst, err
	}
	if len(ciphertext) < micLen {
		return dst, fmt.Errorf("%w: %d octets is shorter than the MIC", ErrAuth, len(ciphertext))
	}
	n := len(ciphertext) - micLen
	mic := ciphertext[n:]
	ret, out := sliceForAppend(dst, n)
	c.ctr(nonce, out, ciphertext[:n])
	c.tag(nonce, out, aad, micLen)
	c.s0(nonce)
	subtle.XORBytes(c.lastMIC[:micLen], c.x[:micLen], c.s[:micLen])
	if subtle.ConstantTimeCompare(c.lastMIC[:micLen], mic) != 1 {
		clear(out)
		return dst, ErrAuth
	}
	return ret, nil
}

// sliceForAppend extends in by n octets, reusing its capacity when it can.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return head, tail
}
