package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// Prometheus metrics (GET /metrics), read from the Backend at each scrape.
// Enum states follow the usual pattern: one series per value, 1 for the
// current one and 0 for the others.
var (
	descPhase = prometheus.NewDesc("meshdfu_distribution_phase",
		"Distribution Phase of the distributor: 1 for the current phase, 0 for the others.", []string{"phase"}, nil)
	descRunning = prometheus.NewDesc("meshdfu_distribution_running",
		"1 while a distribution runs (Transfer Active, Transfer Suspended, Applying Update, Canceling Update).", nil, nil)
	descUploadPhase = prometheus.NewDesc("meshdfu_upload_phase",
		"Upload Phase of the distributor: 1 for the current phase, 0 for the others.", []string{"phase"}, nil)
	descUploadProgress = prometheus.NewDesc("meshdfu_upload_progress_percent",
		"Progress of the running upload to the distributor, percent.", nil, nil)
	descReceivers = prometheus.NewDesc("meshdfu_receivers",
		"Receivers in the Distribution Receivers List, by Retrieved Update Phase.", []string{"phase"}, nil)
	descReceiversFailed = prometheus.NewDesc("meshdfu_receivers_failed",
		"Receivers that left the current distribution with a failure.", nil, nil)
	descReceiverProgress = prometheus.NewDesc("meshdfu_receiver_progress_percent",
		"BLOB transfer progress of each receiver, percent.", []string{"address"}, nil)
	descBytes = prometheus.NewDesc("meshdfu_transfer_bytes",
		"BLOB octets the receivers of the current distribution have confirmed, summed over receivers.", nil, nil)
	descPDUsSent = prometheus.NewDesc("meshdfu_pdus_sent_total",
		"Network PDUs the distributor's node handed to its bearer.", nil, nil)
	descPDUsReceived = prometheus.NewDesc("meshdfu_pdus_received_total",
		"Network PDUs the distributor's bearer delivered to its node.", nil, nil)
	descOctetsSent = prometheus.NewDesc("meshdfu_octets_sent_total",
		"Octets of the network PDUs the distributor's node sent.", nil, nil)
	descImages = prometheus.NewDesc("meshdfu_images",
		"Images in the Firmware Images List.", nil, nil)
	descUp = prometheus.NewDesc("meshdfu_distributor_up",
		"1 when the distributor answered the scrape, 0 when it did not.", nil, nil)
)

// collector reads a Backend snapshot per scrape.
type collector struct {
	backend Backend
	timeout time.Duration
}

func newCollector(b Backend, timeout time.Duration) *collector {
	return &collector{backend: b, timeout: min(timeout, 10*time.Second)}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhase, descRunning, descUploadPhase, descUploadProgress, descReceivers,
		descReceiversFailed, descReceiverProgress, descBytes, descPDUsSent, descPDUsReceived, descOctetsSent, descImages, descUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	snap, err := c.backend.Snapshot(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(descUp, 1)
	for p := dfd.PhaseIdle; p.Valid(); p++ {
		gauge(descPhase, boolFloat(p == snap.Phase), p.String())
	}
	gauge(descRunning, boolFloat(Running(snap.Phase)))
	for p := dfd.UploadIdle; p.Valid(); p++ {
		gauge(descUploadPhase, boolFloat(p == snap.Upload.Phase), p.String())
	}
	gauge(descUploadProgress, float64(snap.Upload.Progress))
	byPhase := map[dfu.Phase]int{}
	failed := 0
	for _, r := range snap.Receivers {
		byPhase[r.Phase]++
		if r.Failed {
			failed++
		}
		gauge(descReceiverProgress, float64(r.Progress), r.Address.String())
	}
	for p := dfu.PhaseIdle; p <= dfu.PhaseUnknown; p++ {
		gauge(descReceivers, float64(byPhase[p]), p.String())
	}
	gauge(descReceiversFailed, float64(failed))
	gauge(descBytes, float64(snap.Counters.BytesTransferred))
	counter(descPDUsSent, snap.Counters.PDUsSent)
	counter(descPDUsReceived, snap.Counters.PDUsReceived)
	counter(descOctetsSent, snap.Counters.OctetsSent)
	gauge(descImages, float64(len(snap.Images)))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
