package network

import "testing"

func TestIVState(t *testing.T) {
	tests := []struct {
		s        IVState
		tx       uint32
		rx0, rx1 uint32
		accept1  bool
		str      string
	}{
		{IVState{Index: 0x12345678}, 0x12345678, 0x12345678, 0x12345677, true, "0x12345678 normal"},
		{IVState{Index: 0x12345679, Updating: true}, 0x12345678, 0x12345678, 0x12345679, true, "0x12345679 updating"},
		{IVState{Index: 0x12345679}, 0x12345679, 0x12345678, 0x12345679, true, "0x12345679 normal"},
		{IVState{Index: 0}, 0, 0, 0xffffffff, false, "0x00000000 normal"},
		{IVState{Index: 1, Updating: true}, 0, 0, 1, true, "0x00000001 updating"},
	}
	for _, tc := range tests {
		if got := tc.s.TxIndex(); got != tc.tx {
			t.Errorf("%v: TxIndex %x, want %x", tc.s, got, tc.tx)
		}
		if got := tc.s.RxIndex(0); got != tc.rx0 {
			t.Errorf("%v: RxIndex(0) %x, want %x", tc.s, got, tc.rx0)
		}
		if got := tc.s.RxIndex(1); got != tc.rx1 {
			t.Errorf("%v: RxIndex(1) %x, want %x", tc.s, got, tc.rx1)
		}
		if tc.s.Accepts(1) != tc.accept1 || !tc.s.Accepts(uint8(tc.s.Index&1)) {
			t.Errorf("%v: Accepts wrong", tc.s)
		}
		if tc.s.String() != tc.str {
			t.Errorf("String %q, want %q", tc.s.String(), tc.str)
		}
		// The IV Index used to transmit is always accepted on receive.
		if tc.s.RxIndex(uint8(tc.s.TxIndex()&1)) != tc.s.TxIndex() {
			t.Errorf("%v: own transmit IV Index not accepted", tc.s)
		}
	}
}
