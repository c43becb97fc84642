package antientropy

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/replication"
)

// replCluster adapts a replication.Node to Cluster.
type replCluster struct{ n *replication.Node }

// FromReplication returns the Cluster view of a raft node.
func FromReplication(n *replication.Node) Cluster { return replCluster{n} }

func (c replCluster) ID() string     { return c.n.ID() }
func (c replCluster) IsLeader() bool { return c.n.IsLeader() }

func (c replCluster) Apply(ctx context.Context, payload []byte) (any, uint64, error) {
	return c.n.Apply(ctx, payload)
}

// Voters uses the admin addresses published in gossip (exact for self).
func (c replCluster) Voters() ([]Peer, error) {
	ms, err := c.n.Members()
	if err != nil {
		return nil, err
	}
	var out []Peer
	for _, m := range ms {
		if m.Voter {
			out = append(out, Peer{ID: m.ID, Addr: m.AdminAddr})
		}
	}
	return out, nil
}

func (c replCluster) TransferLeadership(ctx context.Context, id string) error {
	var addr string
	ms, err := c.n.Members()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.ID == id {
			addr = m.RaftAddr
		}
	}
	if addr == "" {
		return fmt.Errorf("antientropy: no raft address for %s", id)
	}
	if err := c.n.Raft().LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)).Error(); err != nil {
		return err
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if _, lid := c.n.LeaderAddr(); lid == id {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
