package mesh

import "time"

// Clock is a node's time source. The function given to AfterFunc runs later
// on the node's executor, never inside AfterFunc and never concurrently with
// other code of the same node. In the simulator Now is virtual time.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call. Stop prevents it from running and
// reports whether it did so. A timer may still fire after Stop returned false,
// so callbacks that can be superseded check a generation number.
type Timer interface {
	Stop() bool
}

// Executor runs a function on a node's executor, after the code running now.
// It is how code outside the node (an application, a test) enters it.
type Executor interface {
	Post(f func())
}
