package sim_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"

	bsim "github.com/meshdfu/meshdfu/bearer/sim"
)

func TestBearer_SendReceive(t *testing.T) {
	eng := sim.New(1)
	med := sim.NewMedium(eng, sim.MediumConfig{})
	var got [][]byte
	var at []time.Time
	clk := eng.Clock(1)
	a := bsim.Attach(med, 0, nil)
	bsim.Attach(med, 1, func(kind mesh.ADType, p []byte) {
		if kind != mesh.ADMessage {
			t.Errorf("kind %v", kind)
		}
		got = append(got, bytes.Clone(p))
		at = append(at, clk.Now())
	})
	if err := med.Connect(0, 1, sim.Loss{}); err != nil {
		t.Fatal(err)
	}
	payload := []byte{1, 2, 3}
	a.Send(mesh.ADMessage, payload, mesh.Transmit{Count: 2, IntervalSteps: 1})
	payload[0] = 9 // Send copied it
	eng.RunUntilIdle(time.Second)
	if len(got) != 3 {
		t.Fatalf("received %d copies, want 3", len(got))
	}
	for _, p := range got {
		if !bytes.Equal(p, []byte{1, 2, 3}) {
			t.Fatalf("payload %x", p)
		}
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < 20*time.Millisecond || d > 30*time.Millisecond {
			t.Errorf("gap %d = %v, want 20–30 ms", i, d)
		}
	}
	if m := a.Metrics(); m.Sent != 1 || m.Transmissions != 3 {
		t.Fatalf("metrics %+v", *m)
	}
	a.SendRelay(mesh.ADMessage, payload, mesh.Transmit{})
	a.SetRadio(false)
	if a.RadioOn() || a.Metrics().Relayed != 1 || a.Metrics().Dropped != 1 {
		t.Fatalf("after radio off: on=%v %+v", a.RadioOn(), *a.Metrics())
	}
}
