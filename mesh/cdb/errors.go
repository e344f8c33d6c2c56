package cdb

import "errors"

// Sentinel errors; test with errors.Is.
var (
	// ErrSyntax reports JSON that does not decode, or a field of the wrong
	// form (bad hex, bad UUID).
	ErrSyntax = errors.New("cdb: syntax")
	// ErrInvalid reports a database that decodes but breaks a rule: an
	// index out of range, a duplicate or overlapping address, a key bound
	// to an unknown NetKey.
	ErrInvalid = errors.New("cdb: invalid")
	// ErrNotFound reports a key index or node the database does not hold.
	ErrNotFound = errors.New("cdb: not found")
	// ErrNoKey reports key material the file does not carry (a partial
	// export, or a bluez mesh-cfgclient store that keeps keys elsewhere).
	ErrNoKey = errors.New("cdb: key not in database")
	// ErrFull reports no free unicast range of the size asked for.
	ErrFull = errors.New("cdb: no free unicast addresses")
)
