package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

func init() { commands = append(commands, newRestoreCmd) }

type restoreFlags struct {
	conn       connFlags
	input      string
	tables     string
	mode       string
	onConflict string
	dryRun     bool
	salvage    bool
	// onConflictSet: --on-conflict was given (it means something only
	// with --mode append).
	onConflictSet bool
}

func newRestoreCmd() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore --input FILE",
		Short: "Restore a .heliodump file into a running database",
		Long: `Restore a .heliodump file into a running database over its PostgreSQL port.

The server checks every checksum of the file and every table's rows against
the dump's footer before any change: a damaged file is refused (exit 3, with
where it is damaged) and nothing changes.
A clean restore of a whole dump becomes the cluster's raft snapshot in one
step; other restores stage the rows out of sight and swap them in with one
final step. Either way clients never see half a restore. Pointed at a
follower of a cluster, the restore connects to the leader when it can reach
it (and says so on standard error).

--mode clean (default): the database (or the --tables named) becomes
exactly the dump's content. --mode append: rows are added; a primary-key
conflict fails the restore (--on-conflict error, nothing changed), is
skipped (skip) or updates the row (update). Incremental files
(BASE.inc1, ...) apply as deltas and must come in order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.onConflictSet = cmd.Flags().Changed("on-conflict")
			return runRestore(cmd.Context(), &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.input, "input", "i", "", "the .heliodump file, or - for standard input (required)")
	fs.StringVar(&f.tables, "tables", "", "comma-separated tables to restore (default all)")
	fs.StringVar(&f.mode, "mode", "clean", "clean (replace) or append (add rows)")
	fs.StringVar(&f.onConflict, "on-conflict", "error", "append mode, existing primary key: error, skip or update")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate the file and print what a restore would do, without a server")
	fs.BoolVar(&f.salvage, "salvage", false, "restore every undamaged batch of a damaged file and report what was lost")
	f.conn.add(fs)
	return cmd
}

func runRestore(ctx context.Context, f *restoreFlags) error {
	if f.input == "" {
		return withCode(exitUsage, errors.New("restore: --input is required"))
	}
	if f.mode != "clean" && f.mode != "append" {
		return withCode(exitUsage, fmt.Errorf("restore: --mode %q: want clean or append", f.mode))
	}
	if f.onConflict != "error" && f.onConflict != "skip" && f.onConflict != "update" {
		return withCode(exitUsage, fmt.Errorf("restore: --on-conflict %q: want error, skip or update", f.onConflict))
	}
	if f.onConflictSet && f.mode != "append" {
		// A clean restore replaces the tables: it has no conflicts to
		// resolve, and running it for a user who meant to add rows
		// would delete theirs.
		return withCode(exitUsage, fmt.Errorf("restore: --on-conflict applies to --mode append (adding rows to the existing tables); --mode %s replaces the tables: add --mode append, or leave out --on-conflict", f.mode))
	}
	file, name, err := openRestoreInput(f)
	if err != nil {
		return err
	}
	defer file.Close()
	if f.dryRun {
		rep, err := snapshot.DryRun(file)
		if rep == nil {
			return withCode(exitBadFile, fmt.Errorf("restore --dry-run: %s: %v", name, err))
		}
		rep.Name = name
		_ = rep.WriteText(os.Stdout)
		if !rep.Verify.Passed() {
			return withCode(exitBadFile, fmt.Errorf("restore --dry-run: %s failed validation", name))
		}
		if missing := missingTables(f.tables, rep.Tables); len(missing) > 0 {
			// What the server says (SQLSTATE 42P01) for the same restore.
			return fmt.Errorf("restore --dry-run: %s holds no table %s (its tables: %s): a restore would refuse it", name, strings.Join(missing, ", "), strings.Join(rep.Tables, ", "))
		}
		return nil
	}
	var salvage *snapshot.SalvageReport
	if f.salvage {
		// Salvage needs the damage known before anything is sent.
		rep, err := snapshot.VerifyChecksums(file)
		if rep == nil {
			return withCode(exitBadFile, fmt.Errorf("restore: %s: %v", name, err))
		}
		if !rep.Passed() {
			if _, err := file.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if salvage, err = snapshot.Salvage(file, engine.NewBuilder(0)); salvage == nil {
				return withCode(exitBadFile, fmt.Errorf("restore --salvage: %s: %v", name, err))
			}
		}
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	// Otherwise the file is sent as it is read: the server checks every
	// checksum, every row and every table's row-hash sum against the
	// footer before it changes anything, and refuses a damaged file
	// (SQLSTATE XX001); only then is the file checked here, to say where
	// it is damaged. (A second read of the whole file while sending it,
	// to the same end, cost ~6% of an uncompressed restore's time on two
	// cores.)
	conn, err := f.conn.connect(ctx)
	if err != nil {
		return err
	}
	conn = throughLeader(ctx, conn, &f.conn)
	defer conn.Close(context.Background())
	salv := ""
	if f.salvage {
		salv = "true"
	}
	onConflict := ""
	if f.mode == "append" {
		onConflict = f.onConflict
	}
	sql := "COPY heliosdb.restore FROM STDIN" + copyOptions("mode", f.mode, "on_conflict", onConflict, "tables", f.tables, "salvage", salv)
	tag, err := conn.CopyFrom(ctx, file, sql)
	if err != nil && sqlState(err) == "XX001" && salvage == nil {
		if derr := reportDamage(file, name, err); derr != nil {
			return derr
		}
	}
	if err != nil {
		if sqlState(err) == "" {
			return fmt.Errorf("restore: the connection to %s failed: %v (the server drops a restore it did not finish: nothing was changed; retry)", f.conn.addr(), err)
		}
		return fmt.Errorf("restore: the server refused %s: %s", name, pgErrorText(err))
	}
	res := parseTag(tag.String())
	fmt.Printf("Restored %s tables, %s rows from %s (source LSN %s) at LSN %s\n", res["tables"], res["rows"], name, res["source_lsn"], res["lsn"])
	if salvage != nil {
		_ = salvage.WriteText(os.Stdout)
	}
	if k := res["kept"]; k != "" {
		fmt.Printf("Left as they were: %s (nothing of them was recovered and the dump's row counts were lost with the footer, so the server's tables were not replaced)\n", strings.ReplaceAll(k, ",", ", "))
	}
	if m := res["mismatched"]; m != "" && m != "0" {
		_, names, _ := strings.Cut(m, ":")
		return fmt.Errorf("restore: row-hash check FAILED: tables %s differ from the dump's footer (the database had other changes than the dump chain); restore the base dump with --mode clean", names)
	}
	switch {
	case res["verified"] == res["tables"]:
		fmt.Printf("Row-hash check: PASSED: the per-table row-hash sums equal the dump footer's (%s of %s tables)\n", res["verified"], res["tables"])
	case f.salvage:
		fmt.Printf("Row-hash check: %s of %s tables equal the dump footer's (the others lost rows, or their footer)\n", res["verified"], res["tables"])
	case f.mode == "append":
		fmt.Printf("Row-hash check: %s of %s tables equal the dump footer's (merged tables hold other rows too)\n", res["verified"], res["tables"])
	default:
		fmt.Printf("Row-hash check: %s of %s tables verified\n", res["verified"], res["tables"])
	}
	return nil
}

// openRestoreInput opens --input, or takes standard input for "-" (the
// file is streamed to the server anyway, so a pipe works: `dump --output
// - | restore --input -`). name is what messages call it. --salvage reads
// its input twice (what is damaged, then the restore), so it needs a file
// it can seek in.
func openRestoreInput(f *restoreFlags) (file *os.File, name string, err error) {
	if f.input != "-" {
		file, err = os.Open(f.input)
		if err != nil {
			return nil, "", fmt.Errorf("restore: %v", err)
		}
		return file, f.input, nil
	}
	if f.salvage {
		if _, err := os.Stdin.Seek(0, io.SeekCurrent); err != nil {
			return nil, "", withCode(exitUsage, errors.New("restore: --salvage reads the file twice (to find what is damaged, then to restore the rest), so it needs a file: give --input FILE, or redirect standard input from a file instead of a pipe"))
		}
	}
	return os.Stdin, "standard input", nil
}

