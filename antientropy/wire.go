package antientropy

// Internal HTTP API of anti-entropy, mounted on the admin server next to
// replication's /internal/raft/ and authenticated the same way. Bodies are
// JSON; every exchange is small except row lists, whose size is what the
// protocol keeps proportional to the differences.
const (
	// PathPrefix is where Replica.Handler is mounted.
	PathPrefix = "/internal/ae/"

	pathRoots   = PathPrefix + "roots"
	pathTree    = PathPrefix + "tree"
	pathBuckets = PathPrefix + "buckets"
	pathRows    = PathPrefix + "rows"
	pathFence   = PathPrefix + "fence"
	pathTrigger = PathPrefix + "trigger"
	// pathReinstall asks a divergent follower to leave raft, drop its raft
	// state and start again empty (see ReinstallRequest).
	pathReinstall = PathPrefix + "reinstall"

	// TokenHeader carries the cluster RPC token; the same header
	// replication's internal RPCs use.
	TokenHeader = "X-Heliosdb-Raft-Token"

	maxBody = 64 << 20
)

// Status values of a roots answer.
const (
	StatusOK     = "ok"
	StatusNotYet = "not_yet" // the node has not applied the round's marker yet
	StatusGone   = "gone"    // the node no longer keeps (or never had) the round
)

// rootsReply is one node's summary at a round's cut.
type rootsReply struct {
	Status  string      `json:"s"`
	LSN     uint64      `json:"lsn,omitempty"`
	Applied uint64      `json:"applied,omitempty"`
	Fenced  bool        `json:"fenced,omitempty"`
	Tables  []tableRoot `json:"t,omitempty"`
	// LeafMismatch lists tables whose incremental leaves differ from the
	// leaves rebuilt from the stored rows (rebuild rounds only).
	LeafMismatch []string `json:"lm,omitempty"`
}

type tableRoot struct {
	Name string `json:"n"`
	Root uint64 `json:"r"`
	Rows int    `json:"c"`
	Def  uint64 `json:"d"`
}

// cut names the view a request reads: round and whether hashes are
// recomputed from the stored rows.
type cut struct {
	Round   uint64 `json:"round"`
	Rebuild bool   `json:"rebuild,omitempty"`
	Table   string `json:"table"`
}

type treeRequest struct {
	cut
	Level   int   `json:"level"`
	Parents []int `json:"parents"`
}

type treeReply struct {
	Children [][]uint64 `json:"c"`
}

type bucketsRequest struct {
	cut
	Buckets []Bucket `json:"b"`
	// MaxRows: a bucket with at most this many rows is answered with its
	// rows rather than its children.
	MaxRows int `json:"max"`
}

type bucketReply struct {
	Count  int        `json:"n"`
	Rows   []RowEntry `json:"rows,omitempty"`
	Sums   []uint64   `json:"s,omitempty"`
	Counts []int      `json:"c,omitempty"`
}

type bucketsReply struct {
	Buckets []bucketReply `json:"b"`
}

type rowsRequest struct {
	cut
	Keys [][]byte `json:"k"`
}

// RowImage is a row as of a round's cut; absent rows have Present false.
type RowImage struct {
	Key     []byte `json:"k"`
	Enc     []byte `json:"e,omitempty"`
	Present bool   `json:"p"`
}

type rowsReply struct {
	Rows []RowImage `json:"r"`
}

type fenceRequest struct {
	On     bool   `json:"on"`
	Reason string `json:"reason,omitempty"`
}

// ReinstallRequest is what the coordinator sends a follower that differs
// from the majority in at least Config.ReinstallThreshold keys: leave the
// raft configuration gracefully, move the raft state aside and start
// again empty, so that the leader re-adds it and sends it a snapshot.
type ReinstallRequest struct {
	Round uint64 `json:"round"`
	LSN   uint64 `json:"lsn"`
	// Leader is the coordinator's id; the node refuses a request from a
	// node it does not know as its leader.
	Leader string `json:"leader"`
	// Rows is the number of keys in which the node differs.
	Rows   int    `json:"rows"`
	Reason string `json:"reason"`
}

type errorReply struct {
	Err string `json:"err"`
}
