package udp

import (
	"context"
	"log/slog"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// job is one PDU being transmitted.
type job struct {
	kind     mesh.ADType
	datagram []byte // AD type and payload
	left     int    // transmissions still to send
	interval time.Duration
	next     time.Time // when the next transmission is due
}

// Send queues payload for tx.Transmissions() transmissions spaced by
// tx.Interval(), each a datagram to every peer. It copies payload and never
// blocks: a PDU that does not fit the queue, or is not valid (AD type other
// than Mesh Message or Mesh Beacon, payload empty or over MaxPayload
// octets), is dropped and counted.
func (b *Bearer) Send(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	b.send(kind, payload, tx, false)
}

// SendRelay is Send for a relayed PDU (Relay Retransmit parameters),
// counted also in Stats.Relayed.
func (b *Bearer) SendRelay(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	b.send(kind, payload, tx, true)
}

func (b *Bearer) send(kind mesh.ADType, payload []byte, tx mesh.Transmit, relay bool) {
	if b.closed.Load() {
		b.drop(DropClosed)
		return
	}
	dg, err := AppendDatagram(make([]byte, 0, 1+len(payload)), kind, payload)
	if err != nil {
		b.log.Warn("udp: send: dropped", "err", err)
		b.drop(DropInvalid)
		return
	}
	if b.pending.Add(1) > b.queueLen {
		b.pending.Add(-1)
		b.log.Debug("udp: send queue full", "kind", kind)
		b.drop(DropQueueFull)
		return
	}
	b.stats.sent.Add(1)
	if relay {
		b.stats.relayed.Add(1)
	}
	// The channel has room: it holds at most queueLen jobs, and pending
	// counts every job in it.
	b.jobs <- &job{kind: kind, datagram: dg, left: tx.Transmissions(), interval: tx.Interval()}
}

// sendLoop transmits queued PDUs: the first transmission at once, the
// following ones each interval after the previous one was sent.
func (b *Bearer) sendLoop() {
	defer b.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var sched []*job
	for {
		now := time.Now()
		// Transmit every due job, oldest first.
		kept := sched[:0]
		for _, j := range sched {
			if !j.next.After(now) {
				b.transmit(j)
				j.left--
				j.next = time.Now().Add(j.interval)
			}
			if j.left > 0 {
				kept = append(kept, j)
			} else {
				b.pending.Add(-1)
			}
		}
		clear(sched[len(kept):])
		sched = kept

		var wake <-chan time.Time
		if len(sched) > 0 {
			next := sched[0].next
			for _, j := range sched[1:] {
				if j.next.Before(next) {
					next = j.next
				}
			}
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		select {
		case <-b.quit:
			return
		case j := <-b.jobs:
			j.next = time.Now()
			sched = append(sched, j)
		case <-wake:
		}
	}
}

// transmit sends one transmission of j to every peer.
func (b *Bearer) transmit(j *job) {
	b.stats.transmissions.Add(1)
	b.record(b.local, j.kind, j.datagram[1:])
	debug := b.log.Enabled(context.Background(), slog.LevelDebug)
	for _, peer := range *b.peers.Load() {
		// Counted before the write, so that the counter is final by the
		// time a peer can have received the datagram.
		b.stats.datagrams.Add(1)
		if _, err := b.conn.WriteToUDPAddrPort(j.datagram, peer); err != nil {
			b.stats.datagrams.Add(^uint64(0))
			if b.closed.Load() {
				return
			}
			b.log.Debug("udp: write", "peer", peer, "err", err)
			b.drop(DropWrite)
			continue
		}
		if debug {
			b.log.Debug("udp: sent", "peer", peer, "kind", j.kind, "len", len(j.datagram)-1)
		}
	}
}
