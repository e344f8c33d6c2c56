package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// Key is a 128-bit mesh key (NetKey, AppKey, DevKey, derived keys).
type Key = [16]byte

// CMAC computes AES-CMAC (RFC 4493) under one key.
type CMAC struct {
	b      cipher.Block
	k1, k2 [16]byte
	x, y   [16]byte // scratch
}

// NewCMAC returns a CMAC keyed with key.
func NewCMAC(key Key) *CMAC {
	b, err := aes.NewCipher(key[:])
	if err != nil { // impossible: the key is 16 octets
		panic(err)
	}
	c := &CMAC{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	c.k1 = dbl(l)
	c.k2 = dbl(c.k1)
	return c
}

// dbl doubles in GF(2^128) as RFC 4493 §2.3 does to make subkeys.
func dbl(in [16]byte) (out [16]byte) {
	var carry byte
	for i := 15; i >= 0; i-- {
		out[i] = in[i]<<1 | carry
		carry = in[i] >> 7
	}
	if in[0]&0x80 != 0 {
		out[15] ^= 0x87
	}
	return out
}

// Sum returns the CMAC of the concatenation of parts.
func (c *CMAC) Sum(parts ...[]byte) (mac [16]byte) {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	c.x = [16]byte{}
	n := 0 // octets in c.y
	for _, p := range parts {
		for len(p) > 0 {
			if n == 16 { // a full block that is not the last: process it
				subtle.XORBytes(c.x[:], c.x[:], c.y[:])
				c.b.Encrypt(c.x[:], c.x[:])
				n = 0
			}
			k := copy(c.y[n:], p)
			n += k
			p = p[k:]
		}
	}
	if total > 0 && n == 16 {
		subtle.XORBytes(c.y[:], c.y[:], c.k1[:])
	} else {
		c.y[n] = 0x80
		for i := n + 1; i < 16; i++ {
			c.y[i] = 0
		}
		subtle.XORBytes(c.y[:], c.y[:], c.k2[:])
	}
	subtle.XORBytes(c.x[:], c.x[:], c.y[:])
	c.b.Encrypt(mac[:], c.x[:])
	return mac
}

// AESCMAC returns AES-CMAC_key(parts...). It expands the key on every call;
// keep a CMAC for repeated use.
func AESCMAC(key Key, parts ...[]byte) [16]byte { return NewCMAC(key).Sum(parts...) }

// AES returns e(key, block), the single-block AES-128 encryption.
func AES(key Key, block [16]byte) (out [16]byte) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	b.Encrypt(out[:], block[:])
	return out
}
