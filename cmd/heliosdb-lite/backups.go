package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newBackupsCmd) }

func newBackupsCmd() *cobra.Command {
	var conn connFlags
	var verify bool
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "List the dump catalog: every dump in every node's backup_dir, with LSN range, nodes holding it, size and verification",
		Long: `List the dumps in the backup_dir of every reachable node (scheduled dumps
and cluster-wide dumps), merged by dump id: kind (full, full+N incremental
segments), LSN range, the nodes that hold a copy, size, and the result of
the last verification. Nodes re-verify their stored dumps every 6 hours so
that bit rot is found before a restore needs the file; --verify checks
unverified files now.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := conn.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			sql := "COPY heliosdb.backups TO STDOUT"
			if verify {
				sql += copyOptions("verify", "true")
			}
			if _, err := c.CopyTo(ctx, os.Stdout, sql); err != nil {
				return fmt.Errorf("backups via %s: %s", conn.addr(), pgErrorText(err))
			}
			return nil
		},
	}
	conn.add(cmd.Flags())
	cmd.Flags().BoolVar(&verify, "verify", false, "verify files not verified yet before listing")
	return cmd
}
