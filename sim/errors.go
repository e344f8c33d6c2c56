package sim

import "errors"

// Sentinel errors.
var (
	// ErrConfig reports an invalid medium or link setting.
	ErrConfig = errors.New("sim: invalid configuration")
	// ErrNode reports a node ID outside the medium.
	ErrNode = errors.New("sim: unknown node")
)
