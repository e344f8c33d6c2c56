// Command meshdfu updates the firmware of Bluetooth Mesh devices: it
// simulates fleet updates, decodes mesh PDUs, and runs distributors, targets
// and the initiator. Run "meshdfu --help" for the commands.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "meshdfu:", ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "meshdfu:", err)
	os.Exit(2)
}

// exitError ends the program with a given status; msg (if any) goes to
// standard error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }
