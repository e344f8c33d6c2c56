package faultmatrix

// Reasons of the known failures (docs/reliability.md lists them). Every
// cell ends within its time limit with a final phase and a reason for
// each target; these fail because a healthy target does not apply.
const (
	whyStalled = "over relays at this loss no receiver confirms a new chunk for 5 client timeouts: group chunks of 2–3 segments with " +
		"6 SAR passes and the segmented Block Status answers rarely cross 2–3 hops, the loss estimate climbs to 0.7–0.8; the distributor " +
		"stops the transfer and healthy targets end Transfer Error with that reason"
	whyStartWindow = "at 50 % bursty loss after a distributor restart a target's BLOB server gives up waiting for Transfer Start " +
		"again in its second transfer (Transfer Status Wrong Phase from an Inactive server)"
)

// The cells that fail today (seed 1), from a long run
// (MESHDFU_LONG=1 MESHDFU_MATRIX_OUT=... go test -v ./sim/faultmatrix),
// each with the first problem it showed.
func init() {
	for k, why := range map[string]string{
		"building | 50% indep | reboot@transfer":    whyStalled,
		"building | 50% bursty | none":              whyStalled,
		"building | 50% bursty | reboot@transfer":   whyStalled,
		"building | 50% bursty | reboot@verify":     whyStalled,
		"building | 50% bursty | reboot@apply":      whyStalled,
		"building | 50% bursty | offline":           whyStalled,
		"building | 50% bursty | dist-restart@25%":  whyStartWindow,
		"building | 50% bursty | dist-restart@50%":  whyStalled,
		"building | 50% bursty | dist-restart@75%":  whyStalled,
		"building | 50% bursty | upload-cut/inband": whyStalled,
		"building | 50% bursty | upload-cut/oob":    whyStalled,
		"building | 50% bursty | target-full":       whyStalled,
		"building | 50% bursty | power-cut":         whyStalled,
	} {
		knownFailures[k] = why
	}
}
