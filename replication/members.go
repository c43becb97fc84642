package replication

import (
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Role is a member's place in the raft configuration as seen by this node.
type Role string

// Roles reported by Members.
const (
	RoleLeader   Role = "leader"
	RoleFollower Role = "follower"
	RoleNonvoter Role = "nonvoter"
	// RoleNone: visible in gossip but not (yet, or no longer) in the raft
	// configuration: joining, or removed and waiting to be re-added.
	RoleNone Role = "none"
)

// Member describes one server for `heliosdb-lite members`, the admin API
// and the heliosdb.members view.
type Member struct {
	ID         string
	Role       Role
	Voter      bool
	RaftAddr   string
	PGAddr     string
	AdminAddr  string
	GossipAddr string
	// AppliedIndex: exact for this node; for others the value they last
	// published in gossip (at most about MetaRefreshInterval old).
	AppliedIndex uint64
	// LastContact: for this node as a follower, time since it last heard
	// from the leader (0 on the leader); for others, time since their last
	// gossip update (they publish at least every 5 MetaRefreshIntervals).
	// -1 when unknown.
	LastContact time.Duration
	// GossipState: alive, suspect, dead, left, or "" if gossip never saw it.
	GossipState string
	// Healthy: in the raft configuration and alive in gossip and, seen
	// from the leader, answering its heartbeats; for this node: in the
	// configuration and leader, or a follower that heard from the leader
	// within 4*HeartbeatTimeout.
	Healthy bool
}

// Members lists every server in the raft configuration or in gossip,
// sorted by id.
func (n *Node) Members() ([]Member, error) {
	servers, err := n.configuration()
	if err != nil {
		return nil, err
	}
	_, leaderID := n.raft.LeaderWithID()
	byID := map[string]*Member{}
	for _, s := range servers {
		m := &Member{ID: string(s.ID), RaftAddr: string(s.Address), Voter: s.Suffrage == raft.Voter, LastContact: -1}
		switch {
		case s.ID == leaderID:
			m.Role = RoleLeader
		case m.Voter:
			m.Role = RoleFollower
		default:
			m.Role = RoleNonvoter
		}
		byID[m.ID] = m
	}
	now := time.Now()
	if n.disc != nil {
		for id, mi := range n.disc.members() {
			m, inConf := byID[id]
			if !inConf {
				m = &Member{ID: id, Role: RoleNone, LastContact: -1}
				byID[id] = m
			}
			m.GossipAddr = mi.gossipAddr
			m.GossipState = gossipStateName(mi.state)
			if mi.metaOK {
				m.PGAddr, m.AdminAddr, m.AppliedIndex = mi.meta.PGAddr, mi.meta.AdminAddr, mi.meta.Applied
				if m.RaftAddr == "" {
					m.RaftAddr = mi.meta.RaftAddr
				}
			}
			if !mi.lastSeen.IsZero() {
				m.LastContact = now.Sub(mi.lastSeen)
			}
			m.Healthy = inConf && mi.state == memberlist.StateAlive
		}
	}
	if n.IsLeader() {
		// The leader's heartbeats know before gossip does.
		for id, m := range byID {
			if last, failing := n.hb.failingSince(raft.ServerID(id)); failing && id != n.cfg.NodeID {
				m.Healthy = false
				if !last.IsZero() {
					m.LastContact = now.Sub(last)
				}
			}
		}
	}
	// This node: exact values.
	self, inConf := byID[n.cfg.NodeID]
	if !inConf {
		self = &Member{ID: n.cfg.NodeID, Role: RoleNone, RaftAddr: n.cfg.raftAdvertise()}
		byID[self.ID] = self
	}
	self.PGAddr, self.AdminAddr, self.AppliedIndex = n.cfg.PGAddr, n.cfg.AdminAddr, n.AppliedIndex()
	if n.disc != nil {
		self.GossipAddr, self.GossipState = n.cfg.gossipAdvertise(), "alive"
	}
	switch {
	case n.IsLeader():
		self.LastContact = 0
		self.Healthy = inConf
	case leaderID != "":
		self.LastContact = now.Sub(n.raft.LastContact())
		self.Healthy = inConf && self.LastContact < 4*n.cfg.HeartbeatTimeout
	default:
		self.LastContact = -1
		self.Healthy = false
	}
	out := make([]Member, 0, len(byID))
	for _, m := range byID {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return compareStrings(a.ID, b.ID) })
	return out, nil
}

func gossipStateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
}
