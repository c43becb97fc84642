package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/replication"
)

func init() { commands = append(commands, newRecoverCmd) }

// newRecoverCmd writes peers.json for the quorum-loss procedure
// (docs/cluster.md): the next start of the node replaces its raft
// configuration with exactly these peers.
func newRecoverCmd() *cobra.Command {
	var dataDir, peers string
	cmd := &cobra.Command{
		Use:   "recover --data-dir DIR --peers ID=RAFT_ADDR[,ID=RAFT_ADDR...]",
		Short: "Recover from a permanent loss of quorum: set the surviving servers (node must be stopped)",
		Long: `Recover a cluster that lost a majority of its servers for good.

1. Stop every surviving node.
2. On each survivor run, with the SAME peer list everywhere:
     heliosdb-lite recover --data-dir DIR --peers n1=10.0.0.1:7001,n2=10.0.0.2:7001
   (ids and raft advertise addresses of the survivors). This writes
   DIR/peers.json.
3. Start the survivors as before. On start each applies peers.json (renamed to
   peers.json.applied), they elect a leader among themselves and keep their
   data. Entries only the lost servers had are gone.
4. Wipe the data dirs of the lost servers before they come back, or restart
   them with their data: they are re-added as non-voters, then voters.

Different peer lists on different survivors can create two clusters.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return withCode(exitUsage, errors.New("--data-dir is required (the stopped node's data directory)"))
			}
			ps, err := parsePeers(peers)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if _, err := os.Stat(filepath.Join(dataDir, "raft.db")); err != nil {
				return withCode(exitUsage, fmt.Errorf("%s has no raft.db: not a node data directory (%v)", dataDir, err))
			}
			// A running node would apply peers.json at some later
			// restart, long after the operator meant it: refuse.
			if busy, err := dbInUse(filepath.Join(dataDir, "raft.db")); err != nil {
				return fmt.Errorf("checking that the node is stopped: %v", err)
			} else if busy {
				return fmt.Errorf("the node using %s is running (raft.db is locked): stop it first, then run recover (nothing was written)", dataDir)
			}
			if err := replication.WritePeersJSON(dataDir, ps); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s with %d peers; start the node to apply it\n",
				filepath.Join(dataDir, "peers.json"), len(ps))
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the stopped node")
	cmd.Flags().StringVar(&peers, "peers", "", "surviving servers as id=raft_address, comma-separated (the same on every survivor)")
	return cmd
}

// parsePeers reads "n1=host:port,n2=host:port".
func parsePeers(s string) ([]replication.Peer, error) {
	var out []replication.Peer
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--peers: %q: want id=raft_host:port", part)
		}
		out = append(out, replication.Peer{ID: id, Address: addr})
	}
	if len(out) == 0 {
		return nil, errors.New("--peers is required: the surviving servers as id=raft_host:port, comma-separated")
	}
	return out, nil
}
