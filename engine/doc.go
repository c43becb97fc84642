// Package engine is HeliosDB-Lite's in-memory relational store.
//
// The engine is the deterministic core of the database: every replica
// applies the same change sets at the same log positions (LSNs) and must end
// up byte-for-byte identical. For that reason nothing in this package reads
// the clock, a random source or Go map iteration order on the apply path, and
// it starts no goroutines. Time and randomness arrive as values inside change
// sets, fixed by the SQL layer before a change is proposed.
//
// State is immutable once published. Apply builds the next state from the
// current one using copy-on-write B-trees (cowTree.Copy) and publishes
// it with one atomic pointer swap, so Snapshot is O(1) and a reader never
// blocks the writer or sees a later write.
//
// Rows are stored in their canonical binary encoding (see EncodeRow). The
// same bytes travel in change sets, are written into .heliodump files and
// are hashed for anti-entropy, so a dump copies rows without re-encoding and
// two replicas that hold the same rows hold the same bytes.
//
// Storage (see table.go, record.go, cowtree.go): each row version is one
// pointer-free allocation holding its key, LSN and canonical encoding; the
// row tree holds a pointer to it and the row hash (16 bytes per row), in a
// copy-on-write B-tree whose node arrays are sized to their contents and
// whose appends leave full nodes behind. Live heap is under 2 bytes per byte
// of raw row data for small rows (BenchmarkMemory). Index entries are one
// pointer each; an update whose index key did not change leaves the entry
// alone, and keys are built from row encodings without decoding them.
//
// ChangesSince reads each table's change log (changelog.go), so it costs in
// proportion to the writes since its LSN while those are a small part of the
// table, and falls back to a scan otherwise.
//
// Imports: this package imports nothing else of this module.
package engine
