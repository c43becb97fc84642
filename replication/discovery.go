package replication

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// nodeMeta is what a node publishes in gossip (memberlist limits it to 512
// bytes). It is JSON so that a newer node may add fields an older one
// ignores; V is bumped only for changes an older node must not misread.
type nodeMeta struct {
	V         int    `json:"v"`
	ID        string `json:"id"`
	RaftAddr  string `json:"raft"`
	PGAddr    string `json:"pg,omitempty"`
	AdminAddr string `json:"admin"`
	// Applied is the publisher's FSM applied index, refreshed every
	// MetaRefreshInterval while it changes (so possibly that stale).
	Applied uint64 `json:"applied"`
	// HasState: the publisher has raft state (it was bootstrapped, added,
	// or restarted with a data dir). bootstrap-expect only fires when no
	// visible server has state.
	HasState bool `json:"state"`
	// Leaving is published by Leave just before the gossip leave, so peers
	// can tell a graceful leave from a death: memberlist's leave event does
	// not say which (v0.6.0 does not fill memberlist.Node.State in events).
	Leaving bool `json:"leaving,omitempty"`
	// Beat changes at least every 5 refresh intervals so that peers can
	// tell "alive but idle" from "silent" (Member.LastContact).
	Beat uint64 `json:"beat"`
}

const metaVersion = 1

// memberInfo is what this node knows about one gossip member.
type memberInfo struct {
	meta       nodeMeta
	metaOK     bool // meta decoded and names the same id as the gossip name
	state      memberlist.NodeStateType
	gossipAddr string
	since      time.Time // when state last changed
	lastSeen   time.Time // last join/update event (meta refresh)
}

// discovery owns memberlist and the member table it feeds. memberlist
// calls the delegate methods from its own goroutines, sometimes with its
// locks held: they only touch mu and never call back into memberlist.
type discovery struct {
	n  *Node
	ml *memberlist.Memberlist

	mu struct {
		sync.Mutex                        // guards the fields below
		members    map[string]*memberInfo // by node id (= gossip name)
		local      []byte                 // encoded local meta, served by NodeMeta
		localMeta  nodeMeta               // decoded form of local
	}
}

func (n *Node) startDiscovery(ctx context.Context) error {
	d := &discovery{n: n}
	d.mu.members = map[string]*memberInfo{}
	d.setLocal(n.currentMeta(0))

	mc := memberlist.DefaultLANConfig()
	mc.Name = n.cfg.NodeID
	host, port, err := splitHostPort(n.cfg.GossipBind)
	if err != nil {
		return fmt.Errorf("%w: GossipBind: %v", ErrInvalidConfig, err)
	}
	mc.BindAddr, mc.BindPort = host, port
	adv, err := net.ResolveTCPAddr("tcp", n.cfg.gossipAdvertise())
	if err != nil {
		return fmt.Errorf("%w: GossipAdvertise %q: %v", ErrInvalidConfig, n.cfg.gossipAdvertise(), err)
	}
	mc.AdvertiseAddr, mc.AdvertisePort = adv.IP.String(), adv.Port
	mc.Delegate = d
	mc.Events = d
	mc.Logger = newStdLogger(n.log, "memberlist")
	if n.cfg.Gossip != nil {
		n.cfg.Gossip(mc)
	}
	d.ml, err = memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("replication: start gossip on %s: %w", n.cfg.GossipBind, err)
	}
	n.disc = d
	if len(n.cfg.Join) > 0 {
		if _, err := d.ml.Join(n.cfg.Join); err != nil {
			n.log.Warn("replication: gossip join failed; retrying in the background", "join", n.cfg.Join, "err", err)
		}
	}
	_ = ctx // joining is retried by runJoin; nothing else blocks at start
	n.goFunc(n.runJoin)
	n.goFunc(n.runMetaRefresh)
	n.goFunc(n.runReconcile)
	n.goFunc(n.runHeartbeatWatch)
	if n.cfg.BootstrapExpect > 0 && !n.hadState {
		n.goFunc(n.runBootstrap)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return h, port, err
}

