package transport

import (
	"fmt"
	"time"
)

// SARTransmitter is the SAR Transmitter state (Mesh Protocol v1.1 §4.2.48):
// seven 4-bit fields in the units the SAR Configuration messages carry. The
// zero value is not the default; start from DefaultSARTransmitter.
type SARTransmitter struct {
	// SegmentIntervalStep: segments are (n+1)·10 ms apart.
	SegmentIntervalStep uint8
	// UnicastRetransmissionsCount: retransmissions of unacknowledged
	// segments to a unicast destination (n+1 transmissions in all).
	UnicastRetransmissionsCount uint8
	// UnicastRetransmissionsWithoutProgressCount: retransmissions allowed
	// without an acknowledgment that adds a segment.
	UnicastRetransmissionsWithoutProgressCount uint8
	// UnicastRetransmissionsIntervalStep: base retransmission interval
	// (n+1)·25 ms.
	UnicastRetransmissionsIntervalStep uint8
	// UnicastRetransmissionsIntervalIncrement: added per hop, (n+1)·25 ms
	// times (TTL−1).
	UnicastRetransmissionsIntervalIncrement uint8
	// MulticastRetransmissionsCount: repeats of all segments to a group or
	// virtual destination.
	MulticastRetransmissionsCount uint8
	// MulticastRetransmissionsIntervalStep: (n+1)·25 ms between repeats.
	MulticastRetransmissionsIntervalStep uint8
}

// DefaultSARTransmitter holds the spec defaults (see docs/transport.md for
// their sources): 60 ms segment interval, 2 unicast retransmissions, 2
// without progress, 200 ms + 50 ms per hop, 2 multicast retransmissions
// 250 ms apart.
var DefaultSARTransmitter = SARTransmitter{
	SegmentIntervalStep:                        0x05,
	UnicastRetransmissionsCount:                0x02,
	UnicastRetransmissionsWithoutProgressCount: 0x02,
	UnicastRetransmissionsIntervalStep:         0x07,
	UnicastRetransmissionsIntervalIncrement:    0x01,
	MulticastRetransmissionsCount:              0x02,
	MulticastRetransmissionsIntervalStep:       0x09,
}

// SARTransmitterLen is the size of the packed SAR Transmitter state.
const SARTransmitterLen = 4

// SegmentInterval returns the gap between two segments.
func (s SARTransmitter) SegmentInterval() time.Duration {
	return time.Duration(s.SegmentIntervalStep&0xF+1) * 10 * time.Millisecond
}

// UnicastRetransmissionsInterval returns the SAR Unicast Retransmissions
// timer for a message sent with ttl: step + increment·(TTL−1) when TTL > 0,
// the step alone when TTL is 0.
func (s SARTransmitter) UnicastRetransmissionsInterval(ttl uint8) time.Duration {
	d := time.Duration(s.UnicastRetransmissionsIntervalStep&0xF+1) * 25 * time.Millisecond
	if ttl > 0 {
		inc := time.Duration(s.UnicastRetransmissionsIntervalIncrement&0xF+1) * 25 * time.Millisecond
		d += inc * time.Duration(ttl-1)
	}
	return d
}

// MulticastRetransmissionsInterval returns the SAR Multicast
// Retransmissions timer.
func (s SARTransmitter) MulticastRetransmissionsInterval() time.Duration {
	return time.Duration(s.MulticastRetransmissionsIntervalStep&0xF+1) * 25 * time.Millisecond
}

// AppendBinary packs the state as SAR Transmitter Set/Status carry it, low
// nibble first in each octet:
//
//	octet 0: Segment Interval Step | Unicast Retransmissions Count << 4
//	octet 1: Without Progress Count | Unicast Retransmissions Interval Step << 4
//	octet 2: Unicast Retransmissions Interval Increment | Multicast Retransmissions Count << 4
//	octet 3: Multicast Retransmissions Interval Step (high nibble RFU = 0)
func (s SARTransmitter) AppendBinary(b []byte) ([]byte, error) {
	for _, v := range [...]uint8{s.SegmentIntervalStep, s.UnicastRetransmissionsCount,
		s.UnicastRetransmissionsWithoutProgressCount, s.UnicastRetransmissionsIntervalStep,
		s.UnicastRetransmissionsIntervalIncrement, s.MulticastRetransmissionsCount,
		s.MulticastRetransmissionsIntervalStep} {
		if v > 0xF {
			return b, fmt.Errorf("%w: SAR Transmitter field 0x%x exceeds 4 bits", ErrField, v)
		}
	}
	return append(b,
		s.SegmentIntervalStep|s.UnicastRetransmissionsCount<<4,
		s.UnicastRetransmissionsWithoutProgressCount|s.UnicastRetransmissionsIntervalStep<<4,
		s.UnicastRetransmissionsIntervalIncrement|s.MulticastRetransmissionsCount<<4,
		s.MulticastRetransmissionsIntervalStep), nil
}

// Unmarshal unpacks the 4-octet SAR Transmitter state.
func (s *SARTransmitter) Unmarshal(p []byte) error {
	if len(p) != SARTransmitterLen {
		return fmt.Errorf("%w: SAR Transmitter state has %d octets, want 4", ErrLength, len(p))
	}
	if p[3]&0xF0 != 0 {
		return fmt.Errorf("%w: SAR Transmitter RFU bits set", ErrField)
	}
	*s = SARTransmitter{
		SegmentIntervalStep:                        p[0] & 0xF,
		UnicastRetransmissionsCount:                p[0] >> 4,
		UnicastRetransmissionsWithoutProgressCount: p[1] & 0xF,
		UnicastRetransmissionsIntervalStep:         p[1] >> 4,
		UnicastRetransmissionsIntervalIncrement:    p[2] & 0xF,
		MulticastRetransmissionsCount:              p[2] >> 4,
		MulticastRetransmissionsIntervalStep:       p[3] & 0xF,
	}
	return nil
}

