package mesh

import (
	"fmt"
	"time"
)

// Transmit is the Network Transmit or Relay Retransmit state (Mesh Protocol
// v1.1 §4.2.19, §4.2.20): Count is the number of transmissions minus one
// (3 bits), IntervalSteps gives (IntervalSteps+1)·10 ms between them (5 bits).
type Transmit struct {
	Count         uint8
	IntervalSteps uint8
}

// DefaultNetworkTransmit is a common Network Transmit state: 3 transmissions,
// 20 ms apart.
var DefaultNetworkTransmit = Transmit{Count: 2, IntervalSteps: 1}

// Transmissions returns the total number of transmissions, Count+1.
func (t Transmit) Transmissions() int { return int(t.Count&0x07) + 1 }

// Interval returns the time between transmissions.
func (t Transmit) Interval() time.Duration {
	return time.Duration(int(t.IntervalSteps&0x1f)+1) * 10 * time.Millisecond
}

// Byte packs the state into its wire octet: Count in bits 0–2, steps in 3–7.
func (t Transmit) Byte() byte { return t.Count&0x07 | t.IntervalSteps<<3 }

// TransmitFromByte unpacks a Network Transmit / Relay Retransmit octet.
func TransmitFromByte(b byte) Transmit { return Transmit{Count: b & 0x07, IntervalSteps: b >> 3} }

// String prints "3×20ms".
func (t Transmit) String() string {
	return fmt.Sprintf("%d×%s", t.Transmissions(), t.Interval())
}