// missingTables lists (quoted) the names of the comma-separated list that
// have does not contain.
func missingTables(list string, have []string) []string {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(have, n) {
			out = append(out, strconv.Quote(n))
		}
	}
	return out
}

// parseTag reads the key=value fields of the server's RESTORE tag.
func parseTag(tag string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(tag) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}

// reportDamage checks the checksums of the file the server refused as
// damaged and, if they fail, prints where and returns the error to exit
// with; nil when the file's checksums pass (the server's own message then
// stands). Input from a pipe cannot be read again: the server's verdict
// (serverErr) is the report.
func reportDamage(file *os.File, name string, serverErr error) error {
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		// The server's message already says nothing was changed and to
		// verify; a pipe cannot be verified again from here, so the advice
		// is to save it first.
		return withCode(exitBadFile, fmt.Errorf("restore: the server refused %s as damaged: %s; save the dump to a file to run 'heliosdb-lite verify --input FILE' on it", name, pgErrorText(serverErr)))
	}
	rep, err := snapshot.VerifyChecksums(file)
	if rep == nil {
		return withCode(exitBadFile, fmt.Errorf("restore: %s: %v (the server refused it: nothing was changed)", name, err))
	}
	if rep.Passed() {
		return nil
	}
	rep.Name = name
	_ = rep.WriteText(os.Stderr)
	return withCode(exitBadFile, fmt.Errorf("restore: %s is damaged; the server refused it before changing anything (nothing was changed). Run 'heliosdb-lite verify --input %s' for details, use an earlier dump, or restore the undamaged parts with --salvage", name, name))
}

