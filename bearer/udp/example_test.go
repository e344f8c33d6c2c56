package udp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/bearer/udp"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/runtime"
)

// Example connects two nodes over UDP on loopback: each node has its own
// runtime.Loop, where its receive function runs.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got := make(chan string, 1)
	loopB := runtime.New(runtime.Config{Name: "b"})
	loopB.Start(ctx)
	defer loopB.Close()
	b, err := udp.Open(udp.Config{
		Listen:   "127.0.0.1:0",
		Executor: loopB,
		Receive: func(kind mesh.ADType, p []byte) {
			got <- fmt.Sprintf("%v %x", kind, p) // p is valid only during the call
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()

	loopA := runtime.New(runtime.Config{Name: "a"})
	loopA.Start(ctx)
	defer loopA.Close()
	a, err := udp.Open(udp.Config{
		Listen:   "127.0.0.1:0",
		Peers:    []string{b.LocalAddr().String()}, // b is in a's radio range
		Executor: loopA,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()

	a.Send(mesh.ADMessage, []byte{0x68, 0xec, 0xa4}, mesh.Transmit{})
	select {
	case s := <-got:
		fmt.Println(s)
	case <-ctx.Done():
		fmt.Println(ctx.Err())
	}
	// Output: message 68eca4
}
