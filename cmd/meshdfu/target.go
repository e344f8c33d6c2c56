package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newTargetCmd() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Run an emulated mesh device (a node from a network file) over UDP",
		Long: `target runs one node of a network file as its own process: its keys,
address and model configuration come from the file on first start; from then
on its data directory holds its state (keys, IV Index, sequence numbers,
configuration), so a restart resumes where it stopped. PDUs travel as UDP
datagrams to the peers given with --peer, the node's "radio range".

It prints "listening on HOST:PORT" once the node runs, and stops on
SIGINT or SIGTERM.`,
		Example: `  meshdfu network new --nodes 2 --out net.json
  meshdfu target --cdb net.json --node 0x0002 --data-dir /tmp/t2 \
      --bearer udp:127.0.0.1:5002 --peer 127.0.0.1:5001`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rn, err := startNode(ctx, &f, os.Stderr, false, nil)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer rn.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "meshdfu target: node %v listening on %v\n", rn.node.Address(), rn.bearer.LocalAddr())
			<-ctx.Done()
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
