package runtime

import "errors"

// Sentinel errors.
var (
	// ErrClosed reports that the loop was closed (or its Run context ended)
	// before a posted function could run or report its result.
	ErrClosed = errors.New("runtime: loop closed")
	// ErrRunning reports a second call of Run on the same Loop.
	ErrRunning = errors.New("runtime: loop already running")
	// ErrInsecureDir reports a data directory that others than its owner
	// can write to.
	ErrInsecureDir = errors.New("runtime: data directory writable by group or others")
	// ErrBadName reports a file name that is not a single path element.
	ErrBadName = errors.New("runtime: bad file name")
)
