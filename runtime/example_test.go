package runtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/runtime"
)

// counter stands for protocol code: no locks, only ever touched on the loop.
type counter struct{ n int }

// Example drives lock-free node state from another goroutine: Do runs a
// function on the loop and waits; Await waits for a callback-style result.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := runtime.New(runtime.Config{Name: "n1"})
	l.Start(ctx)
	defer l.Close()

	c := &counter{}
	if err := l.Do(ctx, func() { c.n++ }); err != nil {
		fmt.Println(err)
	}
	// A procedure that reports later, from a timer on the node's clock.
	n, err := runtime.Await(ctx, l, func(done func(int, error)) {
		l.AfterFunc(time.Millisecond, func() { c.n++; done(c.n, nil) })
	})
	fmt.Println(n, err)
	// Output: 2 <nil>
}
