package main

import (
	"github.com/spf13/cobra"
)

func newPDUCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pdu",
		Short: "Work with raw mesh PDUs",
	}
	return cmd
}
