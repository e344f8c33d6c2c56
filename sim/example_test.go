package sim_test

import (
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"
)

// Two nodes in range: node 0 sends one PDU three times; node 1 prints each
// reception with its virtual time. The same seed always prints the same.
func Example() {
	eng := sim.New(1)
	med := sim.NewMedium(eng, sim.MediumConfig{})
	med.Connect(0, 1, sim.Loss{})
	med.SetReceiver(1, func(kind mesh.ADType, p []byte) {
		fmt.Printf("%v node 1 got %s %x\n", eng.Elapsed(), kind, p)
	})
	med.Send(0, mesh.ADMessage, []byte{0xca, 0xfe}, mesh.DefaultNetworkTransmit)
	eng.RunUntilIdle(time.Second)
	m := med.Metrics()
	fmt.Println("transmissions:", m.Medium.Transmissions, "deliveries:", m.Medium.Deliveries)
	// Output:
	// 1.768886ms node 1 got message cafe
	// 25.460527ms node 1 got message cafe
	// 47.455019ms node 1 got message cafe
	// transmissions: 3 deliveries: 3
}
