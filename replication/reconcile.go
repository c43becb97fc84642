package replication

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// runReconcile makes the raft configuration follow gossip, on the leader
// only (every ReconcileInterval, on gossip events, and when leadership
// changes):
//
//   - an alive server that is not in the configuration is added as a
//     non-voter: it does not count towards quorum while it copies the
//     snapshot and log, so adding a slow or empty node cannot stall writes;
//   - a non-voter whose applied index is within PromoteMaxLag of the
//     leader's last index is promoted to voter;
//   - a server that left gracefully is removed at once;
//   - a server gossip reports dead (or does not know) for DeadServerGrace
//     is removed.
//
// Each change is one raft configuration entry; a failure (lost leadership,
// timeout) is logged and retried on the next round.
func (n *Node) runReconcile() {
	obsCh := make(chan raft.Observation, 8)
	obs := raft.NewObserver(obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)
	t := time.NewTicker(n.cfg.ReconcileInterval)
	defer t.Stop()
	// deadSince: when this leader first saw each configured server not
	// alive. Reset when leadership is lost: a new leader starts its own
	// grace period, which errs on the side of keeping servers.
	deadSince := map[raft.ServerID]time.Time{}
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-t.C:
		case <-n.reconcileCh:
		case <-obsCh:
		}
		if !n.IsLeader() {
			clear(deadSince)
			continue
		}
		n.reconcileOnce(deadSince, time.Now())
	}
}

func (n *Node) reconcileOnce(deadSince map[raft.ServerID]time.Time, now time.Time) {
	servers, err := n.configuration()
	if err != nil {
		return
	}
	self := raft.ServerID(n.cfg.NodeID)
	inConf := make(map[raft.ServerID]raft.Server, len(servers))
	for _, s := range servers {
		inConf[s.ID] = s
	}
	members := n.disc.members()
	timeout := n.cfg.ReconcileInterval

	for name, mi := range members {
		id := raft.ServerID(name)
		if id == self || mi.state != memberlist.StateAlive || !mi.metaOK || mi.meta.RaftAddr == "" {
			continue
		}
		addr := raft.ServerAddress(mi.meta.RaftAddr)
		srv, ok := inConf[id]
		switch {
		case !ok:
			n.log.Info("replication: adding server as non-voter", "id", id, "addr", addr)
			n.logMembershipErr("add non-voter", id, n.raft.AddNonvoter(id, addr, 0, timeout).Error())
		case srv.Address != addr:
			// Same id, new address (a node moved): re-add with its address,
			// keeping its suffrage.
			n.log.Info("replication: server address changed", "id", id, "old", srv.Address, "new", addr)
			if srv.Suffrage == raft.Voter {
				n.logMembershipErr("update voter", id, n.raft.AddVoter(id, addr, 0, timeout).Error())
			} else {
				n.logMembershipErr("update non-voter", id, n.raft.AddNonvoter(id, addr, 0, timeout).Error())
			}
		case srv.Suffrage == raft.Nonvoter && n.caughtUp(mi.meta):
			n.log.Info("replication: promoting caught-up non-voter to voter", "id", id)
			n.logMembershipErr("promote", id, n.raft.AddVoter(id, addr, 0, timeout).Error())
		}
	}

	for _, s := range servers {
		if s.ID == self {
			continue
		}
		mi, known := members[string(s.ID)]
		switch {
		case known && mi.state == memberlist.StateLeft:
			n.log.Info("replication: removing server that left", "id", s.ID)
			n.logMembershipErr("remove left", s.ID, n.raft.RemoveServer(s.ID, 0, timeout).Error())
			delete(deadSince, s.ID)
		case known && (mi.state == memberlist.StateAlive || mi.state == memberlist.StateSuspect):
			delete(deadSince, s.ID)
		default: // dead, or never seen by this leader's gossip
			first, seen := deadSince[s.ID]
			if !seen {
				deadSince[s.ID] = now
				continue
			}
			if now.Sub(first) >= n.cfg.DeadServerGrace {
				n.log.Warn("replication: removing server dead longer than the grace period",
					"id", s.ID, "grace", n.cfg.DeadServerGrace)
				n.logMembershipErr("remove dead", s.ID, n.raft.RemoveServer(s.ID, 0, timeout).Error())
				delete(deadSince, s.ID)
			}
		}
	}
}

// caughtUp asks the non-voter for its applied index (gossip metadata may be
// a refresh interval old) and compares it with the leader's last index. A
// node that cannot be asked, or has applied nothing yet (not even the
// configuration entries every node receives first), is not promoted.
func (n *Node) caughtUp(m nodeMeta) bool {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ReconcileInterval)
	defer cancel()
	res, err := n.call(ctx, m.AdminAddr, http.MethodGet, pathStatus, nil)
	if err != nil || res.Applied == 0 {
		return false
	}
	return res.Applied+n.cfg.PromoteMaxLag >= n.raft.LastIndex()
}

func (n *Node) logMembershipErr(op string, id raft.ServerID, err error) {
	if err != nil {
		n.log.Warn("replication: membership change failed; will retry", "op", op, "id", id, "err", err)
	}
}
