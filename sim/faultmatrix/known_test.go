package faultmatrix

// Reasons of the known failures (docs/reliability.md lists them). Every
// cell ends within its time limit with a final phase and a reason for
// each target; these fail because a healthy target does not apply.
const (
	whyStalled = "over relays at this loss no receiver confirms a new chunk of the first block for 5 client timeouts " +
		"(a group chunk needs every segment through every hop), so the distributor stops the transfer: healthy targets end Transfer Error with that reason"
	whyStartWindow = "over relays at 50 % loss a target's BLOB server gives up waiting for Transfer Start (Wrong Phase from an Inactive server), " +
		"again after its second Firmware Update Start and transfer"
	whyBLOBSilent = "the BLOB client loses a healthy target whose answers stay in a loss burst for its attempts and half the servers' " +
		"inactivity timeout (Block Get, Block Start), again in the second transfer after another Firmware Update Start"
)

// The cells that fail today (seed 1), from a long run
// (MESHDFU_LONG=1 MESHDFU_MATRIX_OUT=... go test -v ./sim/faultmatrix),
// each with the first problem it showed.
func init() {
	for k, why := range map[string]string{
		"building | 30% bursty | dist-restart@25%":  whyStalled,
		"building | 30% bursty | dist-restart@50%":  whyStalled,
		"building | 30% bursty | dist-restart@75%":  whyStalled,
		"building | 30% bursty | reboot@transfer":   whyBLOBSilent,
		"building | 30% bursty | upload-cut/inband": whyStalled,
		"building | 30% bursty | upload-cut/oob":    whyStalled,
		"building | 30% indep | upload-cut/oob":     whyStalled,
		"building | 50% bursty | dist-restart@25%":  whyStartWindow,
		"building | 50% bursty | dist-restart@50%":  whyStartWindow,
		"building | 50% bursty | dist-restart@75%":  whyStartWindow,
		"building | 50% bursty | none":              whyStartWindow,
		"building | 50% bursty | offline":           whyStartWindow,
		"building | 50% bursty | power-cut":         whyStartWindow,
		"building | 50% bursty | reboot@apply":      whyStartWindow,
		"building | 50% bursty | reboot@transfer":   whyStartWindow,
		"building | 50% bursty | reboot@verify":     whyStartWindow,
		"building | 50% bursty | target-full":       whyStartWindow,
		"building | 50% bursty | upload-cut/inband": whyStalled,
		"building | 50% bursty | upload-cut/oob":    whyStalled,
		"building | 50% indep | dist-restart@25%":   whyStalled,
		"building | 50% indep | dist-restart@50%":   whyStalled,
		"building | 50% indep | dist-restart@75%":   whyStalled,
		"building | 50% indep | none":               whyStalled,
		"building | 50% indep | offline":            whyStalled,
		"building | 50% indep | power-cut":          whyStalled,
		"building | 50% indep | reboot@apply":       whyStalled,
		"building | 50% indep | reboot@transfer":    whyStalled,
		"building | 50% indep | reboot@verify":      whyStalled,
		"building | 50% indep | target-full":        whyStalled,
		"building | 50% indep | upload-cut/inband":  whyStalled,
		"building | 50% indep | upload-cut/oob":     whyStalled,
	} {
		knownFailures[k] = why
	}
}
