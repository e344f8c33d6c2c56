package sim

import (
	"errors"

	"github.com/meshdfu/meshdfu/sim/pcap"
)

// PcapCapture returns a MediumConfig.Capture function that writes every
// advertising event to w, on advertising channel 37, with the sender's
// pcap.AdvAddress. Events no node received are written with
// pcap.UnheardSignal (filter btle_rf.signal_dbm == -127), or skipped when
// heardOnly is set. Payloads too long for a legacy advertising PDU are
// skipped. The first write error is kept in *err (if err is not
// nil) and later events are skipped.
func PcapCapture(w *pcap.Writer, heardOnly bool, err *error) func(Capture) {
	var failed error
	return func(c Capture) {
		if failed != nil || (heardOnly && c.Delivered == 0) {
			return
		}
		failed = w.WritePacket(pcap.Packet{
			Time: c.Start, Channel: 37, AdvA: pcap.AdvAddress(int(c.Node)),
			Kind: c.Kind, Payload: c.Payload, Unheard: c.Delivered == 0,
		})
		if errors.Is(failed, pcap.ErrTooLong) {
			failed = nil // not an advertising PDU; skip it, keep capturing
			return
		}
		if failed != nil && err != nil {
			*err = failed
		}
	}
}