// currentMeta builds this node's metadata.
func (n *Node) currentMeta(beat uint64) nodeMeta {
	m := nodeMeta{
		V: metaVersion, ID: n.cfg.NodeID, RaftAddr: n.cfg.raftAdvertise(),
		PGAddr: n.cfg.PGAddr, AdminAddr: n.cfg.AdminAddr, HasState: n.hadState, Beat: beat,
		Leaving: n.leaving.Load(),
	}
	if n.raft != nil {
		m.Applied = n.AppliedIndex()
		m.HasState = m.HasState || n.raft.LastIndex() > 0
	}
	return m
}

func (d *discovery) setLocal(m nodeMeta) {
	b, _ := json.Marshal(m)
	d.mu.Lock()
	d.mu.local, d.mu.localMeta = b, m
	d.mu.Unlock()
}

// meta returns the published metadata of member id (self included).
func (d *discovery) meta(id string) (nodeMeta, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id == d.n.cfg.NodeID {
		return d.mu.localMeta, true
	}
	mi, ok := d.mu.members[id]
	if !ok || !mi.metaOK {
		return nodeMeta{}, false
	}
	return mi.meta, true
}

// members returns a copy of the member table.
func (d *discovery) members() map[string]memberInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]memberInfo, len(d.mu.members))
	for id, mi := range d.mu.members {
		out[id] = *mi
	}
	return out
}

// --- memberlist.Delegate -----------------------------------------------------

// NodeMeta is called by memberlist when it (re)announces this node.
func (d *discovery) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.mu.local) > limit {
		return nil // cannot happen with sane addresses; peers then see metaOK=false
	}
	return d.mu.local
}
func (d *discovery) NotifyMsg([]byte)                           {}
func (d *discovery) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *discovery) LocalState(join bool) []byte                { return nil }
func (d *discovery) MergeRemoteState(buf []byte, join bool)     {}

// --- memberlist.EventDelegate ------------------------------------------------

func (d *discovery) NotifyJoin(node *memberlist.Node)   { d.observe(node, memberlist.StateAlive) }
func (d *discovery) NotifyUpdate(node *memberlist.Node) { d.observe(node, memberlist.StateAlive) }

// NotifyLeave fires for deaths and graceful leaves alike; a member whose
// last metadata said it was leaving has left, any other has died.
func (d *discovery) NotifyLeave(node *memberlist.Node) { d.observe(node, memberlist.StateDead) }

func (d *discovery) observe(node *memberlist.Node, state memberlist.NodeStateType) {
	now := time.Now()
	var m nodeMeta
	ok := json.Unmarshal(node.Meta, &m) == nil && m.ID == node.Name && m.V >= 1
	d.mu.Lock()
	mi := d.mu.members[node.Name]
	if mi == nil {
		mi = &memberInfo{since: now}
		d.mu.members[node.Name] = mi
	}
	if ok {
		mi.meta, mi.metaOK = m, true
	}
	if state == memberlist.StateDead && mi.metaOK && mi.meta.Leaving {
		state = memberlist.StateLeft
	}
	if mi.state != state {
		mi.since = now
	}
	mi.state = state
	mi.gossipAddr = net.JoinHostPort(node.Addr.String(), strconv.Itoa(int(node.Port)))
	if state == memberlist.StateAlive {
		mi.lastSeen = now
	}
	d.mu.Unlock()
	d.n.pokeReconcile()
}

func (n *Node) pokeReconcile() {
	select {
	case n.reconcileCh <- struct{}{}:
	default:
	}
}

