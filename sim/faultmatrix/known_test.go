package faultmatrix

// Reasons of the known failures (docs/reliability.md lists them).
const (
	whyHang       = "hang: the run does not end within its virtual time limit"
	whyUploadGet  = "initiator: Upload Get polling gives up under heavy loss on the Initiator-distributor link"
	whyDistGet    = "initiator: Distribution Get polling gives up and leaves targets unfinished"
	whyDistFailed = "distributor: the whole distribution fails under heavy bursty loss over relays"
	whyBLOBDrop   = "distributor: the BLOB client drops a healthy target after 16 unanswered Transfer Start or Block Get in a loss burst"
	whyConfirm    = "distributor: the confirm step's Information Get gives up, so a target that applied is reported Apply Failed"
	whyUpdateGet  = "distributor: Firmware Update Get polling gives up on a healthy target"
	whyUnfinished = "the distribution ends with targets left unfinished"
	whyApplyLost  = "distributor restart at 10 % loss (seed 1 only; seeds 2–4 pass): Update Apply to one target stays unanswered after the restart"
	whyOther      = "target storage full over relays: a retried Transfer Start is answered Wrong Phase, so the reason names Wrong Phase, not Internal Error"
)

// The cells that fail today (seed 1), generated from a long run and
// reviewed; each names the first problem the cell showed.
func init() {
	for k, why := range map[string]string{
		"building | 10% bursty | dist-restart@25%":    whyUpdateGet,
		"building | 10% bursty | offline":             whyDistGet,
		"building | 10% bursty | reboot@transfer":     whyConfirm,
		"building | 10% bursty | target-full":         whyConfirm,
		"building | 10% bursty | upload-cut/inband":   whyUpdateGet,
		"building | 10% indep | target-full":          whyOther,
		"building | 30% bursty | dist-restart@25%":    whyUploadGet,
		"building | 30% bursty | dist-restart@50%":    whyUploadGet,
		"building | 30% bursty | dist-restart@75%":    whyUploadGet,
		"building | 30% bursty | none":                whyUploadGet,
		"building | 30% bursty | offline":             whyUploadGet,
		"building | 30% bursty | power-cut":           whyUploadGet,
		"building | 30% bursty | reboot@apply":        whyUploadGet,
		"building | 30% bursty | reboot@transfer":     whyUploadGet,
		"building | 30% bursty | reboot@verify":       whyUploadGet,
		"building | 30% bursty | target-full":         whyUploadGet,
		"building | 30% bursty | upload-cut/inband":   whyDistGet,
		"building | 30% bursty | upload-cut/oob":      whyDistGet,
		"building | 30% indep | dist-restart@25%":     whyConfirm,
		"building | 30% indep | dist-restart@50%":     whyUpdateGet,
		"building | 30% indep | dist-restart@75%":     whyUpdateGet,
		"building | 30% indep | offline":              whyConfirm,
		"building | 30% indep | power-cut":            whyConfirm,
		"building | 30% indep | reboot@transfer":      whyConfirm,
		"building | 30% indep | upload-cut/oob":       whyUpdateGet,
		"building | 50% bursty | dist-restart@25%":    whyDistFailed,
		"building | 50% bursty | dist-restart@50%":    whyDistFailed,
		"building | 50% bursty | dist-restart@75%":    whyDistFailed,
		"building | 50% bursty | none":                whyDistFailed,
		"building | 50% bursty | offline":             whyDistGet,
		"building | 50% bursty | power-cut":           whyDistFailed,
		"building | 50% bursty | reboot@apply":        whyDistFailed,
		"building | 50% bursty | reboot@transfer":     whyDistFailed,
		"building | 50% bursty | reboot@verify":       whyDistFailed,
		"building | 50% bursty | target-full":         whyDistFailed,
		"building | 50% bursty | upload-cut/inband":   whyUnfinished,
		"building | 50% bursty | upload-cut/oob":      whyDistFailed,
		"building | 50% indep | dist-restart@25%":     whyHang,
		"building | 50% indep | dist-restart@50%":     whyHang,
		"building | 50% indep | dist-restart@75%":     whyHang,
		"building | 50% indep | none":                 whyHang,
		"building | 50% indep | offline":              whyHang,
		"building | 50% indep | power-cut":            whyHang,
		"building | 50% indep | reboot@apply":         whyHang,
		"building | 50% indep | reboot@transfer":      whyHang,
		"building | 50% indep | reboot@verify":        whyHang,
		"building | 50% indep | target-full":          whyHang,
		"building | 50% indep | upload-cut/inband":    whyHang,
		"building | 50% indep | upload-cut/oob":       whyBLOBDrop,
		"single-hop | 10% bursty | none":              whyConfirm,
		"single-hop | 10% indep | dist-restart@25%":   whyApplyLost,
		"single-hop | 10% indep | dist-restart@50%":   whyApplyLost,
		"single-hop | 10% indep | dist-restart@75%":   whyApplyLost,
		"single-hop | 10% bursty | power-cut":         whyUpdateGet,
		"single-hop | 10% bursty | reboot@transfer":   whyConfirm,
		"single-hop | 10% bursty | reboot@verify":     whyConfirm,
		"single-hop | 30% bursty | dist-restart@25%":  whyDistGet,
		"single-hop | 30% bursty | dist-restart@50%":  whyBLOBDrop,
		"single-hop | 30% bursty | dist-restart@75%":  whyBLOBDrop,
		"single-hop | 30% bursty | none":              whyBLOBDrop,
		"single-hop | 30% bursty | offline":           whyDistGet,
		"single-hop | 30% bursty | power-cut":         whyBLOBDrop,
		"single-hop | 30% bursty | reboot@apply":      whyBLOBDrop,
		"single-hop | 30% bursty | reboot@transfer":   whyBLOBDrop,
		"single-hop | 30% bursty | reboot@verify":     whyBLOBDrop,
		"single-hop | 30% bursty | target-full":       whyDistGet,
		"single-hop | 30% bursty | upload-cut/inband": whyHang,
		"single-hop | 30% bursty | upload-cut/oob":    whyUploadGet,
		"single-hop | 30% indep | dist-restart@75%":   whyConfirm,
		"single-hop | 30% indep | upload-cut/oob":     whyConfirm,
		"single-hop | 50% bursty | dist-restart@25%":  whyHang,
		"single-hop | 50% bursty | dist-restart@50%":  whyHang,
		"single-hop | 50% bursty | dist-restart@75%":  whyHang,
		"single-hop | 50% bursty | none":              whyHang,
		"single-hop | 50% bursty | offline":           whyHang,
		"single-hop | 50% bursty | power-cut":         whyHang,
		"single-hop | 50% bursty | reboot@apply":      whyHang,
		"single-hop | 50% bursty | reboot@transfer":   whyHang,
		"single-hop | 50% bursty | reboot@verify":     whyHang,
		"single-hop | 50% bursty | target-full":       whyHang,
		"single-hop | 50% bursty | upload-cut/inband": whyDistGet,
		"single-hop | 50% bursty | upload-cut/oob":    whyDistGet,
		"single-hop | 50% indep | dist-restart@25%":   whyUploadGet,
		"single-hop | 50% indep | dist-restart@50%":   whyUploadGet,
		"single-hop | 50% indep | dist-restart@75%":   whyUploadGet,
		"single-hop | 50% indep | none":               whyUploadGet,
		"single-hop | 50% indep | offline":            whyUploadGet,
		"single-hop | 50% indep | power-cut":          whyUploadGet,
		"single-hop | 50% indep | reboot@apply":       whyUploadGet,
		"single-hop | 50% indep | reboot@transfer":    whyUploadGet,
		"single-hop | 50% indep | reboot@verify":      whyUploadGet,
		"single-hop | 50% indep | target-full":        whyUploadGet,
		"single-hop | 50% indep | upload-cut/inband":  whyBLOBDrop,
		"single-hop | 50% indep | upload-cut/oob":     whyDistFailed,
	} {
		knownFailures[k] = why
	}
}
