package replication

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// File names inside Config.DataDir.
const (
	raftDBFile    = "raft.db"    // raft-boltdb/v2: log + stable store
	peersJSONFile = "peers.json" // recovery input, see recover.go
)

// stores is everything raft persists, opened together and closed together.
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	bolt   *raftboltdb.BoltStore // nil in memory
}

// openStores opens the log, stable and snapshot stores. In memory nothing
// touches the disk. On disk, bbolt runs with NoFreelistSync and the map
// freelist: the freelist is rebuilt on open instead of being rewritten on
// every commit, which is what makes large logs cheap to append to and
// truncate (raft-boltdb's own recommendation).
func openStores(cfg *Config, hl hclog.Logger) (*stores, error) {
	if cfg.inMemory() {
		m := raft.NewInmemStore()
		return &stores{logs: m, stable: m, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("replication: create data dir %s: %w", cfg.DataDir, err)
	}
	bs, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.DataDir, raftDBFile),
		BoltOptions: &bbolt.Options{
			// Another process holding the file (a second server on the same
			// DataDir) must fail fast with a clear error, not hang.
			Timeout:        2 * time.Second,
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("replication: open %s: %w (is another server using this data dir?)",
			filepath.Join(cfg.DataDir, raftDBFile), err)
	}
	var snaps raft.SnapshotStore
	if cfg.SnapshotStore != nil {
		snaps, err = cfg.SnapshotStore(cfg.DataDir, cfg.SnapshotRetain)
	} else {
		snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hl.Named("snapshots"))
	}
	if err != nil {
		_ = bs.Close()
		return nil, fmt.Errorf("replication: open snapshot store in %s: %w", cfg.DataDir, err)
	}
	return &stores{logs: bs, stable: bs, snaps: snaps, bolt: bs}, nil
}

func (s *stores) close() error {
	if s.bolt != nil {
		return s.bolt.Close()
	}
	return nil
}

// newestSnapshotIndex is the index of the newest snapshot in the store, 0 if
// none. Used by trackingFSM after a Restore.
func newestSnapshotIndex(snaps raft.SnapshotStore) uint64 {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return 0
	}
	return list[0].Index
}
