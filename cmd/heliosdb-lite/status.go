package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/node"
)

// defaultAdminAddr is where the cluster tools look for a node's admin API
// when neither --http-addr nor HELIOSDB_HTTP_ADDR is given. The server
// itself has no admin API unless started with --http-addr; the docs use
// this address for a node started on one host.
const defaultAdminAddr = "127.0.0.1:9432"

func init() { commands = append(commands, newStatusCmd) }

// adminFlags are the flags every admin-API client command takes.
type adminFlags struct {
	addr    string
	timeout time.Duration
	json    bool
}

func (f *adminFlags) register(cmd *cobra.Command) {
	def := defaultAdminAddr
	if v := os.Getenv("HELIOSDB_HTTP_ADDR"); v != "" {
		def = v
	}
	cmd.Flags().StringVar(&f.addr, "http-addr", def, "admin HTTP address of any node (env HELIOSDB_HTTP_ADDR)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Second, "give up after this long")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the raw JSON answer")
}

// get fetches path from the admin API and returns the body of a 200
// answer. Anything else is an error naming the address and what to check.
func (f *adminFlags) get(ctx context.Context, path string) ([]byte, error) {
	return f.do(ctx, http.MethodGet, path, 4<<20)
}

// do sends a bodiless request to the admin API, reading at most limit
// bytes of the answer.
func (f *adminFlags) do(ctx context.Context, method, path string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	base := f.addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--http-addr %q: %v", f.addr, err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s unreachable: %v (is the node running with --http-addr %s?)", f.addr, err, f.addr)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %v", f.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("admin API at %s%s: %s: %s", f.addr, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func newStatusCmd() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show one node's view of itself and the cluster (admin API /status)",
		Long: `Show a node's status: id, role, leader, applied index, lag and data size.

Asks the admin HTTP API of the node at --http-addr (default ` + defaultAdminAddr + `,
or HELIOSDB_HTTP_ADDR). Exits 1 when the node cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := af.get(cmd.Context(), "/status")
			if err != nil {
				return err
			}
			if af.json {
				_, err = os.Stdout.Write(body)
				return err
			}
			var st node.StatusView
			if err := json.Unmarshal(body, &st); err != nil {
				return fmt.Errorf("admin API at %s: unexpected /status answer: %v", af.addr, err)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	af.register(cmd)
	return cmd
}

func printStatus(w io.Writer, st node.StatusView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mode := "single node"
	if st.Cluster {
		mode = fmt.Sprintf("cluster (%d voters)", st.Voters)
	}
	leader := st.LeaderID
	if leader == "" {
		leader = "(none known)"
	}
	rows := [][2]string{
		{"node_id", st.NodeID},
		{"version", st.Version},
		{"mode", mode},
		{"role", strings.ToLower(st.Role)},
		{"leader", leader},
		{"term", fmt.Sprint(st.Term)},
		{"pg_addr", st.PGAddr},
		{"applied_index", fmt.Sprint(st.RaftApplied)},
		{"commit_index", fmt.Sprint(st.CommitIndex)},
		{"replication_lag", fmt.Sprintf("%d entries, %dms since leader contact", st.LagEntries, st.LastContactMS)},
		{"tables", fmt.Sprint(st.Tables)},
		{"rows", fmt.Sprint(st.Rows)},
		{"dirty_bytes", fmt.Sprint(st.DirtyBytes)},
		{"data_dir", orDash(st.DataDir)},
		{"uptime", st.Uptime},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
