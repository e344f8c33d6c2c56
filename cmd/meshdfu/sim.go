package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newSimCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sim",
		Short: "Simulate a fleet firmware update",
		Long: `sim runs a simulated fleet update in virtual time: an Initiator uploads a
signed image to a Distributor, which updates the targets over a simulated
radio medium with loss, relays and collisions.`,
		Example: `  meshdfu sim
  meshdfu sim --nodes 100 --loss 0.1 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "meshdfu sim: no scenario yet — the mesh stack is in place; the radio simulator and the DFU models land in later issues.")
			return nil
		},
	}
}
