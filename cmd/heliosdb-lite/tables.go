package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newTablesCmd) }

func newTablesCmd() *cobra.Command {
	var conn connFlags
	var long bool
	cmd := &cobra.Command{
		Use:   "tables",
		Short: "List the tables of a running database, one per line",
		Long: `List the tables of a running database, one name per line, so that
'heliosdb-lite tables | grep -v logs | xargs -I{} heliosdb-lite dump ... --tables {}'
works. --long adds the row count and the data size.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := conn.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			rows, err := query(ctx, c.Exec(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"))
			if err != nil {
				return fmt.Errorf("tables: %s", pgErrorText(err))
			}
			out := cmd.OutOrStdout()
			if !long {
				for _, r := range rows {
					fmt.Fprintln(out, r[0])
				}
				return nil
			}
			fmt.Fprintf(out, "%-32s %14s %12s\n", "TABLE", "ROWS", "SIZE")
			for _, r := range rows {
				name := r[0]
				q := fmt.Sprintf(`SELECT count(*), pg_total_relation_size('%s') FROM "%s"`, strings.ReplaceAll(name, "'", "''"), strings.ReplaceAll(name, `"`, `""`))
				st, err := query(ctx, c.Exec(ctx, q))
				if err != nil || len(st) == 0 {
					return fmt.Errorf("tables: counting %s: %s", name, pgErrorText(err))
				}
				var n, size uint64
				fmt.Sscan(st[0][0], &n)
				fmt.Sscan(st[0][1], &size)
				fmt.Fprintf(out, "%-32s %14s %12s\n", name, commas(n), humanSize(int64(size)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "add row counts and sizes")
	conn.add(cmd.Flags())
	return cmd
}
