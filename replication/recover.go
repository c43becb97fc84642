package replication

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// Recovering from a permanent loss of quorum
//
// When a majority of voters is gone for good, the survivors cannot elect a
// leader and no configuration change can commit. The procedure (documented
// for operators in DESIGN.md):
//
//  1. Stop every surviving server.
//  2. On each survivor, write the same list of survivors, either with
//     WritePeersJSON(dataDir, peers) (`heliosdb-lite recover --peers ...`),
//     which the next Open applies and renames to peers.json.applied, or by
//     calling RecoverCluster offline.
//  3. Start the survivors. They elect a leader among themselves; data
//     committed by the old cluster and present on a survivor is kept;
//     entries only the lost servers had are gone.
//  4. Wipe the lost servers' data dirs before they ever come back, or
//     restart them with their data: the reconciler re-adds them as
//     non-voters and promotes them once caught up.
//
// Use the same peer list on every survivor; different lists can produce
// two clusters.

// Peer is one server of a recovery configuration.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"` // raft advertise address
	NonVoter bool   `json:"non_voter"`
}

// WritePeersJSON writes dataDir/peers.json in the format raft.ReadConfigJSON
// reads. The node must be stopped; the next Open recovers with it. The write
// is durable (temp file, fsync, rename, fsync dir) so a crash leaves either
// no file or the whole file.
func WritePeersJSON(dataDir string, peers []Peer) error {
	if err := checkPeers(peers); err != nil {
		return err
	}
	b, err := json.MarshalIndent(peers, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, peersJSONFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("replication: write %s: %w", tmp, err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replication: write %s: %w", path, err)
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	// Parse it back so that a file Open would refuse is caught now.
	if _, err := raft.ReadConfigJSON(path); err != nil {
		return fmt.Errorf("replication: %s does not read back: %w", path, err)
	}
	return nil
}

// RecoverCluster rewrites the raft configuration stored in cfg.DataDir to
// peers, offline (the node must be stopped: this opens its stores). fsm is
// used for raft's recovery snapshot and must be discarded afterwards: Open
// takes a fresh one and restores it from that snapshot.
func RecoverCluster(cfg Config, fsm raft.FSM, peers []Peer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.inMemory() {
		return fmt.Errorf("%w: recovery needs a DataDir", ErrInvalidConfig)
	}
	if err := checkPeers(peers); err != nil {
		return err
	}
	n := &Node{cfg: cfg}
	if cfg.Logger == nil {
		n.cfg.Logger = slog.Default()
	}
	n.log = n.cfg.Logger.With("node", cfg.NodeID)
	n.hlog = newHclog(n.log, "raft")
	st, err := openStores(&n.cfg, n.hlog)
	if err != nil {
		return err
	}
	defer st.close()
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.raftAdvertise()))
	defer trans.Close()
	if err := raft.RecoverCluster(n.raftConfig(), fsm, st.logs, st.stable, st.snaps, trans, peersConfig(peers)); err != nil {
		return fmt.Errorf("replication: recover %s: %w", cfg.DataDir, err)
	}
	n.log.Warn("replication: raft configuration recovered", "servers", len(peers))
	return nil
}

func checkPeers(peers []Peer) error {
	if len(peers) == 0 {
		return fmt.Errorf("%w: recovery needs at least one peer", ErrInvalidConfig)
	}
	voters, seen := 0, map[string]bool{}
	for _, p := range peers {
		if p.ID == "" || seen[p.ID] {
			return fmt.Errorf("%w: recovery peer id %q empty or duplicated", ErrInvalidConfig, p.ID)
		}
		seen[p.ID] = true
		if err := checkHostPort("peer "+p.ID+" address", p.Address, true); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
		if !p.NonVoter {
			voters++
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: recovery needs at least one voter", ErrInvalidConfig)
	}
	return nil
}

func peersConfig(peers []Peer) raft.Configuration {
	var c raft.Configuration
	for _, p := range peers {
		s := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)}
		if p.NonVoter {
			s.Suffrage = raft.Nonvoter
		}
		c.Servers = append(c.Servers, s)
	}
	return c
}
