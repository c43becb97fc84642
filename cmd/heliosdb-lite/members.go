package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/node"
)

func init() { commands = append(commands, newMembersCmd) }

func newMembersCmd() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the cluster's members as one node sees them (admin API /members)",
		Long: `List every server in the raft configuration or in gossip: role
(leader, follower, nonvoter, none = not in the configuration), voter, health,
addresses, applied index and lag behind the leader.

Asks the admin HTTP API of any node at --http-addr (default ` + defaultAdminAddr + `,
or HELIOSDB_HTTP_ADDR). The same data is in SQL: select * from heliosdb.members.
Exits 1 when the node cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := af.get(cmd.Context(), "/members")
			if err != nil {
				return err
			}
			if af.json {
				_, err = os.Stdout.Write(body)
				return err
			}
			var ms []node.MemberView
			if err := json.Unmarshal(body, &ms); err != nil {
				return fmt.Errorf("admin API at %s: unexpected /members answer: %v", af.addr, err)
			}
			printMembers(cmd.OutOrStdout(), ms)
			return nil
		},
	}
	af.register(cmd)
	return cmd
}

func printMembers(w io.Writer, ms []node.MemberView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tVOTER\tHEALTHY\tGOSSIP\tPG_ADDR\tRAFT_ADDR\tAPPLIED\tLAG\tLAST_CONTACT")
	for _, m := range ms {
		lc := "-"
		if m.LastContactMS >= 0 {
			lc = (time.Duration(m.LastContactMS) * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\t%s\t%s\t%d\t%d\t%s\n", m.NodeID, m.Role, m.Voter, m.Healthy,
			orDash(m.GossipState), orDash(m.PGAddr), orDash(m.RaftAddr), m.AppliedLSN, m.Lag, lc)
	}
	tw.Flush()
}