// throughLeader returns a connection to the cluster's leader when conn is
// a follower whose cluster advertises the leader's PostgreSQL address, else
// conn. A follower serves a restore too, but only through the log (staged
// rows, one raft entry per batch, each forwarded to the leader); the
// leader makes a clean restore of a whole dump the cluster's snapshot in
// one step. Like libpq's target_session_attrs=read-write, this only picks
// where to connect: the server found at the advertised address must say it
// is the leader (SHOW heliosdb.node_id) and list this follower among its
// members; if it cannot be reached from here (an address inside a
// container network, other credentials), or is not that leader, the
// restore goes through conn. The choice is reported on standard error; on
// a switch cf names the leader from then on.
func throughLeader(ctx context.Context, conn *pgconn.PgConn, cf *connFlags) *pgconn.PgConn {
	self, ok := nodeID(ctx, conn)
	if !ok {
		return conn // a server without cluster metadata
	}
	rows, err := query(ctx, conn.Exec(ctx, "SELECT node_id, pg_addr FROM heliosdb.members WHERE role = 'leader'"))
	if err != nil || len(rows) != 1 || rows[0][0] == self {
		return conn // the leader already, alone, or no leader known
	}
	leader, addr := rows[0][0], rows[0][1]
	staged := func(why string, args ...any) *pgconn.PgConn {
		fmt.Fprintf(os.Stderr, "restore: %s is a follower and %s: restoring through the follower (staged through the log)\n", self, fmt.Sprintf(why, args...))
		return conn
	}
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return staged("the leader %s advertises no usable address (%q)", leader, addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		// The leader listens on every interface (0.0.0.0) and advertises
		// no address of its own: try the host this follower was reached
		// by, on the leader's port (nodes sharing a machine).
		host = cf.host
		addr = net.JoinHostPort(host, port)
	}
	lf := *cf
	lf.host, lf.port = host, p
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lc, err := lf.connect(cctx)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return staged("the leader %s at %s refused the connection (%s); to restore through it, give its credentials (PGPASSWORD, ~/.pgpass) or its --host/--port", leader, addr, pgErrorText(pe))
		}
		return staged("the leader %s at %s cannot be reached from here (%v)", leader, addr, errors.Unwrap(err))
	}
	if id, _ := nodeID(cctx, lc); id != leader || !listsMember(cctx, lc, self) {
		_ = lc.Close(ctx)
		return staged("the leader's advertised address %s reaches %q, not the leader %s of this cluster", addr, id, leader)
	}
	fmt.Fprintf(os.Stderr, "restore: %s is a follower: restoring through the leader %s at %s\n", self, leader, addr)
	_ = conn.Close(ctx)
	*cf = lf
	return lc
}

// nodeID is the server's SHOW heliosdb.node_id; ok is false where it has
// none (another server, an older version).
func nodeID(ctx context.Context, conn *pgconn.PgConn) (id string, ok bool) {
	rows, err := query(ctx, conn.Exec(ctx, "SHOW heliosdb.node_id"))
	if err != nil || len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] == "" {
		return "", false
	}
	return rows[0][0], true
}

// listsMember reports whether the server on conn lists node id among its
// cluster's members.
func listsMember(ctx context.Context, conn *pgconn.PgConn, id string) bool {
	rows, err := query(ctx, conn.Exec(ctx, "SELECT node_id FROM heliosdb.members WHERE node_id = "+sqlString(id)))
	return err == nil && len(rows) == 1
}
