package transport

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestSARTransmitter_Defaults(t *testing.T) {
	t.Parallel()
	s := DefaultSARTransmitter
	checks := []struct {
		name      string
		got, want time.Duration
	}{
		{"segment interval", s.SegmentInterval(), 60 * time.Millisecond},
		{"unicast TTL 0", s.UnicastRetransmissionsInterval(0), 200 * time.Millisecond},
		{"unicast TTL 1", s.UnicastRetransmissionsInterval(1), 200 * time.Millisecond},
		{"unicast TTL 5", s.UnicastRetransmissionsInterval(5), 400 * time.Millisecond},
		{"unicast TTL 127", s.UnicastRetransmissionsInterval(127), 200*time.Millisecond + 126*50*time.Millisecond},
		{"multicast", s.MulticastRetransmissionsInterval(), 250 * time.Millisecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSARReceiver_Defaults(t *testing.T) {
	t.Parallel()
	r := DefaultSARReceiver
	checks := []struct {
		name      string
		got, want time.Duration
	}{
		{"reception interval", r.SegmentReceptionInterval(), 60 * time.Millisecond},
		{"discard", r.DiscardTimeoutDuration(), 10 * time.Second},
		{"ack delay SegN 0", r.AckDelay(0), 30 * time.Millisecond},
		{"ack delay SegN 1", r.AckDelay(1), 90 * time.Millisecond},
		{"ack delay SegN 2", r.AckDelay(2), 150 * time.Millisecond},
		{"ack delay SegN 31", r.AckDelay(31), 150 * time.Millisecond},
		{"rate limit", r.AckRateLimit(), 150 * time.Millisecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := r.AckTransmissions(3); n != 1 {
		t.Errorf("AckTransmissions(3) = %d", n)
	}
	r.AcknowledgmentRetransmissionsCount = 2
	if n := r.AckTransmissions(4); n != 3 {
		t.Errorf("AckTransmissions(4) with count 2 = %d, want 3", n)
	}
	if n := r.AckTransmissions(3); n != 1 {
		t.Errorf("AckTransmissions(3) at the threshold = %d, want 1", n)
	}
}

func TestSARTransmitter_Codec(t *testing.T) {
	t.Parallel()
	// Defaults: 5|2<<4, 2|7<<4, 1|2<<4, 9.
	want := mustHex(t, "25 72 21 09")
	got, err := DefaultSARTransmitter.AppendBinary(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("defaults packed = %x, %v; want %x", got, err, want)
	}
	var s SARTransmitter
	if err := s.Unmarshal(want); err != nil || s != DefaultSARTransmitter {
		t.Fatalf("Unmarshal = %+v, %v", s, err)
	}
	all := SARTransmitter{1, 2, 3, 4, 5, 6, 7}
	b, _ := all.AppendBinary(nil)
	if !bytes.Equal(b, mustHex(t, "21 43 65 07")) {
		t.Fatalf("packed %x", b)
	}
	bad := []struct {
		hex string
		err error
	}{{"257221", ErrLength}, {"2572210900", ErrLength}, {"25722119", ErrField}}
	for _, c := range bad {
		if err := s.Unmarshal(mustHex(t, c.hex)); !errors.Is(err, c.err) {
			t.Errorf("Unmarshal(%s) = %v, want %v", c.hex, err, c.err)
		}
	}
	if _, err := (SARTransmitter{SegmentIntervalStep: 16}).AppendBinary(nil); !errors.Is(err, ErrField) {
		t.Errorf("5-bit field packed: %v", err)
	}
}

func TestSARReceiver_Codec(t *testing.T) {
	t.Parallel()
	// Defaults: 3|1<<5, 1|5<<4, 0.
	want := mustHex(t, "23 51 00")
	got, err := DefaultSARReceiver.AppendBinary(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("defaults packed = %x, %v; want %x", got, err, want)
	}
	var r SARReceiver
	if err := r.Unmarshal(want); err != nil || r != DefaultSARReceiver {
		t.Fatalf("Unmarshal = %+v, %v", r, err)
	}
	full := SARReceiver{0x1F, 7, 3, 0xF, 0xF}
	b, _ := full.AppendBinary(nil)
	if !bytes.Equal(b, mustHex(t, "ff ff 03")) {
		t.Fatalf("packed %x", b)
	}
	if err := r.Unmarshal(b); err != nil || r != full {
		t.Fatalf("round trip %+v, %v", r, err)
	}
	bad := []struct {
		hex string
		err error
	}{{"2351", ErrLength}, {"23510000", ErrLength}, {"235104", ErrField}}
	for _, c := range bad {
		if err := r.Unmarshal(mustHex(t, c.hex)); !errors.Is(err, c.err) {
			t.Errorf("Unmarshal(%s) = %v, want %v", c.hex, err, c.err)
		}
	}
	for _, r := range []SARReceiver{{SegmentsThreshold: 32}, {AcknowledgmentDelayIncrement: 8}, {AcknowledgmentRetransmissionsCount: 4}} {
		if _, err := r.AppendBinary(nil); !errors.Is(err, ErrField) {
			t.Errorf("%+v packed: %v", r, err)
		}
	}
}