// runJoin retries joining the configured gossip addresses until some
// other member is visible (a node started before its peers). Later
// partitions are memberlist's business (it rejoins through push-pull).
func (n *Node) runJoin() {
	backoff := 200 * time.Millisecond
	for n.disc.ml.NumMembers() < 2 && len(n.cfg.Join) > 0 {
		select {
		case <-n.shutdownCh:
			return
		case <-time.After(backoff):
		}
		if _, err := n.disc.ml.Join(n.cfg.Join); err != nil {
			n.log.Debug("replication: gossip join retry failed", "err", err)
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// runMetaRefresh republishes this node's metadata when it changed (applied
// index, raft state), and at least every 5 intervals as a heartbeat.
func (n *Node) runMetaRefresh() {
	t := time.NewTicker(n.cfg.MetaRefreshInterval)
	defer t.Stop()
	var beat, ticks uint64
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-t.C:
		}
		ticks++
		m := n.currentMeta(beat)
		n.disc.mu.Lock()
		prev := n.disc.mu.localMeta
		n.disc.mu.Unlock()
		if m == prev && ticks%5 != 0 {
			continue
		}
		if m == prev {
			beat++
			m.Beat = beat
		}
		n.disc.setLocal(m)
		if err := n.disc.ml.UpdateNode(n.cfg.MetaRefreshInterval); err != nil {
			n.log.Debug("replication: gossip meta update", "err", err)
		}
	}
}

// runBootstrap implements bootstrap-expect. Once BootstrapExpect servers
// are visible and none has raft state, the one with the lowest id
// bootstraps all visible servers as voters; the others wait to hear from
// the leader that results. It ends as soon as this node has any raft
// state (bootstrapped or added by someone) or any visible server has
// state (then an existing cluster will add us through its reconciler).
func (n *Node) runBootstrap() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.shutdownCh:
			return
		case <-t.C:
		}
		if n.raft.LastIndex() > 0 {
			return
		}
		servers := []raft.Server{n.self()}
		someoneHasState := false
		for id, mi := range n.disc.members() {
			if id == n.cfg.NodeID || mi.state != memberlist.StateAlive || !mi.metaOK {
				continue
			}
			someoneHasState = someoneHasState || mi.meta.HasState
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(mi.meta.RaftAddr)})
		}
		if len(servers) < n.cfg.BootstrapExpect {
			continue
		}
		if someoneHasState {
			n.log.Info("replication: bootstrap-expect: a visible server already has raft state; waiting to be added")
			return
		}
		slices.SortFunc(servers, func(a, b raft.Server) int {
			return compareStrings(string(a.ID), string(b.ID))
		})
		if string(servers[0].ID) != n.cfg.NodeID {
			continue // the lowest id bootstraps; we will hear from its leader
		}
		if err := n.bootstrap(servers); err != nil {
			n.log.Error("replication: bootstrap-expect failed", "err", err)
		}
		return
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Leave removes this node from the cluster for good: it hands leadership
// away if it has it, announces a graceful leave in gossip (the leader then
// removes it from the raft configuration), waits until that removal is
// visible here or ctx ends, and shuts down.
func (n *Node) Leave(ctx context.Context) error {
	if n.disc == nil {
		return ErrNotCluster
	}
	if n.IsLeader() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("replication: leadership transfer before leave failed", "err", err)
		}
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	n.leaving.Store(true)
	n.disc.setLocal(n.currentMeta(0))
	if err := n.disc.ml.UpdateNode(timeout); err != nil {
		n.log.Warn("replication: announcing leave in gossip", "err", err)
	}
	if err := n.disc.ml.Leave(timeout); err != nil {
		n.log.Warn("replication: gossip leave", "err", err)
	}
	// A removed server may never see the configuration that removes it, so
	// ask the leader (any other node's leader view would do as well).
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var err error
wait:
	for {
		if gone, e := n.removedAtLeader(ctx); e == nil && gone {
			break
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("replication: left gossip but removal from raft not confirmed: %w", ctx.Err())
			break wait
		case <-t.C:
		}
	}
	if e := n.Shutdown(); err == nil {
		err = e
	}
	return err
}

// removedAtLeader asks the current leader (another node) whether this node
// is still in its configuration.
func (n *Node) removedAtLeader(ctx context.Context) (bool, error) {
	_, id := n.LeaderAddr()
	if id == "" || id == n.cfg.NodeID {
		return false, ErrNoLeader
	}
	m, ok := n.disc.meta(id)
	if !ok {
		return false, ErrNoLeader
	}
	res, err := n.call(ctx, m.AdminAddr, http.MethodGet, pathStatus+"?member="+url.QueryEscape(n.cfg.NodeID), nil)
	if err != nil {
		return false, err
	}
	return !res.HasMember, nil
}

// configuration returns the latest raft configuration known locally.
func (n *Node) configuration() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, mapRaftErr(err)
	}
	return f.Configuration().Servers, nil
}
