package node

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// copyDumpOut serves COPY heliosdb.dump TO STDOUT WITH (...): it streams a
// .heliodump of one consistent snapshot (one LSN) without blocking writers.
// Options: compress none|lz4|zstd, level N, tables 'a,b', since_lsn N
// (an incremental segment with the rows and deletes after that LSN).
func (n *Node) copyDumpOut(ctx context.Context, opts map[string]string, w io.Writer) (err error) {
	start := time.Now()
	defer func() { n.metrics.observeDump(time.Since(start), err) }()
	wo := snapshot.DefaultWriterOptions()
	if c, ok := opts["compress"]; ok {
		if wo.Compression, err = snapshot.ParseCompression(c); err != nil {
			return badOption("compress", err)
		}
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
		return badOption("options", err)
	}
	snap, err := n.readSnapshot(ctx, "linearizable")
	if err != nil {
		return err
	}
	if s, ok := opts["since_lsn"]; ok {
		since, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil {
			return badOption("since_lsn", perr)
		}
		if since > snap.LSN() {
			return &sqlStateErr{code: "22023", err: fmt.Errorf("the dump file ends at LSN %d, but this database is only at LSN %d: it is not a dump of this database (restore it, or take a full dump)", since, snap.LSN())}
		}
		_, err = snapshot.WriteIncremental(ctx, w, snap, since, wo)
	} else {
		_, err = snapshot.WriteFull(ctx, w, snap, wo)
	}
	if err != nil {
		return err
	}
	if len(wo.Tables) == 0 {
		n.eng.MarkDumped(snap)
	}
	return nil
}

func badOption(name string, err error) error {
	return &sqlStateErr{code: "22023", err: fmt.Errorf("invalid dump option %s: %v", name, err)}
}

// copyRestoreIn serves COPY heliosdb.restore FROM STDIN.
func (n *Node) copyRestoreIn(ctx context.Context, opts map[string]string, r io.Reader) (string, error) {
	return "", &sqlStateErr{code: "0A000", err: fmt.Errorf("restore over the wire is not available yet")}
}
