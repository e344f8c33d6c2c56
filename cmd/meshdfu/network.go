package main

import (
	"crypto/rand"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/mesh/cdb"
)

func newNetworkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Create and inspect network files (Mesh Configuration Database JSON)",
	}
	var (
		nodes int
		out   string
		name  string
	)
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Create a network file with fresh keys and N provisioned nodes",
		Long: `new writes a Mesh Configuration Database (the JSON file nRF Mesh and
mesh-cfgclient exchange) with a random NetKey and AppKey, a provisioner node
at 0x0001 and N more nodes at 0x0002 upwards, each with its own device key.
The file holds keys: it is written with owner-only permissions.`,
		Example: `  meshdfu network new --nodes 3 --out net.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodes < 0 || nodes > 1000 {
				return &exitError{code: 2, msg: "--nodes must be between 0 and 1000"}
			}
			db, err := cdb.NewNetwork(name, rand.Reader)
			if err != nil {
				return err
			}
			if _, err := db.AddNode(rand.Reader, cdb.NewNode{Name: "provisioner"}); err != nil {
				return err
			}
			for i := 0; i < nodes; i++ {
				if _, err := db.AddNode(rand.Reader, cdb.NewNode{Name: fmt.Sprintf("node-%d", i+1)}); err != nil {
					return err
				}
			}
			b, err := db.Marshal()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o600); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: provisioner 0x0001 and %d nodes\n", out, nodes)
			return nil
		},
	}
	newCmd.Flags().IntVar(&nodes, "nodes", 1, "number of nodes besides the provisioner")
	newCmd.Flags().StringVar(&out, "out", "network.json", "file to write")
	newCmd.Flags().StringVar(&name, "name", "meshdfu", "network name")
	cmd.AddCommand(newCmd)
	return cmd
}
