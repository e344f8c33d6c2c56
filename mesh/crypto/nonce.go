package crypto

// Nonce types (Mesh Protocol v1.1 §3.9.5).
const (
	NonceNetwork     = 0x00
	NonceApplication = 0x01
	NonceDevice      = 0x02
	NonceProxy       = 0x03
	NonceProxySolic  = 0x04
)

// NetworkNonce builds 0x00 ‖ CTL|TTL ‖ SEQ ‖ SRC ‖ 0x0000 ‖ IV Index.
func NetworkNonce(ctlTTL uint8, seq uint32, src uint16, ivIndex uint32) (n [NonceSize]byte) {
	n[0] = NonceNetwork
	n[1] = ctlTTL
	putSeqSrc(&n, seq, src)
	putIV(&n, ivIndex)
	return n
}

// ApplicationNonce builds 0x01 ‖ ASZMIC<<7 ‖ SEQ ‖ SRC ‖ DST ‖ IV Index.
func ApplicationNonce(aszmic bool, seq uint32, src, dst uint16, ivIndex uint32) [NonceSize]byte {
	return accessNonce(NonceApplication, aszmic, seq, src, dst, ivIndex)
}

// DeviceNonce builds 0x02 ‖ ASZMIC<<7 ‖ SEQ ‖ SRC ‖ DST ‖ IV Index.
func DeviceNonce(aszmic bool, seq uint32, src, dst uint16, ivIndex uint32) [NonceSize]byte {
	return accessNonce(NonceDevice, aszmic, seq, src, dst, ivIndex)
}

// ProxyNonce builds 0x03 ‖ 0x00 ‖ SEQ ‖ SRC ‖ 0x0000 ‖ IV Index.
func ProxyNonce(seq uint32, src uint16, ivIndex uint32) (n [NonceSize]byte) {
	n[0] = NonceProxy
	putSeqSrc(&n, seq, src)
	putIV(&n, ivIndex)
	return n
}

func accessNonce(typ byte, aszmic bool, seq uint32, src, dst uint16, ivIndex uint32) (n [NonceSize]byte) {
	n[0] = typ
	if aszmic {
		n[1] = 0x80
	}
	putSeqSrc(&n, seq, src)
	n[7], n[8] = byte(dst>>8), byte(dst)
	putIV(&n, ivIndex)
	return n
}

func putSeqSrc(n *[NonceSize]byte, seq uint32, src uint16) {
	n[2], n[3], n[4] = byte(seq>>16), byte(seq>>8), byte(seq)
	n[5], n[6] = byte(src>>8), byte(src)
}

func putIV(n *[NonceSize]byte, iv uint32) {
	n[9], n[10], n[11], n[12] = byte(iv>>24), byte(iv>>16), byte(iv>>8), byte(iv)
}
