package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// copyDumpOut serves COPY heliosdb.dump TO STDOUT WITH (...): it streams a
// .heliodump of one consistent snapshot (one LSN) without blocking writers.
// Options: compress none|lz4|zstd, level N, tables 'a,b', since_lsn N
// (an incremental segment with the rows and deletes after that LSN) with
// base_tables 'a,b' (the tables of the chain it continues; a comma alone
// for none) and base_subset 'true' (that chain is a dump of a table
// subset: the increment is marked so too), since_last_dump 'true' (an
// increment since the last complete dump this node served), chain_id
// 'ID' (with since_lsn or since_last_dump: the database id recorded in
// the file being continued; refused with 55000 when it is not this
// database's),
// dry_run 'true' (one text line with the estimate instead of the dump).
//
// A complete dump of the whole database, or an increment to a chain that
// then holds every table, resets the dirty-byte baseline
// (pg_stat_get_dirty_bytes falls to 0); table subsets do not, since they
// do not capture everything.
func (n *Node) copyDumpOut(ctx context.Context, opts map[string]string, w io.Writer) (err error) {
	start := time.Now()
	defer func() { n.metrics.observeDump(time.Since(start), err) }()
	wo := snapshot.DefaultWriterOptions()
	if c, ok := opts["compress"]; ok {
		if wo.Compression, err = snapshot.ParseCompression(c); err != nil {
			return badOption("compress", err)
		}
		// The default level is zstd's 3; for lz4, 3 would mean LZ4-HC,
		// ten times slower than the fast compressor that is lz4's default.
		wo.Level = 0
	}
	if l, ok := opts["level"]; ok {
		if wo.Level, err = strconv.Atoi(l); err != nil {
			return badOption("level", err)
		}
	}
	if t := opts["tables"]; t != "" {
		for _, name := range strings.Split(t, ",") {
			if name = strings.TrimSpace(name); name != "" {
				wo.Tables = append(wo.Tables, name)
			}
		}
	}
	wo.NodeID = n.cfg.Server.NodeID
	if err := wo.Validate(); err != nil {
		return &sqlStateErr{code: "22023", err: fmt.Errorf("invalid dump options: %s", strings.TrimPrefix(err.Error(), snapshot.ErrInvalidOptions.Error()+": "))}
	}
	dryRun := isTrue(opts["dry_run"])
	if !dryRun {
		// Every dump records the database it came from (read back below,
		// from the dumped snapshot itself).
		if _, err := n.ensureDatabaseID(ctx); err != nil {
			return err
		}
	}
	snap, err := n.readSnapshot(ctx, "linearizable")
	if err != nil {
		return err
	}
	dbID := databaseID(snap)
	wo.ClusterID = dbID
	var missing []string
	for _, name := range wo.Tables {
		if _, ok := snap.Table(name); !ok {
			missing = append(missing, strconv.Quote(name))
		}
	}
	if len(missing) > 0 {
		return &sqlStateErr{code: "42P01", err: fmt.Errorf("dump: no table %s in the database (heliosdb-lite tables lists them)", strings.Join(missing, ", "))}
	}
	if dryRun && opts["since_lsn"] == "" && opts["since_last_dump"] != "true" {
		return writeDumpEstimate(w, snap, wo, nil)
	}
	if chain := opts["chain_id"]; chain != "" && chain != dbID && (opts["since_lsn"] != "" || opts["since_last_dump"] == "true") {
		// The file being continued came from another database: its LSNs
		// mean nothing here, and an increment from this one would make
		// the whole chain unrestorable.
		have := "this database has no id yet (no dump was taken from it)"
		if dbID != "" {
			have = "this server's database is " + dbID
		}
		return &sqlStateErr{code: "55000", err: fmt.Errorf("the dump file being continued comes from database %s, but %s: an increment from here would not continue it; take a full dump instead (heliosdb-lite dump --output NEWFILE, without --append)", chain, have)}
	}
	if v := opts["since_last_dump"]; v == "true" {
		// `dump --append` to a new file (the guide's hourly increments):
		// continue the last complete dump this server gave.
		lsn, ok := n.lastDumpLSN()
		if !ok {
			return &sqlStateErr{code: "55000", err: errors.New("no complete dump of the database was taken from this server since it started, so an increment has nothing to continue: take a full dump first (without --append)")}
		}
		opts["since_lsn"] = strconv.FormatUint(lsn, 10)
	}
	if s, ok := opts["since_lsn"]; ok {
		since, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil {
			return badOption("since_lsn", perr)
		}
		if since > snap.LSN() {
			return &sqlStateErr{code: "22023", err: fmt.Errorf("the dump file ends at LSN %d, but this database is only at LSN %d: the file is probably a dump of another database (or of this one before it was reset); take a full dump instead (heliosdb-lite dump --output NEWFILE, without --append)", since, snap.LSN())}
		}
		if dryRun {
			return writeDumpEstimate(w, snap, wo, &since)
		}
		// base_tables: the tables the file being continued holds (the
		// CLI reads them from its last segment); absent: every table.
		var base []string
		if b, ok := opts["base_tables"]; ok {
			base = []string{}
			for _, name := range strings.Split(b, ",") {
				if name = strings.TrimSpace(name); name != "" {
					base = append(base, name)
				}
			}
		}
		wo.Subset = isTrue(opts["base_subset"])
		sum, err := snapshot.WriteIncrementalOf(ctx, w, snap, since, base, wo)
		if err == nil && coversAll(sum, snap) {
			// An increment to a chain of every table captures everything.
			n.markDumped(snap)
		}
		return err
	}
	if _, err = snapshot.WriteFull(ctx, w, snap, wo); err != nil {
		return err
	}
	if len(wo.Tables) == 0 {
		n.markDumped(snap)
	}
	return nil
}

// lastDump is the LSN of the last complete dump of every table this node
// served to a client (full, or an increment to a chain of every table):
// where `dump --append` to a new file continues.
type lastDump struct {
	mu  sync.Mutex
	lsn uint64
	ok  bool
}

// markDumped records a complete dump of snap: the dirty-byte baseline and
// the LSN an increment to a new file continues from.
func (n *Node) markDumped(snap *engine.Snapshot) {
	n.eng.MarkDumped(snap)
	n.lastDump.mu.Lock()
	n.lastDump.lsn, n.lastDump.ok = snap.LSN(), true
	n.lastDump.mu.Unlock()
}

func (n *Node) lastDumpLSN() (uint64, bool) {
	n.lastDump.mu.Lock()
	defer n.lastDump.mu.Unlock()
	return n.lastDump.lsn, n.lastDump.ok
}

// coversAll reports whether a segment lists every table of snap: only
// then does the dump chain it ends hold the whole database.
func coversAll(sum *snapshot.Summary, snap *engine.Snapshot) bool {
	listed := make(map[string]bool, len(sum.Tables))
	for _, t := range sum.Tables {
		listed[t.Name] = true
	}
	for _, name := range snap.TableNames() {
		if !listed[name] {
			return false
		}
	}
	return true
}

func isTrue(v string) bool { return v == "true" || v == "on" || v == "1" }

func badOption(name string, err error) error {
	return &sqlStateErr{code: "22023", err: fmt.Errorf("invalid dump option %s: %v", name, err)}
}
