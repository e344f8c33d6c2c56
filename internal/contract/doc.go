// Package contract holds the test that enforces the execution contract of
// docs/architecture.md on the protocol packages (mesh/... and models/...):
// no goroutines, no sleeping, no wall clock, no printing, and imports that
// only point down the layer map.
package contract
