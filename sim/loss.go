package sim

import (
	"fmt"
	"math/rand/v2"
)

// Loss is a link's loss model. With GoodToBad zero it is independent loss:
// each transmission is lost with probability P. Otherwise it is a
// Gilbert-Elliott channel: a two-state Markov chain stepped once per
// transmission on the link, that loses a transmission with LossGood in the
// good state and LossBad in the bad state, so losses come in bursts.
type Loss struct {
	P         float64 `json:"p,omitempty"`           // independent loss probability
	GoodToBad float64 `json:"good_to_bad,omitempty"` // P(good→bad) per transmission
	BadToGood float64 `json:"bad_to_good,omitempty"` // P(bad→good) per transmission
	LossGood  float64 `json:"loss_good,omitempty"`   // loss probability in the good state
	LossBad   float64 `json:"loss_bad,omitempty"`    // loss probability in the bad state
}

// Independent returns a Loss that loses each transmission with probability p.
func Independent(p float64) Loss { return Loss{P: p} }

// Bursty returns a Gilbert-Elliott Loss with mean loss rate mean whose bad
// state loses everything, lasts meanBurst transmissions on average, and the
// good state loses nothing. mean must be in [0, 1) and meanBurst ≥ 1.
func Bursty(mean, meanBurst float64) Loss {
	if mean <= 0 {
		return Loss{}
	}
	bg := 1 / meanBurst
	gb := mean * bg / (1 - mean)
	return Loss{GoodToBad: gb, BadToGood: bg, LossBad: 1}
}

// IsBursty reports whether l is a Gilbert-Elliott model.
func (l Loss) IsBursty() bool { return l.GoodToBad > 0 }

// Mean returns the long-run loss rate: P, or for Gilbert-Elliott the
// stationary mix of the two states' loss.
func (l Loss) Mean() float64 {
	if !l.IsBursty() {
		return l.P
	}
	if l.GoodToBad+l.BadToGood == 0 {
		return l.LossGood
	}
	bad := l.GoodToBad / (l.GoodToBad + l.BadToGood)
	return (1-bad)*l.LossGood + bad*l.LossBad
}

// Validate checks every probability is in [0, 1].
func (l Loss) Validate() error {
	for _, p := range []float64{l.P, l.GoodToBad, l.BadToGood, l.LossGood, l.LossBad} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%w: loss probability %v outside [0, 1]", ErrConfig, p)
		}
	}
	return nil
}

// String prints the model, e.g. "10%" or "GE(g→b 0.0111, b→g 0.1, 0%/100%)".
func (l Loss) String() string {
	if !l.IsBursty() {
		return fmt.Sprintf("%g%%", l.P*100)
	}
	return fmt.Sprintf("GE(g→b %g, b→g %g, %g%%/%g%%)", l.GoodToBad, l.BadToGood, l.LossGood*100, l.LossBad*100)
}

// channel is the per-link loss state.
type channel struct {
	Loss
	bad bool
}

// lose steps the channel by one transmission and reports whether it is lost.
func (c *channel) lose(r *rand.Rand) bool {
	if !c.IsBursty() {
		return c.P > 0 && r.Float64() < c.P
	}
	if c.bad {
		if r.Float64() < c.BadToGood {
			c.bad = false
		}
	} else if r.Float64() < c.GoodToBad {
		c.bad = true
	}
	p := c.LossGood
	if c.bad {
		p = c.LossBad
	}
	return p > 0 && r.Float64() < p
}
