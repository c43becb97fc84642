package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newLeaveCmd) }

// newLeaveCmd asks a node to leave the cluster gracefully (POST /leave):
// the leader removes it from the raft configuration at once (no dead-server
// grace period), then the node shuts down.
func newLeaveCmd() *cobra.Command {
	var addr, token string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "leave",
		Short: "Remove the node at --http-addr from the cluster gracefully, then stop it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			base := addr
			if !strings.Contains(base, "://") {
				base = "http://" + base
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/leave", nil)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("--http-addr %q: %v", addr, err))
			}
			if token != "" {
				req.Header.Set("X-Heliosdb-Raft-Token", token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("admin API at %s unreachable: %v", addr, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("leave via %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
	def := defaultAdminAddr
	if v := os.Getenv("HELIOSDB_HTTP_ADDR"); v != "" {
		def = v
	}
	cmd.Flags().StringVar(&addr, "http-addr", def, "admin HTTP address of the node that leaves (env HELIOSDB_HTTP_ADDR)")
	cmd.Flags().StringVar(&token, "rpc-token", os.Getenv("HELIOSDB_RPC_TOKEN"), "the cluster's RPC token, if it has one (env HELIOSDB_RPC_TOKEN)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}
