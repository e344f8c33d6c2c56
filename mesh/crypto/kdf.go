package crypto

// S1 is the salt generation function s1(M) = AES-CMAC_ZERO(M).
func S1(m []byte) Key { return AESCMAC(Key{}, m) }

// K1 is the derivation function k1(N, SALT, P): T = AES-CMAC_SALT(N), result
// AES-CMAC_T(P).
func K1(n []byte, salt Key, p []byte) Key {
	t := AESCMAC(salt, n)
	return AESCMAC(t, p)
}

var (
	saltK2 = S1([]byte("smk2"))
	saltK3 = S1([]byte("smk3"))
	saltK4 = S1([]byte("smk4"))
	saltID = S1([]byte("nkik"))
	saltBK = S1([]byte("nkbk"))
	saltPK = S1([]byte("nkpk"))
	saltVA = S1([]byte("vtad"))
)

// K2 is the network key material derivation k2(N, P): it returns the 7-bit
// NID, the EncryptionKey and the PrivacyKey. P is 0x00 for managed-flooding
// credentials, 0x01‖LPN‖Friend‖LPNCounter‖FriendCounter for friendship
// credentials, 0x02 for directed credentials.
func K2(n Key, p []byte) (nid uint8, encryptionKey, privacyKey Key) {
	t := AESCMAC(saltK2, n[:])
	c := NewCMAC(t)
	t1 := c.Sum(p, []byte{0x01})
	t2 := c.Sum(t1[:], p, []byte{0x02})
	t3 := c.Sum(t2[:], p, []byte{0x03})
	return t1[15] & 0x7f, t2, t3
}

// K3 derives the 64-bit Network ID: the low 8 octets of
// AES-CMAC_T("id64"‖0x01) with T = AES-CMAC_s1("smk3")(N).
func K3(n Key) (id [8]byte) {
	t := AESCMAC(saltK3, n[:])
	full := AESCMAC(t, []byte("id64\x01"))
	copy(id[:], full[8:])
	return id
}

// K4 derives the 6-bit AID of an AppKey.
func K4(n Key) uint8 {
	t := AESCMAC(saltK4, n[:])
	full := AESCMAC(t, []byte("id6\x01"))
	return full[15] & 0x3f
}

// IdentityKey derives the IdentityKey of a NetKey.
func IdentityKey(netKey Key) Key { return K1(netKey[:], saltID, []byte("id128\x01")) }

// BeaconKey derives the BeaconKey of a NetKey (secure network beacons).
func BeaconKey(netKey Key) Key { return K1(netKey[:], saltBK, []byte("id128\x01")) }

// PrivateBeaconKey derives the PrivateBeaconKey of a NetKey (Mesh 1.1).
func PrivateBeaconKey(netKey Key) Key { return K1(netKey[:], saltPK, []byte("id128\x01")) }

// VirtualAddress returns the 16-bit virtual address of a Label UUID:
// 0b10 followed by AES-CMAC_s1("vtad")(Label UUID) mod 2^14.
func VirtualAddress(label [16]byte) uint16 {
	h := AESCMAC(saltVA, label[:])
	return 0x8000 | (uint16(h[14])<<8|uint16(h[15]))&0x3fff
}

// FriendshipP builds the k2 P parameter for friendship credentials.
func FriendshipP(lpn, friend, lpnCounter, friendCounter uint16) []byte {
	return []byte{0x01,
		byte(lpn >> 8), byte(lpn), byte(friend >> 8), byte(friend),
		byte(lpnCounter >> 8), byte(lpnCounter), byte(friendCounter >> 8), byte(friendCounter)}
}