// SARReceiver is the SAR Receiver state (Mesh Protocol v1.1 §4.2.49). The
// zero value is not the default; start from DefaultSARReceiver.
type SARReceiver struct {
	// SegmentsThreshold (5 bits): acknowledgments are retransmitted only
	// for messages whose SegN exceeds it.
	SegmentsThreshold uint8
	// AcknowledgmentDelayIncrement (3 bits): n+1.5 segment reception
	// intervals.
	AcknowledgmentDelayIncrement uint8
	// AcknowledgmentRetransmissionsCount (2 bits): n+1 transmissions of an
	// acknowledgment when SegN exceeds SegmentsThreshold.
	AcknowledgmentRetransmissionsCount uint8
	// DiscardTimeout (4 bits): (n+1)·5 s.
	DiscardTimeout uint8
	// ReceiverSegmentIntervalStep (4 bits): segment reception interval
	// (n+1)·10 ms.
	ReceiverSegmentIntervalStep uint8
}

// DefaultSARReceiver holds the spec defaults: threshold 3, delay increment
// 2.5, one acknowledgment transmission, 10 s discard timeout, 60 ms segment
// reception interval.
var DefaultSARReceiver = SARReceiver{
	SegmentsThreshold:                  0x03,
	AcknowledgmentDelayIncrement:       0x01,
	AcknowledgmentRetransmissionsCount: 0x00,
	DiscardTimeout:                     0x01,
	ReceiverSegmentIntervalStep:        0x05,
}

// SARReceiverLen is the size of the packed SAR Receiver state.
const SARReceiverLen = 3

// SegmentReceptionInterval returns (step+1)·10 ms.
func (r SARReceiver) SegmentReceptionInterval() time.Duration {
	return time.Duration(r.ReceiverSegmentIntervalStep&0xF+1) * 10 * time.Millisecond
}

// DiscardTimeoutDuration returns (n+1)·5 s.
func (r SARReceiver) DiscardTimeoutDuration() time.Duration {
	return time.Duration(r.DiscardTimeout&0xF+1) * 5 * time.Second
}

// AckDelay returns the initial SAR Acknowledgment timer of a message with
// segN: min(SegN + 0.5, increment + 1.5) × segment reception interval,
// computed in halves so no rounding creeps in.
func (r SARReceiver) AckDelay(segN uint8) time.Duration {
	halves := min(2*int(segN)+1, 2*int(r.AcknowledgmentDelayIncrement&0x7)+3)
	return time.Duration(halves) * r.SegmentReceptionInterval() / 2
}

// AckRateLimit returns the minimum gap between two acknowledgments of an
// already completed message: increment + 1.5 segment reception intervals.
func (r SARReceiver) AckRateLimit() time.Duration {
	return time.Duration(2*int(r.AcknowledgmentDelayIncrement&0x7)+3) * r.SegmentReceptionInterval() / 2
}

// AckTransmissions returns how many times an acknowledgment of a message
// with segN is sent.
func (r SARReceiver) AckTransmissions(segN uint8) int {
	if segN > r.SegmentsThreshold {
		return int(r.AcknowledgmentRetransmissionsCount&0x3) + 1
	}
	return 1
}

// AppendBinary packs the state as SAR Receiver Set/Status carry it:
//
//	octet 0: Segments Threshold (5) | Acknowledgment Delay Increment (3) << 5
//	octet 1: Discard Timeout | Receiver Segment Interval Step << 4
//	octet 2: Acknowledgment Retransmissions Count (2), high 6 bits RFU = 0
func (r SARReceiver) AppendBinary(b []byte) ([]byte, error) {
	if r.SegmentsThreshold > 0x1F || r.AcknowledgmentDelayIncrement > 0x7 ||
		r.AcknowledgmentRetransmissionsCount > 0x3 || r.DiscardTimeout > 0xF ||
		r.ReceiverSegmentIntervalStep > 0xF {
		return b, fmt.Errorf("%w: SAR Receiver field out of range: %+v", ErrField, r)
	}
	return append(b,
		r.SegmentsThreshold|r.AcknowledgmentDelayIncrement<<5,
		r.DiscardTimeout|r.ReceiverSegmentIntervalStep<<4,
		r.AcknowledgmentRetransmissionsCount), nil
}

// Unmarshal unpacks the 3-octet SAR Receiver state.
func (r *SARReceiver) Unmarshal(p []byte) error {
	if len(p) != SARReceiverLen {
		return fmt.Errorf("%w: SAR Receiver state has %d octets, want 3", ErrLength, len(p))
	}
	if p[2]&0xFC != 0 {
		return fmt.Errorf("%w: SAR Receiver RFU bits set", ErrField)
	}
	*r = SARReceiver{
		SegmentsThreshold:                  p[0] & 0x1F,
		AcknowledgmentDelayIncrement:       p[0] >> 5,
		DiscardTimeout:                     p[1] & 0xF,
		ReceiverSegmentIntervalStep:        p[1] >> 4,
		AcknowledgmentRetransmissionsCount: p[2] & 0x3,
	}
	return nil
}
