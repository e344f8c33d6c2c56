// Package oob runs a Firmware Distribution Server's out-of-band firmware
// retrieval (models/dfd's OOB interface) with fw/https: each Check and
// Retrieve runs on its own goroutine and its result is posted back to the
// node's executor, so the protocol code stays on the executor. It lives
// outside models/ because it starts goroutines (docs/architecture.md).
package oob

import (
	"context"
	"io"

	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/mesh"
)

// HTTPS is a models/dfd OOB over an fw/https Client. Exec is the
// distributor node's executor.
type HTTPS struct {
	Client *https.Client
	Exec   mesh.Executor
}

// Check runs Firmware Check over HTTPS and posts done to Exec.
func (h *HTTPS) Check(uri string, currentFWID []byte, done func(https.CheckResult, error)) func() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		res, err := h.Client.Check(ctx, uri, currentFWID)
		h.Exec.Post(func() {
			if ctx.Err() == nil {
				done(res, err)
			}
		})
	}()
	return cancel
}

// Retrieve runs Firmware Retrieval over HTTPS into the writer open
// returns, and posts done to Exec.
func (h *HTTPS) Retrieve(uri string, currentFWID []byte, want https.CheckResult, maxSize int64,
	open func(https.Firmware) (io.Writer, error), done func(https.Firmware, error)) func() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		f, err := h.Client.RetrieveTo(ctx, uri, currentFWID, want, maxSize, open)
		h.Exec.Post(func() {
			if ctx.Err() == nil {
				done(f, err)
			} else {
				done(f, ctx.Err()) // the server aborts the slot
			}
		})
	}()
	return cancel
}
