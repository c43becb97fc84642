package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/antientropy"
)

func init() { commands = append(commands, newAntiEntropyCmd) }

func newAntiEntropyCmd() *cobra.Command {
	var af adminFlags
	var now, rebuild bool
	cmd := &cobra.Command{
		Use:   "antientropy",
		Short: "Show the last anti-entropy round, or run one now (--now)",
		Long: `Anti-entropy compares the replicas' Merkle trees at one log position
(a marker every node applies), pins differences to rows, and repairs them
through the log; a replica with no majority for a key is fenced.

Without --now, prints the last round the node at --http-addr coordinated
(rounds run on the leader). With --now, runs a round on that node, which
must be the leader; --rebuild recomputes every row hash from the stored
rows (catches corrupted bytes). Shows the marker LSN, every node's roots,
the differing keys and what was done about them. Exits 1 when a round
found differences it could not repair or failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body []byte
			var err error
			if now {
				path := "/antientropy/run"
				if rebuild {
					path += "?rebuild=1"
				}
				if af.timeout < time.Minute {
					af.timeout = 5 * time.Minute
				}
				body, err = af.post(cmd.Context(), path)
			} else {
				body, err = af.get(cmd.Context(), "/antientropy")
			}
			if err != nil {
				return err
			}
			if af.json {
				_, err = os.Stdout.Write(body)
				return err
			}
			var rep antientropy.Report
			if err := json.Unmarshal(body, &rep); err != nil {
				return fmt.Errorf("admin API at %s: unexpected answer: %v", af.addr, err)
			}
			rep.WriteText(cmd.OutOrStdout())
			if rep.Error != "" || len(rep.SchemaDifferences) > 0 || len(rep.Fenced) > 0 {
				return withCode(exitFailure, fmt.Errorf("anti-entropy round %d did not end clean", rep.Round))
			}
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().BoolVar(&now, "now", false, "run a round now (on the leader) instead of showing the last one")
	cmd.Flags().BoolVar(&rebuild, "rebuild", false, "with --now: recompute row hashes from the stored rows")
	return cmd
}

// post sends an empty POST to the admin API and returns a 200 body.
func (f *adminFlags) post(ctx context.Context, path string) ([]byte, error) {
	return f.do(ctx, http.MethodPost, path, 64<<20)
}
