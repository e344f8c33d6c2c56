package sim

import (
	"bytes"
	"context"
	"io"
	"log/slog"
)

// Trace is an io.Writer that prefixes every line written to it with the
// engine's virtual time, e.g. "     1.234567s ". Partial lines are held until
// their newline.
type Trace struct {
	e       *Engine
	w       io.Writer
	partial []byte
	out     []byte
}

// NewTrace returns a Trace writing to w.
func NewTrace(e *Engine, w io.Writer) *Trace { return &Trace{e: e, w: w} }

// Write stamps each complete line of p with the virtual time and writes it.
func (t *Trace) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.partial = append(t.partial, p...)
			break
		}
		t.out = append(t.out[:0], FormatVirtual(t.e.Elapsed())...)
		t.out = append(t.out, ' ')
		t.out = append(t.out, t.partial...)
		t.out = append(t.out, p[:i+1]...)
		t.partial = t.partial[:0]
		p = p[i+1:]
		if _, err := t.w.Write(t.out); err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

// Handler wraps a slog.Handler so that every record carries the engine's
// virtual time instead of the wall clock, and the node's ID under the key
// "node". With a deterministic engine the log is the same on every run with
// the same seed.
type Handler struct {
	e    *Engine
	next slog.Handler
}

// NewHandler wraps next. Use Logger for a node's logger.
func NewHandler(e *Engine, next slog.Handler) *Handler { return &Handler{e: e, next: next} }

// Logger returns a logger for node whose records carry virtual time and
// node=<id>.
func (e *Engine) Logger(node NodeID, next slog.Handler) *slog.Logger {
	return slog.New(NewHandler(e, next)).With("node", int(node))
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle restamps r with virtual time and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	r2 := slog.NewRecord(h.e.Now(), r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
	return h.next.Handle(ctx, r2)
}

// WithAttrs returns a Handler whose wrapped handler has attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{e: h.e, next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a Handler whose wrapped handler opens group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{e: h.e, next: h.next.WithGroup(name)}
}

// virtualTimeAttr is a ReplaceAttr helper: it prints slog's time key as the
// virtual offset since Epoch rather than a date.
func virtualTimeAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, FormatVirtual(a.Value.Time().Sub(Epoch)))
	}
	return a
}

// ReplaceVirtualTime is a slog.HandlerOptions.ReplaceAttr function that
// prints the time of records (stamped by Handler) as the offset since Epoch,
// e.g. time="     1.234567s".
var ReplaceVirtualTime = virtualTimeAttr

var _ slog.Handler = (*Handler)(nil)
