// Package mesh holds the few types every layer of the meshdfu mesh stack
// shares: addresses, the node's Clock and Timer, and transmit parameters.
//
// The execution contract (docs/architecture.md): code in mesh/... and
// models/... never starts a goroutine, never sleeps and never reads the wall
// clock. Time and timers come from a Clock; a timer's function runs later on
// the node's executor, one thing at a time, so protocol types hold no mutexes.
package mesh
