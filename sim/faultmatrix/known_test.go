package faultmatrix

// Reasons of the known failures (docs/reliability.md lists them). Every
// cell ends within its time limit with a final phase and a reason for
// each target; these fail because a healthy target does not apply.
const (
	whyStalled = "over relays at this loss (50 % bursty; 30 % bursty with the Initiator's second upload) no receiver confirms a new chunk " +
		"for 5 client timeouts: group chunks of 2–3 segments with 6 SAR passes and segmented Block Status answers rarely cross 2–3 hops, " +
		"the loss estimate climbs to 0.7–0.8; the distributor stops the transfer and healthy targets end Transfer Error with that reason"
	whyStartSilent = "over relays at 50 % loss a healthy target's 12-segment Firmware Update Start never completes (10 of 12 segments acknowledged) " +
		"in the Start step nor in its own window after the transfer: it ends Transfer Error, no response to Update Start"
	whyConfirmSilent = "over relays at 50 % loss a healthy target that applied answers no Firmware Update Information Get for the client timeout " +
		"and 3 rounds: the confirm step ends it Apply Failed (new firmware not running: no response)"
)

// The cells that fail today (seed 1), from a long run
// (MESHDFU_LONG=1 MESHDFU_MATRIX_OUT=... go test -v ./sim/faultmatrix),
// each with the first problem it showed.
func init() {
	for k, why := range map[string]string{
		"building | 30% bursty | upload-cut/inband": whyStalled,
		"building | 30% bursty | upload-cut/oob":    whyStalled,
		"building | 50% bursty | none":              whyStalled,
		"building | 50% bursty | reboot@transfer":   whyStalled,
		"building | 50% bursty | reboot@verify":     whyStalled,
		"building | 50% bursty | reboot@apply":      whyStalled,
		"building | 50% bursty | offline":           whyStalled,
		"building | 50% bursty | dist-restart@25%":  whyStalled,
		"building | 50% bursty | dist-restart@50%":  whyStalled,
		"building | 50% bursty | dist-restart@75%":  whyStalled,
		"building | 50% bursty | upload-cut/inband": whyStalled,
		"building | 50% bursty | upload-cut/oob":    whyStalled,
		"building | 50% bursty | target-full":       whyStalled,
		"building | 50% bursty | power-cut":         whyStalled,
		"building | 50% indep | offline":            whyStartSilent,
		"building | 50% indep | power-cut":          whyConfirmSilent,
	} {
		knownFailures[k] = why
	}
}
