package dfd

import (
	"time"

	"github.com/meshdfu/meshdfu/internal/request"
	"github.com/meshdfu/meshdfu/internal/rtt"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Requests over relays (docs/dfd.md, "Requests over relays"), as the
// Firmware Update Client does them (models/dfu/client_rtt.go): the client
// learns the distributor's hop count from its statuses' received TTL and
// its round trip from requests sent once; it never sends a segmented
// request again while the transport still carries the previous copy
// (access.Layer.Send's done); its waits cover the exchange over the hops
// and double on every resend over relays; over relays it books the air of
// every exchange before sending; and Wait polls less often the farther
// the distributor is.

// server is what the client learned of the path to one distributor.
type server struct {
	hops int // 0: no answer yet
	rtt  rtt.Estimator
}

const (
	// answerBase is the least wait for a status once the distributor's
	// transport acknowledged the request.
	answerBase = time.Second
	// exchangeBase is one exchange on one hop, beneath the relay terms.
	exchangeBase = 300 * time.Millisecond
	// maxWait caps one wait for a status (Upload OOB Start waits its own
	// OOBTimeout share).
	maxWait = time.Minute
	// initialHopsCap bounds the hops assumed before any answer.
	initialHopsCap = 4
)

func (c *Client) server(a mesh.Address) *server {
	s := c.servers[a]
	if s == nil {
		if c.servers == nil {
			c.servers = make(map[mesh.Address]*server)
		}
		s = &server{}
		c.servers[a] = s
	}
	return s
}

// Hops returns the number of hops the last status from the distributor at
// a crossed (1: a neighbour), or 0 before its first answer.
func (c *Client) Hops(a mesh.Address) int {
	if s := c.servers[a]; s != nil {
		return s.hops
	}
	return 0
}

// learnHops records how far src is from the TTL its status arrived with
// (the distributor answers with its Default TTL; the client's own stands
// for it).
func (c *Client) learnHops(src mesh.Address, recvTTL uint8) {
	sent := access.DefaultTTLValue
	if c.cfg.Layer != nil {
		sent = c.cfg.Layer.DefaultTTL()
	}
	h := rtt.HopsFromTTL(sent, recvTTL)
	if s := c.server(src); s.hops != h {
		s.hops = h
		if h > 1 {
			c.log.Info("dfd: client: distributor behind relays", "dst", src, "hops", h)
		}
	}
}

// assumedHops is the hop count used for dst before it answered: as far as
// the TTL allows, at most initialHopsCap.
func (c *Client) assumedHops(dst mesh.Address) int {
	if s := c.servers[dst]; s != nil && s.hops > 0 {
		return s.hops
	}
	ttl := c.cfg.TTL
	if ttl == access.DefaultTTL {
		ttl = access.DefaultTTLValue
		if c.cfg.Layer != nil {
			ttl = c.cfg.Layer.DefaultTTL()
		}
	}
	return min(max(int(ttl)-1, 1), initialHopsCap)
}

// behindRelays reports whether dst answered over relays.
func (c *Client) behindRelays(dst mesh.Address) bool {
	s := c.servers[dst]
	return s != nil && s.hops > 1
}

// wait is how long send number r.Sends of r waits for the status.
func (c *Client) wait(r *request.Request) time.Duration {
	d := max(r.Every, c.relays.Exchange(exchangeBase, c.assumedHops(r.Dst), r.ReqPDUs, r.AnsPDUs))
	if s := c.servers[r.Dst]; s != nil {
		d = max(d, s.rtt.RTO())
	}
	if c.behindRelays(r.Dst) {
		d = rtt.Backoff(d, r.Sends)
	}
	return min(d, max(maxWait, r.Every))
}

// answerWait is the wait for the status once the transport reported a
// segmented r after its wait ran out, at least half the one-hop wait.
func (c *Client) answerWait(r *request.Request) time.Duration {
	d := max(answerBase, r.Every/2)
	if h := c.assumedHops(r.Dst); h > 1 {
		d += time.Duration(h-1+r.AnsPDUs) * c.relays.Hop()
	}
	return d
}

// reserveAir books the air of one exchange of r over relays and returns
// how long to wait for it.
func (c *Client) reserveAir(r *request.Request) time.Duration {
	if !c.behindRelays(r.Dst) {
		return 0
	}
	return c.air.Reserve(c.cfg.Clock.Now(), time.Duration(r.ReqPDUs+r.AnsPDUs)*c.relays.PDUCost())
}

// pollInterval is Wait's and the upload's polling interval for dst:
// PollInterval × the distributor's hops.
func (c *Client) pollInterval(dst mesh.Address) time.Duration {
	h := 1
	if s := c.servers[dst]; s != nil && s.hops > 1 {
		h = s.hops
	}
	return c.cfg.PollInterval * time.Duration(h)
}

// messageSize is msg's access payload in octets, opcode included.
func messageSize(msg access.Message) int {
	n := msg.Opcode().Size()
	if b, err := msg.AppendBinary(nil); err == nil {
		n += len(b)
	}
	return n
}

// answerPDUs estimates the PDUs of the status answering msg.
func answerPDUs(msg access.Message) int {
	switch m := msg.(type) {
	case *ReceiversGet:
		// Receivers List: 4 octets and 5 per entry.
		return rtt.MessagePDUs(2 + 4 + 5*int(min(m.EntriesLimit, 74)))
	case *Get, *Start, *Suspend, *Cancel, *Apply:
		return rtt.MessagePDUs(2 + 12) // Distribution Status with its details
	case *UploadGet, *UploadStart, *UploadOOBStart, *UploadCancel:
		return rtt.MessagePDUs(2 + 3 + 8) // Upload Status with a Firmware ID
	case *FirmwareGet, *FirmwareGetByIndex, *FirmwareDelete, *FirmwareDeleteAll:
		return rtt.MessagePDUs(2 + 4 + 8)
	case *CapabilitiesGet:
		return rtt.MessagePDUs(2 + 17)
	}
	return 1 // Receivers Status
}

// ttlTo is the TTL of r's current send: with ScopeTTL and the hop count
// known, just enough to reach the peer (0 for a neighbour, else hops + 1,
// never above the configured TTL); a resend uses the configured TTL, in
// case the route grew.
func (c *Client) ttlTo(r *request.Request) uint8 {
	h := 0
	if p := c.servers[r.Dst]; p != nil {
		h = p.hops
	}
	if !c.cfg.ScopeTTL || h == 0 || r.Sends > 1 {
		return c.cfg.TTL
	}
	return rtt.ScopedTTL(h, c.cfg.TTL, c.cfg.Layer.DefaultTTL())
}
