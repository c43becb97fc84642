// Package sql is HeliosDB-Lite's SQL layer: it parses statements with the
// real PostgreSQL grammar (pg_query_go), plans and evaluates them on an
// immutable engine snapshot, and turns writes into engine change sets that
// the caller replicates (Config.Propose).
//
// # Writes
//
// A write never touches the engine directly. A statement is evaluated on a
// snapshot; the result is a ChangeSet carrying full row images and the
// preconditions the evaluation relied on (row LSNs, absent keys, sequence
// values, schema versions). Apply re-checks them deterministically on every
// replica; a failed precondition is a serialization failure (40001).
// Autocommit statements are re-evaluated on a fresh snapshot and retried a
// bounded number of times before the client sees 40001. Everything
// non-deterministic (now(), gen_random_uuid(), random(), sequence values)
// is fixed before proposing.
//
// # Transactions
//
// BEGIN takes a snapshot and a private engine initialised from it. Every
// statement of the block is evaluated on the private engine's state and its
// change set is applied there immediately, so later statements see earlier
// writes (including DDL and TRUNCATE) with their indexes. COMMIT proposes
// one change set: all the ops in order, and those preconditions that talk
// about the BEGIN snapshot (preconditions on the block's own writes are
// implied by the earlier ops and dropped).
//
// A write locks the rows (and table sequences) it changes on the node that
// evaluates it until the block ends (locks.go), as PostgreSQL does, so a
// hot row is handed from writer to writer instead of failing commits: a
// writer that waited, or finds a locked row changed since its snapshot,
// rebases the block on a fresh snapshot, re-executing its statements,
// which must give the client the same answers (else 40001). Cycles are
// reported as deadlocks (40P01). Locks only schedule; Apply's
// preconditions still decide, so writers on other nodes are handled by
// the commit replay below.
//
// Hidden row ids (tables without a primary key) are neither asserted nor
// locked: the node hands them out above the table's largest id and each
// insert asserts its key absent (rowid.go), so appenders to a history
// table do not queue behind each other's commits.
//
// When COMMIT fails with a serialization failure the block is re-executed
// statement by statement on a fresh snapshot; if every statement returns
// exactly what the client already saw, the re-executed change set is
// proposed instead. The client's observations are then those of a serial
// execution at the commit point, so this is safe, and it makes TPC-B-like
// workloads (pgbench) run without failures despite hot rows. If any result
// differs the client gets 40001, as under REPEATABLE READ.
//
// # Reads
//
// Queries are compiled into closures over a row layout fixed at plan time,
// and executed by materialising operators (scan, filter, joins, aggregate,
// sort, limit). The catalogs (information_schema, pg_catalog) are virtual
// tables built from the snapshot and queried through the same executor.
package sql
