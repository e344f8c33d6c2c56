package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "meshdfu",
		Short: "Bluetooth Mesh Device Firmware Update: simulator, tools and daemons",
		Long: `meshdfu implements Bluetooth Mesh Device Firmware Update (DFU) in Go:
the Firmware Update and Firmware Distribution models on BLOB Transfer,
over its own mesh stack, with a radio simulator that runs the same code.`,
		Example: `  meshdfu sim                      # simulate a fleet update with sensible defaults
  meshdfu pdu decode --netkey 7dd7364cd842ad18c17c2b820c84c3d6 --iv-index 12345678 \
      68eca487516765b5e5bfdacbaf6cb7fb6bff871f035444ce83a670df`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newSimCmd(), newPDUCmd(), newTargetCmd(), newConfigCmd(), newNetworkCmd(), newFirmwareCmd(), newUpdateServerCmd(), newDistributorCmd(), newDistCmd())
	return root
}
