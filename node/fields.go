package node

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Field is one setting that can come from a flag or an environment
// variable. The same table drives both, so they never disagree.
type Field struct {
	Flag  string
	Env   string
	Usage string
	// Kind: "string", "int", "bool", "list", "duration".
	Kind string
	Set  func(string) error
	Get  func() string
}

// Fields lists the settings of c that flags and HELIOSDB_* variables set.
func Fields(c *Config) []Field {
	var fs []Field
	str := func(flag, usage string, p *string) {
		fs = append(fs, Field{Flag: flag, Usage: usage, Kind: "string", Set: func(v string) error { *p = v; return nil }, Get: func() string { return *p }})
	}
	num := func(flag, usage string, p *int) {
		fs = append(fs, Field{Flag: flag, Usage: usage, Kind: "int", Set: func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("not an integer")
			}
			*p = n
			return nil
		}, Get: func() string { return strconv.Itoa(*p) }})
	}
	boolean := func(flag, usage string, p *bool) {
		fs = append(fs, Field{Flag: flag, Usage: usage, Kind: "bool", Set: func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("not a boolean")
			}
			*p = b
			return nil
		}, Get: func() string { return strconv.FormatBool(*p) }})
	}
	list := func(flag, usage string, p *[]string) {
		fs = append(fs, Field{Flag: flag, Usage: usage, Kind: "list", Set: func(v string) error {
			*p = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					*p = append(*p, s)
				}
			}
			return nil
		}, Get: func() string { return strings.Join(*p, ",") }})
	}
	dur := func(flag, usage string, p *Duration) {
		fs = append(fs, Field{Flag: flag, Usage: usage, Kind: "duration", Set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			p.Duration = d
			return nil
		}, Get: func() string { return p.Duration.String() }})
	}
	str("listen", "address the PostgreSQL server binds (host, or host:port)", &c.Server.Listen)
	num("port", "PostgreSQL port", &c.Server.Port)
	str("data-dir", "directory for the raft log and snapshots (empty: memory only)", &c.Server.DataDir)
	boolean("memory", "keep everything in memory; nothing is written to disk", &c.Server.Memory)
	str("node-id", "stable, unique id of this node", &c.Server.NodeID)
	str("log-level", "debug, info, warn or error", &c.Server.LogLevel)
	str("raft-addr", "raft transport address host:port (cluster mode)", &c.Cluster.RaftAddr)
	str("raft-advertise", "raft address peers dial, if different from --raft-addr", &c.Cluster.RaftAdvertise)
	str("gossip-addr", "memberlist gossip address host:port; enables cluster mode", &c.Cluster.GossipAddr)
	str("gossip-advertise", "gossip address peers dial, if different", &c.Cluster.GossipAdvertise)
	str("http-addr", "admin HTTP address host:port (health, metrics, members, internal RPC)", &c.Cluster.HTTPAddr)
	str("http-advertise", "admin address peers dial, if different", &c.Cluster.HTTPAdvertise)
	str("pg-advertise", "PostgreSQL address shown to other nodes and tools", &c.Cluster.PGAdvertise)
	list("join", "gossip addresses of any members, comma-separated", &c.Cluster.Join)
	num("bootstrap-expect", "bootstrap the cluster once this many servers are visible", &c.Cluster.BootstrapExpect)
	dur("dead-server-grace", "remove a member from raft after it is dead this long", &c.Cluster.DeadServerGrace)
	str("backup-dir", "directory for scheduled and cluster-wide dumps", &c.Dump.BackupDir)
	for i := range fs {
		fs[i].Env = "HELIOSDB_" + strings.ToUpper(strings.ReplaceAll(fs[i].Flag, "-", "_"))
	}
	return fs
}
