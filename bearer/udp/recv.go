package udp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"github.com/meshdfu/meshdfu/mesh"
)

// readBuffer is larger than any valid datagram, so that a longer one is
// read whole (not truncated to a valid length) and rejected.
const readBuffer = 2048

// recvLoop reads datagrams until the socket is closed.
func (b *Bearer) recvLoop() {
	defer b.wg.Done()
	buf := make([]byte, readBuffer)
	for {
		n, from, err := b.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if b.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			b.log.Warn("udp: read", "err", err)
			continue
		}
		b.handle(unmap(from), buf[:n])
	}
}

// handle checks one datagram and posts its PDU to the executor.
func (b *Bearer) handle(from netip.AddrPort, datagram []byte) {
	kind, payload, err := ParseDatagram(datagram)
	if err != nil {
		b.log.Debug("udp: malformed datagram", "from", from, "err", err)
		b.drop(DropMalformed)
		return
	}
	if b.only && !b.isPeer(from) {
		b.log.Debug("udp: datagram from a stranger", "from", from)
		b.drop(DropStranger)
		return
	}
	if b.loss > 0 && b.uniform() < b.loss {
		b.drop(DropLoss)
		return
	}
	b.record(from, kind, payload)
	if b.waiting.Add(1) > b.backlog {
		b.waiting.Add(-1)
		b.log.Debug("udp: executor backlog full", "from", from)
		b.drop(DropBacklog)
		return
	}
	if b.log.Enabled(context.Background(), slog.LevelDebug) {
		b.log.Debug("udp: received", "from", from, "kind", kind, "len", len(payload))
	}
	p := bytes.Clone(payload)
	b.exec.Post(func() { b.deliver(kind, p) })
}

// deliver runs on the executor.
func (b *Bearer) deliver(kind mesh.ADType, payload []byte) {
	b.waiting.Add(-1)
	if b.closed.Load() {
		b.drop(DropClosed)
		return
	}
	recv := b.recv.Load()
	if recv == nil {
		b.drop(DropNoReceiver)
		return
	}
	b.stats.received.Add(1)
	(*recv)(kind, payload)
}
