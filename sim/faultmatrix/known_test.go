package faultmatrix

// Reasons of the known failures (docs/reliability.md lists them). Every
// cell ends within its time limit with a final phase and a reason for
// each target; these fail because a healthy target does not apply.
const (
	whyStalled = "over relays at this loss no receiver confirms a new chunk for 5 client timeouts: group chunks of 2–3 segments with " +
		"6 SAR passes and the segmented Block Status answers rarely cross 2–3 hops, the loss estimate climbs to 0.7–0.8; the distributor " +
		"stops the transfer and healthy targets end Transfer Error with that reason"
	whyBLOBSilent = "a healthy target behind relays answers no Block Get for the BLOB client's 16 attempts in its second transfer " +
		"(over relays they outlast half the servers' inactivity timeout), and the verify step finds it still in the transfer: " +
		"Transfer Error with the BLOB client's reason"
	whyConfirmSilent = "a healthy target behind relays that applied answers no Firmware Update Information Get for the client timeout " +
		"and 3 rounds: the confirm step ends it Apply Failed (new firmware not running: no response)"
	whyBlockWrongPhase = "a target behind relays still holds a block open with another chunk size while other targets are in the block " +
		"(the BLOB client adopts the target's size only when no other target needs the block): Block Status Wrong Phase"
	whyStartWindow = "at 50 % bursty loss after a distributor restart a target's BLOB server gives up waiting for Transfer Start " +
		"again in its second transfer (Transfer Status Wrong Phase from an Inactive server)"
)

// The cells that fail today (seed 1), from a long run
// (MESHDFU_LONG=1 MESHDFU_MATRIX_OUT=... go test -v ./sim/faultmatrix),
// each with the first problem it showed.
func init() {
	for k, why := range map[string]string{
		"building | 30% bursty | dist-restart@25%":  whyBLOBSilent,
		"building | 30% bursty | dist-restart@50%":  whyBLOBSilent,
		"building | 30% bursty | dist-restart@75%":  whyBLOBSilent,
		"building | 30% bursty | upload-cut/oob":    whyConfirmSilent,
		"building | 50% indep | reboot@transfer":    whyStalled,
		"building | 50% indep | upload-cut/oob":     whyBlockWrongPhase,
		"building | 50% bursty | none":              whyStalled,
		"building | 50% bursty | reboot@transfer":   whyStalled,
		"building | 50% bursty | reboot@verify":     whyStalled,
		"building | 50% bursty | reboot@apply":      whyStalled,
		"building | 50% bursty | offline":           whyStalled,
		"building | 50% bursty | dist-restart@25%":  whyStartWindow,
		"building | 50% bursty | dist-restart@50%":  whyStalled,
		"building | 50% bursty | dist-restart@75%":  whyStalled,
		"building | 50% bursty | upload-cut/inband": whyStalled,
		"building | 50% bursty | upload-cut/oob":    whyBLOBSilent,
		"building | 50% bursty | target-full":       whyStalled,
		"building | 50% bursty | power-cut":         whyStalled,
	} {
		knownFailures[k] = why
	}
}
