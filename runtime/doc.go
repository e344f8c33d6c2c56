// Package runtime is meshdfu's real-time driver: it runs one mesh node in
// wall-clock time, on its own goroutine, the way the simulator runs many
// nodes in virtual time.
//
// A Loop is the node's executor (mesh.Executor) and clock (mesh.Clock).
// It owns one goroutine that runs posted functions one at a time, in the
// order they were posted: received PDUs (posted by the bearer), timers that
// fired (AfterFunc uses time.AfterFunc only to post the function), and calls
// from the application. Protocol code therefore runs exactly as in the
// simulator, one thing at a time, without locks (see "The execution
// contract" in docs/architecture.md).
//
// Applications enter the node from other goroutines through Do, which runs
// a function on the loop and waits for it, and Await, which starts a
// procedure on the loop and waits for the result it reports later through
// a callback, with context.Context cancellation:
//
//	l := runtime.New(runtime.Config{Logger: log})
//	l.Start(ctx)
//	defer l.Close()
//	// ... build the node with l as its Clock and Executor ...
//	err := l.Do(ctx, func() { count = node.Count() }) // any node call, run on the loop
//	st, err := runtime.Await(ctx, l, func(done func(Status, error)) {
//		cli.Get(target, done) // runs on the loop; done is called later, on the loop
//	})
//
// DataDir keeps a node's durable files (state, keys) in a directory only its
// owner can read.
//
// The package name shadows the standard library's runtime; import it under
// another name where both are needed (meshrt "github.com/meshdfu/meshdfu/runtime").
package runtime
