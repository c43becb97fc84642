package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

func init() { commands = append(commands, newDumpCmd) }

type dumpFlags struct {
	conn     connFlags
	output   string
	compress string
	level    int
	tables   string
	append   bool
	verbose  bool
	dryRun   bool
	cluster  bool
	wait     time.Duration
}

func newDumpCmd() *cobra.Command {
	var f dumpFlags
	cmd := &cobra.Command{
		Use:   "dump --output FILE",
		Short: "Dump a running database to a .heliodump file (full, or an incremental segment with --append)",
		Long: `Dump a running database over its PostgreSQL port into a .heliodump file.

The dump is one consistent snapshot at one LSN; writers are never blocked.
The file is written to a temporary name in the same directory, fsynced and
renamed: an interrupted dump never leaves a file that looks complete.
--output - writes the dump to standard output (nothing else goes there).

--append adds an incremental segment (rows and deletes since the file's
last LSN) to the end of FILE. If FILE does not exist and is named
BASE.incN, a separate incremental file continuing BASE, BASE.inc1 ...
BASE.inc(N-1) is written instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Values that mean "not given" when a flag is absent are
			// mistakes when given: level 0 is no level, and an empty
			// --tables (a filter that matched nothing, say) is not "all".
			if cmd.Flags().Changed("compression-level") && f.level == 0 {
				return withCode(exitUsage, errors.New("dump: --compression-level 0: levels start at 1 (zstd 1-19, default 3; lz4 1-9); leave the flag out for the default"))
			}
			if cmd.Flags().Changed("tables") && strings.Trim(f.tables, ", ") == "" {
				return withCode(exitUsage, fmt.Errorf("dump: --tables %q names no table; leave the flag out to dump every table", f.tables))
			}
			return runDump(cmd.Context(), &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "file to write, or - for standard output (required)")
	fs.StringVar(&f.compress, "compress", "zstd", "compression: none, lz4 or zstd")
	fs.IntVar(&f.level, "compression-level", 0, "codec level: zstd 1-19 (default 3), lz4 1-9")
	fs.StringVar(&f.tables, "tables", "", "comma-separated tables to dump (default all)")
	fs.BoolVar(&f.append, "append", false, "append an incremental segment to FILE (or write FILE as BASE.incN)")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "print progress lines (to standard output; to standard error with --output -)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "estimate the dump size and time without writing anything")
	fs.BoolVar(&f.cluster, "cluster", false, "cluster-wide dump: every node writes the same dump at the same LSN into its backup_dir (see docs/cluster.md)")
	fs.DurationVar(&f.wait, "wait", 10*time.Minute, "with --cluster: how long to wait for every node's file before reporting the unfinished ones as missing (they keep writing)")
	f.conn.add(fs)
	return cmd
}

func runDump(ctx context.Context, f *dumpFlags) error {
	if f.cluster {
		return runClusterDump(ctx, f)
	}
	if f.output == "" {
		return withCode(exitUsage, errors.New("dump: --output is required (a file path, or - for standard output)"))
	}
	codec, err := snapshot.ParseCompression(f.compress)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("dump: --compress %q: want none, lz4 or zstd", f.compress))
	}
	if err := (&snapshot.WriterOptions{Compression: codec, Level: f.level}).Validate(); err != nil {
		return withCode(exitUsage, fmt.Errorf("dump: --compression-level %d: %s", f.level, strings.TrimPrefix(err.Error(), snapshot.ErrInvalidOptions.Error()+": ")))
	}
	if codec == snapshot.CompressNone && f.level != 0 {
		return withCode(exitUsage, fmt.Errorf("dump: --compression-level %d does nothing with --compress none: drop it, or choose lz4 or zstd", f.level))
	}
	level := ""
	if f.level != 0 {
		level = strconv.Itoa(f.level)
	}
	conn, err := f.conn.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	opts := []string{"compress", f.compress, "level", level, "tables", f.tables}
	var since uint64
	var appendTo *appendTarget
	if f.append {
		if f.output == "-" {
			return withCode(exitUsage, errors.New("dump: --append needs the file to continue, not standard output"))
		}
		if appendTo, err = openAppendTarget(f.output); err != nil {
			return err
		}
		since = appendTo.since
		base := strings.Join(appendTo.tables, ",")
		if base == "" {
			base = "," // a chain of no tables (an empty option is not sent)
		}
		if appendTo.sinceLastDump {
			opts = append(opts, "since_last_dump", "true")
		} else {
			opts = append(opts, "since_lsn", strconv.FormatUint(since, 10), "base_tables", base)
			if appendTo.subset {
				opts = append(opts, "base_subset", "true") // the increment of a --tables dump is marked so too
			}
		}
		if appendTo.chainID != "" {
			// The server refuses (55000) if the file came from another
			// database: an increment from it would break the chain.
			opts = append(opts, "chain_id", appendTo.chainID)
		}
	}
	if f.dryRun {
		return dumpDryRun(ctx, f, conn, opts) // with --append: the increment's estimate
	}
	sql := "COPY heliosdb.dump TO STDOUT" + copyOptions(opts...)
	var lines io.Writer = os.Stdout
	if f.output == "-" {
		lines = os.Stderr // stdout carries the dump: nothing else goes there
	}
	prog := newDumpProgress(f.verbose, lines)
	copyTo := func(w io.Writer) (int64, error) {
		cw := &countWriter{w: prog.tee(w), onWrite: prog.bytes}
		_, err := conn.CopyTo(ctx, cw, sql)
		if err != nil && cw.err != nil {
			return cw.n, cw.err // the output failed (disk full...), not the server
		}
		if err != nil {
			return cw.n, dumpServerError(f, since, err)
		}
		return cw.n, nil
	}
	prog.start()
	var size int64
	switch {
	case f.output == "-":
		bw := bufio.NewWriterSize(os.Stdout, 1<<20)
		if size, err = copyTo(bw); err == nil {
			err = bw.Flush()
		}
		if err != nil && !isServerSide(err) {
			err = fmt.Errorf("dump: writing to standard output failed: %v", err)
		}
	case appendTo != nil:
		size, err = appendTo.write(ctx, copyTo)
	default:
		err = writeDumpFile(f.output, func(w io.Writer) error {
			var cerr error
			size, cerr = copyTo(w)
			return cerr
		})
		if err != nil && !isServerSide(err) {
			err = fmt.Errorf("dump: writing %s failed: %v (nothing was written there; check the directory exists, is writable and has free space)", f.output, err)
		}
	}
	prog.finish(size, err)
	return err
}

// serverErr marks errors that came from the server, so file errors can be
// told apart and explained as such.
type serverErr struct{ err error }

func (e *serverErr) Error() string { return e.err.Error() }
func (e *serverErr) Unwrap() error { return e.err }

func isServerSide(err error) bool {
	var se *serverErr
	return errors.As(err, &se)
}

func dumpServerError(f *dumpFlags, since uint64, err error) error {
	switch sqlState(err) {
	case "72000":
		if since == 0 {
			return &serverErr{fmt.Errorf("dump --append: the server no longer keeps the deletes made since the last dump, so an incremental segment cannot be built: take a full dump instead (heliosdb-lite dump --output NEWFILE)")}
		}
		return &serverErr{fmt.Errorf("dump --append: the server no longer keeps the deletes made since LSN %d, where %s ends, so an incremental segment cannot be built: take a full dump instead (heliosdb-lite dump --output NEWFILE)", since, f.output)}
	case "":
		return &serverErr{fmt.Errorf("dump: the connection to %s failed during the dump: %v (nothing was kept; retry)", f.conn.addr(), err)}
	}
	return &serverErr{fmt.Errorf("dump: the server refused: %s", pgErrorText(err))}
}

type countWriter struct {
	w       io.Writer
	n       int64
	onWrite func(int64)
	err     error // the first write error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	c.n += int64(n)
	if c.onWrite != nil {
		c.onWrite(c.n)
	}
	return n, err
}

// appendTarget is where an incremental segment goes: the end of an
// existing file (after its last complete segment), or a new BASE.incN.
type appendTarget struct {
	path  string
	since uint64
	// tables: those of the chain's last segment (the increment lists
	// them all, and only new tables besides).
	tables []string
	// subset: the chain is a dump of a table subset (dump --tables).
	subset bool
	// chainID: the database id the chain's segments record (the last
	// non-empty one; "" for files of older builds, which are not checked).
	chainID string
	// inPlace: append to path; otherwise write path as a new file.
	inPlace bool
	// sinceLastDump: path is a new file that is not BASE.incN: the
	// increment continues the last complete dump the server gave (the
	// guide's hourly inc-DATE-HOUR.heliodump files).
	sinceLastDump bool
}

var incName = regexp.MustCompile(`^(.*)\.inc([0-9]+)$`)

func openAppendTarget(path string) (*appendTarget, error) {
	if _, err := os.Stat(path); err == nil {
		end, id, err := chainEnd(path)
		if err != nil {
			return nil, err
		}
		return &appendTarget{path: path, since: end.LastLSN, tables: end.Tables, subset: end.Subset, chainID: id, inPlace: true}, nil
	}
	m := incName.FindStringSubmatch(path)
	if m == nil {
		return &appendTarget{path: path, sinceLastDump: true}, nil
	}
	n, _ := strconv.Atoi(m[2])
	chain := []string{m[1]}
	for i := 1; i < n; i++ {
		chain = append(chain, fmt.Sprintf("%s.inc%d", m[1], i))
	}
	var end *snapshot.SegmentHeader
	var chainID string
	for _, p := range chain {
		e, id, err := chainEnd(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("dump --append: %s continues %s, which does not exist: write the increments in order", path, p)
			}
			return nil, err
		}
		end = e
		if id != "" {
			chainID = id
		}
	}
	return &appendTarget{path: path, since: end.LastLSN, tables: end.Tables, subset: end.Subset, chainID: chainID}, nil
}

// chainEnd returns the header of a file's last complete segment (its
// last LSN, tables and subset flag) and the last database id its
// segments record ("" if none does).
func chainEnd(path string) (*snapshot.SegmentHeader, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("dump --append: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	scan, err := snapshot.ScanSegments(f, fi.Size())
	if err != nil {
		return nil, "", withCode(exitBadFile, fmt.Errorf("dump --append: %s: %v (check it with heliosdb-lite verify --input %s)", path, err, path))
	}
	if scan.Torn != nil {
		return nil, "", withCode(exitBadFile, fmt.Errorf("dump --append: %s ends with an incomplete segment at offset %d (%s), probably an interrupted append; check the rest with 'heliosdb-lite verify --input %s', then cut it with 'truncate -s %d %s'",
			path, scan.Torn.Offset, scan.Torn.Reason, path, scan.Torn.Offset, path))
	}
	id := ""
	for _, s := range scan.Segments {
		if s.Header.ClusterID != "" {
			id = s.Header.ClusterID
		}
	}
	return scan.Segments[len(scan.Segments)-1].Header, id, nil
}

// write streams the increment. In place, the segment (the stream minus
// its file header) goes after the existing end and is fsynced; on any
// failure the file is cut back to its original size, so it never holds a
// partial segment unless the process itself is killed (then the torn
// tail is reported by verify and by the next append).
func (a *appendTarget) write(ctx context.Context, copyTo func(io.Writer) (int64, error)) (int64, error) {
	if !a.inPlace {
		var size int64
		err := writeDumpFile(a.path, func(w io.Writer) error {
			var cerr error
			size, cerr = copyTo(w)
			return cerr
		})
		if err != nil && !isServerSide(err) {
			err = fmt.Errorf("dump: writing %s failed: %v (nothing was written there)", a.path, err)
		}
		return size, err
	}
	f, err := os.OpenFile(a.path, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("dump --append: cannot open %s for writing: %v", a.path, err)
	}
	defer f.Close()
	orig, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("dump --append: %s: %v", a.path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	hs := &headerStripper{w: bw, skip: fileHeaderLen}
	size, err := copyTo(hs)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(orig); terr != nil {
			return 0, fmt.Errorf("%v; cutting %s back to %d bytes also failed: %v (cut it with 'truncate -s %d %s')", err, a.path, orig, terr, orig, a.path)
		}
		_ = f.Sync()
		if !isServerSide(err) {
			err = fmt.Errorf("dump --append: writing %s failed: %v (the file was cut back to its previous %d bytes)", a.path, err, orig)
		}
		return 0, err
	}
	return size - fileHeaderLen, nil
}

// fileHeaderLen is the size of a .heliodump file header (magic, format
// version, product): an appended segment goes without it.
const fileHeaderLen = 32

// headerStripper drops the stream's file header after checking its magic.
type headerStripper struct {
	w    io.Writer
	skip int
	head []byte
}

func (h *headerStripper) Write(p []byte) (int, error) {
	n := len(p)
	if h.skip > 0 {
		k := min(h.skip, len(p))
		h.head = append(h.head, p[:k]...)
		h.skip -= k
		p = p[k:]
		if h.skip == 0 && !strings.HasPrefix(string(h.head), "HELIODMP") {
			return 0, errors.New("dump --append: the server's stream does not start with a .heliodump header")
		}
	}
	if len(p) > 0 {
		if _, err := h.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// dumpDryRun asks the server for an estimate (COPY heliosdb.dump ... WITH
// (dry_run 'true') answers one line: raw=N compressed=N seconds=F ...) and
// prints the guide's two lines. Nothing is written, --output included.
func dumpDryRun(ctx context.Context, f *dumpFlags, conn *pgconn.PgConn, opts []string) error {
	var buf strings.Builder
	sql := "COPY heliosdb.dump TO STDOUT" + copyOptions(append(opts, "dry_run", "true")...)
	if _, err := conn.CopyTo(ctx, &buf, sql); err != nil {
		return dumpServerError(f, 0, err)
	}
	kv := map[string]string{}
	for _, field := range strings.Fields(buf.String()) {
		if k, v, ok := strings.Cut(field, "="); ok {
			kv[k] = v
		}
	}
	compressed, err1 := strconv.ParseInt(kv["compressed"], 10, 64)
	secs, err2 := strconv.ParseFloat(kv["seconds"], 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("dump --dry-run: the server answered %q, not an estimate (is it an older version?)", buf.String())
	}
	what := "compressed"
	if f.compress == "none" {
		what = "uncompressed"
	}
	fmt.Printf("Estimated dump size: %s (%s)\n", humanSize(compressed), what)
	fmt.Printf("Estimated time: %d seconds\n", int64(math.Ceil(secs)))
	return nil
}
