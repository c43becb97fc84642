package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newHealthCmd) }

// newHealthCmd is the probe for orchestrators that can only run a command
// (docker compose healthchecks in a FROM scratch image: no curl there).
func newHealthCmd() *cobra.Command {
	var af adminFlags
	var ready bool
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 if the node is alive (or, with --ready, can serve linearizable reads and writes), else 1",
		Long: `Probe a node's admin API: /health (the process serves HTTP) or, with
--ready, /ready (a leader is known and this node has caught up with it).
Prints one line; exits 0 when healthy, 1 otherwise. For healthchecks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/health"
			if ready {
				path = "/ready"
			}
			if _, err := af.get(cmd.Context(), path); err != nil {
				return err
			}
			what := "alive"
			if ready {
				what = "ready"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", af.addr, what)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().BoolVar(&ready, "ready", false, "check readiness (/ready) instead of liveness (/health)")
	return cmd
}
